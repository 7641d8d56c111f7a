//! A running service for tests: real listeners on 127.0.0.1:0, a real SQLite file (results,
//! audit log, queue and event log in it), JWK Set files of the checked-in test keys, and
//! tokens signed with them.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use tamma_bench::core::model::{
    AgentConfig, Outcome, Run, RunStatus, Score, TenantContext, TenantId, Tier, Trial, TrialKey,
    Visibility,
};
use tamma_bench::core::provider::Usage;
use tamma_bench::core::queue::QueueConfig;
use tamma_bench::core::store::ResultStore;
use tamma_bench::database::{Database, Opened};
use tamma_bench_server::config::DoorAuth;
use tamma_bench_server::{AppState, ServerConfig, Serving, serve};
use tokio_util::sync::CancellationToken;

pub const ISSUER: &str = "https://auth.test/";
pub const PUBLIC_AUD: &str = "tamma-bench-api";
pub const INTERNAL_AUD: &str = "tamma-bench-internal";

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");

/// A test key: its kid and algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    UserA,
    UserB,
    UserRsa,
    Service,
}

impl Key {
    pub fn kid(self) -> &'static str {
        match self {
            Self::UserA => "user-a",
            Self::UserB => "user-b",
            Self::UserRsa => "user-rsa",
            Self::Service => "service",
        }
    }

    pub fn encoding(self) -> (EncodingKey, Algorithm) {
        let read = |name: &str| std::fs::read(Path::new(KEYS).join(name)).unwrap();
        match self {
            Self::UserRsa => (
                EncodingKey::from_rsa_pem(&read("user-rsa.pem")).unwrap(),
                Algorithm::RS256,
            ),
            k => (
                EncodingKey::from_ed_pem(&read(&format!("{}-ed25519.pem", k.kid()))).unwrap(),
                Algorithm::EdDSA,
            ),
        }
    }
}

/// A JWK Set document of the public halves of `keys`.
pub fn jwks(keys: &[Key]) -> String {
    let all: Value =
        serde_json::from_slice(&std::fs::read(Path::new(KEYS).join("public-jwks.json")).unwrap())
            .unwrap();
    let picked: Vec<Value> = all["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| keys.iter().any(|key| k["kid"] == key.kid()))
        .cloned()
        .collect();
    json!({ "keys": picked }).to_string()
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token signed with `key`, with `claims` as they are.
pub fn sign(key: Key, claims: &Value) -> String {
    let (encoding, alg) = key.encoding();
    let mut header = Header::new(alg);
    header.kid = Some(key.kid().into());
    jsonwebtoken::encode(&header, claims, &encoding).unwrap()
}

/// A customer's token for `tenant` on `tier` (`free` or `premium`).
pub fn user_claims(tenant: &str, tier: &str) -> Value {
    json!({"sub": format!("user-of-{tenant}"), "tenant": tenant, "tier": tier,
           "iss": ISSUER, "aud": PUBLIC_AUD, "exp": now() + 600, "nbf": now() - 10})
}

pub fn user_token(tenant: &str, tier: &str) -> String {
    sign(Key::UserA, &user_claims(tenant, tier))
}

/// A service token for `tenant`.
pub fn service_claims(tenant: &str, service: &str) -> Value {
    json!({"sub": service, "tenant": tenant,
           "iss": ISSUER, "aud": INTERNAL_AUD, "exp": now() + 600})
}

pub fn service_token(tenant: &str) -> String {
    sign(Key::Service, &service_claims(tenant, "optimizer"))
}

/// A running service.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub public_jwks: PathBuf,
    pub public: String,
    pub internal: String,
    pub client: reqwest::Client,
    pub opened: Opened,
    pub state: AppState,
    shutdown: CancellationToken,
    serving: Option<Serving>,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// With the default test configuration changed by `edit`.
    pub async fn start_with(edit: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("results.db");
        let opened = Database::Sqlite(db.clone()).open(true).await.unwrap();
        Self::start_on(dir, db, opened, edit).await
    }

    /// Over an opened database.
    pub async fn start_on(
        dir: tempfile::TempDir,
        db: PathBuf,
        opened: Opened,
        edit: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        let public_jwks = dir.path().join("public-jwks.json");
        let internal_jwks = dir.path().join("internal-jwks.json");
        std::fs::write(&public_jwks, jwks(&[Key::UserA, Key::UserRsa])).unwrap();
        std::fs::write(&internal_jwks, jwks(&[Key::Service])).unwrap();
        let mut config = ServerConfig {
            public_addr: "127.0.0.1:0".parse().unwrap(),
            internal_addr: "127.0.0.1:0".parse().unwrap(),
            ..ServerConfig::default()
        };
        config.auth.public = DoorAuth {
            jwks: public_jwks.clone(),
            issuer: ISSUER.into(),
            audience: PUBLIC_AUD.into(),
        };
        config.auth.internal = DoorAuth {
            jwks: internal_jwks,
            issuer: ISSUER.into(),
            audience: INTERNAL_AUD.into(),
        };
        config.auth.leeway_secs = 5;
        config.auth.reload_interval_ms = 100;
        edit(&mut config);
        let state = AppState::open(&opened, QueueConfig::default(), &config)
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        let serving = serve(state.clone(), shutdown.clone()).await.unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self {
            public: format!("http://{}/api/v1", serving.public_addr),
            internal: format!("http://{}/internal/v1", serving.internal_addr),
            client: reqwest::Client::new(),
            dir,
            db,
            public_jwks,
            opened,
            state,
            shutdown,
            serving: Some(serving),
        }
    }

    /// GET `url` with `token`.
    pub async fn get(&self, url: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.client.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// POST JSON `body` to `url` with `token`.
    pub async fn post(&self, url: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Stops the service and waits for the listeners.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(s) = self.serving.take() {
            s.wait().await.unwrap();
        }
    }

    /// Stores a completed run `id` of `tenant` with `n` trials (one agent, one epoch),
    /// through the repository as that tenant.
    pub async fn seed_run(&self, tenant: &str, id: &str, visibility: Visibility, n: u32) -> Run {
        let cx = TenantContext::external(TenantId::new(tenant).unwrap(), Tier::Premium, "seeder");
        let store = self.state.repository().store_for(&cx);
        seed(&store, &cx, id, visibility, n).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Writes a completed run through `store` (a tenant's view of the repository).
pub async fn seed(
    store: &dyn ResultStore,
    cx: &TenantContext,
    id: &str,
    visibility: Visibility,
    n: u32,
) -> Run {
    let mut agent = AgentConfig::new("agent-1", "openai", "gpt-x");
    agent.api_key_env = Some("SECRET_KEY_VAR".into());
    agent.price_per_mtok_input = Some(2.0);
    let run = Run {
        id: id.into(),
        tenant_id: cx.tenant_id.clone(),
        benchmark_id: format!("bench-{}", &id[..id.find('-').unwrap_or(id.len())]),
        benchmark_version: "1".into(),
        visibility,
        fingerprint: format!("fp-{id}"),
        agents: vec![agent],
        epochs: 1,
        n_cases: u64::from(n),
        status: RunStatus::Running,
        created_at_ms: 1_700_000_000_000,
        updated_at_ms: 1_700_000_000_000,
    };
    store.begin_run(&run).await.unwrap();
    let mut batch = Vec::new();
    for case in 0..n {
        batch.push(Trial {
            run_id: id.into(),
            tenant_id: cx.tenant_id.clone(),
            key: TrialKey::new("agent-1", format!("case-{case:06}"), 0),
            cluster: None,
            tags: vec!["t".into()],
            outcome: Outcome::Scored {
                scores: vec![Score {
                    scorer: "exact".into(),
                    value: f64::from(case % 2),
                    answer: Some(format!("answer {case}")),
                    explanation: None,
                    uncertain: false,
                }],
            },
            output: Some(format!("output {case}")),
            usage: Usage {
                input_tokens: 10,
                output_tokens: 2,
            },
            latency_ms: 5.0,
            cost_usd: 0.01,
            attempts: 1,
            cache_hit: false,
            finished_at_ms: 1_700_000_000_000,
        });
        if batch.len() == 5_000 {
            store
                .append_trials(std::mem::take(&mut batch))
                .await
                .unwrap();
        }
    }
    if !batch.is_empty() {
        store.append_trials(batch).await.unwrap();
    }
    store
        .set_run_status(&cx.tenant_id, id, RunStatus::Completed)
        .await
        .unwrap();
    Run {
        status: RunStatus::Completed,
        ..run
    }
}
