//! The sandbox of the `code` scorer: finding the tools, choosing the strongest isolation
//! this machine allows, and running one program in a fresh temporary directory.

use super::{default_max_processes, default_memory_mb, excerpt, failed, failure_text, seconds};
use crate::scorer::ScoreError;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::OnceCell;
use tokio::task::JoinHandle;

/// Bytes of stderr kept (the tail).
const STDERR_TAIL: usize = 8 * 1024;
/// How long to wait for the pipes after the program ended.
const PIPE_GRACE: Duration = Duration::from_millis(500);
/// The unprivileged user the program runs as when the scorer runs as root.
const NOBODY: u32 = 65534;
/// Where the sandbox tools are looked for.
const TOOL_DIRS: &[&str] = &["/usr/bin", "/bin"];
/// Where `python3` is looked for.
const PYTHON_DIRS: &[&str] = &["/usr/local/bin", "/usr/bin", "/bin"];
/// The runner writes this to stdout before the program runs.
const STARTED: &[u8] = b"tamma:started\n";
/// Executes `program.py` as module `program`; exit 0 only when it returns.
const RUNNER: &str = r#"import os, sys, traceback, types
os.write(1, b"tamma:started\n")
if sys.path and sys.path[0] == "":
    del sys.path[0]
module = types.ModuleType("program")
module.__file__ = os.path.abspath("program.py")
sys.modules["program"] = module
try:
    with open("program.py", encoding="utf-8") as f:
        source = f.read()
    exec(compile(source, "program.py", "exec"), module.__dict__)
except BaseException as e:
    traceback.print_exception(type(e), e, e.__traceback__.tb_next)
    sys.stderr.flush()
    os._exit(1)
try:
    sys.stdout.flush()
    sys.stderr.flush()
finally:
    os._exit(0)
"#;

/// The limits of one run.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) timeout: Duration,
    pub(super) memory_bytes: u64,
    pub(super) max_processes: u32,
    pub(super) network: bool,
}

/// How a run ended.
#[derive(Debug, Clone, Copy)]
pub(super) enum Ended {
    Exited(ExitStatus),
    TimedOut,
}

/// The end of a run and the tail of its stderr.
#[derive(Debug)]
pub(super) struct Execution {
    pub(super) ended: Ended,
    pub(super) stderr: String,
}

/// Which namespaces wrap the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// `unshare --user --map-root-user --pid --fork --kill-child [--net]`, after `setpriv`
    /// when root.
    UserNamespace,
    /// As root: `unshare --pid --fork --kill-child [--net]`, then `setpriv`.
    RootNamespace,
    /// No namespaces.
    None,
}

/// The tools found and the isolation that works on this machine.
#[derive(Debug, Clone)]
pub(super) struct Sandbox {
    python: PathBuf,
    prlimit: Option<PathBuf>,
    unshare: Option<PathBuf>,
    setpriv: Option<PathBuf>,
    kill: Option<PathBuf>,
    root: bool,
    /// Run the program as [`NOBODY`] (root only).
    drop_privileges: bool,
    isolation: Isolation,
}

static SANDBOX: OnceCell<Result<Sandbox, String>> = OnceCell::const_new();

/// The sandbox of this process, probed on first use.
pub(super) async fn sandbox() -> Result<&'static Sandbox, ScoreError> {
    SANDBOX
        .get_or_init(probe)
        .await
        .as_ref()
        .map_err(|e| failed(e.clone()))
}

fn find(dirs: &[&str], name: &str) -> Option<PathBuf> {
    dirs.iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Finds the tools and tries the isolation modes, strongest first, with a trivial program.
async fn probe() -> Result<Sandbox, String> {
    let python = find(PYTHON_DIRS, "python3")
        .ok_or_else(|| format!("python3 not found in {}", PYTHON_DIRS.join(", ")))?;
    let root = tempfile::tempdir()
        .and_then(|d| d.path().metadata())
        .map(|m| m.uid() == 0)
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let setpriv = find(TOOL_DIRS, "setpriv");
    let unshare = find(TOOL_DIRS, "unshare");
    let prlimit = find(TOOL_DIRS, "prlimit");
    let kill = find(TOOL_DIRS, "kill");
    let drop_privileges = root && setpriv.is_some();
    let mut modes = Vec::new();
    if unshare.is_some() {
        if !root || drop_privileges {
            modes.push((Isolation::UserNamespace, drop_privileges));
        }
        if root {
            modes.push((Isolation::RootNamespace, drop_privileges));
        }
    }
    modes.push((Isolation::None, drop_privileges));
    if drop_privileges {
        modes.push((Isolation::None, false));
    }
    let limits = Limits {
        timeout: Duration::from_secs(10),
        memory_bytes: default_memory_mb() * 1024 * 1024,
        max_processes: default_max_processes(),
        network: false,
    };
    let mut tried = Vec::new();
    for (isolation, drop_privileges) in modes {
        let candidate = Sandbox {
            python: python.clone(),
            prlimit: prlimit.clone(),
            unshare: unshare.clone(),
            setpriv: setpriv.clone(),
            kill: kill.clone(),
            root,
            drop_privileges,
            isolation,
        };
        match candidate.run(&limits, "pass\n").await {
            Ok(Execution {
                ended: Ended::Exited(status),
                ..
            }) if status.success() => {
                tracing::info!(
                    ?isolation,
                    drop_privileges,
                    prlimit = candidate.prlimit.is_some(),
                    "code scorer sandbox"
                );
                if !tried.is_empty() {
                    tracing::warn!(failed = %tried.join("; "), "code scorer: stronger sandboxes did not work here");
                }
                return Ok(candidate);
            }
            Ok(e) => tried.push(format!(
                "{isolation:?}: {:?}: {}",
                e.ended,
                excerpt(e.stderr.trim())
            )),
            Err(e) => tried.push(format!("{isolation:?}: {e}")),
        }
    }
    Err(format!(
        "{} does not run a trivial program in any sandbox mode: {}",
        python.display(),
        tried.join("; ")
    ))
}

impl Sandbox {
    /// What this sandbox does not enforce, for explanations ("" when nothing is missing).
    pub(super) fn notes(&self, network: bool) -> String {
        let mut notes = Vec::new();
        if self.prlimit.is_none() {
            notes.push("no memory, process or CPU limit (prlimit not found)");
        }
        if !network && self.isolation == Isolation::None {
            notes.push("network not isolated (no usable unshare)");
        }
        if self.root && !self.drop_privileges {
            notes.push("running as root: the process limit is not enforced");
        }
        if self.kill.is_none() && self.isolation == Isolation::None {
            notes.push("no kill(1): a timeout kills only the first process");
        }
        notes.join("; ")
    }

    /// The command line: namespaces, privileges, limits, interpreter.
    fn argv(&self, limits: &Limits) -> Vec<OsString> {
        let mut argv: Vec<OsString> = Vec::new();
        let drop = |argv: &mut Vec<OsString>| {
            if let (true, Some(setpriv)) = (self.drop_privileges, &self.setpriv) {
                argv.push(setpriv.into());
                for a in [
                    format!("--reuid={NOBODY}"),
                    format!("--regid={NOBODY}"),
                    "--clear-groups".into(),
                    "--".into(),
                ] {
                    argv.push(a.into());
                }
            }
        };
        let unshare = |argv: &mut Vec<OsString>, user: bool| {
            if let Some(unshare) = &self.unshare {
                argv.push(unshare.into());
                if user {
                    argv.extend(["--user", "--map-root-user"].map(OsString::from));
                }
                argv.extend(["--pid", "--fork", "--kill-child"].map(OsString::from));
                if !limits.network {
                    argv.push("--net".into());
                }
                argv.push("--".into());
            }
        };
        match self.isolation {
            Isolation::UserNamespace => {
                drop(&mut argv);
                unshare(&mut argv, true);
            }
            Isolation::RootNamespace => {
                unshare(&mut argv, false);
                drop(&mut argv);
            }
            Isolation::None => drop(&mut argv),
        }
        if let Some(prlimit) = &self.prlimit {
            let cpu_secs = limits.timeout.as_millis().div_ceil(1000) + 1;
            argv.push(prlimit.into());
            for a in [
                format!("--as={}", limits.memory_bytes),
                format!("--nproc={}", limits.max_processes),
                format!("--cpu={cpu_secs}"),
                "--".into(),
            ] {
                argv.push(a.into());
            }
        }
        argv.push(self.python.as_os_str().to_owned());
        argv.extend(["-s", "-B", "-c", RUNNER].map(OsString::from));
        argv
    }

    /// Runs `program` in a fresh temporary directory, which is removed afterwards.
    pub(super) async fn run(
        &self,
        limits: &Limits,
        program: &str,
    ) -> Result<Execution, ScoreError> {
        let dir = tempfile::Builder::new()
            .prefix("tamma-code-")
            .tempdir()
            .map_err(|e| failed(format!("cannot create a temporary directory: {e}")))?;
        let result = self.run_in(dir.path(), limits, program).await;
        // Removal may walk many files the program wrote: off the async threads.
        let unlock = !self.root;
        let _ = tokio::task::spawn_blocking(move || remove_tree(dir, unlock)).await;
        result
    }

    async fn run_in(
        &self,
        dir: &Path,
        limits: &Limits,
        program: &str,
    ) -> Result<Execution, ScoreError> {
        let script = dir.join("program.py");
        std::fs::write(&script, program)
            .map_err(|e| failed(format!("cannot write {}: {e}", script.display())))?;
        if self.drop_privileges {
            for p in [dir, script.as_path()] {
                std::os::unix::fs::chown(p, Some(NOBODY), Some(NOBODY))
                    .map_err(|e| failed(format!("cannot hand {} to nobody: {e}", p.display())))?;
            }
        }
        let argv = self.argv(limits);
        let Some((program_path, args)) = argv.split_first() else {
            return Err(failed("empty command line"));
        };
        let mut child = Command::new(program_path)
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", dir)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONHASHSEED", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                failed(format!(
                    "cannot start {}: {e}",
                    Path::new(program_path).display()
                ))
            })?;
        let mut group = ProcessGroup {
            kill: self.kill.clone(),
            pgid: child.id(),
        };
        let stdout = child
            .stdout
            .take()
            .map(|p| collect(p, Keep::Head(STARTED.len())));
        let stderr = child
            .stderr
            .take()
            .map(|p| collect(p, Keep::Tail(STDERR_TAIL)));
        let ended = match tokio::time::timeout(limits.timeout, child.wait()).await {
            Ok(Ok(status)) => Ended::Exited(status),
            Ok(Err(e)) => return Err(failed(format!("cannot wait for the program: {e}"))),
            Err(_) => Ended::TimedOut,
        };
        // Without a PID namespace, leftovers of the program may still run: sweep the group.
        if matches!(ended, Ended::TimedOut) || self.isolation == Isolation::None {
            group.kill().await;
        }
        if matches!(ended, Ended::TimedOut) {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        group.pgid = None;
        let started = match stdout {
            Some(s) => s.finish().await.starts_with(STARTED),
            None => false,
        };
        let stderr = match stderr {
            Some(s) => String::from_utf8_lossy(&s.finish().await).into_owned(),
            None => String::new(),
        };
        if !started {
            let why = match ended {
                Ended::TimedOut => format!("nothing within {}", seconds(limits.timeout)),
                Ended::Exited(status) => failure_text(status, &stderr),
            };
            return Err(failed(format!(
                "the interpreter did not start ({}): {why}",
                self.python.display()
            )));
        }
        Ok(Execution { ended, stderr })
    }
}

/// The program's process group; killed when dropped while still set (a cancelled score).
struct ProcessGroup {
    kill: Option<PathBuf>,
    pgid: Option<u32>,
}

impl ProcessGroup {
    fn command(&self) -> Option<std::process::Command> {
        let (kill, pgid) = (self.kill.as_ref()?, self.pgid?);
        let mut cmd = std::process::Command::new(kill);
        cmd.args(["-s", "KILL", "--", &format!("-{pgid}")])
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Some(cmd)
    }

    async fn kill(&mut self) {
        if let Some(cmd) = self.command() {
            // Fails harmlessly when the group is already gone.
            let _ = Command::from(cmd).status().await;
        }
    }
}

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        if let Some(mut cmd) = self.command() {
            let _ = cmd.status();
        }
    }
}

/// Which bytes of a pipe to keep; the rest is read and dropped so the writer never blocks.
#[derive(Debug, Clone, Copy)]
enum Keep {
    Head(usize),
    Tail(usize),
}

/// A pipe being read in the background into a bounded buffer.
struct Collected {
    buffer: Arc<Mutex<Vec<u8>>>,
    keep: Keep,
    task: JoinHandle<()>,
}

fn collect(mut pipe: impl AsyncRead + Unpin + Send + 'static, keep: Keep) -> Collected {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let shared = buffer.clone();
    let task = tokio::spawn(async move {
        let mut chunk = vec![0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            let mut buf = shared.lock().unwrap_or_else(|e| e.into_inner());
            match keep {
                Keep::Head(limit) => {
                    let room = limit.saturating_sub(buf.len());
                    buf.extend_from_slice(&chunk[..n.min(room)]);
                }
                Keep::Tail(limit) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if buf.len() > 2 * limit {
                        let cut = buf.len() - limit;
                        buf.drain(..cut);
                    }
                }
            }
        }
    });
    Collected { buffer, keep, task }
}

impl Collected {
    /// The bytes kept, once the pipe closed or after [`PIPE_GRACE`] (a leftover process
    /// may hold it open).
    async fn finish(mut self) -> Vec<u8> {
        if tokio::time::timeout(PIPE_GRACE, &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
        let mut buf = std::mem::take(&mut *self.buffer.lock().unwrap_or_else(|e| e.into_inner()));
        if let Keep::Tail(limit) = self.keep {
            let cut = buf.len().saturating_sub(limit);
            buf.drain(..cut);
        }
        buf
    }
}

/// Removes the temporary directory. When that fails and `unlock` is set, first makes every
/// directory in it accessible to its owner again (the program may have locked one). Not
/// for root: root removes regardless, and must not follow a symbolic link that a leftover
/// process swapped in.
fn remove_tree(dir: tempfile::TempDir, unlock: bool) {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.path().to_owned();
    let Err(mut error) = dir.close() else {
        return;
    };
    if unlock {
        let mut stack = vec![path.clone()];
        while let Some(d) = stack.pop() {
            let _ = std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700));
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) => return,
            Err(e) => error = e,
        }
    }
    tracing::warn!(path = %path.display(), %error, "cannot remove the code scorer's temporary directory");
}
