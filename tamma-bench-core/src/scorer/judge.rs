//! Model-graded scoring: one or more judge models grade the output against a rubric.
//!
//! Each judge grades every output `rejudge` times; a grade is read with `grade_pattern`
//! and mapped to partial credit with `grades`. A judge's value is the mean of its grades;
//! the score is the median over judges (with pass/fail grades and an odd number of
//! judges: the majority). **Reliability:** when the judgements of one output fall on
//! both sides of `threshold`, the score is marked `uncertain` — its value is kept, not
//! flipped — and the explanation gives the agreement (the share of judgements on the
//! side of the final verdict).

use super::{ScoreError, Scorer, invalid};
use crate::load::Template;
use crate::model::{AgentConfig, Case, Message, Role, Score, TenantId};
use crate::provider::{CallContext, Completion, CompletionRequest, Provider, ProviderFactory};
use async_trait::async_trait;
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The rubric used when none is given (in the spirit of OpenAI evals' model-graded QA
/// and Inspect's `model_graded_qa`).
pub const DEFAULT_RUBRIC: &str = "You are assessing a submitted answer to a task, against a reference.\n\n\
[Task]\n{{input}}\n\n[Submission]\n{{output}}\n\n[Reference]\n{{target}}\n\n\
Does the submission answer the task as the reference does? Think briefly, then finish with exactly one line: \
\"GRADE: C\" if correct, \"GRADE: P\" if partially correct, \"GRADE: I\" if incorrect.";

/// The grade pattern used when none is given; its first group is the grade.
pub const DEFAULT_GRADE_PATTERN: &str = r"GRADE:\s*([CPI])";

/// The credit of each default grade.
pub fn default_grades() -> BTreeMap<String, f64> {
    BTreeMap::from([
        ("C".to_owned(), 1.0),
        ("P".to_owned(), 0.5),
        ("I".to_owned(), 0.0),
    ])
}

/// The options of a model-graded scorer, as in its `[[scorer]]` table.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgeOptions {
    /// The judges (agent configurations; their providers come from the factory).
    pub judges: Vec<AgentConfig>,
    /// The rubric template: case variables plus `{{output}}`.
    pub rubric: Option<String>,
    /// Regex whose first group is the grade.
    pub grade_pattern: Option<String>,
    /// Credit per grade.
    pub grades: Option<BTreeMap<String, f64>>,
    /// Judgements per judge and output.
    pub rejudge: u32,
    /// Pass threshold on the credit scale.
    pub threshold: f64,
}

struct Parsed {
    rubric: Template,
    pattern: Regex,
    grades: BTreeMap<String, f64>,
}

fn parse(o: &JudgeOptions) -> Result<Parsed, ScoreError> {
    if o.judges.is_empty() {
        return Err(invalid(
            "model_graded",
            "judges: expected at least one judge",
        ));
    }
    if o.rejudge == 0 {
        return Err(invalid("model_graded", "rejudge: expected at least 1"));
    }
    if !(0.0..=1.0).contains(&o.threshold) {
        return Err(invalid(
            "model_graded",
            "threshold: expected a number in [0, 1]",
        ));
    }
    let rubric = Template::parse_with(o.rubric.as_deref().unwrap_or(DEFAULT_RUBRIC), &["output"])
        .map_err(|m| invalid("model_graded", format!("rubric: {m}")))?;
    let pattern = Regex::new(o.grade_pattern.as_deref().unwrap_or(DEFAULT_GRADE_PATTERN))
        .map_err(|e| invalid("model_graded", format!("grade_pattern: {e}")))?;
    if pattern.captures_len() < 2 {
        return Err(invalid(
            "model_graded",
            "grade_pattern: needs a capture group holding the grade",
        ));
    }
    let grades = o.grades.clone().unwrap_or_else(default_grades);
    if grades.is_empty() || grades.values().any(|v| !(0.0..=1.0).contains(v)) {
        return Err(invalid(
            "model_graded",
            "grades: expected grade = credit pairs with credit in [0, 1]",
        ));
    }
    Ok(Parsed {
        rubric,
        pattern,
        grades,
    })
}

/// Checks the options without building judges (used when a benchmark is loaded).
pub fn validate(o: &JudgeOptions) -> Result<(), ScoreError> {
    parse(o).map(|_| ())
}

pub(super) struct ModelGraded {
    parsed: Parsed,
    judges: Vec<(AgentConfig, Arc<dyn Provider>)>,
    rejudge: u32,
    threshold: f64,
}

impl ModelGraded {
    pub(super) fn new(
        o: &JudgeOptions,
        factory: Option<&dyn ProviderFactory>,
    ) -> Result<Self, ScoreError> {
        let parsed = parse(o)?;
        let factory = factory.ok_or_else(|| {
            invalid(
                "model_graded",
                "needs a provider factory to build its judges (pass one in RunOptions::providers)",
            )
        })?;
        let judges = o
            .judges
            .iter()
            .map(|j| {
                Ok((
                    j.clone(),
                    factory
                        .build(j)
                        .map_err(|m| invalid("model_graded", format!("judge {:?}: {m}", j.name)))?,
                ))
            })
            .collect::<Result<_, ScoreError>>()?;
        Ok(Self {
            parsed,
            judges,
            rejudge: o.rejudge,
            threshold: o.threshold,
        })
    }

    fn request(&self, judge: &AgentConfig, prompt: &str) -> CompletionRequest {
        CompletionRequest {
            model: judge.model.clone(),
            messages: judge
                .system
                .iter()
                .map(|s| Message::new(Role::System, s.clone()))
                .chain([Message::new(Role::User, prompt)])
                .collect(),
            temperature: judge.temperature,
            top_p: judge.top_p,
            max_tokens: judge.max_tokens,
            seed: judge.seed,
            stop: judge.stop.clone(),
            tools: Vec::new(),
            response_format: Default::default(),
        }
    }

    /// The credit of one judgement, or `None` when the judge gave no known grade.
    fn grade(&self, text: &str) -> Option<f64> {
        // The last match wins: judges reason first and grade at the end.
        let g = self
            .parsed
            .pattern
            .captures_iter(text)
            .last()?
            .get(1)?
            .as_str()
            .trim()
            .to_owned();
        self.parsed.grades.get(&g).copied()
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

#[async_trait]
impl Scorer for ModelGraded {
    fn name(&self) -> &str {
        "model_graded"
    }

    async fn score(&self, case: &Case, completion: &Completion) -> Result<Score, ScoreError> {
        let failed = |message: String| ScoreError::Failed {
            scorer: "model_graded".into(),
            message,
        };
        let prompt = self
            .parsed
            .rubric
            .render_with(case, &[("output", completion.text.as_str())])
            .map_err(|e| failed(e.to_string()))?;
        let mut judge_values = Vec::with_capacity(self.judges.len());
        let mut all = Vec::new();
        let mut ungraded = 0;
        for (config, provider) in &self.judges {
            let request = self.request(config, &prompt);
            let mut values = Vec::new();
            for i in 0..self.rejudge {
                let cx = CallContext {
                    run_id: "judge".into(),
                    tenant_id: TenantId::local(),
                    agent: config.name.clone(),
                    case_id: case.id.clone(),
                    epoch: i,
                    attempt: 1,
                };
                let answer = provider
                    .complete(&request, &cx)
                    .await
                    .map_err(|e| failed(format!("judge {:?}: {e}", config.name)))?;
                match self.grade(&answer.text) {
                    Some(v) => values.push(v),
                    None => ungraded += 1,
                }
            }
            if !values.is_empty() {
                judge_values.push(values.iter().sum::<f64>() / values.len() as f64);
                all.extend(values);
            }
        }
        if judge_values.is_empty() {
            return Err(failed(format!(
                "no judge gave a grade matching the pattern ({ungraded} judgements)"
            )));
        }
        let value = median(judge_values);
        let pass = value >= self.threshold;
        let agreeing = all
            .iter()
            .filter(|v| (**v >= self.threshold) == pass)
            .count();
        let agreement = agreeing as f64 / all.len() as f64;
        Ok(Score {
            scorer: "model_graded".into(),
            value,
            answer: None,
            explanation: Some(format!(
                "agreement {agreement:.2} over {} judgements; {ungraded} ungraded",
                all.len()
            )),
            uncertain: agreeing < all.len(),
        })
    }
}
