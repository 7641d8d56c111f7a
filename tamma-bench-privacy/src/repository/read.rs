//! Reads: runs, results, trials and comparisons.

use super::{Repository, resource_of, warn_plaintext_legacy};
use crate::PrivacyFilter;
use crate::authz::Action;
use crate::classification::{AccessLevel, Class};
use crate::crypto::RecordCipher;
use crate::error::RepositoryError;
use crate::filters::{Projection, Redaction};
use crate::views::{InternalContext, InternalResult, PublicResult, PublicTrial, RunView};
use futures::stream::{BoxStream, StreamExt};
use std::collections::BTreeSet;
use std::sync::Arc;
use tamma_bench_core::compare::{Comparison, ResultRef, case_scores, compare_scores};
use tamma_bench_core::model::{Run, RunSummary, TenantContext, TenantId, Trial, TrialKey};
use tamma_bench_core::stats::CompareOptions;
use tamma_bench_core::store::ResultStore;
use tamma_bench_core::summary::summarize;

impl Repository {
    /// The runs `cx` may read: its own and every tenant's public runs, newest first.
    pub async fn runs(&self, cx: &TenantContext) -> Result<Vec<RunView>, RepositoryError> {
        let own = self.store.list_runs(&cx.tenant_id).await?;
        let public = self.store.list_public_runs().await?;
        let mut reasons = BTreeSet::new();
        let mut out = Vec::with_capacity(own.len() + public.len());
        let others = public.iter().filter(|r| r.tenant_id != cx.tenant_id);
        for run in own.iter().chain(others) {
            let d = self.policy.decide(cx, Action::Read, resource_of(run));
            if d.allowed {
                reasons.extend(d.reasons);
                out.push((
                    run.created_at_ms,
                    RunView::new(run, run.tenant_id == cx.tenant_id),
                ));
            }
        }
        let allowed = cx.has(tamma_bench_core::model::Permission::Read);
        self.audit(
            cx,
            Action::Read,
            "runs".into(),
            Class::Public,
            allowed,
            reasons.into_iter().collect(),
        )
        .await?;
        out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.id.cmp(&b.1.id)));
        Ok(out.into_iter().map(|(_, v)| v).collect())
    }

    /// The runs of the internal caller's own tenant, whole.
    pub async fn internal_runs(&self, icx: &InternalContext) -> Result<Vec<Run>, RepositoryError> {
        let cx = icx.context();
        let runs = self.store.list_runs(&cx.tenant_id).await?;
        let mut out = Vec::with_capacity(runs.len());
        let mut reasons = BTreeSet::new();
        let mut legacy = 0;
        for mut run in runs {
            let d = self
                .policy
                .decide(cx, Action::ReadInternal, resource_of(&run));
            if d.allowed {
                reasons.extend(d.reasons);
                legacy += self.cipher.open_run(&mut run)?;
                out.push(run);
            }
        }
        warn_plaintext_legacy("the runs listed", legacy);
        self.audit(
            cx,
            Action::ReadInternal,
            "runs".into(),
            Class::Restricted,
            true,
            reasons.into_iter().collect(),
        )
        .await?;
        Ok(out)
    }

    /// One run's public fields.
    pub async fn run(&self, cx: &TenantContext, run_id: &str) -> Result<RunView, RepositoryError> {
        let (run, _) = self
            .authorize(cx, Action::Read, run_id, Class::Public)
            .await?;
        Ok(RunView::new(&run, run.tenant_id == cx.tenant_id))
    }

    /// The public results of a run, one per agent.
    pub async fn results(
        &self,
        cx: &TenantContext,
        run_id: &str,
    ) -> Result<Vec<PublicResult>, RepositoryError> {
        let (run, _) = self
            .authorize(cx, Action::Read, run_id, Class::Public)
            .await?;
        let summary = summarize(self.store.as_ref(), &run).await?;
        Ok(summary
            .agents
            .iter()
            .map(|s| PublicResult::new(&run, s))
            .collect())
    }

    /// A run's whole record and summary: internal callers only.
    pub async fn internal_summary(
        &self,
        icx: &InternalContext,
        run_id: &str,
    ) -> Result<(Run, RunSummary), RepositoryError> {
        let cx = icx.context();
        let (mut run, _) = self
            .authorize(cx, Action::ReadInternal, run_id, Class::Restricted)
            .await?;
        let summary = summarize(self.store.as_ref(), &run).await?;
        warn_plaintext_legacy(
            format_args!("run {run_id:?}"),
            self.cipher.open_run(&mut run)?,
        );
        Ok((run, summary))
    }

    /// The internal results of a run, one per agent: internal callers only.
    pub async fn internal_results(
        &self,
        icx: &InternalContext,
        run_id: &str,
    ) -> Result<Vec<InternalResult>, RepositoryError> {
        let (run, summary) = self.internal_summary(icx, run_id).await?;
        Ok(summary
            .agents
            .iter()
            .map(|s| InternalResult::new(&run, s))
            .collect())
    }

    /// The trials of a run for export, projected to the caller's level: public fields of
    /// public runs, plus the sensitive fields (redacted outputs, answers) of its own.
    pub async fn trials(
        &self,
        cx: &TenantContext,
        run_id: &str,
    ) -> Result<TrialExport<PublicTrial>, RepositoryError> {
        let (run, level) = self
            .authorize(cx, Action::Export, run_id, Class::Sensitive)
            .await?;
        self.export(cx, run, level, PublicTrial::new)
    }

    /// The trials of a run as stored records projected to the caller's level, for hosts
    /// that compute their own statistics (the HTML report): every field for an internal
    /// context; for an external caller, its own runs' public and sensitive fields and
    /// public runs' public fields, every internal field cleared (zero cost and usage, no
    /// agent configuration beyond name, provider and model). Audited as a read.
    pub async fn projected_trials(
        &self,
        cx: &TenantContext,
        run_id: &str,
    ) -> Result<TrialExport<Trial>, RepositoryError> {
        let (action, class) = if InternalContext::new(cx.clone()).is_ok() {
            (Action::ReadInternal, Class::Restricted)
        } else {
            (Action::Read, Class::Sensitive)
        };
        let (run, level) = self.authorize(cx, action, run_id, class).await?;
        self.export(cx, run, level, |t| t)
    }

    /// An export of `run` at `level`: the run record projected and opened, the trials
    /// projected, opened and redacted as they stream.
    pub(super) fn export<V: Send + 'static>(
        &self,
        cx: &TenantContext,
        run: Run,
        level: AccessLevel,
        view: fn(Trial) -> V,
    ) -> Result<TrialExport<V>, RepositoryError> {
        let (id, owner) = (run.id.clone(), run.tenant_id.clone());
        let mut run = Projection::new(level)
            .filter(cx, run)
            .ok_or_else(|| RepositoryError::not_found(&id))?;
        warn_plaintext_legacy(format_args!("run {id:?}"), self.cipher.open_run(&mut run)?);
        Ok(TrialExport {
            store: self.store.clone(),
            cipher: self.cipher.clone(),
            cx: cx.clone(),
            owner,
            run,
            level,
            view,
        })
    }

    /// Every field of a run's trials (secrets redacted): internal callers only.
    pub async fn internal_trials(
        &self,
        icx: &InternalContext,
        run_id: &str,
    ) -> Result<TrialExport<Trial>, RepositoryError> {
        let cx = icx.context();
        let (run, level) = self
            .authorize(cx, Action::ReadInternal, run_id, Class::Internal)
            .await?;
        self.export(cx, run, level, |t| t)
    }

    /// Compares two results `cx` may compare (its own runs or public ones).
    pub async fn compare(
        &self,
        cx: &TenantContext,
        a: &ResultRef,
        b: &ResultRef,
        options: &CompareOptions,
    ) -> Result<Comparison, RepositoryError> {
        let (run_a, _) = self
            .authorize(cx, Action::Compare, &a.run_id, Class::Public)
            .await?;
        let (run_b, _) = self
            .authorize(cx, Action::Compare, &b.run_id, Class::Public)
            .await?;
        let (la, sa) = case_scores(self.store.as_ref(), &run_a.tenant_id, a).await?;
        let (lb, sb) = case_scores(self.store.as_ref(), &run_b.tenant_id, b).await?;
        Ok(compare_scores(la, &sa, lb, &sb, options))
    }
}

/// An authorized export of one run's trials: stream it with [`TrialExport::stream`].
/// Only the repository makes one, after the policy allowed it.
pub struct TrialExport<V> {
    store: Arc<dyn ResultStore>,
    cipher: Arc<RecordCipher>,
    cx: TenantContext,
    /// The run's tenant (the projected record may hide it).
    owner: TenantId,
    /// The run, projected to `level` and opened.
    run: Run,
    level: AccessLevel,
    view: fn(Trial) -> V,
}

impl<V> std::fmt::Debug for TrialExport<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrialExport")
            .field("run", &self.run.id)
            .field("level", &self.level)
            .finish()
    }
}

impl TrialExport<Trial> {
    /// The run's record, projected to the caller's level like its trials: whole for an
    /// internal context; public fields (and the tenant id of an own run) otherwise.
    pub fn run(&self) -> &Run {
        &self.run
    }
}

impl<V: Send + 'static> TrialExport<V> {
    /// The level the trials are projected to.
    pub fn level(&self) -> AccessLevel {
        self.level
    }

    /// The run exported.
    pub fn run_id(&self) -> &str {
        &self.run.id
    }

    /// The trials, projected, opened and redacted, in the store's order (one page in
    /// memory at a time). Fields the caller may not see are dropped before any opening, so
    /// a sealed field it may not see costs nothing and cannot fail; a sealed field it may
    /// see and that does not open, or (with keys) is not sealed, ends the stream with an
    /// error.
    pub fn stream(&self) -> BoxStream<'_, Result<V, RepositoryError>> {
        self.protect(self.store.trials(&self.owner, &self.run.id))
    }

    /// As [`TrialExport::stream`], the trials whose key comes after `after` (all when
    /// `None`) in key order: a stable cursor for paging (`ResultStore::trials_after`).
    pub fn stream_after(
        &self,
        after: Option<TrialKey>,
    ) -> BoxStream<'_, Result<V, RepositoryError>> {
        self.protect(self.store.trials_after(&self.owner, &self.run.id, after))
    }

    /// Stored trials on their way out: projected, opened, redacted, viewed.
    fn protect<'a>(
        &'a self,
        trials: BoxStream<'a, Result<Trial, tamma_bench_core::store::StoreError>>,
    ) -> BoxStream<'a, Result<V, RepositoryError>> {
        let projection = Projection::new(self.level);
        let mut legacy = LegacyWarning::default();
        trials
            .map(move |t| {
                let mut t = t?;
                let n = protect_read(&self.cx, projection, &self.cipher, &mut t)?;
                legacy.note(&self.run.id, n);
                Ok((self.view)(t))
            })
            .boxed()
    }
}

/// A trial on its way out, in place: projected to the level, sealed fields (that are
/// left) opened, then secrets redacted (for data stored before redaction at write).
/// Returns how many fields were read as legacy plaintext.
pub(super) fn protect_read(
    cx: &TenantContext,
    projection: Projection,
    cipher: &RecordCipher,
    t: &mut Trial,
) -> Result<usize, RepositoryError> {
    projection.apply(cx, t);
    let legacy = cipher.open_trial(t)?;
    Redaction::apply(t);
    Ok(legacy)
}

/// The legacy-plaintext warning of one stream of trials: logged at the first trial that
/// has such a field, not again.
#[derive(Debug, Default)]
pub(super) struct LegacyWarning {
    warned: bool,
}

impl LegacyWarning {
    /// Notes that a trial of `run_id` had `n` fields read as legacy plaintext.
    pub(super) fn note(&mut self, run_id: &str, n: usize) {
        if n > 0 && !self.warned {
            self.warned = true;
            warn_plaintext_legacy(format_args!("run {run_id:?}"), n);
        }
    }
}
