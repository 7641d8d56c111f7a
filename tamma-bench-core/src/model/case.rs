//! One test case of a benchmark.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A chat message: `{role, content}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: Role,
    /// The text of the message.
    pub content: String,
}

impl Message {
    /// A message with `role` and `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }
}

/// The author of a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
    /// A tool's result.
    Tool,
}

/// The input of a case: a string (rendered into the prompt template), or a whole chat.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum CaseInput {
    /// Text substituted for `{{input}}` in the prompt template.
    Text(String),
    /// A conversation sent as it is (the benchmark's system template is prepended when the
    /// conversation has no system message).
    Chat(Vec<Message>),
}

impl CaseInput {
    /// The input as text: the string, or the chat's messages joined by new lines.
    pub fn as_text(&self) -> String {
        match self {
            Self::Text(t) => t.clone(),
            Self::Chat(m) => m
                .iter()
                .map(|m| m.content.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }
}

/// The expected answer: one string or several acceptable ones.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Target {
    /// One acceptable answer.
    One(String),
    /// Several acceptable answers: a case passes if any matches.
    Any(Vec<String>),
}

impl Default for Target {
    fn default() -> Self {
        Self::Any(Vec::new())
    }
}

impl Target {
    /// Every acceptable answer.
    pub fn values(&self) -> &[String] {
        match self {
            Self::One(s) => std::slice::from_ref(s),
            Self::Any(v) => v,
        }
    }
}

/// One case of a benchmark, as written in the cases file (one JSON object a line).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Unique id within the benchmark. Optional in the file: by default a stable hash of
    /// the case's content (`h-` followed by 16 hex digits).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// The input.
    pub input: CaseInput,
    /// Acceptable answer(s). May be empty for scorers that need none (`json`).
    #[serde(default)]
    pub target: Target,
    /// Free-form labels, used for per-tag breakdowns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Cases in one cluster are correlated (same passage, same repository): the
    /// statistics use clustered standard errors when clusters are given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Anything else; available to templates as `{{metadata.KEY}}`.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

impl Case {
    /// The stable content hash used as the id of a case that has none: SHA-256 over the
    /// canonical JSON of input, target, tags, cluster and metadata.
    pub fn content_id(&self) -> String {
        let canonical = serde_json::json!({
            "input": self.input,
            "target": self.target,
            "tags": self.tags,
            "cluster": self.cluster,
            "metadata": self.metadata,
        });
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        format!("h-{}", hex::encode(&digest[..8]))
    }
}
