//! Properties that hold for every input.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use proptest::prelude::*;
use std::sync::Arc;
use tamma_bench_core::model::{Case, CaseInput, Target};
use tamma_bench_core::scorer::{Normalization, normalize};
use tamma_bench_core::stats::wilson;
use tamma_bench_core::store::{MemoryStore, ResultStore};
use tamma_bench_testkit::conformance::store::{run, trial};

proptest! {
    #[test]
    fn normalization_is_idempotent(s in ".{0,40}") {
        let all = [Normalization::Trim, Normalization::Case, Normalization::Whitespace, Normalization::Punctuation];
        let once = normalize(&s, &all);
        prop_assert_eq!(normalize(&once, &all), once);
    }

    #[test]
    fn wilson_intervals_are_proper_and_contain_the_estimate(n in 1u64..5000, frac in 0.0f64..=1.0) {
        let x = (frac * n as f64).round() as u64;
        let (lo, hi) = wilson(x, n, 0.95);
        let p = x as f64 / n as f64;
        prop_assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
        prop_assert!(lo <= p + 1e-12 && p <= hi + 1e-12);
    }

    #[test]
    fn case_ids_are_stable_and_distinguish_content(a in ".{0,20}", b in ".{0,20}") {
        let case = |input: &str| Case { id: String::new(), input: CaseInput::Text(input.into()), target: Target::One("t".into()), tags: vec![], cluster: None, metadata: Default::default() };
        prop_assert_eq!(case(&a).content_id(), case(&a).content_id());
        if a != b {
            prop_assert_ne!(case(&a).content_id(), case(&b).content_id());
        }
    }

    #[test]
    fn any_sequence_of_appends_stores_each_key_once(batches in prop::collection::vec(prop::collection::vec(0usize..40, 0..30), 1..8)) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            let store = Arc::new(MemoryStore::new());
            let r = run("r", "t");
            store.begin_run(&r).await.unwrap();
            let mut inserted = 0;
            for b in &batches {
                inserted += store.append_trials(b.iter().map(|c| trial(&r, *c, 0)).collect()).await.unwrap().inserted;
            }
            let distinct: std::collections::HashSet<_> = batches.iter().flatten().collect();
            assert_eq!(inserted as usize, distinct.len());
            assert_eq!(store.completed_keys(&r.tenant_id, "r").await.unwrap().len(), distinct.len());
        });
    }
}
