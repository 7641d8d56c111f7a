//! Text scorers: exact, includes, regex, token F1.

use super::{ScoreError, Scorer, invalid};
use crate::model::{Case, Score};
use crate::provider::Completion;
use async_trait::async_trait;
use regex::{Regex, RegexBuilder};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A normalization applied before comparing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// Strip leading and trailing white space.
    Trim,
    /// Compare case-insensitively.
    Case,
    /// Collapse runs of white space into one space.
    Whitespace,
    /// Remove ASCII and Unicode punctuation.
    Punctuation,
}

/// Applies `steps` to `s`.
pub fn normalize(s: &str, steps: &[Normalization]) -> String {
    let mut out = s.to_owned();
    // Order matters only for trim vs. punctuation/whitespace; apply content changes first.
    if steps.contains(&Normalization::Punctuation) {
        out = out
            .chars()
            .filter(|c| !c.is_ascii_punctuation() && !is_unicode_punct(*c))
            .collect();
    }
    if steps.contains(&Normalization::Case) {
        out = out.to_lowercase();
    }
    if steps.contains(&Normalization::Whitespace) {
        out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    if steps.contains(&Normalization::Trim) {
        out = out.trim().to_owned();
    }
    out
}

fn is_unicode_punct(c: char) -> bool {
    matches!(
        c,
        '\u{2010}'..='\u{2027}' | '\u{3001}' | '\u{3002}' | '\u{00BF}' | '\u{00A1}'
    )
}

pub(super) struct Exact {
    normalize: Vec<Normalization>,
}

impl Exact {
    pub(super) fn new(normalize: Vec<Normalization>) -> Self {
        Self { normalize }
    }
}

#[async_trait]
impl Scorer for Exact {
    fn name(&self) -> &str {
        "exact"
    }

    async fn score(&self, case: &Case, completion: &Completion) -> Result<Score, ScoreError> {
        let got = normalize(&completion.text, &self.normalize);
        let passed = case
            .target
            .values()
            .iter()
            .any(|t| normalize(t, &self.normalize) == got);
        Ok(Score::pass_fail("exact", passed))
    }
}

pub(super) struct Includes {
    pub(super) ignore_case: bool,
}

#[async_trait]
impl Scorer for Includes {
    fn name(&self) -> &str {
        "includes"
    }

    async fn score(&self, case: &Case, completion: &Completion) -> Result<Score, ScoreError> {
        let passed = if self.ignore_case {
            let hay = completion.text.to_lowercase();
            case.target
                .values()
                .iter()
                .any(|t| hay.contains(&t.to_lowercase()))
        } else {
            case.target
                .values()
                .iter()
                .any(|t| completion.text.contains(t.as_str()))
        };
        Ok(Score::pass_fail("includes", passed))
    }
}

pub(super) struct RegexScorer {
    pattern: Option<Regex>,
    group: Option<usize>,
    ignore_case: bool,
}

fn compile(pattern: &str, ignore_case: bool) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .case_insensitive(ignore_case)
        .size_limit(1 << 20)
        .build()
}

impl RegexScorer {
    pub(super) fn new(
        pattern: Option<&str>,
        group: Option<usize>,
        ignore_case: bool,
    ) -> Result<Self, ScoreError> {
        let pattern = pattern
            .map(|p| compile(p, ignore_case).map_err(|e| invalid("regex", format!("pattern: {e}"))))
            .transpose()?;
        if let (Some(re), Some(g)) = (&pattern, group)
            && g >= re.captures_len()
        {
            return Err(invalid(
                "regex",
                format!(
                    "group: the pattern has {} capture group(s), group {g} does not exist",
                    re.captures_len() - 1
                ),
            ));
        }
        if pattern.is_none() && group.is_some() {
            return Err(invalid("regex", "group: needs a `pattern`"));
        }
        Ok(Self {
            pattern,
            group,
            ignore_case,
        })
    }
}

#[async_trait]
impl Scorer for RegexScorer {
    fn name(&self) -> &str {
        "regex"
    }

    async fn score(&self, case: &Case, completion: &Completion) -> Result<Score, ScoreError> {
        let text = &completion.text;
        match (&self.pattern, self.group) {
            (None, _) => {
                for t in case.target.values() {
                    let re = compile(t, self.ignore_case).map_err(|e| ScoreError::Failed {
                        scorer: "regex".into(),
                        message: format!("target is not a valid pattern: {e}"),
                    })?;
                    if let Some(m) = re.find(text) {
                        return Ok(Score::pass_fail("regex", true)
                            .with_answer(Some(m.as_str().to_owned())));
                    }
                }
                Ok(Score::pass_fail("regex", false))
            }
            (Some(re), None) => {
                let m = re.find(text).map(|m| m.as_str().to_owned());
                Ok(Score::pass_fail("regex", m.is_some()).with_answer(m))
            }
            (Some(re), Some(g)) => {
                let captured = re
                    .captures(text)
                    .and_then(|c| c.get(g))
                    .map(|m| m.as_str().trim().to_owned());
                let passed = captured.as_ref().is_some_and(|c| {
                    case.target.values().iter().any(|t| {
                        if self.ignore_case {
                            t.trim().eq_ignore_ascii_case(c)
                        } else {
                            t.trim() == c
                        }
                    })
                });
                Ok(Score::pass_fail("regex", passed).with_answer(captured))
            }
        }
    }
}

/// SQuAD-style tokens: lower case, punctuation and articles removed, split on white space.
fn f1_tokens(s: &str) -> Vec<String> {
    let cleaned: String = s
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_punctuation() { ' ' } else { c })
        .collect();
    cleaned
        .split_whitespace()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .map(str::to_owned)
        .collect()
}

/// Token-overlap F1 between a prediction and a reference (SQuAD definition).
pub fn token_f1(prediction: &str, reference: &str) -> f64 {
    let p = f1_tokens(prediction);
    let r = f1_tokens(reference);
    if p.is_empty() || r.is_empty() {
        return if p.is_empty() && r.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for t in &r {
        *counts.entry(t.as_str()).or_default() += 1;
    }
    let mut common = 0i64;
    for t in &p {
        if let Some(c) = counts.get_mut(t.as_str())
            && *c > 0
        {
            *c -= 1;
            common += 1;
        }
    }
    if common == 0 {
        return 0.0;
    }
    let precision = common as f64 / p.len() as f64;
    let recall = common as f64 / r.len() as f64;
    2.0 * precision * recall / (precision + recall)
}

pub(super) struct F1 {
    pub(super) threshold: Option<f64>,
}

#[async_trait]
impl Scorer for F1 {
    fn name(&self) -> &str {
        "f1"
    }

    async fn score(&self, case: &Case, completion: &Completion) -> Result<Score, ScoreError> {
        let best = case
            .target
            .values()
            .iter()
            .map(|t| token_f1(&completion.text, t))
            .fold(0.0, f64::max);
        let value = match self.threshold {
            Some(th) => f64::from(u8::from(best >= th)),
            None => best,
        };
        Ok(Score {
            scorer: "f1".into(),
            value,
            answer: None,
            explanation: Some(format!("f1={best:.4}")),
            uncertain: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_removes_case_space_and_punctuation() {
        let all = [
            Normalization::Trim,
            Normalization::Case,
            Normalization::Whitespace,
            Normalization::Punctuation,
        ];
        assert_eq!(normalize("  Hello,   World! ", &all), "hello world");
        assert_eq!(normalize("  Hello ", &[Normalization::Trim]), "Hello");
    }

    #[test]
    fn f1_matches_squad_definition() {
        assert!((token_f1("the cat sat", "a cat sat down") - 0.8).abs() < 1e-12);
        assert_eq!(token_f1("dog", "cat"), 0.0);
        assert_eq!(token_f1("The Cat", "cat"), 1.0);
    }
}
