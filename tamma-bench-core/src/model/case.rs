//! One test case of a benchmark.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A chat message: `{role, content}`, and for multi-turn tool use the calls an
/// `assistant` message makes (`tool_calls`) or the call a `tool` message answers
/// (`tool_call_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: Role,
    /// The text of the message (of a `tool` message: the tool's result). May be empty
    /// for an assistant message that only calls tools.
    #[serde(default)]
    pub content: String,
    /// The tools an `assistant` message calls.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The id of the call a `tool` message answers. A `tool` message without one is sent
    /// as a user message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    /// A message with `role` and `content`.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }

    /// An `assistant` message saying `content` (which may be empty) and calling `calls`.
    pub fn assistant_calling(content: impl Into<String>, calls: Vec<ToolCall>) -> Self {
        Self {
            tool_calls: calls,
            ..Self::new(Role::Assistant, content)
        }
    }

    /// A `tool` message: `result` of the call `tool_call_id`.
    pub fn tool_result(tool_call_id: impl Into<String>, result: impl Into<String>) -> Self {
        Self {
            tool_call_id: Some(tool_call_id.into()),
            ..Self::new(Role::Tool, result)
        }
    }
}

/// A call of a tool by the model.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub struct ToolCall {
    /// Provider-assigned id.
    pub id: String,
    /// Function name.
    pub name: String,
    /// Arguments, as JSON.
    #[schemars(with = "serde_json::Value")]
    pub arguments: serde_json::Value,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_message_of_role_and_content_reads_and_writes_as_before() {
        let old = json!({"role": "user", "content": "Capital of France?"});
        let m: Message = serde_json::from_value(old.clone()).expect("an old message loads");
        assert_eq!(m, Message::new(Role::User, "Capital of France?"));
        assert_eq!(serde_json::to_value(&m).expect("json"), old, "no new keys");
        // What the content id hashes is unchanged, so ids of chat cases stay the same.
        let case: Case = serde_json::from_value(json!({"input": [old]})).expect("a chat case");
        assert_eq!(
            serde_json::to_value(&case.input).expect("json"),
            json!([old])
        );
    }

    #[test]
    fn a_tool_conversation_round_trips() {
        let call = ToolCall {
            id: "call_1".into(),
            name: "get_weather".into(),
            arguments: json!({"city": "Paris"}),
        };
        let conversation = vec![
            Message::new(Role::User, "Weather in Paris?"),
            Message::assistant_calling("", vec![call]),
            Message::tool_result("call_1", r#"{"temp_c": 21}"#),
        ];
        let written = serde_json::to_value(&conversation).expect("json");
        assert_eq!(
            written,
            json!([
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}]},
                {"role": "tool", "content": "{\"temp_c\": 21}", "tool_call_id": "call_1"}
            ])
        );
        let read: Vec<Message> = serde_json::from_value(written).expect("reads back");
        assert_eq!(read, conversation);
    }

    #[test]
    fn an_assistant_message_may_omit_its_content() {
        let m: Message = serde_json::from_value(json!({"role": "assistant", "tool_calls": [
            {"id": "c", "name": "f", "arguments": {}}]}))
        .expect("loads");
        assert_eq!(m.content, "");
        assert_eq!(m.tool_calls.len(), 1);
    }

    #[test]
    fn unknown_message_fields_are_still_refused() {
        let e = serde_json::from_value::<Message>(json!({"role": "user", "content": "x",
            "tool_call": "c"}))
        .expect_err("a misspelt field");
        assert!(e.to_string().contains("tool_call"), "{e}");
    }
}
