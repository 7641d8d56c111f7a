//! Example provider plugin: an OpenAI-compatible chat-completions endpoint (vLLM,
//! llama.cpp's server, Ollama, LiteLLM, a local gateway) over plain HTTP/1.1.
//!
//! Its configuration is the agent's configuration as JSON (the host passes the whole
//! `[[agent]]` table): `base_url` (required, `http://...`), `api_key_env` (the name of
//! the environment variable holding the key; none: no key is sent), `timeout_ms`
//! (default 60,000). Errors map onto the provider error kinds as the in-tree OpenAI
//! provider maps them, so the provider conformance suite passes through the plugin.

mod chat;
mod http;

use serde::Deserialize;
use std::time::{Duration, Instant};
use tamma_bench_plugin::async_trait;
use tamma_bench_plugin::core::provider::{
    CallContext, Completion, CompletionRequest, Provider, ProviderError, ProviderErrorKind,
};
use tamma_bench_plugin::{Manifest, PluginError, tokio};

/// The configuration: the fields of an agent this plugin reads (others are ignored).
#[derive(Deserialize)]
struct Config {
    base_url: Option<String>,
    #[serde(default)]
    api_key_env: Option<String>,
    /// The key itself: for tests only; prefer `api_key_env`.
    #[serde(default)]
    api_key: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

/// The provider.
struct OpenAiCompatible {
    url: http::Url,
    key: Option<String>,
    timeout: Duration,
}

impl OpenAiCompatible {
    fn from_config(config: serde_json::Value) -> Result<Self, PluginError> {
        let config: Config =
            serde_json::from_value(config).map_err(|e| PluginError::config(e.to_string()))?;
        let base = config
            .base_url
            .ok_or("base_url: required (the server's http://host:port/v1)")?;
        let key =
            match (config.api_key, config.api_key_env) {
                (Some(key), _) => Some(key),
                (None, Some(var)) => Some(std::env::var(&var).map_err(|_| {
                    format!("api_key_env: the environment variable {var} is not set")
                })?),
                (None, None) => None,
            };
        Ok(Self {
            url: http::Url::parse(&base)?,
            key,
            timeout: Duration::from_millis(config.timeout_ms.unwrap_or(60_000)),
        })
    }

    /// `error` with the key removed, should a server have echoed it.
    fn scrub(&self, error: ProviderError) -> ProviderError {
        if let Some(key) = self.key.as_deref().filter(|k| !k.is_empty()) {
            let message = error.message().replace(key, "<redacted>");
            return error.with_message(message);
        }
        error
    }

    async fn call(&self, request: &CompletionRequest) -> Result<Completion, ProviderError> {
        let body = serde_json::to_vec(&chat::request_body(request))
            .map_err(|e| ProviderError::new(ProviderErrorKind::InvalidRequest, e.to_string()))?;
        let bearer = self.key.as_ref().map(|k| format!("Bearer {k}"));
        let headers: Vec<(&str, &str)> = bearer
            .as_deref()
            .map(|b| ("authorization", b))
            .into_iter()
            .collect();
        let started = Instant::now();
        let exchange = http::post(&self.url, "/chat/completions", &headers, &body);
        let response = match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => {
                return Err(ProviderError::new(
                    ProviderErrorKind::Timeout,
                    format!("openai: no answer within {:?}", self.timeout),
                ));
            }
            Ok(Err(e)) => {
                return Err(ProviderError::new(
                    ProviderErrorKind::Transport,
                    format!("openai: {} unreachable: {e}", self.url.authority),
                ));
            }
            Ok(Ok(response)) => response,
        };
        let latency_ms = started.elapsed().as_secs_f64() * 1e3;
        if !(200..300).contains(&response.status) {
            return Err(chat::failure(&response));
        }
        chat::completion(&response, latency_ms)
    }
}

#[async_trait]
impl Provider for OpenAiCompatible {
    fn name(&self) -> &str {
        "openai-compatible"
    }

    async fn complete(
        &self,
        request: &CompletionRequest,
        _cx: &CallContext,
    ) -> Result<Completion, ProviderError> {
        tamma_bench_plugin::tracing::debug!(model = %request.model, "chat completion");
        self.call(request).await.map_err(|e| self.scrub(e))
    }
}

tamma_bench_plugin::export_provider!(
    OpenAiCompatible::from_config,
    Manifest::provider("openai-compatible", env!("CARGO_PKG_VERSION"))
        .with_description("an OpenAI-compatible chat-completions endpoint over plain HTTP/1.1")
        .with_features(&["tools", "usage", "seed", "json_output"])
        .with_config_schema(serde_json::json!({
            "type": "object",
            "required": ["base_url"],
            "properties": {
                "base_url": {"type": "string", "pattern": "^http://",
                    "description": "the server's base URL, e.g. http://127.0.0.1:8000/v1"},
                "api_key_env": {"type": "string",
                    "description": "environment variable holding the API key"},
                "timeout_ms": {"type": "integer", "minimum": 1, "default": 60000}
            }
        }))
);
