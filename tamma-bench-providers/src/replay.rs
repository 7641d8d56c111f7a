//! The `replay` provider: answers from a recording, one JSON object a line:
//! `{"case_id", "epoch" (optional), "output", "usage": {"input_tokens", "output_tokens"}
//! (optional), "latency_ms" (optional)}`.
//!
//! A line without `epoch` answers every epoch of its case; a line with one answers that
//! epoch and wins over an epoch-less line. A case with no line is an infrastructure
//! failure of kind `missing_recording`.

use crate::BuildError;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use tamma_bench_core::model::AgentConfig;
use tamma_bench_core::provider::{
    CallContext, Completion, CompletionRequest, Provider, ProviderError, ProviderErrorKind, Usage,
};

/// One recorded completion (one line of a recording).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordedCompletion {
    /// The case answered.
    pub case_id: String,
    /// The epoch answered; every epoch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<u32>,
    /// The model's output.
    pub output: String,
    /// Token use, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Latency of the original call, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// A problem in a recording file, located by line and field.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub struct RecordingError {
    /// The file.
    pub path: String,
    /// 1-based line, when the problem is on one.
    pub line: Option<usize>,
    /// The field, where there is one.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl RecordingError {
    /// What a caller can do: fix (or re-record) the recording file.
    pub fn remedy(&self) -> tamma_bench_core::error::Remedy {
        tamma_bench_core::error::Remedy::FixInput
    }
}

impl std::fmt::Display for RecordingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Answers requests from recorded completions.
#[derive(Debug)]
pub struct ReplayProvider {
    by_epoch: HashMap<(String, u32), RecordedCompletion>,
    any_epoch: HashMap<String, RecordedCompletion>,
}

impl ReplayProvider {
    /// Reads a recording. Two lines for the same case and epoch are an error.
    pub fn open(path: &Path) -> Result<Self, RecordingError> {
        let err = |line, field: Option<String>, message: String| RecordingError {
            path: path.display().to_string(),
            line,
            field,
            message,
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| err(None, None, format!("cannot read: {e}")))?;
        let mut by_epoch = HashMap::new();
        let mut any_epoch = HashMap::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let de = &mut serde_json::Deserializer::from_str(line);
            let rec: RecordedCompletion = serde_path_to_error::deserialize(de).map_err(|e| {
                let field = e.path().to_string();
                err(
                    Some(i + 1),
                    (field != ".").then_some(field),
                    e.inner().to_string(),
                )
            })?;
            let duplicate = match rec.epoch {
                Some(e) => by_epoch
                    .insert((rec.case_id.clone(), e), rec.clone())
                    .is_some(),
                None => any_epoch.insert(rec.case_id.clone(), rec.clone()).is_some(),
            };
            if duplicate {
                return Err(err(
                    Some(i + 1),
                    Some("case_id".into()),
                    format!(
                        "second recording for case {:?} and the same epoch",
                        rec.case_id
                    ),
                ));
            }
        }
        Ok(Self {
            by_epoch,
            any_epoch,
        })
    }

    /// The provider of a `replay` agent: its `recording`, relative to `base_dir`.
    pub fn from_agent(agent: &AgentConfig, base_dir: &Path) -> Result<Self, BuildError> {
        let rel = agent
            .recording
            .as_ref()
            .ok_or_else(|| BuildError::Invalid {
                agent: agent.name.clone(),
                field: "recording",
                message: "a replay agent needs `recording = \"path.jsonl\"`".into(),
            })?;
        let path: PathBuf = base_dir.join(rel);
        Self::open(&path).map_err(|e| BuildError::Invalid {
            agent: agent.name.clone(),
            field: "recording",
            message: e.to_string(),
        })
    }

    /// Number of recorded lines.
    pub fn len(&self) -> usize {
        self.by_epoch.len() + self.any_epoch.len()
    }

    /// Whether the recording is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl Provider for ReplayProvider {
    fn name(&self) -> &str {
        "replay"
    }

    /// A recording answers any request, tool use included, with its recorded usage, and the same whatever the seed.
    fn capabilities(&self) -> tamma_bench_core::provider::Capabilities {
        use tamma_bench_core::provider::{Capabilities, Capability};
        Capabilities::default()
            .with(Capability::Tools)
            .with(Capability::Usage)
            .with(Capability::Seed)
    }

    async fn complete(
        &self,
        _request: &CompletionRequest,
        cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        let rec = self
            .by_epoch
            .get(&(cx.case_id.clone(), cx.epoch))
            .or_else(|| self.any_epoch.get(&cx.case_id))
            .ok_or_else(|| {
                ProviderError::new(
                    ProviderErrorKind::MissingRecording,
                    format!("no recording for case {:?} epoch {}", cx.case_id, cx.epoch),
                )
            })?;
        Ok(Completion {
            text: rec.output.clone(),
            usage: rec.usage.unwrap_or_default(),
            latency_ms: rec.latency_ms.unwrap_or(0.0),
            ..Default::default()
        })
    }
}
