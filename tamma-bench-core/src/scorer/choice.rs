//! Multiple-choice letter scorer.

use super::{ScoreError, Scorer, invalid};
use crate::model::{Case, Score};
use crate::provider::Completion;
use async_trait::async_trait;
use regex::Regex;

pub(super) struct Choice {
    explicit: Regex,
    leading: Regex,
    marked: Regex,
    bare: Regex,
}

impl Choice {
    pub(super) fn new(choices: Vec<String>) -> Result<Self, ScoreError> {
        if choices.is_empty()
            || choices
                .iter()
                .any(|c| c.is_empty() || c.chars().any(char::is_whitespace))
        {
            return Err(invalid(
                "choice",
                "choices: expected a non-empty list of labels without spaces",
            ));
        }
        let alt = choices
            .iter()
            .map(|c| regex::escape(c))
            .collect::<Vec<_>>()
            .join("|");
        let build = |p: String| Regex::new(&p).map_err(|e| invalid("choice", e.to_string()));
        Ok(Self {
            explicit: build(format!(
                r"(?i:answer)\s*(?:is|:)?\s*:?\s*[\(\[]?({alt})[\)\]]?(?:[^A-Za-z0-9]|$)"
            ))?,
            leading: build(format!(r"^\s*[\(\[]?({alt})(?:[\)\]\.:,]|\s*$|\s)"))?,
            marked: build(format!(
                r"(?:^|[^A-Za-z0-9])[\(\[]({alt})[\)\]]|(?:^|\s)({alt})[\)\.:](?:\s|$)"
            ))?,
            bare: build(format!(r"\b({alt})\b"))?,
        })
    }

    fn extract<'a>(&self, text: &'a str) -> Option<&'a str> {
        for re in [&self.explicit, &self.leading, &self.marked, &self.bare] {
            if let Some(c) = re.captures(text)
                && let Some(m) = c.iter().skip(1).flatten().next()
            {
                return Some(m.as_str());
            }
        }
        None
    }
}

/// Extracts the answer letter (one of A-D) from a model's output: an explicit
/// "answer is X" first, then a leading letter, then a marked one (`(B)`, `B)`), then the
/// first standalone letter.
pub fn extract_choice(text: &str) -> Option<String> {
    let c = Choice::new(super::default_choices()).ok()?;
    c.extract(text).map(str::to_owned)
}

#[async_trait]
impl Scorer for Choice {
    fn name(&self) -> &str {
        "choice"
    }

    async fn score(&self, case: &Case, completion: &Completion) -> Result<Score, ScoreError> {
        let answer = self.extract(&completion.text);
        let passed = answer.is_some_and(|a| case.target.values().iter().any(|t| t.trim() == a));
        Ok(Score::pass_fail("choice", passed).with_answer(answer.map(str::to_owned)))
    }
}

#[cfg(test)]
mod tests {
    use super::extract_choice;

    #[test]
    fn extracts_letters_in_common_shapes() {
        assert_eq!(extract_choice("B").as_deref(), Some("B"));
        assert_eq!(extract_choice(" (C) because").as_deref(), Some("C"));
        assert_eq!(extract_choice("The answer is D.").as_deref(), Some("D"));
        assert_eq!(extract_choice("Answer: A").as_deref(), Some("A"));
        assert_eq!(extract_choice("I think B) is right").as_deref(), Some("B"));
        assert_eq!(extract_choice("no idea"), None);
    }
}
