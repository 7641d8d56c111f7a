//! The behaviour suite every [`ResultStore`] must pass.
//!
//! Use [`crate::store_conformance_tests!`] in a test file with an expression that makes
//! `(guard, store)` for a fresh, empty store: `store` is an `Arc<dyn ResultStore>` or a
//! [`StoreUnderTest`], and the guard keeps whatever the store needs alive (a temporary
//! directory). It expands to one `#[test]` per behaviour below; the checks panic with a
//! message on failure, like any test assertion.
//!
//! A store serving every tenant (memory, SQLite) is tested as one store. A store bound to
//! one caller, such as the privacy repository's `TenantStore` (what the executor writes
//! through), is tested as one view per tenant over the same storage
//! ([`StoreUnderTest::per_tenant`]): each tenant of a behaviour writes and reads through
//! its own view, and what such a view legitimately does not do is declared, and checked
//! as its documented fallback.

#![allow(clippy::unwrap_used)]

use futures::{StreamExt, TryStreamExt};
use std::collections::HashSet;
use std::sync::Arc;
use tamma_bench_core::model::{
    AgentConfig, Outcome, Run, RunStatus, Score, TenantId, Trial, TrialKey, Visibility, now_ms,
};
use tamma_bench_core::provider::{ProviderErrorKind, Usage};
use tamma_bench_core::store::{AppendReport, BeginRun, ResultStore, StoreErrorKind};

/// Makes the view of a store that `tenant` writes and reads through.
type View = dyn Fn(&TenantId) -> Arc<dyn ResultStore> + Send + Sync;

/// The store under test, as each tenant of a behaviour sees it, and what it declares it
/// does not do.
#[derive(Clone)]
pub struct StoreUnderTest {
    view: Arc<View>,
    lists_public_runs: bool,
    rewrites_runs: bool,
    fingerprint_mismatch: StoreErrorKind,
}

impl StoreUnderTest {
    /// One store serving every tenant (it takes the tenant of each call from its
    /// arguments): every behaviour applies.
    pub fn shared(store: Arc<dyn ResultStore>) -> Self {
        Self::per_tenant(move |_| store.clone())
    }

    /// A store seen through one view per tenant, all over the same storage: `view(t)` is
    /// what tenant `t` writes and reads through.
    pub fn per_tenant(
        view: impl Fn(&TenantId) -> Arc<dyn ResultStore> + Send + Sync + 'static,
    ) -> Self {
        Self {
            view: Arc::new(view),
            lists_public_runs: true,
            rewrites_runs: true,
            fingerprint_mismatch: StoreErrorKind::FingerprintMismatch,
        }
    }

    /// The store does not list public runs across tenants: it keeps the trait's default,
    /// which lists none (fails closed), and the suite checks that.
    pub fn without_public_listing(mut self) -> Self {
        self.lists_public_runs = false;
        self
    }

    /// The store does not rewrite runs: it keeps the trait's default, which refuses with
    /// [`StoreErrorKind::Backend`] and writes nothing, and the suite checks that.
    pub fn without_rewrites(mut self) -> Self {
        self.rewrites_runs = false;
        self
    }

    /// The store reports a run resumed with another fingerprint as `kind` rather than
    /// [`StoreErrorKind::FingerprintMismatch`] (the message still names the run).
    pub fn reporting_fingerprint_mismatch_as(mut self, kind: StoreErrorKind) -> Self {
        self.fingerprint_mismatch = kind;
        self
    }

    /// What `tenant` writes and reads through.
    pub fn as_tenant(&self, tenant: &str) -> Arc<dyn ResultStore> {
        (self.view)(&self::tenant(tenant))
    }
}

impl From<Arc<dyn ResultStore>> for StoreUnderTest {
    fn from(store: Arc<dyn ResultStore>) -> Self {
        Self::shared(store)
    }
}

/// Tenant `name` (a valid id).
pub fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

/// Run `id` of `tenant_id`: private, running, one agent, 10 cases, one epoch.
pub fn run(id: &str, tenant_id: &str) -> Run {
    Run {
        id: id.into(),
        tenant_id: tenant(tenant_id),
        benchmark_id: "bench".into(),
        benchmark_version: "1.0".into(),
        visibility: Visibility::Private,
        fingerprint: "f1".into(),
        agents: vec![AgentConfig::new("a", "replay", "m")],
        epochs: 1,
        n_cases: 10,
        status: RunStatus::Running,
        created_at_ms: now_ms(),
        updated_at_ms: now_ms(),
    }
}

/// Trial `case` (`case-000007`) of `run`'s agent `a` in `epoch`: outcomes, outputs,
/// clusters, tags and numbers vary with `case`, so every field is exercised.
pub fn trial(run: &Run, case: usize, epoch: u32) -> Trial {
    Trial {
        run_id: run.id.clone(),
        tenant_id: run.tenant_id.clone(),
        key: TrialKey::new("a", format!("case-{case:06}"), epoch),
        cluster: case.is_multiple_of(3).then(|| format!("c{}", case % 7)),
        tags: if case.is_multiple_of(2) {
            vec!["even".into(), "t2".into()]
        } else {
            vec![]
        },
        outcome: match case % 5 {
            0 => Outcome::InfraFailure {
                error: ProviderErrorKind::RateLimited,
                message: "429 after 5 attempts".into(),
            },
            1 => Outcome::ScorerError {
                scorer: "regex".into(),
                message: "no capture".into(),
            },
            _ => Outcome::Scored {
                scores: vec![
                    Score {
                        scorer: "exact".into(),
                        value: (case % 2) as f64,
                        answer: Some("B".into()),
                        explanation: None,
                        uncertain: false,
                    },
                    Score {
                        scorer: "f1".into(),
                        value: 0.25,
                        answer: None,
                        explanation: Some("f1=0.25".into()),
                        uncertain: true,
                    },
                ],
            },
        },
        output: (!case.is_multiple_of(5)).then(|| format!("output ✓ {case}\nline 2")),
        usage: Usage {
            input_tokens: 100 + case as u64,
            output_tokens: 7,
        },
        latency_ms: 12.5 + case as f64,
        cost_usd: 0.001 * case as f64,
        attempts: 1 + (case % 3) as u32,
        cache_hit: case.is_multiple_of(4),
        finished_at_ms: 1_700_000_000_000 + case as i64,
    }
}

async fn all_trials(store: &dyn ResultStore, t: &TenantId, run_id: &str) -> Vec<Trial> {
    store.trials(t, run_id).try_collect().await.unwrap()
}

/// `begin_run` creates, resumes (running again, more epochs) and refuses a changed
/// fingerprint or another tenant's id, without naming the owner.
pub async fn begin_run_creates_resumes_and_refuses_mismatches(s: StoreUnderTest) {
    let store = s.as_tenant("t1");
    let r = run("r1", "t1");
    assert_eq!(store.begin_run(&r).await.unwrap(), BeginRun::Created);
    store
        .set_run_status(&r.tenant_id, &r.id, RunStatus::Interrupted)
        .await
        .unwrap();
    let mut again = r.clone();
    again.epochs = 3;
    match store.begin_run(&again).await.unwrap() {
        BeginRun::Resumed(stored) => {
            assert_eq!(
                stored.status,
                RunStatus::Running,
                "resuming marks the run running again"
            );
            assert_eq!(
                stored.epochs, 3,
                "resuming with more epochs extends the run"
            );
            assert_eq!(stored.fingerprint, r.fingerprint);
        }
        other => panic!("expected a resume, got {other:?}"),
    }
    let mut changed = r.clone();
    changed.fingerprint = "f2".into();
    let e = store.begin_run(&changed).await.unwrap_err();
    assert_eq!(e.kind(), s.fingerprint_mismatch, "{e}");
    assert!(
        e.message().contains("r1"),
        "the error names the run id: {e}"
    );
    let other_tenant = run("r1", "t2");
    let e = s
        .as_tenant("t2")
        .begin_run(&other_tenant)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::Conflict);
    assert!(
        !e.message().contains("t1"),
        "the error does not reveal the owner: {e}"
    );
}

/// A second append of a key is a duplicate and leaves the stored trial unchanged.
pub async fn appends_are_idempotent_and_first_write_wins(s: StoreUnderTest) {
    let store = s.as_tenant("t1");
    let r = run("r1", "t1");
    store.begin_run(&r).await.unwrap();
    let first: Vec<Trial> = (0..3).map(|c| trial(&r, c, 0)).collect();
    assert_eq!(
        store.append_trials(first.clone()).await.unwrap(),
        AppendReport {
            inserted: 3,
            duplicates: 0
        }
    );
    let mut second: Vec<Trial> = (0..4).map(|c| trial(&r, c, 0)).collect();
    second[0].output = Some("a different output".into());
    assert_eq!(
        store.append_trials(second).await.unwrap(),
        AppendReport {
            inserted: 1,
            duplicates: 3
        }
    );
    let stored = all_trials(store.as_ref(), &r.tenant_id, &r.id).await;
    assert_eq!(stored.len(), 4);
    let case0 = stored
        .iter()
        .find(|t| t.key.case_id == "case-000000")
        .unwrap();
    assert_eq!(
        case0, &first[0],
        "a duplicate append leaves the stored trial unchanged"
    );
}

/// `trials_after` streams a run's trials in key order from a cursor: all of them from
/// none, the rest after a key, nothing after the last; never another tenant's.
pub async fn trials_after_a_key_come_in_key_order(s: StoreUnderTest) {
    let store = s.as_tenant("t1");
    let r = run("r1", "t1");
    store.begin_run(&r).await.unwrap();
    // Written out of key order, in two batches.
    let mut written: Vec<Trial> = (0..12)
        .rev()
        .flat_map(|c| (0..3).map(move |e| (c, e)))
        .map(|(c, e)| trial(&r, c, e))
        .collect();
    let tail = written.split_off(20);
    store.append_trials(tail).await.unwrap();
    store.append_trials(written).await.unwrap();
    let mut keys: Vec<TrialKey> = (0..12)
        .flat_map(|c| (0..3).map(move |e| TrialKey::new("a", format!("case-{c:06}"), e)))
        .collect();
    keys.sort();
    let after = |k: Option<TrialKey>| {
        let store = store.clone();
        let (t, id) = (r.tenant_id.clone(), r.id.clone());
        async move {
            store
                .trials_after(&t, &id, k)
                .map_ok(|t| t.key)
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
        }
    };
    assert_eq!(after(None).await, keys, "every trial, in key order");
    assert_eq!(after(Some(keys[9].clone())).await, keys[10..].to_vec());
    assert_eq!(after(Some(keys[35].clone())).await, Vec::<TrialKey>::new());
    let other = s.as_tenant("t2");
    let seen: Vec<Trial> = other
        .trials_after(&tenant("t2"), &r.id, None)
        .filter_map(|t| async move { t.ok() })
        .collect()
        .await;
    assert!(seen.is_empty(), "another tenant's trials are never read");
}

/// Every field of runs and trials reads back as written.
pub async fn every_field_round_trips(s: StoreUnderTest) {
    let store = s.as_tenant("t1");
    let r = run("r1", "t1");
    store.begin_run(&r).await.unwrap();
    let written: Vec<Trial> = (0..20).map(|c| trial(&r, c, 0)).collect();
    store.append_trials(written.clone()).await.unwrap();
    let mut read = all_trials(store.as_ref(), &r.tenant_id, &r.id).await;
    read.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(read, written);
    let stored_run = store.get_run(&r.tenant_id, &r.id).await.unwrap().unwrap();
    assert_eq!(stored_run, r);
}

/// The completed keys of a run are exactly the keys of its stored trials.
pub async fn completed_keys_are_the_stored_keys(s: StoreUnderTest) {
    let store = s.as_tenant("t1");
    let r = run("r1", "t1");
    store.begin_run(&r).await.unwrap();
    assert!(
        store
            .completed_keys(&r.tenant_id, &r.id)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .append_trials(
            (0..5)
                .flat_map(|c| [trial(&r, c, 0), trial(&r, c, 1)])
                .collect(),
        )
        .await
        .unwrap();
    let keys = store.completed_keys(&r.tenant_id, &r.id).await.unwrap();
    let want: HashSet<TrialKey> = (0..5)
        .flat_map(|c| [trial(&r, c, 0).key, trial(&r, c, 1).key])
        .collect();
    assert_eq!(keys, want);
}

/// A tenant reads, lists, resumes, annotates and appends to its own runs only; a batch
/// with a trial forged into another tenant's run writes nothing.
pub async fn reads_and_writes_are_scoped_to_the_tenant(s: StoreUnderTest) {
    let (store, other) = (s.as_tenant("t1"), s.as_tenant("t2"));
    let mine = run("r-mine", "t1");
    let theirs = run("r-theirs", "t2");
    store.begin_run(&mine).await.unwrap();
    other.begin_run(&theirs).await.unwrap();
    store.append_trials(vec![trial(&mine, 1, 0)]).await.unwrap();
    other
        .append_trials(vec![trial(&theirs, 2, 0)])
        .await
        .unwrap();
    let t1 = tenant("t1");
    let runs = store.list_runs(&t1).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["r-mine"]
    );
    assert!(store.get_run(&t1, "r-theirs").await.unwrap().is_none());
    assert_eq!(
        store
            .completed_keys(&t1, "r-theirs")
            .await
            .unwrap_err()
            .kind(),
        StoreErrorKind::NotFound
    );
    let leaked: Result<Vec<Trial>, _> = store.trials(&t1, "r-theirs").try_collect().await;
    assert!(
        leaked.map(|v| v.is_empty()).unwrap_or(true),
        "no trial of another tenant is readable"
    );
    assert_eq!(
        store
            .set_run_status(&t1, "r-theirs", RunStatus::Failed)
            .await
            .unwrap_err()
            .kind(),
        StoreErrorKind::NotFound
    );
    // A trial claiming a run of another tenant is refused, and nothing of its batch lands.
    let mut forged = trial(&theirs, 3, 0);
    forged.tenant_id = t1.clone();
    let e = store
        .append_trials(vec![trial(&mine, 4, 0), forged])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::NotFound);
    assert_eq!(
        all_trials(store.as_ref(), &t1, "r-mine").await.len(),
        1,
        "the refused batch wrote nothing"
    );
    assert_eq!(
        all_trials(other.as_ref(), &tenant("t2"), "r-theirs")
            .await
            .len(),
        1
    );
}

/// Eight writers appending overlapping batches at once insert every distinct trial
/// exactly once.
pub async fn concurrent_writers_never_duplicate_or_lose(s: StoreUnderTest) {
    let store = s.as_tenant("t1");
    let r = run("r1", "t1");
    store.begin_run(&r).await.unwrap();
    // 8 writers, each writing 300 trials that overlap with its neighbours' by half.
    let tasks: Vec<_> = (0..8)
        .map(|w| {
            let (store, r) = (store.clone(), r.clone());
            tokio::spawn(async move {
                let mut report = AppendReport::default();
                for chunk in (w * 150..w * 150 + 300).collect::<Vec<_>>().chunks(25) {
                    let a = store
                        .append_trials(chunk.iter().map(|c| trial(&r, *c, 0)).collect())
                        .await
                        .unwrap();
                    report.inserted += a.inserted;
                    report.duplicates += a.duplicates;
                }
                report
            })
        })
        .collect();
    let mut inserted = 0;
    for t in tasks {
        inserted += t.await.unwrap().inserted;
    }
    let distinct = 7 * 150 + 300;
    assert_eq!(
        inserted, distinct as u64,
        "every distinct trial inserted exactly once"
    );
    let stored = all_trials(store.as_ref(), &r.tenant_id, &r.id).await;
    assert_eq!(stored.len(), distinct);
    assert_eq!(
        stored.iter().map(|t| &t.key).collect::<HashSet<_>>().len(),
        distinct
    );
}

/// A run of 5,000 trials streams back whole, without repeats.
pub async fn large_runs_stream_completely(s: StoreUnderTest) {
    let store = s.as_tenant("t1");
    let r = run("r1", "t1");
    store.begin_run(&r).await.unwrap();
    for chunk in (0..5000).collect::<Vec<_>>().chunks(1000) {
        store
            .append_trials(chunk.iter().map(|c| trial(&r, *c, 0)).collect())
            .await
            .unwrap();
    }
    let stored = all_trials(store.as_ref(), &r.tenant_id, &r.id).await;
    assert_eq!(stored.len(), 5000, "pages are stitched without loss");
    assert_eq!(
        stored.iter().map(|t| &t.key).collect::<HashSet<_>>().len(),
        5000,
        "and without repeats"
    );
}

/// A tenant's runs list newest first with their status; a tenant without runs has none.
pub async fn runs_list_newest_first_with_status(s: StoreUnderTest) {
    let store = s.as_tenant("t1");
    let mut old = run("old", "t1");
    old.created_at_ms -= 10_000;
    let new = run("new", "t1");
    store.begin_run(&old).await.unwrap();
    store.begin_run(&new).await.unwrap();
    store
        .set_run_status(&tenant("t1"), "old", RunStatus::Completed)
        .await
        .unwrap();
    let runs = store.list_runs(&tenant("t1")).await.unwrap();
    assert_eq!(
        runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["new", "old"]
    );
    assert_eq!(runs[1].status, RunStatus::Completed);
    let nobody = s.as_tenant("nobody");
    assert!(
        nobody
            .list_runs(&tenant("nobody"))
            .await
            .unwrap()
            .is_empty()
    );
}

/// Public runs of every tenant are listed newest first, private ones never; a store that
/// does not list across tenants lists none.
pub async fn public_runs_are_listed_across_tenants_and_private_ones_never(s: StoreUnderTest) {
    let mut old_public = run("p-old", "t1");
    old_public.visibility = Visibility::Public;
    old_public.created_at_ms -= 10_000;
    let mut new_public = run("p-new", "t2");
    new_public.visibility = Visibility::Public;
    for r in [&old_public, &new_public, &run("private", "t1")] {
        s.as_tenant(r.tenant_id.as_str())
            .begin_run(r)
            .await
            .unwrap();
    }
    let runs = s.as_tenant("t1").list_public_runs().await.unwrap();
    if !s.lists_public_runs {
        assert!(runs.is_empty(), "fails closed: {runs:?}");
        return;
    }
    assert_eq!(
        runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec!["p-new", "p-old"],
        "public runs of every tenant, newest first, and no private run"
    );
    assert_eq!(public_fields(&runs[0]), public_fields(&new_public));
}

/// What [`ResultStore::list_public_runs`] promises of a run: its public fields and owner
/// (a store may leave the internal ones out).
fn public_fields(r: &Run) -> impl PartialEq + std::fmt::Debug + '_ {
    let agents: Vec<_> = r
        .agents
        .iter()
        .map(|a| (&a.name, &a.provider, &a.model))
        .collect();
    let times = (r.created_at_ms, r.updated_at_ms);
    let benchmark = (&r.benchmark_id, &r.benchmark_version, r.visibility);
    (
        &r.id,
        &r.tenant_id,
        benchmark,
        agents,
        r.epochs,
        r.n_cases,
        r.status,
        times,
    )
}

/// An annotation replaces the older value of its key; another tenant neither reads nor
/// writes a run's annotations.
pub async fn annotations_replace_by_key_and_stay_with_their_tenant(s: StoreUnderTest) {
    let store = s.as_tenant("t1");
    let r = run("r1", "t1");
    store.begin_run(&r).await.unwrap();
    let t1 = tenant("t1");
    store
        .annotate_run(&t1, "r1", "adaptive", serde_json::json!([1, 2]))
        .await
        .unwrap();
    store
        .annotate_run(&t1, "r1", "adaptive", serde_json::json!([3]))
        .await
        .unwrap();
    store
        .annotate_run(&t1, "r1", "note", serde_json::json!({"a": "b"}))
        .await
        .unwrap();
    let got = store.run_annotations(&t1, "r1").await.unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(
        got["adaptive"],
        serde_json::json!([3]),
        "a key is replaced, not appended"
    );
    let other = tenant("t2");
    let theirs = s.as_tenant("t2");
    assert_eq!(
        theirs
            .run_annotations(&other, "r1")
            .await
            .unwrap_err()
            .kind(),
        StoreErrorKind::NotFound
    );
    assert_eq!(
        theirs
            .annotate_run(&other, "r1", "x", serde_json::json!(1))
            .await
            .unwrap_err()
            .kind(),
        StoreErrorKind::NotFound
    );
}

/// A rewrite replaces the agents of a run and the contents of its trials in one
/// transaction, or nothing when a trial is not stored; another tenant's run is not
/// found. A store that does not rewrite refuses and writes nothing.
pub async fn rewrites_replace_contents_whole_or_not_at_all(s: StoreUnderTest) {
    let store = s.as_tenant("t1");
    let r = run("r1", "t1");
    store.begin_run(&r).await.unwrap();
    let written: Vec<Trial> = (0..6).map(|c| trial(&r, c, 0)).collect();
    store.append_trials(written.clone()).await.unwrap();
    if !s.rewrites_runs {
        let mut rewritten = r.clone();
        rewritten.agents[0].system = Some("must not land".into());
        let mut t2 = written[2].clone();
        t2.output = Some("must not land".into());
        let e = store.rewrite_run(&rewritten, vec![t2]).await.unwrap_err();
        assert_eq!(e.kind(), StoreErrorKind::Backend, "{e}");
        let stored_run = store.get_run(&r.tenant_id, &r.id).await.unwrap().unwrap();
        assert_eq!(stored_run.agents, r.agents, "nothing is rewritten");
        let read = all_trials(store.as_ref(), &r.tenant_id, &r.id).await;
        assert!(
            read.iter().all(|t| written.contains(t)),
            "nothing is rewritten"
        );
        return;
    }
    let mut rewritten_run = r.clone();
    rewritten_run.agents[0].system = Some("rewritten system".into());
    rewritten_run.epochs = 9;
    let mut t2 = written[2].clone();
    t2.output = Some("rewritten output".into());
    if let Outcome::Scored { scores } = &mut t2.outcome {
        scores[0].answer = Some("rewritten answer".into());
    }
    t2.cost_usd = 99.0;
    store
        .rewrite_run(&rewritten_run, vec![t2.clone()])
        .await
        .unwrap();
    let stored_run = store.get_run(&r.tenant_id, &r.id).await.unwrap().unwrap();
    assert_eq!(stored_run.agents, rewritten_run.agents);
    assert_eq!(stored_run.epochs, r.epochs, "only agents are rewritten");
    let read = all_trials(store.as_ref(), &r.tenant_id, &r.id).await;
    let got = read.iter().find(|t| t.key == t2.key).unwrap();
    assert_eq!((&got.output, &got.outcome), (&t2.output, &t2.outcome));
    assert_eq!(
        got.cost_usd, written[2].cost_usd,
        "only contents are rewritten"
    );
    assert!(
        read.iter()
            .filter(|t| t.key != t2.key)
            .all(|t| written.contains(t))
    );

    // A trial that is not stored: nothing of the batch is written.
    let mut t3 = written[3].clone();
    t3.output = Some("must not land".into());
    let mut missing = trial(&r, 99, 0);
    missing.output = Some("no such trial".into());
    let mut again = rewritten_run.clone();
    again.agents[0].system = Some("must not land".into());
    let e = store
        .rewrite_run(&again, vec![t3, missing])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::NotFound);
    let stored_run = store.get_run(&r.tenant_id, &r.id).await.unwrap().unwrap();
    assert_eq!(stored_run.agents, rewritten_run.agents);
    let read = all_trials(store.as_ref(), &r.tenant_id, &r.id).await;
    assert!(
        read.iter()
            .all(|t| t.output.as_deref() != Some("must not land"))
    );

    // Another tenant's run is not found.
    let e = s
        .as_tenant("t2")
        .rewrite_run(&run("r1", "t2"), Vec::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), StoreErrorKind::NotFound);
}

/// Expands to one `#[test]` per behaviour of the store conformance suite. `$make` is
/// evaluated per test and yields `(guard, store)`, `store` being an
/// `Arc<dyn ResultStore>` or a [`StoreUnderTest`] (the guard is kept to the test's end).
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        $crate::store_conformance_tests!(@tests $make;
            begin_run_creates_resumes_and_refuses_mismatches,
            appends_are_idempotent_and_first_write_wins,
            trials_after_a_key_come_in_key_order,
            every_field_round_trips,
            completed_keys_are_the_stored_keys,
            reads_and_writes_are_scoped_to_the_tenant,
            concurrent_writers_never_duplicate_or_lose,
            large_runs_stream_completely,
            runs_list_newest_first_with_status,
            public_runs_are_listed_across_tenants_and_private_ones_never,
            rewrites_replace_contents_whole_or_not_at_all,
            annotations_replace_by_key_and_stay_with_their_tenant,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                // `$make` is evaluated inside the runtime: it may `.await` (a store whose
                // connections live on the runtime), and its guard drops there too.
                $crate::block_on(async {
                    let (_guard, store) = $make;
                    let store: $crate::conformance::store::StoreUnderTest = store.into();
                    $crate::conformance::store::$name(store).await;
                });
            }
        )*
    };
}

/// The behaviour every [`ResponseCache`](tamma_bench_core::store::ResponseCache) shows, on an empty cache:
/// an entry answers until it expires, a purge removes the expired ones, and clearing a
/// tenant forgets its entries only.
pub async fn response_cache_expires_purges_and_forgets_tenants(
    cache: &dyn tamma_bench_core::store::ResponseCache,
) {
    let t = TenantId::local();
    let other = tenant("acme");
    let c = tamma_bench_core::provider::Completion {
        text: "42".into(),
        ..Default::default()
    };
    assert_eq!(cache.get("k", 0).await.ok().flatten(), None);
    cache.put("k", &t, &c, 0, Some(100)).await.expect("put");
    cache
        .put("forever", &other, &c, 0, None)
        .await
        .expect("put");
    assert_eq!(cache.get("k", 99).await.ok().flatten(), Some(c.clone()));
    assert_eq!(cache.get("k", 100).await.ok().flatten(), None);
    assert_eq!(cache.purge_expired(100).await.ok(), Some(1));
    assert_eq!(cache.get("forever", i64::MAX).await.ok().flatten(), Some(c));
    assert_eq!(cache.clear_tenant(&other).await.ok(), Some(1));
    assert_eq!(cache.get("forever", 0).await.ok().flatten(), None);
}
