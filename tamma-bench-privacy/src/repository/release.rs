//! Cross-tenant public aggregates, released through the aggregate filters.

use super::{Repository, resource_of};
use crate::PrivacyFilter;
use crate::authz::Action;
use crate::classification::Class;
use crate::error::{ErrorKind, RepositoryError};
use crate::filters::{
    AggregateTable, BudgetLedger, Contribution, DpNoise, Epsilon, Pseudonymization,
    SmallCellSuppression,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use tamma_bench_core::model::TenantContext;
use tamma_bench_core::summary::summarize;

/// One release of public aggregates: a fresh pseudonym key and its own privacy budget.
#[derive(Debug)]
pub struct Release {
    id: String,
    pseudonyms: Pseudonymization,
    noise: DpNoise,
    ledger: Arc<BudgetLedger>,
}

impl Release {
    /// A release with a total budget of `total` and `per_table` spent on each table.
    pub fn new(
        id: impl Into<String>,
        total: Epsilon,
        per_table: Epsilon,
    ) -> Result<Self, RepositoryError> {
        let pseudonyms = Pseudonymization::for_release().ok_or_else(|| {
            RepositoryError::new(ErrorKind::Unavailable, "no randomness for the release key")
        })?;
        let ledger = Arc::new(BudgetLedger::new(total));
        Ok(Self {
            id: id.into(),
            pseudonyms,
            noise: DpNoise::new(ledger.clone(), per_table),
            ledger,
        })
    }

    /// A release of ε = 1 spent in two tables of ε = 0.5.
    pub fn with_default_budget(id: impl Into<String>) -> Result<Self, RepositoryError> {
        Self::new(id, Epsilon::ONE, Epsilon(500_000))
    }

    /// Budget left.
    pub fn remaining(&self) -> Epsilon {
        self.ledger.remaining()
    }
}

impl Repository {
    /// The leaderboard of public results across tenants: rows are models, columns are
    /// benchmarks, each cell the runs' mean headline scores. Tenant ids are pseudonymised,
    /// small cells suppressed (with complementary suppression), counts and sums noised;
    /// refused once the release's budget is spent.
    pub async fn public_leaderboard(
        &self,
        cx: &TenantContext,
        release: &Release,
    ) -> Result<AggregateTable, RepositoryError> {
        let mut contributions = Vec::new();
        let mut reasons = BTreeSet::new();
        for run in self.store.list_public_runs().await? {
            let d = self.policy.decide(cx, Action::Read, resource_of(&run));
            if !d.allowed {
                continue;
            }
            reasons.extend(d.reasons);
            let summary = summarize(self.store.as_ref(), &run).await?;
            for a in summary.agents.iter().filter(|a| a.n_cases > 0) {
                contributions.push(Contribution {
                    row: a.model.clone(),
                    column: run.benchmark_id.clone(),
                    tenant: run.tenant_id.clone(),
                    score: a.score.mean,
                });
            }
        }
        self.audit(
            cx,
            Action::Read,
            format!("aggregate:{}", release.id),
            Class::Public,
            true,
            reasons.into_iter().collect(),
        )
        .await?;
        let table = AggregateTable::build(&release.id, &contributions);
        // Pseudonyms, then suppression on exact counts, then noise (which may refuse).
        let mut table = release
            .pseudonyms
            .filter(cx, table)
            .and_then(|t| SmallCellSuppression.filter(cx, t))
            .ok_or_else(|| {
                RepositoryError::new(ErrorKind::Unavailable, "aggregate filter failed")
            })?;
        release.noise.apply(&mut table)?;
        Ok(table)
    }
}
