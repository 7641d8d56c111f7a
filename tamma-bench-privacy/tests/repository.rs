//! Behaviour of the repository: writes, audit events, internal views, aggregates.

#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use futures::TryStreamExt;
use proptest::prelude::*;
use std::sync::Arc;
use support::{run, store_run, trial};
use tamma_bench_core::model::{TenantContext, TenantId, Tier, Visibility};
use tamma_bench_core::store::MemoryStore;
use tamma_bench_privacy::access::{MemoryAudit, Outcome};
use tamma_bench_privacy::filters::{
    AggregateTable, Contribution, MIN_RUNS, MIN_TENANTS, SmallCellSuppression,
};
use tamma_bench_privacy::{Action, ErrorKind, InternalContext, Release, Repository};

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).unwrap()
}

#[tokio::test]
async fn writes_are_own_tenant_only_redacted_and_audited_with_their_policies() {
    let store = Arc::new(MemoryStore::new());
    let audit = Arc::new(MemoryAudit::default());
    let repo = Repository::new(store.clone())
        .unwrap()
        .with_audit(audit.clone());
    let a = TenantContext::external(tenant("a"), Tier::Free, "alice");
    let r = run("r1", &tenant("a"), Visibility::Private, &["a0"]);
    repo.begin_run(&a, &r).await.unwrap();
    let foreign = run("r2", &tenant("b"), Visibility::Private, &["a0"]);
    assert_eq!(
        repo.begin_run(&a, &foreign).await.unwrap_err().kind,
        ErrorKind::Invalid
    );
    repo.append_trials(&a, vec![trial(&r, "a0", 0)])
        .await
        .unwrap();
    let icx = InternalContext::new(TenantContext::internal(tenant("a"), "svc")).unwrap();
    let stored: Vec<_> = repo
        .internal_trials(&icx, "r1")
        .await
        .unwrap()
        .stream()
        .try_collect()
        .await
        .unwrap();
    let output = stored[0].output.clone().unwrap();
    assert!(
        output.contains("[redacted:api_key]") && !output.contains("sk-ant"),
        "{output}"
    );
    let events = audit.events();
    assert_eq!(events[0].action, Action::Write);
    assert_eq!(events[0].reasons, vec!["owner-writes-own-runs"]);
    assert!(events.iter().all(|e| e.outcome == Outcome::Allowed));
    // A read of another tenant's private run is audited as denied (no policy consulted:
    // the store never showed the run), and reads as absent.
    let b = TenantContext::external(tenant("b"), Tier::Free, "bob");
    assert_eq!(
        repo.results(&b, "r1").await.unwrap_err().kind,
        ErrorKind::NotFound
    );
    let last = audit.events().pop().unwrap();
    assert_eq!(
        (last.outcome, last.reasons),
        (Outcome::Denied, Vec::<String>::new())
    );
}

#[tokio::test]
async fn internal_views_need_an_internal_context() {
    let ext = TenantContext::external(tenant("a"), Tier::Premium, "p")
        .with_permissions(tamma_bench_core::model::Permission::ALL);
    assert_eq!(
        InternalContext::new(ext).unwrap_err().kind,
        ErrorKind::Denied
    );
}

#[tokio::test]
async fn the_public_leaderboard_suppresses_small_cells_and_refuses_a_spent_budget() {
    let store = Arc::new(MemoryStore::new());
    let repo = Repository::new(store.clone()).unwrap();
    for t in 0..4 {
        for k in 0..4 {
            let r = run(
                &format!("r{t}-{k}"),
                &tenant(&format!("t{t}")),
                Visibility::Public,
                &["a0"],
            );
            store_run(&store, &r, 2).await;
        }
    }
    let cx = TenantContext::external(tenant("t0"), Tier::Free, "u");
    let release = Release::with_default_budget("2025-01").unwrap();
    let table = repo.public_leaderboard(&cx, &release).await.unwrap();
    assert_eq!(table.cells.len(), 1);
    let cell = &table.cells[0];
    assert!(!cell.suppressed, "16 runs of 4 tenants are published");
    assert!(
        cell.contributors
            .iter()
            .all(|c| c.starts_with("t-") && c.len() == 34)
    );
    assert!(!serde_json::to_string(&table).unwrap().contains("\"t1\""));
    repo.public_leaderboard(&cx, &release).await.unwrap();
    let e = repo.public_leaderboard(&cx, &release).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::BudgetExhausted);
}

fn table_strategy() -> impl Strategy<Value = Vec<Contribution>> {
    prop::collection::vec((0u8..4, 0u8..4, 0u8..6, 0.0f64..1.0), 0..120).prop_map(|xs| {
        xs.into_iter()
            .map(|(r, c, t, score)| Contribution {
                row: format!("m{r}"),
                column: format!("b{c}"),
                tenant: TenantId::new(format!("t{t}")).unwrap(),
                score,
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_small_cell_is_published_and_no_total_reveals_a_suppressed_cell(cs in table_strategy()) {
        let exact = AggregateTable::build("x", &cs);
        let mut t = exact.clone();
        SmallCellSuppression::apply(&mut t);
        for (c, e) in t.cells.iter().zip(&exact.cells) {
            if !c.suppressed {
                prop_assert!(e.n_runs >= MIN_RUNS && e.n_tenants >= MIN_TENANTS);
                prop_assert_eq!(c, e);
            } else {
                prop_assert!(c.n_runs == 0 && c.contributors.is_empty());
            }
        }
        for (by_row, totals) in [(true, &t.row_totals), (false, &t.column_totals)] {
            for (line, total) in totals.iter().enumerate() {
                let hidden = t.cells.iter()
                    .filter(|c| (if by_row { c.row } else { c.column }) == line && c.suppressed)
                    .count();
                prop_assert!(total.suppressed || hidden != 1, "line {} reveals its one suppressed cell", line);
            }
        }
    }
}
