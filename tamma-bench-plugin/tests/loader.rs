//! The loader against real libraries: the fixture and example plugins are built as
//! `cdylib`s and loaded with the real loader.

#![allow(clippy::unwrap_used)]

use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tamma_bench_core::provider::{Provider, ProviderErrorKind as K};
use tamma_bench_plugin::host::{LoadError, PluginDirs, PluginLibrary, PluginProvider};
use tamma_bench_plugin::{PluginKind, Protocol};
use tamma_bench_testkit::plugins;
use tamma_bench_testkit::providers::{call_context as cx, request};

fn behaviours() -> PluginProvider {
    PluginLibrary::open(plugins::library("tamma-bench-plugin-behaviours"))
        .unwrap()
        .provider(&json!({}))
        .unwrap()
}

async fn stats(p: &PluginProvider) -> serde_json::Value {
    let c = p.complete(&request("stats"), &cx()).await.unwrap();
    serde_json::from_str(&c.text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_round_trips_through_the_library() {
    let library = PluginLibrary::open(plugins::library("tamma-bench-plugin-behaviours")).unwrap();
    assert_eq!(library.manifest().id, "behaviours");
    assert_eq!(library.manifest().kind, PluginKind::Provider);
    let p = library.provider(&json!({})).unwrap();
    assert_eq!(p.name(), "behaviours");
    let text = "Grüße, 世界 \"quoted\"\n";
    let c = p
        .complete(&request(&format!("echo:{text}")), &cx())
        .await
        .unwrap();
    assert_eq!(c.text, text);
    let e = p.complete(&request("nonsense"), &cx()).await.unwrap_err();
    assert_eq!(
        e.kind(),
        K::InvalidRequest,
        "the plugin's own error kind crosses"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_concurrent_calls_all_answer_their_own_request() {
    let p = Arc::new(behaviours());
    let calls = (0..64).map(|i| {
        let p = p.clone();
        tokio::spawn(async move {
            let c = p
                .complete(&request(&format!("echo:{i}")), &cx())
                .await
                .unwrap();
            assert_eq!(c.text, i.to_string());
        })
    });
    let started = Instant::now();
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap();
    }
    // And they overlap: 64 sleeps of 200 ms take far less than 64 × 200 ms.
    let sleeps = (0..64).map(|_| {
        let p = p.clone();
        tokio::spawn(async move { p.complete(&request("sleep:200"), &cx()).await.unwrap() })
    });
    for call in sleeps.collect::<Vec<_>>() {
        assert_eq!(call.await.unwrap().text, "slept");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_future_cancels_the_call_in_the_plugin() {
    let p = behaviours();
    let before = stats(&p).await["cancelled"].as_u64().unwrap();
    let dropped = tokio::time::timeout(
        Duration::from_millis(100),
        p.complete(&request("sleep:60000"), &cx()),
    )
    .await;
    assert!(dropped.is_err(), "still sleeping when dropped");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let cancelled = stats(&p).await["cancelled"].as_u64().unwrap();
        if cancelled > before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the plugin never saw the cancellation"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_plugin_is_a_typed_error_and_the_host_goes_on() {
    let p = behaviours();
    let e = p.complete(&request("panic"), &cx()).await.unwrap_err();
    assert_eq!(e.kind(), K::Plugin, "{e}");
    assert!(
        e.message().contains("panicked") && e.message().contains("asked to panic"),
        "{e}"
    );
    let c = p
        .complete(&request("echo:still here"), &cx())
        .await
        .unwrap();
    assert_eq!(c.text, "still here");
    // A panic while starting is a refusal of the configuration, not a crash.
    let library = PluginLibrary::open(plugins::library("tamma-bench-plugin-behaviours")).unwrap();
    let e = library.provider(&json!({"panic": true})).unwrap_err();
    assert!(matches!(e, LoadError::Config { .. }), "{e}");
    assert!(
        e.to_string().contains("asked to panic while starting"),
        "{e}"
    );
    let e = library.provider(&json!({"fail": true})).unwrap_err();
    assert!(e.to_string().contains("asked to fail"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_plugin_is_cut_off_by_the_host_timeout_and_cancelled() {
    let p = behaviours().with_timeout(Duration::from_millis(300));
    let before = stats(&p).await["cancelled"].as_u64().unwrap();
    let started = Instant::now();
    let e = p.complete(&request("hang"), &cx()).await.unwrap_err();
    assert_eq!(e.kind(), K::Timeout, "{e}");
    assert!(e.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(3));
    let deadline = Instant::now() + Duration::from_secs(5);
    while stats(&p).await["cancelled"].as_u64().unwrap() <= before {
        assert!(
            Instant::now() < deadline,
            "the hung call was never cancelled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn an_incompatible_library_is_refused_naming_both_versions() {
    let path = plugins::library("tamma-bench-plugin-incompatible");
    let e = PluginLibrary::open(&path).unwrap_err();
    match &e {
        LoadError::ProtocolMismatch { plugin, host, .. } => {
            assert_eq!(*plugin, Protocol { major: 2, minor: 0 });
            assert_eq!(*host, tamma_bench_plugin::PROTOCOL);
        }
        other => panic!("expected a protocol mismatch, got {other}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("protocol 2.0") && text.contains("protocol 1.1"),
        "{text}"
    );
    assert!(text.contains("from-the-future"), "{text}");
}

#[test]
fn a_library_of_another_abi_major_is_refused_naming_both_versions() {
    let path = plugins::library_with_features("tamma-bench-plugin-incompatible", "abi-v2");
    let e = PluginLibrary::open(&path).unwrap_err();
    match &e {
        LoadError::AbiMismatch { plugin, host, .. } => {
            assert_eq!(plugin, "v2");
            assert_eq!(host, "v1");
        }
        other => panic!("expected an ABI mismatch, got {other}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("speaks plugin ABI v2") && text.contains("this host speaks ABI v1"),
        "{text}"
    );
    assert!(text.contains(&path.display().to_string()), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_of_an_older_protocol_minor_loads_and_streams_one_delta() {
    use std::sync::Mutex;
    use tamma_bench_plugin::core::provider::Provider;
    let path = plugins::library_with_features("tamma-bench-plugin-incompatible", "protocol-1-0");
    let library = PluginLibrary::open(&path).unwrap();
    assert_eq!(library.manifest().protocol.to_string(), "1.0");
    let provider = library.provider(&serde_json::json!({})).unwrap();
    let deltas = Mutex::new(Vec::<String>::new());
    let completion = provider
        .complete_streaming(&request("hello"), &cx(), &|d: &str| {
            deltas.lock().unwrap().push(d.to_owned())
        })
        .await
        .unwrap();
    assert_eq!(completion.text, "older");
    assert_eq!(*deltas.lock().unwrap(), vec!["older".to_owned()]);
}

#[test]
fn a_provider_plugin_reports_the_capabilities_its_manifest_names() {
    use tamma_bench_core::provider::{Capabilities, Capability};
    let openai = PluginLibrary::open(plugins::library("tamma-bench-plugin-openai")).unwrap();
    let config = serde_json::json!({"base_url": "http://127.0.0.1:9/v1"});
    let caps = openai.provider(&config).unwrap().capabilities();
    let expected = Capabilities::default()
        .with(Capability::Tools)
        .with(Capability::Usage)
        .with(Capability::Seed);
    assert_eq!(
        caps, expected,
        "`json_output` is no capability and is ignored"
    );
    assert!(behaviours().capabilities().streaming);
    // A plugin of protocol 1.0 has no streaming operation, whatever it claims.
    let path = plugins::library_with_features("tamma-bench-plugin-incompatible", "protocol-1-0");
    let older = PluginLibrary::open(&path).unwrap();
    assert_eq!(older.manifest().features, ["streaming"]);
    assert_eq!(older.provider_capabilities(), Capabilities::default());
}

#[test]
fn a_configuration_that_does_not_fit_the_plugins_schema_is_refused_naming_the_field() {
    let library = PluginLibrary::open(plugins::library("tamma-bench-plugin-openai")).unwrap();
    let refusal = |config: serde_json::Value| match library.provider(&config) {
        Err(e @ LoadError::Config { .. }) => e.to_string(),
        Err(other) => panic!("expected a configuration refusal, got {other}"),
        Ok(_) => panic!("{config} was accepted"),
    };
    let text = refusal(serde_json::json!({"base_url": "https://api.example/v1"}));
    assert!(
        text.contains("openai-compatible") && text.contains("field `base_url`"),
        "{text}"
    );
    let text =
        refusal(serde_json::json!({"base_url": "http://127.0.0.1:1/v1", "timeout_ms": "soon"}));
    assert!(text.contains("field `timeout_ms`"), "{text}");
    let text = refusal(serde_json::json!({"model": "m"}));
    assert!(text.contains("base_url"), "{text}");
    // A fitting configuration (with the agent's other fields) is accepted.
    library
        .provider(&serde_json::json!({"base_url": "http://127.0.0.1:1/v1", "model": "m"}))
        .unwrap();
}

#[test]
fn a_library_with_a_short_table_is_refused_naming_both_sizes() {
    use tamma_bench_plugin::ffi::PluginV1;
    let path = plugins::library_with_features("tamma-bench-plugin-incompatible", "short-table");
    let e = PluginLibrary::open(&path).unwrap_err();
    let short = std::mem::offset_of!(PluginV1, destroy);
    match &e {
        LoadError::AbiMismatch { plugin, host, .. } => {
            assert_eq!(*plugin, format!("v1 with a table of {short} bytes"));
            assert_eq!(
                *host,
                format!(
                    "v1.{} with a table of at least {} bytes",
                    tamma_bench_plugin::ffi::ABI_MINOR,
                    PluginV1::MIN_SIZE
                )
            );
        }
        other => panic!("expected an ABI mismatch, got {other}"),
    }
    let text = e.to_string();
    assert!(
        text.contains(&format!("table of {short} bytes"))
            && text.contains(&format!("at least {} bytes", PluginV1::MIN_SIZE)),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugins_are_found_by_id_in_a_directory() {
    let path = plugins::library("tamma-bench-plugin-arith");
    let dirs = PluginDirs::new([path.parent().unwrap().to_owned()]);
    let arith = dirs.find("arith").unwrap();
    assert_eq!(arith.manifest().kind, PluginKind::BenchmarkSource);
    let cases = arith.cases(&json!({"seed": 3, "count": 5})).await.unwrap();
    assert_eq!(cases.len(), 5);
    let again = arith.cases(&json!({"seed": 3, "count": 5})).await.unwrap();
    assert_eq!(cases, again, "same seed, same cases");
    let e = arith.cases(&json!({"count": 0})).await.unwrap_err();
    assert!(e.to_string().contains("count"), "{e}");
    let e = arith.provider(&json!({})).unwrap_err();
    assert!(matches!(e, LoadError::WrongKind { .. }), "{e}");
    let e = dirs.find("nothing-here").unwrap_err();
    assert!(matches!(e, LoadError::NotFound { .. }), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scorer_plugin_scores_through_the_library() {
    use tamma_bench_core::model::Case;
    use tamma_bench_core::provider::Completion;
    use tamma_bench_core::scorer::Scorer;
    let library =
        PluginLibrary::open(plugins::library("tamma-bench-plugin-edit-similarity")).unwrap();
    assert_eq!(library.manifest().kind, PluginKind::Scorer);
    let scorer = library.scorer(&json!({"ignore_case": true})).unwrap();
    let case: Case =
        serde_json::from_value(json!({"id": "c", "input": "?", "target": ["Paris", "Rome"]}))
            .unwrap();
    let score = |text: &str| Completion {
        text: text.into(),
        ..Default::default()
    };
    assert_eq!(
        scorer.score(&case, &score(" paris ")).await.unwrap().value,
        1.0
    );
    let close = scorer.score(&case, &score("Pariss")).await.unwrap();
    assert!((close.value - 5.0 / 6.0).abs() < 1e-9, "{close:?}");
    assert_eq!(close.scorer, "edit-similarity");
    let e = library.scorer(&json!({"nonsense": 1})).unwrap_err();
    assert!(e.to_string().contains("nonsense"), "{e}");
}

/// A streaming call's deltas, collected in order, and its result.
async fn streamed(
    p: &PluginProvider,
    said: &str,
) -> (
    Vec<String>,
    Result<tamma_bench_core::provider::Completion, tamma_bench_core::provider::ProviderError>,
) {
    let deltas = std::sync::Mutex::new(Vec::new());
    let on_delta = |d: &str| deltas.lock().unwrap().push(d.to_owned());
    let result = p.complete_streaming(&request(said), &cx(), &on_delta).await;
    (deltas.into_inner().unwrap(), result)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_deltas_arrive_in_order_and_make_up_the_text() {
    let p = behaviours();
    let (deltas, c) = streamed(&p, "stream:Grüße, |世界|!").await;
    assert_eq!(deltas, ["Grüße, ", "世界", "!"]);
    assert_eq!(c.unwrap().text, deltas.concat());
    // They arrive while the call runs, not all at its end.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let on_delta = move |d: &str| {
        let _ = tx.send((d.to_owned(), Instant::now()));
    };
    let finished = p
        .complete_streaming(&request("stream:a|b|c"), &cx(), &on_delta)
        .await
        .map(|_| Instant::now())
        .unwrap();
    let (first, at) = rx.recv().await.unwrap();
    assert_eq!(first, "a");
    assert!(
        finished - at >= Duration::from_millis(20),
        "{:?}",
        finished - at
    );
    // A behaviour that does not stream answers in one delta; errors still cross.
    let (deltas, c) = streamed(&p, "echo:whole").await;
    assert_eq!(deltas, ["whole"]);
    assert_eq!(c.unwrap().text, "whole");
    let (deltas, e) = streamed(&p, "nonsense").await;
    assert!(deltas.is_empty());
    assert_eq!(e.unwrap_err().kind(), K::InvalidRequest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_does_not_stream_sends_one_delta_by_the_default() {
    let library = PluginLibrary::open(plugins::library("tamma-bench-plugin-behaviours")).unwrap();
    let p = library.provider(&json!({"streaming": false})).unwrap();
    let (deltas, c) = streamed(&p, "stream:a|b|c").await;
    assert_eq!(deltas, ["abc"], "the whole text at once");
    assert_eq!(c.unwrap().text, "abc");
    let (deltas, c) = streamed(&p, "echo:").await;
    assert!(deltas.is_empty(), "an empty text sends none");
    assert_eq!(c.unwrap().text, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_streaming_call_mid_stream_cancels_it_in_the_plugin() {
    let p = behaviours();
    let before = stats(&p).await["cancelled"].as_u64().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let on_delta = move |d: &str| {
        let _ = tx.send(d.to_owned());
    };
    let (request, cx) = (request("stream-hang:a|b"), cx());
    let mut call = Box::pin(p.complete_streaming(&request, &cx, &on_delta));
    let mut got = Vec::new();
    while got.len() < 2 {
        tokio::select! {
            delta = rx.recv() => got.push(delta.unwrap()),
            ended = &mut call => panic!("the call ended: {ended:?}"),
        }
    }
    assert_eq!(got, ["a", "b"]);
    drop(call);
    let deadline = Instant::now() + Duration::from_secs(5);
    while stats(&p).await["cancelled"].as_u64().unwrap() <= before {
        assert!(
            Instant::now() < deadline,
            "the plugin never saw the cancellation"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streaming_call_is_cut_off_by_the_host_timeout_after_its_deltas() {
    let p = behaviours().with_timeout(Duration::from_millis(300));
    let before = stats(&p).await["cancelled"].as_u64().unwrap();
    let (deltas, e) = streamed(&p, "stream-hang:a").await;
    assert_eq!(deltas, ["a"]);
    assert_eq!(e.unwrap_err().kind(), K::Timeout);
    let deadline = Instant::now() + Duration::from_secs(5);
    while stats(&p).await["cancelled"].as_u64().unwrap() <= before {
        assert!(
            Instant::now() < deadline,
            "the timed-out call was never cancelled"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
