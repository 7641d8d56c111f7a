//! Example scorer plugin: `edit-similarity` scores an output by its similarity to the
//! best target, `1 - levenshtein(output, target) / max(len)`, over characters, after
//! trimming (and lowercasing when `ignore_case`). A continuous score in `[0, 1]`.
//!
//! ```toml
//! [[scorer]]
//! kind = "plugin"
//! id = "edit-similarity"
//! config = { ignore_case = true }
//! ```

use serde::Deserialize;
use tamma_bench_plugin::core::model::{Case, Score, Target};
use tamma_bench_plugin::core::provider::Completion;
use tamma_bench_plugin::core::scorer::{ScoreError, Scorer};
use tamma_bench_plugin::{Manifest, PluginError, async_trait};

/// The configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Compare case-insensitively.
    #[serde(default)]
    ignore_case: bool,
}

/// The scorer.
struct EditSimilarity(Config);

impl EditSimilarity {
    fn from_config(config: serde_json::Value) -> Result<Self, PluginError> {
        if config.is_null() {
            return Ok(Self(Config::default()));
        }
        serde_json::from_value(config)
            .map(Self)
            .map_err(|e| PluginError::config(e.to_string()))
    }

    fn normal(&self, s: &str) -> Vec<char> {
        let s = s.trim();
        if self.0.ignore_case {
            s.to_lowercase().chars().collect()
        } else {
            s.chars().collect()
        }
    }
}

/// Levenshtein distance, one row at a time.
fn distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[async_trait]
impl Scorer for EditSimilarity {
    fn name(&self) -> &str {
        "edit-similarity"
    }

    async fn score(&self, case: &Case, completion: &Completion) -> Result<Score, ScoreError> {
        let targets: Vec<&str> = match &case.target {
            Target::One(t) => vec![t.as_str()],
            Target::Any(ts) => ts.iter().map(String::as_str).collect(),
        };
        let output = self.normal(&completion.text);
        let best = targets
            .iter()
            .map(|t| {
                let t = self.normal(t);
                let longest = output.len().max(t.len());
                if longest == 0 {
                    1.0
                } else {
                    1.0 - distance(&output, &t) as f64 / longest as f64
                }
            })
            .fold(0.0, f64::max);
        Ok(Score {
            scorer: "edit-similarity".into(),
            value: best,
            answer: None,
            explanation: None,
            uncertain: false,
        })
    }
}

tamma_bench_plugin::export_scorer!(
    EditSimilarity::from_config,
    Manifest::scorer("edit-similarity", env!("CARGO_PKG_VERSION"))
        .with_description("similarity to the best target by edit distance, in [0, 1]")
        .with_config_schema(serde_json::json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {"ignore_case": {"type": "boolean", "default": false}}
        }))
);
