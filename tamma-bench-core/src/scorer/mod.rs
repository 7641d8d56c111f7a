//! The `Scorer` extension point and the built-in scorers.
//!
//! A scorer turns a case and a completion into a [`Score`] in `[0, 1]`. The built-ins are
//! configured from `[[scorer]]` tables in the benchmark manifest ([`ScorerSpec`]); a case
//! with several acceptable targets passes if any of them matches.

#[cfg(feature = "runtime")]
mod choice;
#[cfg(feature = "runtime")]
mod code;
#[cfg(feature = "runtime")]
mod json;
#[cfg(feature = "runtime")]
mod judge;
#[cfg(feature = "runtime")]
mod numeric;
#[cfg(feature = "runtime")]
mod text;

use crate::model::{Case, Score};
use crate::provider::Completion;
use async_trait::async_trait;
#[cfg(feature = "runtime")]
use schemars::JsonSchema;
#[cfg(feature = "runtime")]
use serde::{Deserialize, Serialize};
#[cfg(feature = "runtime")]
use std::sync::Arc;

#[cfg(feature = "runtime")]
pub use choice::extract_choice;
#[cfg(feature = "runtime")]
pub use judge::{DEFAULT_GRADE_PATTERN, DEFAULT_RUBRIC, JudgeOptions, default_grades};
#[cfg(feature = "runtime")]
pub use numeric::extract_last_number;
#[cfg(feature = "runtime")]
pub use text::{Normalization, normalize, token_f1};

/// Why a scorer could not score.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ScoreError {
    /// The scorer's configuration is invalid (bad regex, bad schema).
    #[error("invalid configuration of scorer `{scorer}`: {message}")]
    InvalidConfig {
        /// Scorer kind.
        scorer: String,
        /// What is wrong.
        message: String,
    },
    /// Scoring this output failed (a judge down, a sandbox error).
    #[error("scorer `{scorer}` failed: {message}")]
    Failed {
        /// Scorer name.
        scorer: String,
        /// What failed.
        message: String,
    },
}

impl ScoreError {
    /// What a caller can do: fix an invalid configuration; retry a failed scoring (a
    /// judge that was down, a sandbox that failed) on a later run.
    pub fn remedy(&self) -> crate::error::Remedy {
        match self {
            Self::InvalidConfig { .. } => crate::error::Remedy::FixInput,
            Self::Failed { .. } => crate::error::Remedy::Retry,
        }
    }
}

/// Scores one completion of one case.
#[async_trait]
pub trait Scorer: Send + Sync {
    /// The name written into each [`Score`].
    fn name(&self) -> &str;

    /// Scores `completion` against `case`.
    async fn score(&self, case: &Case, completion: &Completion) -> Result<Score, ScoreError>;
}

#[cfg(feature = "runtime")]
fn default_normalize() -> Vec<Normalization> {
    vec![Normalization::Trim]
}

#[cfg(feature = "runtime")]
fn default_choices() -> Vec<String> {
    ["A", "B", "C", "D"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
}

#[cfg(feature = "runtime")]
/// A built-in scorer as configured in a `[[scorer]]` table (`kind` plus options).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScorerSpec {
    /// The output equals a target after normalization.
    Exact {
        /// Normalizations applied to both sides: `trim` (default), `case`, `whitespace`,
        /// `punctuation`.
        #[serde(default = "default_normalize")]
        normalize: Vec<Normalization>,
    },
    /// The output contains a target.
    Includes {
        /// Compare case-insensitively.
        #[serde(default)]
        ignore_case: bool,
    },
    /// A regular expression. Without `pattern`, each target is a pattern and the output
    /// passes if any matches. With `pattern` and no `group`, the output passes if the
    /// pattern matches. With `group`, the captured text (trimmed) is compared to the targets.
    Regex {
        /// The pattern (Rust `regex` syntax).
        #[serde(default)]
        pattern: Option<String>,
        /// Capture group (number) compared to the target.
        #[serde(default)]
        group: Option<usize>,
        /// Match case-insensitively.
        #[serde(default)]
        ignore_case: bool,
    },
    /// A number in the output equals the target within a tolerance.
    Numeric {
        /// Absolute tolerance (default 1e-6 when neither tolerance is given).
        #[serde(default)]
        abs_tol: Option<f64>,
        /// Relative tolerance.
        #[serde(default)]
        rel_tol: Option<f64>,
        /// Regex whose first capture group (or whole match) holds the number; by default
        /// the last number in the output.
        #[serde(default)]
        pattern: Option<String>,
    },
    /// A multiple-choice letter: the answer letter extracted from the output equals the
    /// target letter.
    Choice {
        /// The allowed letters (default A-D).
        #[serde(default = "default_choices")]
        choices: Vec<String>,
    },
    /// The output is valid JSON (a fenced ```json block is accepted), and, when a schema is
    /// given, valid against it.
    Json {
        /// A JSON Schema, inline.
        #[serde(default)]
        #[schemars(with = "Option<serde_json::Value>")]
        schema: Option<serde_json::Value>,
    },
    /// Token-overlap F1 (SQuAD-style normalization) against the best target.
    F1 {
        /// Pass/fail at this F1 instead of the continuous value.
        #[serde(default)]
        threshold: Option<f64>,
    },
    /// Runs the program made of the prompt, the completion (or its fenced code) and the
    /// case's tests (`metadata.test`, `metadata.entry_point`) in a sandboxed interpreter,
    /// HumanEval style; passes when the tests pass.
    Code {
        /// The language; only `python` (run by `python3`).
        #[serde(default = "code::default_language")]
        language: String,
        /// Wall-clock limit of one run, ms (default 10,000).
        #[serde(default = "code::default_timeout_ms")]
        timeout_ms: u64,
        /// Address-space limit, MiB (default 1,024).
        #[serde(default = "code::default_memory_mb")]
        memory_mb: u64,
        /// Process limit (default 64).
        #[serde(default = "code::default_max_processes")]
        max_processes: u32,
        /// Allow network access (default false: a private network namespace where the
        /// OS allows).
        #[serde(default)]
        network: bool,
    },
    /// One or more judge models grade the output against a rubric, with partial credit,
    /// majority over judges and re-judgements for reliability.
    ModelGraded {
        /// The judges: agent configurations (`[[scorer.judges]]`).
        judges: Vec<crate::model::AgentConfig>,
        /// Rubric template: the case's variables plus `{{output}}`; a QA rubric by default.
        #[serde(default)]
        rubric: Option<String>,
        /// Regex whose first group is the grade (default `GRADE:\s*([CPI])`).
        #[serde(default)]
        grade_pattern: Option<String>,
        /// Credit per grade (default C = 1, P = 0.5, I = 0).
        #[serde(default)]
        grades: Option<std::collections::BTreeMap<String, f64>>,
        /// Judgements per judge and output (default 1; 3 or more measure reliability).
        #[serde(default = "default_rejudge")]
        rejudge: u32,
        /// Pass threshold on the credit scale (default 0.5).
        #[serde(default = "default_threshold")]
        threshold: f64,
    },
    /// A scorer plugin (`docs/plugin-sdk.md`), found by its manifest id in the plugin
    /// directories; the host builds it through its [`ProviderFactory`].
    ///
    /// [`ProviderFactory`]: crate::provider::ProviderFactory
    Plugin {
        /// The plugin's manifest id.
        id: String,
        /// Its configuration, passed to it as JSON.
        #[serde(default)]
        config: serde_json::Value,
    },
}

#[cfg(feature = "runtime")]
fn default_rejudge() -> u32 {
    1
}

#[cfg(feature = "runtime")]
fn default_threshold() -> f64 {
    0.5
}

#[cfg(feature = "runtime")]
impl ScorerSpec {
    /// The kind's name.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Exact { .. } => "exact",
            Self::Includes { .. } => "includes",
            Self::Regex { .. } => "regex",
            Self::Numeric { .. } => "numeric",
            Self::Choice { .. } => "choice",
            Self::Json { .. } => "json",
            Self::F1 { .. } => "f1",
            Self::Code { .. } => "code",
            Self::ModelGraded { .. } => "model_graded",
            Self::Plugin { .. } => "plugin",
        }
    }

    /// The default scorer: exact match after trimming.
    pub fn default_exact() -> Self {
        Self::Exact {
            normalize: default_normalize(),
        }
    }

    /// Builds the scorer, validating its options. Scorers that call models (judges)
    /// need a provider factory: see [`ScorerSpec::build_with`].
    pub fn build(&self) -> Result<Arc<dyn Scorer>, ScoreError> {
        self.build_with(None)
    }

    /// Checks the options without building anything that calls a model.
    pub fn validate(&self) -> Result<(), ScoreError> {
        if let Self::Plugin { id, .. } = self {
            if id.trim().is_empty() {
                return Err(invalid("plugin", "id: expected the plugin's manifest id"));
            }
            return Ok(());
        }
        match self.judge_options() {
            Some(o) => judge::validate(&o),
            None => self.build_local().map(|_| ()),
        }
    }

    fn judge_options(&self) -> Option<JudgeOptions> {
        match self {
            Self::ModelGraded {
                judges,
                rubric,
                grade_pattern,
                grades,
                rejudge,
                threshold,
            } => Some(JudgeOptions {
                judges: judges.clone(),
                rubric: rubric.clone(),
                grade_pattern: grade_pattern.clone(),
                grades: grades.clone(),
                rejudge: *rejudge,
                threshold: *threshold,
            }),
            _ => None,
        }
    }

    /// Builds the scorer; `providers` builds the providers of judges.
    pub fn build_with(
        &self,
        providers: Option<&dyn crate::provider::ProviderFactory>,
    ) -> Result<Arc<dyn Scorer>, ScoreError> {
        if let Some(o) = self.judge_options() {
            return Ok(Arc::new(judge::ModelGraded::new(&o, providers)?));
        }
        if let (Self::Plugin { id, config }, Some(factory)) = (self, providers) {
            return factory
                .scorer_plugin(id, config)
                .map_err(|m| invalid("plugin", m.to_string()));
        }
        self.build_local()
    }

    /// Builds a scorer that calls no model.
    fn build_local(&self) -> Result<Arc<dyn Scorer>, ScoreError> {
        Ok(match self {
            Self::Exact { normalize } => Arc::new(text::Exact::new(normalize.clone())),
            Self::Includes { ignore_case } => Arc::new(text::Includes {
                ignore_case: *ignore_case,
            }),
            Self::Regex {
                pattern,
                group,
                ignore_case,
            } => Arc::new(text::RegexScorer::new(
                pattern.as_deref(),
                *group,
                *ignore_case,
            )?),
            Self::Numeric {
                abs_tol,
                rel_tol,
                pattern,
            } => Arc::new(numeric::Numeric::new(
                *abs_tol,
                *rel_tol,
                pattern.as_deref(),
            )?),
            Self::Choice { choices } => Arc::new(choice::Choice::new(choices.clone())?),
            Self::Json { schema } => Arc::new(json::JsonScorer::new(schema.as_ref())?),
            Self::F1 { threshold } => Arc::new(text::F1 {
                threshold: *threshold,
            }),
            Self::Code {
                language,
                timeout_ms,
                memory_mb,
                max_processes,
                network,
            } => Arc::new(code::CodeScorer::new(
                language,
                *timeout_ms,
                *memory_mb,
                *max_processes,
                *network,
            )?),
            Self::ModelGraded { .. } => {
                return Err(invalid(
                    "model_graded",
                    "needs a provider factory to build its judges",
                ));
            }
            Self::Plugin { id, .. } => {
                return Err(invalid(
                    "plugin",
                    format!("scorer plugin {id:?} needs a host that loads plugins"),
                ));
            }
        })
    }
}

#[cfg(feature = "runtime")]
/// Shorthand for a configuration error.
pub(crate) fn invalid(scorer: &str, message: impl Into<String>) -> ScoreError {
    ScoreError::InvalidConfig {
        scorer: scorer.to_owned(),
        message: message.into(),
    }
}
