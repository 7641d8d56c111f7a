//! One caller's view of the repository as a [`ResultStore`]: what the executor writes
//! runs through, so that a run is authorized, audited, redacted and sealed like any other
//! write.

use super::read::{LegacyWarning, protect_read};
use super::{Repository, resource_of, warn_plaintext_legacy};
use crate::PrivacyFilter;
use crate::authz::Action;
use crate::classification::{AccessLevel, Class};
use crate::error::{ErrorKind, RepositoryError};
use crate::filters::Projection;
use crate::views::InternalContext;
use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use std::collections::{BTreeMap, HashSet};
use tamma_bench_core::model::{
    Run, RunStatus, TenantContext, TenantId, Trial, TrialKey, Visibility,
};
use tamma_bench_core::store::{AppendReport, BeginRun, ResultStore, StoreError, StoreErrorKind};

/// The repository as a [`ResultStore`] for one caller ([`Repository::store_for`]).
///
/// Writes go through [`Repository::begin_run`], [`Repository::append_trials`] and the
/// other write methods: authorized, audited, secrets redacted, sensitive and restricted
/// fields sealed when a keyset is configured. Reads see the caller's own runs only
/// (another tenant's run is absent, and the attempt is audited as denied), each read
/// authorized and audited, records opened and projected to the caller's level: an
/// external caller's executor sees no internal field either (its summary has no cost).
/// Failures become [`StoreError`]s with the repository's message.
#[derive(Debug, Clone)]
pub struct TenantStore {
    repo: Repository,
    cx: TenantContext,
    /// Whether every run written is an optimization study's round
    /// ([`Repository::store_for_study`]): internal data, stored private.
    study_rounds: bool,
}

impl Repository {
    /// This repository as a [`ResultStore`] acting for `cx` (hand it to the executor).
    pub fn store_for(&self, cx: &TenantContext) -> TenantStore {
        TenantStore {
            repo: self.clone(),
            cx: cx.clone(),
            study_rounds: false,
        }
    }

    /// This repository as a [`ResultStore`] for an optimization study's rounds, acting
    /// for `icx`: every run it writes is stored private whatever its benchmark's
    /// visibility, so no other tenant ever reads a round (the policy's
    /// `private-runs-stay-with-their-owner`), on any read path. Optimization data is
    /// internal.
    pub fn store_for_study(&self, icx: &InternalContext) -> TenantStore {
        TenantStore {
            repo: self.clone(),
            cx: icx.context().clone(),
            study_rounds: true,
        }
    }
}

/// A repository failure as the store trait reports it (the message is kept).
fn to_store(e: RepositoryError) -> StoreError {
    let kind = match e.kind {
        ErrorKind::NotFound => StoreErrorKind::NotFound,
        ErrorKind::Invalid | ErrorKind::Denied => StoreErrorKind::Conflict,
        ErrorKind::Key | ErrorKind::Corrupt => StoreErrorKind::Corrupt,
        _ => StoreErrorKind::Backend,
    };
    StoreError::new(kind, e.message)
}

impl TenantStore {
    /// The caller's context.
    pub fn context(&self) -> &TenantContext {
        &self.cx
    }

    /// The action, class and level of the caller's reads of its own runs: internal
    /// fields for an internal context, public and sensitive ones otherwise.
    fn read_scope(&self) -> (Action, Class, AccessLevel) {
        if InternalContext::new(self.cx.clone()).is_ok() {
            (
                Action::ReadInternal,
                Class::Restricted,
                AccessLevel::Internal,
            )
        } else {
            (Action::Read, Class::Sensitive, AccessLevel::Owner)
        }
    }

    /// Audits a denied access to a run of `tenant`, which is not the caller's.
    async fn refuse(&self, action: Action, run_id: &str) -> Result<(), RepositoryError> {
        self.repo
            .audit(
                &self.cx,
                action,
                format!("run:{run_id}"),
                Class::Public,
                false,
                Vec::new(),
            )
            .await
    }

    /// One of the caller's own runs, authorized for `action` and audited as access to
    /// `class`; `None` when the caller has no such run (audited as denied).
    async fn own_run(
        &self,
        tenant: &TenantId,
        run_id: &str,
        action: Action,
        class: Class,
    ) -> Result<Option<Run>, RepositoryError> {
        let repo = &self.repo;
        let found = if tenant == &self.cx.tenant_id {
            repo.store.get_run(tenant, run_id).await?
        } else {
            None
        };
        let Some(run) = found else {
            self.refuse(action, run_id).await?;
            return Ok(None);
        };
        let d = repo.policy.decide(&self.cx, action, resource_of(&run));
        repo.audit(
            &self.cx,
            action,
            format!("run:{run_id}"),
            class,
            d.allowed,
            d.reasons,
        )
        .await?;
        if !d.allowed {
            return Err(RepositoryError::denied(action.as_str(), run_id));
        }
        Ok(Some(run))
    }

    /// The stored `run` projected to the caller's level and opened; with how many of its
    /// fields were read as legacy plaintext.
    fn protect_run(
        &self,
        run: Run,
        level: AccessLevel,
    ) -> Result<(Option<Run>, usize), RepositoryError> {
        let Some(mut run) = Projection::new(level).filter(&self.cx, run) else {
            return Ok((None, 0));
        };
        let legacy = self.repo.cipher.open_run(&mut run)?;
        Ok((Some(run), legacy))
    }

    fn check_tenant(&self, tenant: &TenantId, run_id: &str) -> Result<(), StoreError> {
        if tenant == &self.cx.tenant_id {
            Ok(())
        } else {
            Err(to_store(RepositoryError::not_found(run_id)))
        }
    }
}

#[async_trait]
impl ResultStore for TenantStore {
    async fn begin_run(&self, run: &Run) -> Result<BeginRun, StoreError> {
        let round;
        let run = if self.study_rounds && run.visibility != Visibility::Private {
            round = Run {
                visibility: Visibility::Private,
                ..run.clone()
            };
            &round
        } else {
            run
        };
        match self.repo.begin_run(&self.cx, run).await.map_err(to_store)? {
            // The repository returns the resumed run opened: only projected here.
            BeginRun::Resumed(opened) => {
                let (_, _, level) = self.read_scope();
                let id = opened.id.clone();
                Projection::new(level)
                    .filter(&self.cx, opened)
                    .map(BeginRun::Resumed)
                    .ok_or_else(|| to_store(RepositoryError::not_found(&id)))
            }
            created => Ok(created),
        }
    }

    async fn set_run_status(
        &self,
        tenant: &TenantId,
        run_id: &str,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        self.check_tenant(tenant, run_id)?;
        self.repo
            .set_run_status(&self.cx, run_id, status)
            .await
            .map_err(to_store)
    }

    async fn append_trials(&self, trials: Vec<Trial>) -> Result<AppendReport, StoreError> {
        self.repo
            .append_trials(&self.cx, trials)
            .await
            .map_err(to_store)
    }

    async fn completed_keys(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<HashSet<TrialKey>, StoreError> {
        match self
            .own_run(tenant, run_id, Action::Read, Class::Public)
            .await
            .map_err(to_store)?
        {
            Some(_) => self.repo.store.completed_keys(tenant, run_id).await,
            None => Err(to_store(RepositoryError::not_found(run_id))),
        }
    }

    async fn get_run(&self, tenant: &TenantId, run_id: &str) -> Result<Option<Run>, StoreError> {
        let (action, class, level) = self.read_scope();
        let run = self
            .own_run(tenant, run_id, action, class)
            .await
            .map_err(to_store)?;
        let Some(run) = run else {
            return Ok(None);
        };
        let (run, legacy) = self.protect_run(run, level).map_err(to_store)?;
        warn_plaintext_legacy(format_args!("run {run_id:?}"), legacy);
        Ok(run)
    }

    async fn annotate_run(
        &self,
        tenant: &TenantId,
        run_id: &str,
        key: &str,
        value: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.check_tenant(tenant, run_id)?;
        self.repo
            .annotate_run(&self.cx, run_id, key, value)
            .await
            .map_err(to_store)
    }

    /// Annotations are internal data: an external caller gets none.
    async fn run_annotations(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<BTreeMap<String, serde_json::Value>, StoreError> {
        let (action, _, level) = self.read_scope();
        let run = self
            .own_run(tenant, run_id, action, Class::Internal)
            .await
            .map_err(to_store)?;
        match run {
            Some(_) if level == AccessLevel::Internal => {
                self.repo.store.run_annotations(tenant, run_id).await
            }
            Some(_) => Ok(BTreeMap::new()),
            None => Err(to_store(RepositoryError::not_found(run_id))),
        }
    }

    async fn list_runs(&self, tenant: &TenantId) -> Result<Vec<Run>, StoreError> {
        if tenant != &self.cx.tenant_id {
            return Ok(Vec::new());
        }
        let (action, class, level) = self.read_scope();
        let repo = &self.repo;
        let mut out = Vec::new();
        let mut reasons = std::collections::BTreeSet::new();
        let mut legacy = 0;
        for run in repo.store.list_runs(tenant).await? {
            let d = repo.policy.decide(&self.cx, action, resource_of(&run));
            if d.allowed {
                reasons.extend(d.reasons);
                let (run, n) = self.protect_run(run, level).map_err(to_store)?;
                out.extend(run);
                legacy += n;
            }
        }
        warn_plaintext_legacy("the runs listed", legacy);
        repo.audit(
            &self.cx,
            action,
            "runs".into(),
            class,
            true,
            reasons.into_iter().collect(),
        )
        .await
        .map_err(to_store)?;
        Ok(out)
    }

    fn trials<'a>(
        &'a self,
        tenant: &'a TenantId,
        run_id: &'a str,
    ) -> BoxStream<'a, Result<Trial, StoreError>> {
        let (action, class, level) = self.read_scope();
        stream::once(self.own_run(tenant, run_id, action, class))
            .flat_map(move |authorized| match authorized {
                Ok(Some(_)) => {
                    let projection = Projection::new(level);
                    let mut legacy = LegacyWarning::default();
                    self.repo
                        .store
                        .trials(tenant, run_id)
                        .map(move |t| {
                            let mut t = t?;
                            let n = protect_read(&self.cx, projection, &self.repo.cipher, &mut t)
                                .map_err(to_store)?;
                            legacy.note(run_id, n);
                            Ok(t)
                        })
                        .boxed()
                }
                Ok(None) => stream::empty().boxed(),
                Err(e) => stream::once(std::future::ready(Err(to_store(e)))).boxed(),
            })
            .boxed()
    }
}
