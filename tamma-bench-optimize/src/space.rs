//! Search spaces: a base agent, dimensions over agent fields, constraints, objectives;
//! expanded into concrete, stably named [`AgentConfig`]s.
//!
//! ```toml
//! [base]
//! provider = "replay"
//! model = "m"
//!
//! [[dimension]]
//! field = "temperature"
//! values = [0.0, 0.7]
//!
//! [[dimension]]
//! field = "max_tokens"
//! range = { min = 64, max = 1024, count = 3, log = true, integer = true }
//!
//! [[dimension]]            # several fields at once: one table per value
//! name = "prompt"
//! labels = ["zero-shot", "few-shot"]
//! values = [{ prompt = "{{input}}" }, { prompt = "Example...\n{{input}}" }]
//!
//! [constraints]
//! budget_usd = 5.0
//! max_p95_latency_ms = 2000
//! ```

use crate::error::OptimizeError;
use crate::strategy::{Guarantee, StrategyKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::path::Path;
use tamma_bench_core::model::AgentConfig;

/// Most configurations a space may expand to.
pub const MAX_CONFIGURATIONS: usize = 4096;

/// A search space file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchSpace {
    /// Prefix of the configurations' names (default `cfg`).
    #[serde(default)]
    pub name: Option<String>,
    /// The agent every configuration starts from: any `[[agent]]` field but `name`.
    pub base: Map<String, Value>,
    /// The dimensions; the space is their Cartesian product.
    #[serde(default, rename = "dimension")]
    pub dimensions: Vec<Dimension>,
    /// Limits of the study.
    #[serde(default)]
    pub constraints: Constraints,
    /// What to optimize (the Pareto front uses all three).
    #[serde(default)]
    pub objectives: Objectives,
    /// ε and δ of the ε-best guarantee.
    #[serde(default)]
    pub guarantee: Guarantee,
    /// The search strategy (default `lucb`).
    #[serde(default)]
    pub strategy: Option<StrategyKind>,
    /// Seed of the case order and of random choices (default 0).
    #[serde(default)]
    pub seed: u64,
}

/// One dimension: values listed, or a numeric range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dimension {
    /// The agent field set by this dimension (`temperature`, `model`, `system`, ...).
    /// Absent when `values` are tables of several fields.
    #[serde(default)]
    pub field: Option<String>,
    /// Name in the configurations' names (default: `field`).
    #[serde(default)]
    pub name: Option<String>,
    /// Categorical values: scalars for `field`, or tables of `field = value`.
    #[serde(default)]
    pub values: Option<Vec<Value>>,
    /// Labels of the values in configuration names (default: the value, or `v0`, `v1`).
    #[serde(default)]
    pub labels: Option<Vec<String>>,
    /// A numeric range.
    #[serde(default)]
    pub range: Option<NumericRange>,
}

/// A numeric range: `step` (linear) or `count` points (linear, or geometric with `log`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NumericRange {
    /// Lowest value.
    pub min: f64,
    /// Highest value (included when on the grid).
    pub max: f64,
    /// Distance between values (linear scale).
    #[serde(default)]
    pub step: Option<f64>,
    /// Number of values (with `log`, geometrically spaced).
    #[serde(default)]
    pub count: Option<u32>,
    /// Geometric spacing (needs `min` > 0 and `count`).
    #[serde(default)]
    pub log: bool,
    /// Round values to whole numbers (for `max_tokens`).
    #[serde(default)]
    pub integer: bool,
}

/// Limits of a study.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Constraints {
    /// Total USD the study may spend (never exceeded).
    #[serde(default)]
    pub budget_usd: Option<f64>,
    /// Configurations whose p95 latency exceeds this are not recommended.
    #[serde(default)]
    pub max_p95_latency_ms: Option<f64>,
}

/// Direction of each objective.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Objectives {
    /// Score: `maximize` (the only sensible direction; kept for clarity).
    #[serde(default = "maximize")]
    pub score: Direction,
    /// Cost: `minimize`, or `ignore`.
    #[serde(default = "minimize")]
    pub cost: Direction,
    /// Latency: `minimize`, or `ignore`.
    #[serde(default = "minimize")]
    pub latency: Direction,
}

impl Default for Objectives {
    fn default() -> Self {
        Self {
            score: Direction::Maximize,
            cost: Direction::Minimize,
            latency: Direction::Minimize,
        }
    }
}

fn maximize() -> Direction {
    Direction::Maximize
}

fn minimize() -> Direction {
    Direction::Minimize
}

/// Which way an objective goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher is better.
    Maximize,
    /// Lower is better.
    Minimize,
    /// Not an objective.
    Ignore,
}

/// One concrete configuration of the space.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The agent configuration (its `name` is the candidate's stable name).
    pub config: AgentConfig,
    /// The level index chosen on each dimension (features for score prediction).
    pub levels: Vec<usize>,
}

/// The levels of one dimension: label and the fields each sets.
type Levels = Vec<(String, Vec<(String, Value)>)>;

impl SearchSpace {
    /// Reads and validates a space file; errors name the file, line and field.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, OptimizeError> {
        let path = path.as_ref();
        let src = std::fs::read_to_string(path).map_err(|e| OptimizeError::Space {
            path: path.to_owned(),
            line: None,
            field: None,
            message: format!("cannot read: {e}"),
        })?;
        let located = |e: OptimizeError| match e {
            OptimizeError::Space {
                line,
                field,
                message,
                ..
            } => OptimizeError::Space {
                path: path.to_owned(),
                line,
                field,
                message,
            },
            other => other,
        };
        let space = Self::parse(&src).map_err(located)?;
        space.candidates().map_err(located)?;
        Ok(space)
    }

    /// Parses a space from TOML text.
    pub fn parse(src: &str) -> Result<Self, OptimizeError> {
        toml::from_str(src).map_err(|e| {
            let line = e
                .span()
                .map(|s| src[..s.start.min(src.len())].matches('\n').count() + 1);
            OptimizeError::Space {
                path: Default::default(),
                line,
                field: None,
                message: e.message().to_owned(),
            }
        })
    }

    /// Expands the space into its configurations, in a fixed order (the last dimension
    /// varies fastest), each named `PREFIX-DIM=LABEL-...`.
    pub fn candidates(&self) -> Result<Vec<Candidate>, OptimizeError> {
        if self.base.contains_key("name") {
            return Err(OptimizeError::space(
                Some("base.name"),
                "configurations are named by the space; remove `name`",
            ));
        }
        let levels: Vec<(String, Levels)> = self
            .dimensions
            .iter()
            .enumerate()
            .map(|(i, d)| d.levels(i))
            .collect::<Result<_, _>>()?;
        let total = levels
            .iter()
            .try_fold(1usize, |acc, (_, l)| acc.checked_mul(l.len()))
            .filter(|&n| n <= MAX_CONFIGURATIONS)
            .ok_or_else(|| {
                OptimizeError::space(
                    Some("dimension"),
                    format!("the space has more than {MAX_CONFIGURATIONS} configurations"),
                )
            })?;
        let prefix = self.name.as_deref().unwrap_or("cfg");
        let mut out = Vec::with_capacity(total);
        for index in 0..total {
            let mut rest = index;
            let mut chosen = vec![0; levels.len()];
            for (d, (_, l)) in levels.iter().enumerate().rev() {
                chosen[d] = rest % l.len();
                rest /= l.len();
            }
            let mut fields = self.base.clone();
            let mut name = prefix.to_owned();
            for (d, (dim_name, l)) in levels.iter().enumerate() {
                let (label, sets) = &l[chosen[d]];
                name.push_str(&format!("-{dim_name}={label}"));
                for (f, v) in sets {
                    fields.insert(f.clone(), v.clone());
                }
            }
            fields.insert("name".into(), Value::String(name.clone()));
            let config: AgentConfig = serde_json::from_value(Value::Object(fields))
                .map_err(|e| OptimizeError::space(None, format!("configuration {name}: {e}")))?;
            out.push(Candidate {
                config,
                levels: chosen,
            });
        }
        Ok(out)
    }
}

impl Dimension {
    fn levels(&self, index: usize) -> Result<(String, Levels), OptimizeError> {
        let at = |f: &str| format!("dimension[{index}].{f}");
        let name = self
            .name
            .clone()
            .or_else(|| self.field.clone())
            .ok_or_else(|| OptimizeError::space(Some(&at("name")), "give `field` or `name`"))?;
        let values: Vec<Value> = match (&self.values, &self.range) {
            (Some(v), None) => v.clone(),
            (None, Some(r)) => r
                .values()
                .map_err(|m| OptimizeError::space(Some(&at("range")), m))?,
            _ => {
                return Err(OptimizeError::space(
                    Some(&at("values")),
                    "give exactly one of `values` and `range`",
                ));
            }
        };
        if values.is_empty() {
            return Err(OptimizeError::space(Some(&at("values")), "no values"));
        }
        if let Some(labels) = &self.labels
            && labels.len() != values.len()
        {
            return Err(OptimizeError::space(
                Some(&at("labels")),
                format!("{} labels for {} values", labels.len(), values.len()),
            ));
        }
        let mut levels = Vec::with_capacity(values.len());
        for (i, v) in values.into_iter().enumerate() {
            let sets = match (&self.field, v) {
                (Some(f), Value::Object(_)) => {
                    return Err(OptimizeError::space(
                        Some(&at("values")),
                        format!("value {i} is a table but the dimension sets `{f}`"),
                    ));
                }
                (Some(f), v) => vec![(f.clone(), v)],
                (None, Value::Object(m)) => m.into_iter().collect(),
                (None, _) => {
                    return Err(OptimizeError::space(
                        Some(&at("field")),
                        "scalar values need `field`",
                    ));
                }
            };
            if sets.iter().any(|(f, _)| f == "name") {
                return Err(OptimizeError::space(
                    Some(&at("values")),
                    "cannot set `name`",
                ));
            }
            let label = match &self.labels {
                Some(l) => l[i].clone(),
                None => default_label(&sets, i),
            };
            levels.push((sanitize(&label), sets));
        }
        Ok((sanitize(&name), levels))
    }
}

impl NumericRange {
    fn values(&self) -> Result<Vec<Value>, String> {
        let ok = self.min.is_finite() && self.max.is_finite() && self.min <= self.max;
        if !ok {
            return Err("expected finite `min` <= `max`".into());
        }
        let raw: Vec<f64> = match (self.step, self.count, self.log) {
            (_, Some(n), true) if n >= 2 && self.min > 0.0 => {
                let (a, b) = (self.min.ln(), self.max.ln());
                (0..n)
                    .map(|i| (a + (b - a) * f64::from(i) / f64::from(n - 1)).exp())
                    .collect()
            }
            (_, _, true) => return Err("`log` needs `min` > 0 and `count` >= 2".into()),
            (Some(s), None, false) if s > 0.0 => {
                let n = ((self.max - self.min) / s + 1e-9).floor() as usize + 1;
                if n > MAX_CONFIGURATIONS {
                    return Err(format!("more than {MAX_CONFIGURATIONS} values"));
                }
                (0..n).map(|i| self.min + s * i as f64).collect()
            }
            (None, Some(n), false) if n >= 1 => {
                if n == 1 {
                    vec![self.min]
                } else {
                    (0..n)
                        .map(|i| self.min + (self.max - self.min) * f64::from(i) / f64::from(n - 1))
                        .collect()
                }
            }
            _ => return Err("give `step` > 0 or `count` >= 1 (with `log`: `count` >= 2)".into()),
        };
        let mut out: Vec<Value> = Vec::with_capacity(raw.len());
        for x in raw {
            let v = if self.integer {
                Value::from(x.round() as i64)
            } else {
                Value::from((x * 1e9).round() / 1e9)
            };
            if !out.contains(&v) {
                out.push(v);
            }
        }
        Ok(out)
    }
}

fn default_label(sets: &[(String, Value)], i: usize) -> String {
    match sets {
        [(_, Value::Number(n))] => n.to_string(),
        [(_, Value::Bool(b))] => b.to_string(),
        [(_, Value::String(s))] if s.len() <= 24 => s.clone(),
        _ => format!("v{i}"),
    }
}

/// Names may hold `[A-Za-z0-9._:=,-]` (safe in `RUN/AGENT` references and run ids).
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}
