//! Ctrl-C during `run`, and how to resume an unfinished run.

use indicatif::ProgressBar;
use tokio_util::sync::CancellationToken;

/// First Ctrl-C: stop scheduling (in-flight trials finish and are saved). Second Ctrl-C,
/// or one after the run finished: exit at once with status 130.
pub async fn watch_ctrl_c(
    cancel: CancellationToken,
    finished: CancellationToken,
    bar: ProgressBar,
) {
    if tokio::signal::ctrl_c().await.is_err() {
        return;
    }
    if !finished.is_cancelled() {
        cancel.cancel();
        bar.suspend(|| {
            eprintln!(
                "\ninterrupted: finishing the trials in flight and saving them \
                 (press Ctrl-C again to quit at once and lose them)"
            );
        });
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
    }
    bar.abandon();
    eprintln!("\nstopped at once: the trials in flight are lost");
    std::process::exit(130);
}

/// The command line of this process, with `--run-id ID` added when it is not there.
pub fn resume_command(run_id: &str) -> String {
    let mut args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let has_run_id = args
        .iter()
        .any(|a| a == "--run-id" || a.starts_with("--run-id="));
    if !has_run_id {
        args.extend(["--run-id".to_owned(), run_id.to_owned()]);
    }
    std::iter::once("tamma-bench".to_owned())
        .chain(args.iter().map(|a| shell_quote(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `s` quoted for a POSIX shell when it needs to be.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
