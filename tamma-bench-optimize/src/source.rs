//! How the engine reads results: [`ResultSource`], the one trait it needs from storage.
//!
//! The design says the engine reads results only through the tenant-aware repository of
//! `tamma-bench-privacy`, with an internal context. That repository implements this
//! trait; until it lands, [`StoreSource`] implements it over a core
//! [`ResultStore`] and refuses external contexts, so the engine never sees data an
//! internal caller could not.

use crate::error::OptimizeError;
use async_trait::async_trait;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::sync::Arc;
use tamma_bench_core::model::{Outcome, Run, TenantContext};
use tamma_bench_core::store::ResultStore;

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

    /// The runs visible to the caller, newest first.
    async fn runs(&self) -> Result<Vec<Run>, OptimizeError>;
}

/// A [`ResultSource`] over a core store, scoped to an internal tenant context.
pub struct StoreSource {
    store: Arc<dyn ResultStore>,
    cx: TenantContext,
}

impl StoreSource {
    /// Reads `store` as `cx`, which must be internal (the engine handles internal fields:
    /// agent configurations and costs).
    pub fn new(store: Arc<dyn ResultStore>, cx: TenantContext) -> Result<Self, OptimizeError> {
        if !cx.is_internal() {
            return Err(OptimizeError::Invalid(
                "the optimization engine reads results with an internal context only".into(),
            ));
        }
        Ok(Self { store, cx })
    }
}

#[async_trait]
impl ResultSource for StoreSource {
    async fn case_results(
        &self,
        run_id: &str,
        agent: &str,
    ) -> Result<BTreeMap<String, CaseResult>, OptimizeError> {
        let read = |e: tamma_bench_core::store::StoreError| OptimizeError::Read(e.to_string());
        let mut acc: BTreeMap<String, (f64, u32, f64, f64, u32, Vec<String>, Option<String>)> =
            BTreeMap::new();
        let mut trials = self.store.trials(&self.cx.tenant_id, run_id);
        while let Some(t) = trials.next().await {
            let t = t.map_err(read)?;
            if t.key.agent != agent {
                continue;
            }
            let e = acc
                .entry(t.key.case_id.clone())
                .or_insert_with(|| (0.0, 0, 0.0, 0.0, 0, t.tags.clone(), t.cluster.clone()));
            if let (Outcome::Scored { .. }, Some(s)) = (&t.outcome, t.outcome.headline()) {
                e.0 += s;
                e.1 += 1;
            }
            e.2 += t.cost_usd;
            e.3 += t.latency_ms;
            e.4 += 1;
        }
        Ok(acc
            .into_iter()
            .map(|(id, (s, n, cost, lat, m, tags, cluster))| {
                let result = CaseResult {
                    score: (n > 0).then(|| s / f64::from(n)),
                    cost_usd: cost,
                    latency_ms: lat / f64::from(m.max(1)),
                    tags,
                    cluster,
                };
                (id, result)
            })
            .collect())
    }

    async fn runs(&self) -> Result<Vec<Run>, OptimizeError> {
        self.store
            .list_runs(&self.cx.tenant_id)
            .await
            .map_err(|e| OptimizeError::Read(e.to_string()))
    }
}
