//! Inline definitions: a benchmark (manifest TOML and cases JSONL), agents (TOML) or a
//! search space (TOML) sent in a request body, written into a fresh private folder and
//! loaded with the same loaders as `RunJob::from_files` / `StudyJob::from_files`, then
//! checked against the [`SubmissionPolicy`] before anything is queued.
//!
//! A queued job runs on a worker of the deployment, with the deployment's files and
//! environment, so what a customer may name is narrow:
//!
//! - no file of the server: the manifest's `cases` must be a plain file name (the body's
//!   cases are written under it), no case `source` (plugins), no replay `recording`, no
//!   `record` layer, no `plugin_dir`, no `plugin` scorer or provider unless the policy
//!   lists it;
//! - no key of the server sent elsewhere: an agent's (or judge's) provider, key variable
//!   and base URL must be among the policy's;
//! - no code run on a worker unless the policy allows the `code` scorer, and never with
//!   network access.
//!
//! The folder is removed once the job is built: the payload is self-contained, and the
//! refusals above leave no path in it that a worker would read.

use crate::config::SubmissionPolicy;
use crate::error::ApiError;
use serde::Deserialize;
use std::path::{Component, Path};
use tamma_bench::core::load::{LoadError, LoadErrorKind};
use tamma_bench::core::model::AgentConfig;
use tamma_bench::core::scorer::ScorerSpec;
use tamma_bench::jobs::{JobError, RunJob, StudyJob};
use tamma_bench::optimize::StrategyKind;
use utoipa::ToSchema;

/// A benchmark defined inline.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InlineBenchmark {
    /// The benchmark manifest (TOML text, as `benchmark.toml`). Its `cases` names the
    /// file of `cases` (a plain file name such as `cases.jsonl`), or it holds `[[case]]`
    /// tables.
    pub manifest: String,
    /// The cases (JSONL text), written under the name the manifest's `cases` gives.
    #[serde(default)]
    pub cases: Option<String>,
}

/// `POST /api/v1/benchmarks`: a run to queue.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunRequest {
    /// The benchmark.
    pub benchmark: InlineBenchmark,
    /// The agents file (TOML text with `[[agent]]` tables).
    pub agents: String,
    /// Epochs (default: the benchmark's).
    #[serde(default)]
    pub epochs: Option<u32>,
    /// Trials in flight at once (default 16).
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// Stop when the remaining budget (USD) cannot cover the next trial.
    #[serde(default)]
    pub budget_usd: Option<f64>,
}

/// `POST /internal/v1/optimizations`: a study to queue.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StudyRequest {
    /// The benchmark.
    pub benchmark: InlineBenchmark,
    /// The search space (TOML text, as `docs/optimization.md` describes).
    pub space: String,
    /// Overrides the space's budget (USD).
    #[serde(default)]
    pub budget_usd: Option<f64>,
    /// Overrides the space's strategy: `grid`, `uniform`, `random`, `racing`, `halving`,
    /// `lucb` or `predicted`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub strategy: Option<StrategyKind>,
    /// The configuration in production, to compare against.
    #[serde(default)]
    pub incumbent: Option<String>,
    /// Trials in flight at once (default 16).
    #[serde(default)]
    pub concurrency: Option<usize>,
}

/// The file names inside the private folder, and the names errors give them.
const MANIFEST: &str = "benchmark.toml";
const AGENTS: &str = "agents.toml";
const SPACE: &str = "space.toml";

/// Builds the run job of `request`, refusing what `policy` does not allow.
pub fn run_job(request: &RunRequest, policy: &SubmissionPolicy) -> Result<RunJob, ApiError> {
    let epochs = bounded("epochs", request.epochs, 1, policy.max_epochs)?;
    let concurrency = bounded(
        "concurrency",
        request.concurrency,
        1,
        policy.max_concurrency,
    )?;
    let budget = budget(request.budget_usd)?;
    let dir = private_dir()?;
    let manifest = write_benchmark(dir.path(), &request.benchmark)?;
    let agents = dir.path().join(AGENTS);
    write(&agents, &request.agents)?;
    let mut job =
        RunJob::from_files(&manifest, &agents, &[]).map_err(|e| job_error(e, dir.path()))?;
    if !job.plugin_dirs.is_empty() {
        return Err(ApiError::unprocessable(
            "agents: field `plugin_dir`: plugin folders are not accepted here",
        ));
    }
    check_benchmark(&job.benchmark.scorers, policy)?;
    for agent in &job.agents {
        check_agent("agents", agent, policy)?;
    }
    job.epochs = epochs;
    if let Some(c) = concurrency {
        job.concurrency = c;
    }
    job.budget_usd = budget;
    Ok(job)
}

/// Builds the study job of `request`: the benchmark under the same policy, the space's
/// configurations under the agents' rules (paths refused; providers as the policy says).
pub fn study_job(request: &StudyRequest, policy: &SubmissionPolicy) -> Result<StudyJob, ApiError> {
    let concurrency = bounded(
        "concurrency",
        request.concurrency,
        1,
        policy.max_concurrency,
    )?;
    let budget = budget(request.budget_usd)?;
    let dir = private_dir()?;
    let manifest = write_benchmark(dir.path(), &request.benchmark)?;
    let space = dir.path().join(SPACE);
    write(&space, &request.space)?;
    let mut job = StudyJob::from_files(&manifest, &space).map_err(|e| job_error(e, dir.path()))?;
    check_benchmark(&job.benchmark.scorers, policy)?;
    let candidates = job.space.candidates().map_err(|e| {
        ApiError::unprocessable(format!("space: {}", scrub(&e.to_string(), dir.path())))
    })?;
    for c in &candidates {
        check_agent("space", &c.config, policy)?;
    }
    if let Some(c) = concurrency {
        job.concurrency = c;
    }
    job.budget_usd = budget;
    job.strategy = request.strategy;
    job.incumbent = request.incumbent.clone();
    Ok(job)
}

/// A fresh folder only this process can read.
fn private_dir() -> Result<tempfile::TempDir, ApiError> {
    tempfile::Builder::new()
        .prefix("tamma-submit-")
        .tempdir()
        .map_err(|e| {
            tracing::error!(error = %e, "cannot make a folder for a submission");
            ApiError::internal()
        })
}

fn write(path: &Path, text: &str) -> Result<(), ApiError> {
    std::fs::write(path, text).map_err(|e| {
        tracing::error!(error = %e, "cannot write a submission's file");
        ApiError::internal()
    })
}

/// Writes the manifest, and the cases under the name the manifest gives them.
fn write_benchmark(
    dir: &Path,
    benchmark: &InlineBenchmark,
) -> Result<std::path::PathBuf, ApiError> {
    let table: toml::Table = toml::from_str(&benchmark.manifest).map_err(|e| {
        let line = e.span().map(|s| {
            benchmark.manifest[..s.start.min(benchmark.manifest.len())]
                .lines()
                .count()
                .max(1)
        });
        ApiError::bad_request(format!(
            "benchmark.manifest{}: {}",
            line.map(|l| format!(":{l}")).unwrap_or_default(),
            e.message()
        ))
    })?;
    if table.contains_key("source") {
        return Err(ApiError::unprocessable(
            "benchmark.manifest: field `source`: generated cases (plugins) are not accepted here; send the cases",
        ));
    }
    match (table.get("cases"), &benchmark.cases) {
        (Some(toml::Value::String(name)), Some(cases)) => {
            if !plain_file_name(name) || name == MANIFEST || name == AGENTS || name == SPACE {
                return Err(ApiError::unprocessable(format!(
                    "benchmark.manifest: field `cases`: {name:?} must be a plain file name (such as \"cases.jsonl\")"
                )));
            }
            write(&dir.join(name), cases)?;
        }
        (Some(toml::Value::String(_)), None) => {
            return Err(ApiError::bad_request(
                "benchmark.cases: required when the manifest names a cases file",
            ));
        }
        (Some(_), _) => {
            return Err(ApiError::bad_request(
                "benchmark.manifest: field `cases`: expected a file name",
            ));
        }
        (None, Some(_)) => {
            return Err(ApiError::bad_request(
                "benchmark.manifest: field `cases`: name the file of benchmark.cases (cases = \"cases.jsonl\")",
            ));
        }
        (None, None) => {}
    }
    let manifest = dir.join(MANIFEST);
    write(&manifest, &benchmark.manifest)?;
    Ok(manifest)
}

/// One normal path component: no folder, no `..`, nothing absolute.
fn plain_file_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(parts.next(), Some(Component::Normal(_))) && parts.next().is_none()
}

/// The scorers a customer may use.
fn check_benchmark(scorers: &[ScorerSpec], policy: &SubmissionPolicy) -> Result<(), ApiError> {
    for (i, scorer) in scorers.iter().enumerate() {
        let field = |what: &str| format!("benchmark.manifest: field `scorer[{i}]`: {what}");
        match scorer {
            ScorerSpec::Plugin { .. } => {
                return Err(ApiError::unprocessable(field(
                    "plugin scorers are not accepted here",
                )));
            }
            ScorerSpec::Code { network, .. } => {
                if !policy.allow_code_scorer {
                    return Err(ApiError::unprocessable(field(
                        "the code scorer is not enabled on this service",
                    )));
                }
                if *network {
                    return Err(ApiError::unprocessable(field(
                        "the code scorer runs without network access here",
                    )));
                }
            }
            ScorerSpec::ModelGraded { judges, .. } => {
                for judge in judges {
                    check_agent(
                        &format!("benchmark.manifest: scorer[{i}] judge"),
                        judge,
                        policy,
                    )?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// An agent (or judge) a customer may configure.
fn check_agent(file: &str, agent: &AgentConfig, policy: &SubmissionPolicy) -> Result<(), ApiError> {
    let refuse = |field: &str, what: String| {
        Err(ApiError::unprocessable(format!(
            "{file}: agent {:?}: field `{field}`: {what}",
            agent.name
        )))
    };
    if !policy.providers.contains(&agent.provider) {
        return refuse(
            "provider",
            format!(
                "{:?} is not accepted here (accepted: {})",
                agent.provider,
                policy.providers.join(", ")
            ),
        );
    }
    if agent.recording.is_some() {
        return refuse("recording", "files of the server cannot be named".into());
    }
    if agent.layers.record.is_some() {
        return refuse(
            "layers.record",
            "files of the server cannot be named".into(),
        );
    }
    let key_var = agent
        .api_key_env
        .clone()
        .or_else(|| default_key_var(&agent.provider).map(str::to_owned));
    if let Some(var) = key_var
        && !policy.key_vars.contains(&var)
    {
        return refuse(
            "api_key_env",
            "this key variable is not accepted here".into(),
        );
    }
    if let Some(url) = &agent.base_url
        && !policy
            .base_urls
            .iter()
            .any(|u| u.trim_end_matches('/') == url.trim_end_matches('/'))
    {
        return refuse("base_url", "this base URL is not accepted here".into());
    }
    Ok(())
}

/// The key variable a vendor provider reads when an agent names none.
fn default_key_var(provider: &str) -> Option<&'static str> {
    match provider {
        "openai" => Some("OPENAI_API_KEY"),
        "anthropic" => Some("ANTHROPIC_API_KEY"),
        "gemini" => Some("GEMINI_API_KEY"),
        _ => None,
    }
}

fn bounded<T: PartialOrd + Copy + std::fmt::Display>(
    field: &str,
    value: Option<T>,
    min: T,
    max: T,
) -> Result<Option<T>, ApiError> {
    match value {
        Some(v) if v < min || v > max => Err(ApiError::bad_request(format!(
            "{field}: expected {min} to {max}, got {v}"
        ))),
        v => Ok(v),
    }
}

fn budget(value: Option<f64>) -> Result<Option<f64>, ApiError> {
    match value {
        Some(v) if !v.is_finite() || !(0.0..=1e9).contains(&v) => Err(ApiError::bad_request(
            format!("budget_usd: expected 0 to 1e9, got {v}"),
        )),
        v => Ok(v),
    }
}

/// A loading error as the caller sent the files: named by the body's fields, not by the
/// server's folder; syntax errors are 400, invalid content 422.
fn job_error(e: JobError, dir: &Path) -> ApiError {
    match e {
        JobError::Load(e) => load_error(&e, dir),
        other => ApiError::unprocessable(scrub(&other.to_string(), dir)),
    }
}

fn load_error(e: &LoadError, dir: &Path) -> ApiError {
    let file = match e.path().file_name().and_then(|n| n.to_str()) {
        Some(MANIFEST) => "benchmark.manifest".to_owned(),
        Some(AGENTS) => "agents".to_owned(),
        Some(SPACE) => "space".to_owned(),
        Some(_) if e.path().starts_with(dir) => "benchmark.cases".to_owned(),
        _ => "input".to_owned(),
    };
    let mut message = file;
    if let Some(line) = e.line() {
        message.push_str(&format!(":{line}"));
    }
    if let Some(field) = e.field() {
        message.push_str(&format!(": field `{field}`"));
    }
    message.push_str(&format!(": {}", scrub(e.message(), dir)));
    match e.kind() {
        LoadErrorKind::Syntax => ApiError::bad_request(message),
        _ => ApiError::unprocessable(message),
    }
}

/// `text` without the private folder's path.
fn scrub(text: &str, dir: &Path) -> String {
    text.replace(&format!("{}/", dir.display()), "")
        .replace(&dir.display().to_string(), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_are_accepted_for_cases() {
        for ok in ["cases.jsonl", "c"] {
            assert!(plain_file_name(ok), "{ok}");
        }
        for bad in ["../cases.jsonl", "/etc/passwd", "a/b.jsonl", "", ".", ".."] {
            assert!(!plain_file_name(bad), "{bad}");
        }
    }
}
