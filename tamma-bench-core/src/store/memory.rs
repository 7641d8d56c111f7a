//! In-memory store: for tests, benches and hosts that persist elsewhere.

use super::{AppendReport, BeginRun, ResultStore, StoreError, StoreErrorKind};
use crate::events::{MemoryEventLog, run_completed_events};
use crate::model::{Run, RunStatus, TenantId, Trial, TrialKey, now_ms};
use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct RunTrials {
    keys: HashSet<TrialKey>,
    rows: Vec<Trial>,
}

#[derive(Default)]
struct Inner {
    runs: HashMap<String, Run>,
    annotations: HashMap<String, std::collections::BTreeMap<String, serde_json::Value>>,
    trials: HashMap<String, RunTrials>,
}

/// A [`ResultStore`] in memory. Cloning the `Arc` shares it; nothing survives the process.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    events: Option<Arc<MemoryEventLog>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that appends its events to `log`: `benchmark.completed` (and, for
    /// a public run, `results.published`) when a run first becomes completed, while the
    /// store's lock is held (the in-memory form of the outbox).
    pub fn with_events(log: Arc<MemoryEventLog>) -> Self {
        Self {
            inner: Mutex::default(),
            events: Some(log),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave `Inner` half-updated (every update
        // is a single insert), so a poisoned lock is safe to use.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn owned<'a>(inner: &'a Inner, tenant: &TenantId, run_id: &str) -> Option<&'a Run> {
    inner.runs.get(run_id).filter(|r| &r.tenant_id == tenant)
}

#[async_trait]
impl ResultStore for MemoryStore {
    async fn begin_run(&self, run: &Run) -> Result<BeginRun, StoreError> {
        let mut inner = self.lock();
        match inner.runs.get_mut(&run.id) {
            None => {
                inner.runs.insert(run.id.clone(), run.clone());
                Ok(BeginRun::Created)
            }
            Some(stored) if stored.tenant_id != run.tenant_id => Err(StoreError::new(
                StoreErrorKind::Conflict,
                format!("run id {:?} is already in use", run.id),
            )),
            Some(stored) if stored.fingerprint != run.fingerprint => {
                Err(StoreError::fingerprint_mismatch(run, stored))
            }
            Some(stored) => {
                stored.status = RunStatus::Running;
                stored.epochs = stored.epochs.max(run.epochs);
                stored.updated_at_ms = now_ms();
                Ok(BeginRun::Resumed(stored.clone()))
            }
        }
    }

    async fn set_run_status(
        &self,
        tenant: &TenantId,
        run_id: &str,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let run = inner
            .runs
            .get_mut(run_id)
            .filter(|r| &r.tenant_id == tenant)
            .ok_or_else(|| StoreError::run_not_found(run_id))?;
        let completes = status == RunStatus::Completed && run.status != RunStatus::Completed;
        run.status = status;
        run.updated_at_ms = now_ms();
        if let (true, Some(log)) = (completes, &self.events) {
            log.append_now(run_completed_events(run));
        }
        Ok(())
    }

    async fn append_trials(&self, trials: Vec<Trial>) -> Result<AppendReport, StoreError> {
        let mut inner = self.lock();
        for t in &trials {
            if owned(&inner, &t.tenant_id, &t.run_id).is_none() {
                return Err(StoreError::run_not_found(&t.run_id));
            }
        }
        let mut report = AppendReport::default();
        for t in trials {
            let slot = inner.trials.entry(t.run_id.clone()).or_default();
            if slot.keys.insert(t.key.clone()) {
                slot.rows.push(t);
                report.inserted += 1;
            } else {
                report.duplicates += 1;
            }
        }
        Ok(report)
    }

    async fn completed_keys(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<HashSet<TrialKey>, StoreError> {
        let inner = self.lock();
        owned(&inner, tenant, run_id).ok_or_else(|| StoreError::run_not_found(run_id))?;
        Ok(inner
            .trials
            .get(run_id)
            .map(|t| t.keys.clone())
            .unwrap_or_default())
    }

    async fn get_run(&self, tenant: &TenantId, run_id: &str) -> Result<Option<Run>, StoreError> {
        Ok(owned(&self.lock(), tenant, run_id).cloned())
    }

    async fn annotate_run(
        &self,
        tenant: &TenantId,
        run_id: &str,
        key: &str,
        value: serde_json::Value,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        owned(&inner, tenant, run_id).ok_or_else(|| StoreError::run_not_found(run_id))?;
        inner
            .annotations
            .entry(run_id.to_owned())
            .or_default()
            .insert(key.to_owned(), value);
        Ok(())
    }

    async fn run_annotations(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<std::collections::BTreeMap<String, serde_json::Value>, StoreError> {
        let inner = self.lock();
        owned(&inner, tenant, run_id).ok_or_else(|| StoreError::run_not_found(run_id))?;
        Ok(inner.annotations.get(run_id).cloned().unwrap_or_default())
    }

    async fn rewrite_run(&self, run: &Run, trials: Vec<Trial>) -> Result<(), StoreError> {
        let mut inner = self.lock();
        owned(&inner, &run.tenant_id, &run.id).ok_or_else(|| StoreError::run_not_found(&run.id))?;
        // Every trial is found before anything changes: all or nothing.
        let rows = inner
            .trials
            .get(&run.id)
            .map(|t| t.rows.as_slice())
            .unwrap_or(&[]);
        let index: HashMap<&TrialKey, usize> =
            rows.iter().enumerate().map(|(i, r)| (&r.key, i)).collect();
        let mut at = Vec::with_capacity(trials.len());
        for t in &trials {
            let i = index
                .get(&t.key)
                .filter(|_| t.run_id == run.id && t.tenant_id == run.tenant_id)
                .ok_or_else(|| StoreError::trial_not_found(&run.id, &t.key))?;
            at.push(*i);
        }
        if let Some(stored) = inner.runs.get_mut(&run.id) {
            stored.agents = run.agents.clone();
        }
        if let Some(slot) = inner.trials.get_mut(&run.id) {
            for (i, t) in at.into_iter().zip(trials) {
                slot.rows[i].outcome = t.outcome;
                slot.rows[i].output = t.output;
            }
        }
        Ok(())
    }

    async fn list_runs(&self, tenant: &TenantId) -> Result<Vec<Run>, StoreError> {
        let inner = self.lock();
        let mut runs: Vec<Run> = inner
            .runs
            .values()
            .filter(|r| &r.tenant_id == tenant)
            .cloned()
            .collect();
        runs.sort_by(|a, b| {
            b.created_at_ms
                .cmp(&a.created_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(runs)
    }

    async fn list_public_runs(&self) -> Result<Vec<Run>, StoreError> {
        let inner = self.lock();
        let mut runs: Vec<Run> = inner
            .runs
            .values()
            .filter(|r| r.visibility == crate::model::Visibility::Public)
            .cloned()
            .collect();
        runs.sort_by(|a, b| {
            b.created_at_ms
                .cmp(&a.created_at_ms)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(runs)
    }

    fn trials<'a>(
        &'a self,
        tenant: &'a TenantId,
        run_id: &'a str,
    ) -> BoxStream<'a, Result<Trial, StoreError>> {
        // Pages of 1,024 trials, so a reader never holds the lock for long.
        const PAGE: usize = 1024;
        stream::unfold(Some(0usize), move |offset| async move {
            let offset = offset?;
            let inner = self.lock();
            if owned(&inner, tenant, run_id).is_none() {
                return Some((vec![Err(StoreError::run_not_found(run_id))], None));
            }
            let rows = inner
                .trials
                .get(run_id)
                .map(|t| t.rows.as_slice())
                .unwrap_or(&[]);
            let page: Vec<_> = rows
                .iter()
                .skip(offset)
                .take(PAGE)
                .cloned()
                .map(Ok)
                .collect();
            if page.is_empty() {
                return None;
            }
            let next = (page.len() == PAGE).then_some(offset + PAGE);
            Some((page, next))
        })
        .flat_map(stream::iter)
        .boxed()
    }
}
