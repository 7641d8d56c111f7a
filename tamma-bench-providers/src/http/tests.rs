//! Building HTTP providers from agent configurations.

use super::{AnthropicProvider, GeminiProvider, KeyError, OpenAiProvider, SecretString, key_from};
use crate::{BuildError, build_provider};
use std::path::Path;
use tamma_bench_core::model::AgentConfig;

const KEY: &str = "sk-test-0123456789abcdef";

fn agent(provider: &str) -> AgentConfig {
    AgentConfig::new("a", provider, "m")
}

fn env(name: &str) -> Option<String> {
    (name == "MY_KEY").then(|| KEY.to_owned())
}

fn keys(name: &str) -> Result<SecretString, KeyError> {
    key_from(name, &env)
}

/// Builds `agent` with [`env`] as the environment; `Debug` of the provider, or the error.
fn build(agent: &AgentConfig) -> Result<String, BuildError> {
    Ok(match agent.provider.as_str() {
        "openai" => format!("{:?}", OpenAiProvider::from_agent_with(agent, &keys)?),
        "anthropic" => format!("{:?}", AnthropicProvider::from_agent_with(agent, &keys)?),
        _ => format!("{:?}", GeminiProvider::from_agent_with(agent, &keys)?),
    })
}

#[test]
fn every_http_kind_builds_from_an_agent_with_its_base_url_and_a_redacted_key() {
    for kind in ["openai", "anthropic", "gemini"] {
        let mut a = agent(kind);
        a.api_key_env = Some("MY_KEY".into());
        a.base_url = Some("http://127.0.0.1:8089/v1".into());
        let debug = build(&a).expect(kind);
        assert!(debug.contains("http://127.0.0.1:8089/v1"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
        assert!(!debug.contains(KEY), "{kind} leaks its key: {debug}");
    }
}

#[test]
fn a_named_but_unset_key_variable_fails_naming_the_variable() {
    for kind in ["openai", "anthropic", "gemini"] {
        let mut a = agent(kind);
        a.api_key_env = Some("TAMMA_BENCH_UNSET_KEY".into());
        let e = build(&a).expect_err(kind).to_string();
        assert!(
            e.contains("api_key_env") && e.contains("TAMMA_BENCH_UNSET_KEY is not set"),
            "{e}"
        );
    }
}

#[test]
fn vendors_default_their_key_variable_but_a_local_openai_server_needs_none() {
    let e = build(&agent("anthropic")).expect_err("no key").to_string();
    assert!(e.contains("ANTHROPIC_API_KEY is not set"), "{e}");
    let e = build(&agent("gemini")).expect_err("no key").to_string();
    assert!(e.contains("GEMINI_API_KEY is not set"), "{e}");
    let e = build(&agent("openai")).expect_err("no key").to_string();
    assert!(e.contains("OPENAI_API_KEY is not set"), "{e}");
    let mut local = agent("openai");
    local.base_url = Some("http://127.0.0.1:8089/v1".into());
    let debug = build(&local).expect("a local server needs no key");
    assert!(debug.contains("api_key: None"), "{debug}");
}

#[test]
fn an_unusable_base_url_is_an_error_on_that_field() {
    let mut a = agent("openai");
    a.base_url = Some("localhost:8089".into());
    let e = build(&a).expect_err("no scheme").to_string();
    assert!(e.contains("field `base_url`"), "{e}");
    a.base_url = Some("not a url".into());
    assert!(build(&a).is_err());
}

#[test]
fn build_provider_knows_the_http_kinds() {
    // PATH is set wherever tests run: it stands in for a key variable.
    for kind in ["openai", "anthropic", "gemini"] {
        assert!(crate::KNOWN_PROVIDERS.contains(&kind));
        let mut a = agent(kind);
        a.api_key_env = Some("PATH".into());
        let p = build_provider(&a, Path::new(".")).expect(kind);
        assert_eq!(p.name(), kind);
    }
}

#[test]
fn urls_append_segments_to_the_base_path() {
    let endpoint = |base: &str| {
        let auth = |_: &super::SecretString| unreachable!("no key");
        super::Endpoint::new("v", super::HttpConfig::new(base), "", auth, &[]).expect("build")
    };
    let url = endpoint("http://h:1/v1/").url(&["chat", "completions"]);
    assert_eq!(url.as_str(), "http://h:1/v1/chat/completions");
    let url = endpoint("http://h:1").url(&["v1beta", "models", "gemini-2.0-flash:generateContent"]);
    assert_eq!(
        url.as_str(),
        "http://h:1/v1beta/models/gemini-2.0-flash:generateContent"
    );
}

#[tokio::test]
async fn openai_itself_gets_max_completion_tokens_and_compatible_servers_max_tokens() {
    use tamma_bench_core::model::{Message, Role};
    use tamma_bench_core::provider::{CompletionRequest, ResponseFormat};
    let request = CompletionRequest {
        model: "m".into(),
        messages: vec![Message::new(Role::User, "hi")],
        temperature: None,
        top_p: None,
        max_tokens: Some(5),
        seed: None,
        stop: vec![],
        tools: vec![],
        response_format: ResponseFormat::Text,
    };
    for (base, field) in [
        (super::openai::DEFAULT_BASE_URL, "max_completion_tokens"),
        ("http://127.0.0.1:8089/v1", "max_tokens"),
    ] {
        let p = OpenAiProvider::new(super::HttpConfig::new(base)).expect("build");
        let wire = p.0.vendor().wire(&request);
        let json = serde_json::to_value(&wire).expect("json");
        assert_eq!(json[field], 5, "{base}: {json}");
        assert_eq!(json.as_object().map(|o| o.len()), Some(3), "{json}");
    }
}

/// The agents-file entries the README shows (keep them in sync).
const README_AGENTS: &str = r#"
[[agent]]
name = "gpt-4.1-mini"
provider = "openai"
model = "gpt-4.1-mini"
api_key_env = "OPENAI_API_KEY"
temperature = 0.0
max_tokens = 256

[[agent]]
name = "claude-sonnet-4"
provider = "anthropic"
model = "claude-sonnet-4-20250514"
api_key_env = "ANTHROPIC_API_KEY"
temperature = 0.0
max_tokens = 256

[[agent]]
name = "gemini-2.0-flash"
provider = "gemini"
model = "gemini-2.0-flash"
api_key_env = "GEMINI_API_KEY"
temperature = 0.0
max_tokens = 256

[[agent]]
name = "smollm2-local"
provider = "openai"
model = "smollm2-135m-instruct"
base_url = "http://127.0.0.1:8089/v1"
temperature = 0.0
max_tokens = 64
"#;

#[test]
fn the_readme_agents_entries_load_and_build() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("agents.toml");
    std::fs::write(&path, README_AGENTS).expect("write");
    let loaded = tamma_bench_core::load::load_agents(&path).expect("the entries load");
    let keys = |name: &str| {
        key_from(name, &|n: &str| {
            n.ends_with("_API_KEY").then(|| KEY.to_owned())
        })
    };
    for a in &loaded.agents {
        let debug = match a.provider.as_str() {
            "openai" => format!("{:?}", OpenAiProvider::from_agent_with(a, &keys)),
            "anthropic" => format!("{:?}", AnthropicProvider::from_agent_with(a, &keys)),
            _ => format!("{:?}", GeminiProvider::from_agent_with(a, &keys)),
        };
        assert!(debug.starts_with("Ok("), "{}: {debug}", a.name);
    }
    assert_eq!(loaded.agents.len(), 4);
}

/// The error of building `a` with `keys`.
fn build_error(a: &AgentConfig, keys: &crate::KeySource) -> String {
    match crate::build_provider_with(a, Path::new("."), keys) {
        Ok(_) => panic!("{} built", a.name),
        Err(e) => e.to_string(),
    }
}

/// A variable every process environment has, and its value.
fn set_variable() -> (&'static str, String) {
    let value = std::env::var("PATH").expect("PATH is set");
    assert!(!value.is_empty());
    ("PATH", value)
}

#[test]
fn a_tenant_key_source_never_reads_the_environment() {
    let (variable, value) = set_variable();
    let tenant = crate::KeySource::Tenant(crate::TenantKeys::new());
    for kind in ["openai", "anthropic", "gemini"] {
        let mut a = agent(kind);
        a.api_key_env = Some(variable.into());
        a.base_url = Some("http://127.0.0.1:8089/v1".into());
        let e = build_error(&a, &tenant);
        assert!(
            e.contains("api_key_env") && e.contains("no credential PATH is stored for this tenant"),
            "{e}"
        );
        assert!(!e.contains(&value), "{kind} leaks the variable: {e}");
        // The environment source does read it.
        let built = crate::build_provider_with(&a, Path::new("."), &crate::KeySource::ProcessEnv);
        assert!(built.is_ok(), "{kind}");
    }
}

#[test]
fn a_tenant_key_source_resolves_default_names_to_credentials_only() {
    let mut keys = crate::TenantKeys::new();
    keys.insert("ANTHROPIC_API_KEY", SecretString::new(format!(" {KEY} ")));
    keys.insert("BLANK", SecretString::new("  "));
    let tenant = crate::KeySource::Tenant(keys);
    assert!(!format!("{tenant:?}").contains(KEY), "{tenant:?}");
    let debug = format!(
        "{:?}",
        AnthropicProvider::from_agent_keys(&agent("anthropic"), &tenant).expect("defaults")
    );
    assert!(!debug.contains(KEY), "{debug}");
    let e = build_error(&agent("gemini"), &tenant);
    assert!(
        e.contains("no credential GEMINI_API_KEY is stored for this tenant (store it, or name the credential"),
        "{e}"
    );
    let mut blank = agent("openai");
    blank.api_key_env = Some("BLANK".into());
    let e = build_error(&blank, &tenant);
    assert!(
        e.contains("credential BLANK of this tenant is empty"),
        "{e}"
    );
    assert_eq!(
        tenant.key("ANTHROPIC_API_KEY").expect("trimmed").expose(),
        KEY
    );
    assert!(!tenant.reads_process_env());
    assert!(crate::KeySource::ProcessEnv.reads_process_env());
}

#[test]
fn key_names_are_the_named_key_or_the_vendors_default() {
    use crate::key_name;
    assert_eq!(key_name(&agent("anthropic")), Some("ANTHROPIC_API_KEY"));
    assert_eq!(key_name(&agent("gemini")), Some("GEMINI_API_KEY"));
    assert_eq!(key_name(&agent("openai")), Some("OPENAI_API_KEY"));
    let mut local = agent("openai");
    local.base_url = Some("http://127.0.0.1:8089/v1".into());
    assert_eq!(
        key_name(&local),
        None,
        "a server of its own needs no default key"
    );
    local.api_key_env = Some("MY_KEY".into());
    assert_eq!(key_name(&local), Some("MY_KEY"));
    let mut replay = agent("replay");
    replay.api_key_env = Some("MY_KEY".into());
    assert_eq!(key_name(&replay), None);
    assert_eq!(key_name(&agent("plugin:x")), None);
}
