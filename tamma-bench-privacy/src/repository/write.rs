//! Writes: runs and trials of the caller's own tenant.

use super::{Repository, resource_of};
use crate::authz::Action;
use crate::classification::Class;
use crate::error::{ErrorKind, RepositoryError};
use crate::filters::Redaction;
use std::collections::BTreeSet;
use tamma_bench_core::model::{Run, RunStatus, TenantContext, Trial};
use tamma_bench_core::store::{AppendReport, BeginRun};

impl Repository {
    /// Creates (or resumes) a run owned by the caller's tenant: its agents' prompts
    /// redacted and, with a keyset, their restricted fields sealed. A resumed run's stored
    /// record is returned opened.
    pub async fn begin_run(
        &self,
        cx: &TenantContext,
        run: &Run,
    ) -> Result<BeginRun, RepositoryError> {
        if run.tenant_id != cx.tenant_id {
            return Err(RepositoryError::new(
                ErrorKind::Invalid,
                format!("run {:?} must be owned by the caller's tenant", run.id),
            ));
        }
        // Agent configurations hold raw prompts: the run record is restricted.
        self.decide_write(cx, run, Class::Restricted).await?;
        // Prompts redacted, then the restricted fields sealed, before the store sees them.
        let mut stored = run.clone();
        Redaction::apply_run(&mut stored);
        self.cipher.seal_run(&mut stored)?;
        match self.store.begin_run(&stored).await? {
            BeginRun::Resumed(mut resumed) => {
                let legacy = self.cipher.open_run(&mut resumed)?;
                super::warn_plaintext_legacy(format_args!("run {:?}", run.id), legacy);
                Ok(BeginRun::Resumed(resumed))
            }
            created => Ok(created),
        }
    }

    /// Sets the status of one of the caller's runs.
    pub async fn set_run_status(
        &self,
        cx: &TenantContext,
        run_id: &str,
        status: RunStatus,
    ) -> Result<(), RepositoryError> {
        self.authorize_own_write(cx, run_id).await?;
        Ok(self
            .store
            .set_run_status(&cx.tenant_id, run_id, status)
            .await?)
    }

    /// Appends trials to the caller's runs, secrets redacted and sensitive fields sealed
    /// (with a keyset). Every trial must belong to the caller's tenant, else nothing is
    /// written.
    pub async fn append_trials(
        &self,
        cx: &TenantContext,
        mut trials: Vec<Trial>,
    ) -> Result<AppendReport, RepositoryError> {
        if trials.iter().any(|t| t.tenant_id != cx.tenant_id) {
            return Err(RepositoryError::new(
                ErrorKind::Invalid,
                "every trial must belong to the caller's tenant",
            ));
        }
        let runs: BTreeSet<&str> = trials.iter().map(|t| t.run_id.as_str()).collect();
        for run_id in runs {
            self.authorize_own_write(cx, run_id).await?;
        }
        // Every trial is redacted and sealed before any is written (one transaction):
        // a key failure writes nothing.
        for t in &mut trials {
            Redaction::apply(t);
            self.cipher.seal_trial(t)?;
        }
        Ok(self.store.append_trials(trials).await?)
    }

    /// Sets annotation `key` of one of the caller's runs (run-level internal data such as
    /// the adaptive-concurrency history).
    pub async fn annotate_run(
        &self,
        cx: &TenantContext,
        run_id: &str,
        key: &str,
        value: serde_json::Value,
    ) -> Result<(), RepositoryError> {
        self.authorize_own_write(cx, run_id).await?;
        Ok(self
            .store
            .annotate_run(&cx.tenant_id, run_id, key, value)
            .await?)
    }

    async fn authorize_own_write(
        &self,
        cx: &TenantContext,
        run_id: &str,
    ) -> Result<(), RepositoryError> {
        let resource = format!("run:{run_id}");
        let Some(run) = self.store.get_run(&cx.tenant_id, run_id).await? else {
            self.audit(
                cx,
                Action::Write,
                resource,
                Class::Sensitive,
                false,
                Vec::new(),
            )
            .await?;
            return Err(RepositoryError::not_found(run_id));
        };
        self.decide_write(cx, &run, Class::Sensitive).await
    }

    /// Asks the policy whether `cx` may write `run`, audits the decision with
    /// `classification`, and refuses when it is denied.
    pub(super) async fn decide_write(
        &self,
        cx: &TenantContext,
        run: &Run,
        classification: Class,
    ) -> Result<(), RepositoryError> {
        let d = self.policy.decide(cx, Action::Write, resource_of(run));
        self.audit(
            cx,
            Action::Write,
            format!("run:{}", run.id),
            classification,
            d.allowed,
            d.reasons,
        )
        .await?;
        if d.allowed {
            Ok(())
        } else {
            Err(RepositoryError::denied("write", &run.id))
        }
    }
}
