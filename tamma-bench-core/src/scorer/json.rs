//! JSON validity scorer, optionally against a JSON Schema.

use super::{ScoreError, Scorer, invalid};
use crate::model::{Case, Score};
use crate::provider::Completion;
use async_trait::async_trait;

pub(super) struct JsonScorer {
    validator: Option<jsonschema::Validator>,
}

impl JsonScorer {
    pub(super) fn new(schema: Option<&serde_json::Value>) -> Result<Self, ScoreError> {
        let validator = schema
            .map(|s| {
                jsonschema::validator_for(s).map_err(|e| invalid("json", format!("schema: {e}")))
            })
            .transpose()?;
        Ok(Self { validator })
    }
}

/// The JSON text of an output: the contents of a fenced ```json block if there is one,
/// else the trimmed output.
fn json_text(output: &str) -> &str {
    if let Some(start) = output.find("```") {
        let rest = &output[start + 3..];
        let rest = rest.strip_prefix("json").unwrap_or(rest);
        if let Some(end) = rest.find("```") {
            return rest[..end].trim();
        }
    }
    output.trim()
}

#[async_trait]
impl Scorer for JsonScorer {
    fn name(&self) -> &str {
        "json"
    }

    async fn score(&self, _case: &Case, completion: &Completion) -> Result<Score, ScoreError> {
        let value: serde_json::Value = match serde_json::from_str(json_text(&completion.text)) {
            Ok(v) => v,
            Err(e) => {
                return Ok(Score {
                    scorer: "json".into(),
                    value: 0.0,
                    answer: None,
                    explanation: Some(format!("invalid JSON: {e}")),
                    uncertain: false,
                });
            }
        };
        let explanation = self.validator.as_ref().and_then(|v| {
            v.iter_errors(&value)
                .next()
                .map(|e| format!("schema: {e} at {}", e.instance_path))
        });
        Ok(Score {
            scorer: "json".into(),
            value: f64::from(u8::from(explanation.is_none())),
            answer: None,
            explanation,
            uncertain: false,
        })
    }
}
