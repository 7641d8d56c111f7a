//! Numeric scorer with absolute or relative tolerance.

use super::{ScoreError, Scorer, invalid};
use crate::model::{Case, Score};
use crate::provider::Completion;
use async_trait::async_trait;
use regex::Regex;
use std::sync::LazyLock;

static NUMBER: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a constant pattern, checked by the tests
    Regex::new(r"[-+]?(?:\d[\d,]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?").unwrap()
});

fn parse_number(s: &str) -> Option<f64> {
    let cleaned: String = s
        .chars()
        .filter(|c| *c != ',' && *c != '$' && !c.is_whitespace())
        .collect();
    cleaned
        .trim_end_matches('.')
        .parse()
        .ok()
        .filter(|x: &f64| x.is_finite())
}

/// The last number in `text` (thousands separators allowed), if any.
pub fn extract_last_number(text: &str) -> Option<f64> {
    NUMBER
        .find_iter(text)
        .last()
        .and_then(|m| parse_number(m.as_str()))
}

pub(super) struct Numeric {
    abs_tol: f64,
    rel_tol: f64,
    pattern: Option<Regex>,
}

impl Numeric {
    pub(super) fn new(
        abs_tol: Option<f64>,
        rel_tol: Option<f64>,
        pattern: Option<&str>,
    ) -> Result<Self, ScoreError> {
        for (name, v) in [("abs_tol", abs_tol), ("rel_tol", rel_tol)] {
            if v.is_some_and(|v| !(v >= 0.0 && v.is_finite())) {
                return Err(invalid(
                    "numeric",
                    format!("{name}: expected a finite number >= 0"),
                ));
            }
        }
        let abs_tol = match (abs_tol, rel_tol) {
            (None, None) => 1e-6,
            (a, _) => a.unwrap_or(0.0),
        };
        let pattern = pattern
            .map(|p| Regex::new(p).map_err(|e| invalid("numeric", format!("pattern: {e}"))))
            .transpose()?;
        Ok(Self {
            abs_tol,
            rel_tol: rel_tol.unwrap_or(0.0),
            pattern,
        })
    }

    fn extract(&self, text: &str) -> Option<f64> {
        match &self.pattern {
            None => extract_last_number(text),
            Some(re) => {
                let c = re.captures(text)?;
                let m = c.get(1).or_else(|| c.get(0))?;
                extract_last_number(m.as_str())
            }
        }
    }
}

#[async_trait]
impl Scorer for Numeric {
    fn name(&self) -> &str {
        "numeric"
    }

    async fn score(&self, case: &Case, completion: &Completion) -> Result<Score, ScoreError> {
        let got = self.extract(&completion.text);
        let mut passed = false;
        for t in case.target.values() {
            let want = parse_number(t).ok_or_else(|| ScoreError::Failed {
                scorer: "numeric".into(),
                message: format!("target {t:?} of case {} is not a number", case.id),
            })?;
            if let Some(x) = got {
                let d = (x - want).abs();
                if d <= self.abs_tol || d <= self.rel_tol * want.abs() {
                    passed = true;
                }
            }
        }
        Ok(Score::pass_fail("numeric", passed).with_answer(got.map(|x| x.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use super::extract_last_number;

    #[test]
    fn takes_the_last_number() {
        assert_eq!(
            extract_last_number("3 apples and 1,250.5 pears"),
            Some(1250.5)
        );
        assert_eq!(extract_last_number("answer: -0.25."), Some(-0.25));
        assert_eq!(extract_last_number("1e3"), Some(1000.0));
        assert_eq!(extract_last_number("none"), None);
    }
}
