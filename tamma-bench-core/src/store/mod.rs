//! The storage contracts and their in-memory implementations.
//!
//! [`ResultStore`] (runs and trials), [`AuditStore`] (the append-only audit log) and
//! [`ResponseCache`] (the providers' response cache) are what a storage backend
//! implements; core holds no database. A store appends trials idempotently keyed by
//! `(run, agent, case, epoch)`, lists the keys already completed (for resume), and reads
//! runs and trials back scoped to one tenant. Every implementation passes the store
//! conformance suite of the test kit (`tamma-bench-testkit`, `store_conformance_tests!`):
//! [`MemoryStore`] here, `SqliteStore` in `tamma-bench-sqlite`, `PostgresStore` in
//! `tamma-bench-postgres`.

pub mod audit;
pub mod cache;
mod memory;

pub use audit::{AuditRecord, AuditStore, MemoryAuditStore, NextRecord, StoredCheckpoint};
pub use cache::{MemoryResponseCache, ResponseCache};
pub use memory::MemoryStore;

use crate::error::{Cause, Remedy};
use crate::model::{Run, RunStatus, TenantId, Trial, TrialKey};
use async_trait::async_trait;
use futures::stream::BoxStream;
use std::collections::HashSet;
use std::fmt;

/// What went wrong in a store.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Copy)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The run id exists with another benchmark version or agent configuration.
    FingerprintMismatch,
    /// No such run for this tenant (it may exist for another tenant: we do not say).
    NotFound,
    /// The run id is taken (by another tenant, or the request was inconsistent).
    Conflict,
    /// The database failed (I/O, corruption, lock timeout).
    Backend,
    /// Stored data could not be decoded.
    Corrupt,
}

impl StoreErrorKind {
    /// What a caller can do: fix the run id or the files of a mismatch, a missing run or
    /// a conflict; retry a failed backend; give up on corrupt data.
    pub fn remedy(self) -> Remedy {
        match self {
            Self::FingerprintMismatch | Self::NotFound | Self::Conflict => Remedy::FixInput,
            Self::Backend => Remedy::Retry,
            Self::Corrupt => Remedy::GiveUp,
        }
    }
}

/// A store failure.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    source: Option<Cause>,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl StoreError {
    /// An error of `kind`.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// A failure of the database (or its driver, or its task): its message is `cause`'s,
    /// and `cause` is its [`source`](std::error::Error::source).
    pub fn backend(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::new(StoreErrorKind::Backend, cause.to_string()).with_source(cause)
    }

    /// Keeps `cause` as this error's [`source`](std::error::Error::source).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(crate::error::cause(cause));
        self
    }

    /// What kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Details (never names another tenant's data).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }

    /// No run `run_id` for the caller's tenant (the message never says whether another
    /// tenant has one).
    pub fn run_not_found(run_id: &str) -> Self {
        Self::new(
            StoreErrorKind::NotFound,
            format!("no run {run_id:?} for this tenant"),
        )
    }

    /// No trial `key` in run `run_id` for the caller's tenant.
    pub fn trial_not_found(run_id: &str, key: &TrialKey) -> Self {
        Self::new(
            StoreErrorKind::NotFound,
            format!(
                "no trial {}/{}/{} in run {run_id:?} for this tenant",
                key.agent, key.case_id, key.epoch
            ),
        )
    }

    /// `run` has the id of `stored` but another fingerprint (other files or settings).
    pub fn fingerprint_mismatch(run: &Run, stored: &Run) -> Self {
        Self::new(
            StoreErrorKind::FingerprintMismatch,
            format!(
                "run id {:?} was started with benchmark {} version {} and other agent or benchmark settings \
                 (fingerprint {} vs {}); resume with the same files, or choose a new --run-id",
                run.id,
                stored.benchmark_id,
                stored.benchmark_version,
                &stored.fingerprint[..stored.fingerprint.len().min(12)],
                &run.fingerprint[..run.fingerprint.len().min(12)],
            ),
        )
    }
}

/// Whether [`ResultStore::begin_run`] created the run or found it to resume.
#[derive(Debug, Clone, PartialEq)]
pub enum BeginRun {
    /// A new run.
    Created,
    /// The run existed with the same fingerprint; this is its stored record.
    Resumed(Run),
}

/// The result of an append.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AppendReport {
    /// Trials written.
    pub inserted: u64,
    /// Trials whose key was already stored (left unchanged).
    pub duplicates: u64,
}

/// Storage of runs and trials.
#[async_trait]
pub trait ResultStore: Send + Sync {
    /// Creates `run`, or, when its id exists for the same tenant with the same fingerprint,
    /// returns the stored run to resume (and sets its status to `running` and its epochs to
    /// the larger of both). A different fingerprint is [`StoreErrorKind::FingerprintMismatch`];
    /// an id owned by another tenant is [`StoreErrorKind::Conflict`].
    async fn begin_run(&self, run: &Run) -> Result<BeginRun, StoreError>;

    /// Sets the status of a run of `tenant`.
    async fn set_run_status(
        &self,
        tenant: &TenantId,
        run_id: &str,
        status: RunStatus,
    ) -> Result<(), StoreError>;

    /// Appends trials in one transaction. A trial whose key is stored already is left
    /// as it is and counted as a duplicate. Every trial must belong to a run of its
    /// `tenant_id`, else nothing is written.
    async fn append_trials(&self, trials: Vec<Trial>) -> Result<AppendReport, StoreError>;

    /// The keys of the trials stored for a run of `tenant`.
    async fn completed_keys(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<HashSet<TrialKey>, StoreError>;

    /// A run of `tenant`, if there is one.
    async fn get_run(&self, tenant: &TenantId, run_id: &str) -> Result<Option<Run>, StoreError>;

    /// Sets annotation `key` of a run of `tenant` to `value` (replacing an older value):
    /// run-level data such as the adaptive-concurrency history or optimization data.
    /// Annotations are internal data (see `docs/privacy-model.md`).
    async fn annotate_run(
        &self,
        tenant: &TenantId,
        run_id: &str,
        key: &str,
        value: serde_json::Value,
    ) -> Result<(), StoreError>;

    /// The annotations of a run of `tenant`, by key.
    async fn run_annotations(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<std::collections::BTreeMap<String, serde_json::Value>, StoreError>;

    /// The runs of `tenant`, newest first.
    async fn list_runs(&self, tenant: &TenantId) -> Result<Vec<Run>, StoreError>;

    /// The runs of every tenant whose benchmark is public, newest first: the only read
    /// across tenants. Only the tenant-aware repository (`tamma-bench-privacy`) should call
    /// it, to show the public fields of these runs. A store may return the public fields
    /// and the owner only, leaving the internal ones empty (the fingerprint) or out (agent
    /// settings beyond name, provider and model), as the Postgres store does. A store that
    /// cannot list across tenants keeps the default, which lists none (fails closed).
    async fn list_public_runs(&self) -> Result<Vec<Run>, StoreError> {
        Ok(Vec::new())
    }

    /// Replaces, in one transaction, the agent configurations of the stored run `run`
    /// (matched by id and tenant) and the outcome and output of each of `trials` (matched
    /// by key; each must be of that run), leaving every other column as it is: a
    /// migration's rewrite of stored values, such as re-sealing encrypted fields under
    /// another key. A run or trial that is not stored is [`StoreErrorKind::NotFound`],
    /// and then nothing is written. A store that cannot rewrite keeps the default, which
    /// refuses with [`StoreErrorKind::Backend`].
    async fn rewrite_run(&self, run: &Run, trials: Vec<Trial>) -> Result<(), StoreError> {
        let _ = trials;
        Err(StoreError::new(
            StoreErrorKind::Backend,
            format!("this store cannot rewrite the stored run {:?}", run.id),
        ))
    }

    /// The trials of a run of `tenant`, as a stream in an order fixed by the store (memory stays
    /// bounded however many trials there are).
    fn trials<'a>(
        &'a self,
        tenant: &'a TenantId,
        run_id: &'a str,
    ) -> BoxStream<'a, Result<Trial, StoreError>>;

    /// The trials of a run of `tenant` whose key comes after `after` (all when `None`),
    /// in key order (agent, case id, epoch; strings as the backend compares them), as a
    /// stream: a stable cursor for paging through a large run, each page found by the
    /// key index rather than by skipping. The default collects the run's trials after the
    /// key and sorts them (memory grows with the run); the database backends read keyset
    /// pages from the cursor.
    fn trials_after<'a>(
        &'a self,
        tenant: &'a TenantId,
        run_id: &'a str,
        after: Option<TrialKey>,
    ) -> BoxStream<'a, Result<Trial, StoreError>> {
        use futures::stream::{self, StreamExt, TryStreamExt};
        stream::once(async move {
            let mut trials: Vec<Trial> = self
                .trials(tenant, run_id)
                .try_filter(|t| {
                    let keep = after.as_ref().is_none_or(|a| t.key > *a);
                    async move { keep }
                })
                .try_collect()
                .await?;
            trials.sort_by(|a, b| a.key.cmp(&b.key));
            Ok::<_, StoreError>(stream::iter(trials.into_iter().map(Ok)))
        })
        .map(|page| match page {
            Ok(trials) => trials.boxed(),
            Err(e) => stream::once(async move { Err(e) }).boxed(),
        })
        .flatten()
        .boxed()
    }
}
