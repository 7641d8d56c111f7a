//! How the engine reads results: [`ResultSource`], the one trait it needs from storage,
//! implemented by [`RepositorySource`] over the tenant-aware repository of
//! `tamma-bench-privacy` with an [`InternalContext`].
//!
//! The engine never opens a store: every read goes through the repository, so the policy
//! decides on each run, the audit hook sees each access, and trials arrive redacted and
//! projected to the internal level. An external context cannot become an
//! [`InternalContext`], so it cannot build a source.

use crate::error::OptimizeError;
use async_trait::async_trait;
use futures::StreamExt;
use std::collections::BTreeMap;
use tamma_bench_core::model::{Outcome, Run, TenantContext, Trial};
use tamma_bench_privacy::{InternalContext, Repository, RepositoryError};

/// One case's result for one agent in one run (epochs averaged).
#[derive(Debug, Clone, PartialEq)]
pub struct CaseResult {
    /// Mean headline score over scored epochs; `None` when no epoch was scored.
    pub score: Option<f64>,
    /// USD over all epochs.
    pub cost_usd: f64,
    /// Mean latency over epochs, ms.
    pub latency_ms: f64,
    /// The case's tags.
    pub tags: Vec<String>,
    /// The case's cluster.
    pub cluster: Option<String>,
}

/// Read access to results, as an internal caller.
#[async_trait]
pub trait ResultSource: Send + Sync {
    /// Per-case results of `agent` in run `run_id`, by case id.
    async fn case_results(
        &self,
        run_id: &str,
        agent: &str,
    ) -> Result<BTreeMap<String, CaseResult>, OptimizeError>;

    /// The runs of the caller's tenant, newest first.
    async fn runs(&self) -> Result<Vec<Run>, OptimizeError>;
}

/// A [`ResultSource`] reading through a [`Repository`] as an internal caller.
#[derive(Debug, Clone)]
pub struct RepositorySource {
    repo: Repository,
    cx: InternalContext,
}

impl RepositorySource {
    /// Reads `repo` as `cx`.
    pub fn new(repo: Repository, cx: InternalContext) -> Self {
        Self { repo, cx }
    }

    /// Reads `repo` as `cx`, which must be an internal context with the `read_internal`
    /// grant (the engine handles internal fields: agent configurations and costs).
    pub fn for_context(repo: Repository, cx: TenantContext) -> Result<Self, OptimizeError> {
        let cx = InternalContext::new(cx).map_err(|e| {
            OptimizeError::Invalid(format!(
                "the optimization engine reads results with an internal context only: {e}"
            ))
        })?;
        Ok(Self::new(repo, cx))
    }

    /// The context it reads as.
    pub fn context(&self) -> &InternalContext {
        &self.cx
    }
}

fn read(e: RepositoryError) -> OptimizeError {
    OptimizeError::Read(e.to_string())
}

/// Per-case sums of one agent's trials.
#[derive(Debug)]
struct CaseSums {
    score: f64,
    scored: u32,
    cost_usd: f64,
    latency_ms: f64,
    trials: u32,
    tags: Vec<String>,
    cluster: Option<String>,
}

impl CaseSums {
    fn add(&mut self, t: &Trial) {
        if let (Outcome::Scored { .. }, Some(s)) = (&t.outcome, t.outcome.headline()) {
            self.score += s;
            self.scored += 1;
        }
        self.cost_usd += t.cost_usd;
        self.latency_ms += t.latency_ms;
        self.trials += 1;
    }

    fn result(self) -> CaseResult {
        CaseResult {
            score: (self.scored > 0).then(|| self.score / f64::from(self.scored)),
            cost_usd: self.cost_usd,
            latency_ms: self.latency_ms / f64::from(self.trials.max(1)),
            tags: self.tags,
            cluster: self.cluster,
        }
    }
}

#[async_trait]
impl ResultSource for RepositorySource {
    async fn case_results(
        &self,
        run_id: &str,
        agent: &str,
    ) -> Result<BTreeMap<String, CaseResult>, OptimizeError> {
        let export = self
            .repo
            .internal_trials(&self.cx, run_id)
            .await
            .map_err(read)?;
        let mut acc: BTreeMap<String, CaseSums> = BTreeMap::new();
        let mut trials = export.stream();
        while let Some(t) = trials.next().await {
            let t = t.map_err(read)?;
            if t.key.agent != agent {
                continue;
            }
            acc.entry(t.key.case_id.clone())
                .or_insert_with(|| CaseSums {
                    score: 0.0,
                    scored: 0,
                    cost_usd: 0.0,
                    latency_ms: 0.0,
                    trials: 0,
                    tags: t.tags.clone(),
                    cluster: t.cluster.clone(),
                })
                .add(&t);
        }
        Ok(acc.into_iter().map(|(id, s)| (id, s.result())).collect())
    }

    async fn runs(&self) -> Result<Vec<Run>, OptimizeError> {
        // The repository keeps the store's order: newest first.
        self.repo.internal_runs(&self.cx).await.map_err(read)
    }
}
