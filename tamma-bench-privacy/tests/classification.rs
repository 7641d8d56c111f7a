//! The classification table in code and in `docs/privacy-model.md` agree, every field of
//! every serialized record and view is classified, and external views hold no field
//! above sensitive.

#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use futures::TryStreamExt;
use serde_json::Value;
use std::sync::Arc;
use support::{run, store_run};
use tamma_bench_core::model::{TenantContext, TenantId, Tier, Visibility};
use tamma_bench_core::store::MemoryStore;
use tamma_bench_privacy::classification::{CLASSIFICATION, Class, class_of, is_classified};
use tamma_bench_privacy::filters::{AggregateTable, Contribution};
use tamma_bench_privacy::{InternalContext, Repository};

#[test]
fn the_documented_table_is_the_table_in_code() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/privacy-model.md"
    ))
    .unwrap();
    let start = doc.find("<!-- classification:begin -->").unwrap();
    let end = doc.find("<!-- classification:end -->").unwrap();
    let rows: Vec<(String, String, Class)> = doc[start..end]
        .lines()
        .filter(|l| l.starts_with('|') && !l.contains("---") && !l.contains("| record |"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let class = Class::parse(cells[2]).unwrap_or_else(|| panic!("class in {l}"));
            (
                cells[0].to_owned(),
                cells[1].trim_matches('`').to_owned(),
                class,
            )
        })
        .collect();
    let code: Vec<(String, String, Class)> = CLASSIFICATION
        .iter()
        .map(|(r, f, c)| (r.to_string(), f.to_string(), *c))
        .collect();
    assert_eq!(
        rows, code,
        "docs/privacy-model.md and CLASSIFICATION differ"
    );
}

/// Every leaf path of `v` (`a.b.c`; arrays are looked through).
fn paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                paths(x, &p, out);
            }
        }
        Value::Array(xs) => xs.iter().for_each(|x| paths(x, prefix, out)),
        _ if !prefix.is_empty() => out.push(prefix.to_owned()),
        _ => {}
    }
}

fn check(record: &str, v: &Value, max: Class) {
    let mut ps = Vec::new();
    paths(v, "", &mut ps);
    assert!(!ps.is_empty(), "{record}: nothing serialized");
    for p in ps {
        assert!(
            is_classified(record, &p),
            "{record}.{p} is not in the classification table"
        );
        let c = class_of(record, &p);
        assert!(
            c <= max,
            "{record}.{p} is {c:?}, above {max:?} for this view"
        );
    }
}

#[tokio::test]
async fn every_field_of_every_record_and_view_is_classified_and_external_views_stay_low() {
    let store = Arc::new(MemoryStore::new());
    let repo = Repository::new(store.clone()).unwrap();
    let t = TenantId::new("owner").unwrap();
    let r = run("r1", &t, Visibility::Public, &["a0"]);
    store_run(&store, &r, 4).await;
    let json = |x: &dyn erased::Ser| x.to_value();
    // Stored records, whole.
    check("Run", &json(&r), Class::Restricted);
    for a in &r.agents {
        check("AgentConfig", &json(a), Class::Restricted);
    }
    for case in 0..4 {
        check(
            "Trial",
            &json(&support::trial(&r, "a0", case)),
            Class::Restricted,
        );
    }
    // External views: public and, for the owner, sensitive fields only.
    let ext = TenantContext::external(t.clone(), Tier::Free, "u");
    for v in repo.runs(&ext).await.unwrap() {
        check("RunView", &json(&v), Class::Public);
    }
    for v in repo.results(&ext, "r1").await.unwrap() {
        check("PublicResult", &json(&v), Class::Public);
    }
    let trials: Vec<_> = repo
        .trials(&ext, "r1")
        .await
        .unwrap()
        .stream()
        .try_collect()
        .await
        .unwrap();
    for v in &trials {
        check("PublicTrial", &json(v), Class::Sensitive);
    }
    let table = AggregateTable::build(
        "rel",
        &[Contribution {
            row: "m".into(),
            column: "b".into(),
            tenant: t.clone(),
            score: 0.5,
        }],
    );
    check("AggregateTable", &json(&table), Class::Public);
    // Internal views.
    let icx = InternalContext::new(TenantContext::internal(t, "svc")).unwrap();
    for v in repo.internal_results(&icx, "r1").await.unwrap() {
        check("InternalResult", &json(&v), Class::Restricted);
    }
}

/// Serialization to a JSON value through a trait object.
mod erased {
    pub trait Ser {
        fn to_value(&self) -> serde_json::Value;
    }
    impl<T: serde::Serialize> Ser for T {
        fn to_value(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap()
        }
    }
}
