//! A study: a strategy driven over an [`Evaluator`], under a budget, logged, resumable.

use crate::error::OptimizeError;
use crate::events::OptimizationEvent;
use crate::log::{LogEntry, StudyLog};
use crate::observations::{Measurement, Observations};
use crate::strategy::{Decision, Guarantee, Request, Step, StopReason, StrategyKind};
use async_trait::async_trait;
use std::collections::VecDeque;
use tokio::sync::broadcast;

/// One configuration to extend over a contiguous range of the shared case order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    /// Configuration index.
    pub arm: usize,
    /// First position of the order to evaluate.
    pub from: usize,
    /// The case indices (into the benchmark's cases) at positions `from..`.
    pub cases: Vec<usize>,
}

/// Runs evaluations: the real executor ([`crate::executor::ExecutorEvaluator`]) or a
/// simulator.
#[async_trait]
pub trait Evaluator: Send + Sync {
    /// The worst-case USD cost of `batch` at the configurations' prices (checked against
    /// the budget before the batch runs).
    fn worst_case_usd(&self, batch: &[Evaluation]) -> f64;

    /// Runs `batch` (round `round`) and returns one measurement per (arm, position), in
    /// order; `remaining_usd` is what the study may still spend.
    async fn evaluate(
        &self,
        round: usize,
        batch: &[Evaluation],
        remaining_usd: Option<f64>,
    ) -> Result<Vec<Measurement>, OptimizeError>;
}

/// How to run a study.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyOptions {
    /// Study id (names its runs).
    pub id: String,
    /// The strategy.
    pub strategy: StrategyKind,
    /// ε and δ.
    pub guarantee: Guarantee,
    /// Seed of the case order and random choices.
    pub seed: u64,
    /// USD the study may spend (never exceeded).
    pub budget_usd: Option<f64>,
}

/// What a study ended with.
#[derive(Debug, Clone, PartialEq)]
pub struct StudyOutcome {
    /// The decision.
    pub decision: Decision,
    /// Everything measured.
    pub observations: Observations,
    /// Rounds (batches) evaluated, replayed ones included.
    pub rounds: usize,
    /// Evaluations made now (not replayed from the log).
    pub evaluated_now: usize,
    /// USD spent over the whole study.
    pub spent_usd: f64,
}

/// A study over `arms` configurations (by name) and `n_cases` cases.
pub struct Study {
    options: StudyOptions,
    arms: Vec<String>,
    levels: Vec<Vec<usize>>,
    n_cases: usize,
    events: broadcast::Sender<OptimizationEvent>,
}

impl Study {
    /// A study of the named configurations on `n_cases` cases.
    pub fn new(
        options: StudyOptions,
        arms: Vec<String>,
        n_cases: usize,
    ) -> Result<Self, OptimizeError> {
        if arms.is_empty() || n_cases == 0 {
            return Err(OptimizeError::Invalid(
                "a study needs at least one configuration and one case".into(),
            ));
        }
        Ok(Self {
            options,
            arms,
            levels: Vec::new(),
            n_cases,
            events: broadcast::channel(1024).0,
        })
    }

    /// With each configuration's dimension levels (from
    /// [`SearchSpace::candidates`](crate::SearchSpace::candidates)), which the
    /// `predicted` strategy predicts scores from.
    pub fn with_levels(mut self, levels: Vec<Vec<usize>>) -> Self {
        self.levels = levels;
        self
    }

    /// Subscribes to the study's events.
    pub fn subscribe(&self) -> broadcast::Receiver<OptimizationEvent> {
        self.events.subscribe()
    }

    /// The sender, for components that publish on the study's channel (insights).
    pub fn events(&self) -> &broadcast::Sender<OptimizationEvent> {
        &self.events
    }

    fn header(&self) -> LogEntry {
        LogEntry::Header {
            study: self.options.id.clone(),
            strategy: self.options.strategy,
            guarantee: self.options.guarantee,
            seed: self.options.seed,
            arms: self.arms.clone(),
            n_cases: self.n_cases,
        }
    }

    /// Runs the study to its decision, appending to `log` (and replaying what it already
    /// holds, when resuming).
    pub async fn run(
        &self,
        evaluator: &dyn Evaluator,
        mut log: Option<(StudyLog, Vec<LogEntry>)>,
    ) -> Result<StudyOutcome, OptimizeError> {
        let o = &self.options;
        let mut replay: VecDeque<Vec<Measurement>> = VecDeque::new();
        if let Some((file, entries)) = log.as_mut() {
            let mut it = entries.drain(..);
            match it.next() {
                None => file.append(&self.header())?,
                Some(h) if h == self.header() => {}
                Some(_) => {
                    return Err(OptimizeError::Invalid(
                        "the study log belongs to another study (id, seed, strategy, configurations or cases differ)".into(),
                    ));
                }
            }
            replay.extend(it.filter_map(|e| match e {
                LogEntry::Batch { measurements, .. } => Some(measurements),
                _ => None,
            }));
        }
        let _ = self.events.send(OptimizationEvent::OptimizationTriggered {
            study: o.id.clone(),
            configurations: self.arms.len(),
            strategy: o.strategy,
        });
        let mut obs = Observations::new(self.arms.len(), self.n_cases, o.seed);
        let mut strategy = o.strategy.build(
            self.arms.len(),
            self.n_cases,
            o.guarantee,
            o.seed,
            &self.levels,
        );
        let (mut rounds, mut evaluated_now) = (0usize, 0usize);
        let decision = loop {
            let batch = match strategy.ask(&obs) {
                Step::Done(d) => break d,
                Step::Evaluate(b) => self.plan(&obs, &b),
            };
            if batch.is_empty() {
                break Decision {
                    best: strategy.incumbent(&obs),
                    reason: StopReason::Finished,
                };
            }
            let measurements = if let Some(m) = replay.pop_front() {
                m
            } else {
                let spent = spent(&obs);
                let remaining = o.budget_usd.map(|b| b - spent);
                if let Some(r) = remaining
                    && evaluator.worst_case_usd(&batch) > r + 1e-12
                {
                    break Decision {
                        best: strategy.incumbent(&obs),
                        reason: StopReason::Budget,
                    };
                }
                let m = evaluator.evaluate(rounds, &batch, remaining).await?;
                evaluated_now += m.len();
                if let Some((file, _)) = log.as_mut() {
                    file.append(&LogEntry::Batch {
                        round: rounds,
                        measurements: m.clone(),
                    })?;
                }
                m
            };
            let before = obs.total_evaluations();
            for m in &measurements {
                obs.record(m);
            }
            rounds += 1;
            if obs.total_evaluations() == before {
                break Decision {
                    best: strategy.incumbent(&obs),
                    reason: StopReason::Finished,
                };
            }
        };
        if let Some((file, _)) = log.as_mut() {
            file.append(&LogEntry::Decided { decision })?;
        }
        let _ = self.events.send(OptimizationEvent::OptimizationCompleted {
            study: o.id.clone(),
            best: self.arms[decision.best].clone(),
            reason: decision.reason,
            evaluations: obs.total_evaluations(),
            spent_usd: spent(&obs),
        });
        let spent_usd = spent(&obs);
        Ok(StudyOutcome {
            decision,
            observations: obs,
            rounds,
            evaluated_now,
            spent_usd,
        })
    }

    fn plan(&self, obs: &Observations, requests: &[Request]) -> Vec<Evaluation> {
        requests
            .iter()
            .filter(|r| r.arm < self.arms.len())
            .filter_map(|r| {
                let from = obs.evaluated(r.arm);
                let to = r.upto.min(self.n_cases);
                (from < to).then(|| Evaluation {
                    arm: r.arm,
                    from,
                    cases: (from..to).map(|p| obs.case_at(p)).collect(),
                })
            })
            .collect()
    }
}

fn spent(obs: &Observations) -> f64 {
    (0..obs.n_arms()).map(|a| obs.cost_usd(a)).sum()
}
