//! A small world of tenants, runs and trials for the repository's tests.

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use tamma_bench_core::model::{
    AgentConfig, Outcome, Run, RunStatus, Score, TenantId, Trial, TrialKey, Visibility,
};
use tamma_bench_core::provider::{ProviderErrorKind, Usage};
use tamma_bench_core::store::{MemoryStore, ResultStore};

/// Values that exist only in internal or restricted fields: none may reach an external
/// caller.
pub fn internal_markers(run_id: &str) -> Vec<String> {
    vec![
        format!("SYSTEM-PROMPT-{run_id}"),
        format!("PROMPT-TEMPLATE-{run_id}"),
        format!("KEY_ENV_{run_id}"),
        format!("https://internal.example/{run_id}"),
        format!("FINGERPRINT-{run_id}"),
        format!("PROVIDER-MESSAGE-{run_id}"),
    ]
}

/// JSON keys of internal fields: none may appear in an external view.
pub const INTERNAL_KEYS: &[&str] = &[
    "\"agent_config\"",
    "\"cost\"",
    "\"cost_usd\"",
    "\"tokens\"",
    "\"usage\"",
    "\"attempts\"",
    "\"cache_hit\"",
    "\"n_cache_hits\"",
    "\"fingerprint\"",
    "\"system\"",
    "\"prompt\"",
    "\"api_key_env\"",
    "\"base_url\"",
    "\"price_per_mtok_input\"",
    "\"price_per_mtok_output\"",
    "\"temperature\"",
    "\"internal_metrics\"",
    "\"optimization\"",
    "\"tenant_id\"",
];

pub fn agent(name: &str, run_id: &str) -> AgentConfig {
    let mut a = AgentConfig::new(name, "openai", "gpt-x");
    a.system = Some(format!("SYSTEM-PROMPT-{run_id}"));
    a.prompt = Some(format!("PROMPT-TEMPLATE-{run_id}"));
    a.api_key_env = Some(format!("KEY_ENV_{run_id}"));
    a.base_url = Some(format!("https://internal.example/{run_id}"));
    a.temperature = Some(0.3);
    a.price_per_mtok_input = Some(2.5);
    a.price_per_mtok_output = Some(10.0);
    a
}

pub fn run(id: &str, tenant: &TenantId, visibility: Visibility, agents: &[&str]) -> Run {
    Run {
        id: id.into(),
        tenant_id: tenant.clone(),
        benchmark_id: "bench".into(),
        benchmark_version: "1".into(),
        visibility,
        fingerprint: format!("FINGERPRINT-{id}"),
        agents: agents.iter().map(|a| agent(a, id)).collect(),
        epochs: 1,
        n_cases: 4,
        status: RunStatus::Completed,
        created_at_ms: 1_700_000_000_000,
        updated_at_ms: 1_700_000_000_000,
    }
}

/// Trial `case` of `agent` in `run`: outcomes cycle through scored, infra failure and
/// scorer error; outputs carry a secret and the run's own id.
pub fn trial(run: &Run, agent: &str, case: u32) -> Trial {
    let outcome = match case % 4 {
        0 | 1 => Outcome::Scored {
            scores: vec![Score {
                scorer: "exact".into(),
                value: f64::from(case % 2),
                answer: Some(format!("answer of {}", run.id)),
                explanation: Some("mail me at ops@corp.example".into()),
                uncertain: false,
            }],
        },
        2 => Outcome::InfraFailure {
            error: ProviderErrorKind::Timeout,
            message: format!("PROVIDER-MESSAGE-{}", run.id),
        },
        _ => Outcome::ScorerError {
            scorer: "regex".into(),
            message: format!("PROVIDER-MESSAGE-{}", run.id),
        },
    };
    Trial {
        run_id: run.id.clone(),
        tenant_id: run.tenant_id.clone(),
        key: TrialKey::new(agent, format!("case-{case}"), 0),
        cluster: None,
        tags: vec!["t".into()],
        outcome,
        output: Some(format!(
            "output of {} with sk-ant-api03-SECRETSECRET123",
            run.id
        )),
        usage: Usage {
            input_tokens: 100,
            output_tokens: 10,
        },
        latency_ms: 12.0,
        cost_usd: 0.25,
        attempts: 2,
        cache_hit: true,
        finished_at_ms: 1_700_000_000_000,
    }
}

/// Stores `run` and its trials (directly: the fixture plays the executor).
pub async fn store_run(store: &Arc<MemoryStore>, run: &Run, n_cases: u32) {
    store.begin_run(run).await.unwrap();
    let trials = run
        .agents
        .iter()
        .flat_map(|a| (0..n_cases).map(move |c| trial(run, &a.name, c)))
        .collect();
    store.append_trials(trials).await.unwrap();
}
