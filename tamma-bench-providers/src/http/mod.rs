//! HTTP providers: [`OpenAiProvider`] (OpenAI-compatible chat completions: OpenAI, vLLM,
//! Ollama, llama.cpp, LM Studio, Together, Groq, OpenRouter), [`AnthropicProvider`]
//! (Messages API) and [`GeminiProvider`] (`generateContent`).
//!
//! Each vendor file holds only its wire format (a `Vendor`); `HttpProvider` holds the
//! glue they share (building from an agent, posting, mapping the reply), once.
//!
//! All three build their pooled HTTP/1.1 client the same way (rustls, platform roots, no
//! redirects) and share one mapping of failures onto
//! [`ProviderErrorKind`](tamma_bench_core::provider::ProviderErrorKind): 401/403 auth; 429 rate limited with the advertised wait; context length and content
//! filtering from the vendor's body; other 4xx invalid request; 5xx and 529 unavailable;
//! no answer in time timeout; connection failures transport; a 2xx body that is not the
//! vendor's documented shape decode.
//!
//! Keys are looked up by the name an agent's `api_key_env` gives (or its vendor's default
//! name) in a [`KeySource`](crate::KeySource): the process environment, or a tenant's
//! credentials. They travel only in a request header (never in a URL), print as
//! `<redacted>`, are zeroized when dropped, and are scrubbed from every error message. Dropping a call's future aborts its request.
//!
//! Multi-turn tool use travels in each vendor's own shape: an assistant message's
//! `tool_calls` as OpenAI `tool_calls`, Anthropic `tool_use` blocks or Gemini
//! `functionCall` parts, and a `tool` message answering a call (`tool_call_id`) as an
//! OpenAI `tool` message, an Anthropic `tool_result` block or a Gemini
//! `functionResponse` part. A `tool` message answering no call is sent as a user message.
//!
//! ```
//! use std::time::Duration;
//! use tamma_bench_core::provider::Provider;
//! use tamma_bench_providers::http::{HttpConfig, OpenAiProvider, SecretString};
//!
//! // A local llama.cpp / vLLM / Ollama server needs no key.
//! let local = OpenAiProvider::new(HttpConfig::new("http://127.0.0.1:8089/v1"))?;
//! assert_eq!(local.name(), "openai");
//!
//! // A key prints as `<redacted>`, wherever it ends up.
//! let config = HttpConfig::default()
//!     .with_api_key(SecretString::new("sk-example"))
//!     .with_timeout(Duration::from_secs(60));
//! let hosted = OpenAiProvider::new(config)?;
//! assert!(!format!("{hosted:?}").contains("sk-example"));
//! # Ok::<(), tamma_bench_providers::http::HttpConfigError>(())
//! ```

mod anthropic;
mod errors;
mod gemini;
mod openai;
mod secret;
#[cfg(test)]
mod tests;
mod wait;

pub use anthropic::AnthropicProvider;
pub use gemini::GeminiProvider;
pub use openai::OpenAiProvider;
pub use secret::{KeyError, SecretString};
pub(crate) use secret::{KeyLookup, key_from, process_env};

use crate::BuildError;
use errors::VendorError;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tamma_bench_core::error::Remedy;
use tamma_bench_core::model::AgentConfig;
use tamma_bench_core::provider::{Capabilities, Completion, CompletionRequest, ProviderError};

/// One vendor's wire format: everything an [`HttpProvider`] needs to know about it. Each
/// vendor file implements this and nothing else; the glue (building from an agent,
/// posting, mapping failures) lives once in [`HttpProvider`].
pub(crate) trait Vendor: std::fmt::Debug + Default + Send + Sync + Sized + 'static {
    /// The provider's name (`openai`, `anthropic`, `gemini`).
    const NAME: &'static str;
    /// The vendor's public endpoint, used when the configuration names none.
    const DEFAULT_BASE_URL: &'static str;
    /// Whether the API refuses every call without a key.
    const NEEDS_KEY: bool;
    /// The environment variable that holds the key by default.
    const KEY_VARIABLE: &'static str;
    /// Headers every request carries besides the key (an API version, say).
    const FIXED_HEADERS: &'static [(&'static str, &'static str)] = &[];
    /// The body sent.
    type Request<'a>: Serialize + Send + Sync;
    /// The body of a success reply.
    type Response: DeserializeOwned;

    /// The header that carries the key.
    const KEY_HEADER: HeaderName;

    /// The value of [`Self::KEY_HEADER`]: the key itself unless the vendor says otherwise.
    fn key_value(key: &SecretString) -> String {
        key.expose().to_owned()
    }
    /// Adapts the per-provider state to the endpoint it calls; nothing to adapt unless
    /// the vendor says otherwise.
    fn configure(&mut self, _endpoint: &Endpoint) {}
    /// The variable holding the key of `agent` when its `api_key_env` names none:
    /// [`Self::KEY_VARIABLE`] unless the vendor says otherwise.
    fn default_key_env(_agent: &AgentConfig) -> Option<&'static str> {
        Some(Self::KEY_VARIABLE)
    }
    /// What the vendor's API supports.
    fn capabilities() -> Capabilities;
    /// Where `request` is posted.
    fn url(&self, endpoint: &Endpoint, request: &CompletionRequest) -> Url;
    /// The body sent for `request`.
    fn request<'a>(
        &self,
        request: &'a CompletionRequest,
    ) -> Result<Self::Request<'a>, ProviderError>;
    /// What the body of a failure reply says.
    fn error(body: &[u8]) -> VendorError;
    /// The completion of a decoded success reply.
    fn completion(
        endpoint: &Endpoint,
        reply: &Reply,
        response: Self::Response,
    ) -> Result<Completion, ProviderError>;
}

/// A provider speaking vendor `V`'s API; each public provider type wraps one (see
/// [`vendor_provider`]).
#[derive(Debug)]
pub(crate) struct HttpProvider<V> {
    endpoint: Endpoint,
    vendor: V,
}

impl<V: Vendor> HttpProvider<V> {
    /// A provider for the server `config` describes (the vendor's public endpoint when it
    /// names none).
    pub(crate) fn new(config: HttpConfig) -> Result<Self, HttpConfigError> {
        if V::NEEDS_KEY && config.api_key.is_none() {
            return Err(HttpConfigError::MissingKey { vendor: V::NAME });
        }
        let endpoint = Endpoint::new(
            V::NAME,
            config,
            V::DEFAULT_BASE_URL,
            |key| (V::KEY_HEADER, V::key_value(key)),
            V::FIXED_HEADERS,
        )?;
        let mut vendor = V::default();
        vendor.configure(&endpoint);
        Ok(Self { endpoint, vendor })
    }

    /// The provider of `agent`, its keys looked up in `keys`: its `base_url`, and the key
    /// `api_key_env` names (or the vendor's default name).
    pub(crate) fn from_agent_with(
        agent: &AgentConfig,
        keys: KeyLookup<'_>,
    ) -> Result<Self, BuildError> {
        let config = config_from_agent(agent, V::default_key_env(agent), keys)?;
        Self::new(config).map_err(|e| build_error(agent, e))
    }

    /// The vendor's wire format and state.
    #[cfg(test)]
    pub(crate) fn vendor(&self) -> &V {
        &self.vendor
    }

    /// Posts `request` in the vendor's shape and maps the reply to a completion or an error.
    pub(crate) async fn complete(
        &self,
        request: &CompletionRequest,
    ) -> Result<Completion, ProviderError> {
        let url = self.vendor.url(&self.endpoint, request);
        let body = self.vendor.request(request)?;
        let reply = self.endpoint.post(url, &body).await?;
        if !reply.status.is_success() {
            return Err(self.endpoint.failure(&reply, V::error(&reply.body)));
        }
        let response: V::Response = self.endpoint.decode(&reply)?;
        V::completion(&self.endpoint, &reply, response)
    }
}

/// Declares a public provider type wrapping [`HttpProvider`] over a vendor: its
/// constructors `new` and `from_agent`, and its [`Provider`] implementation.
macro_rules! vendor_provider {
    ($(#[$doc:meta])* $name:ident, $vendor:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(pub(super) $crate::http::HttpProvider<$vendor>);

        impl $name {
            /// A provider for the server `config` describes (the vendor's public endpoint
            /// when it names none).
            pub fn new(
                config: $crate::http::HttpConfig,
            ) -> Result<Self, $crate::http::HttpConfigError> {
                $crate::http::HttpProvider::new(config).map(Self)
            }

            /// The provider of an agent of this kind: its `base_url`, and the key in the
            /// variable `api_key_env` names (the vendor's default variable when it names
            /// none, as the type describes).
            pub fn from_agent(
                agent: &::tamma_bench_core::model::AgentConfig,
            ) -> Result<Self, $crate::BuildError> {
                Self::from_agent_keys(agent, &$crate::KeySource::ProcessEnv)
            }

            /// The provider of an agent of this kind, its key looked up in `keys` by the
            /// name `api_key_env` gives (or the vendor's default name).
            pub fn from_agent_keys(
                agent: &::tamma_bench_core::model::AgentConfig,
                keys: &$crate::KeySource,
            ) -> Result<Self, $crate::BuildError> {
                Self::from_agent_with(agent, &|name: &str| keys.key(name))
            }

            pub(crate) fn from_agent_with(
                agent: &::tamma_bench_core::model::AgentConfig,
                keys: $crate::http::KeyLookup<'_>,
            ) -> Result<Self, $crate::BuildError> {
                $crate::http::HttpProvider::from_agent_with(agent, keys).map(Self)
            }
        }

        #[::async_trait::async_trait]
        impl ::tamma_bench_core::provider::Provider for $name {
            fn name(&self) -> &str {
                <$vendor as $crate::http::Vendor>::NAME
            }

            fn capabilities(&self) -> ::tamma_bench_core::provider::Capabilities {
                <$vendor as $crate::http::Vendor>::capabilities()
            }

            async fn complete(
                &self,
                request: &::tamma_bench_core::provider::CompletionRequest,
                _cx: &::tamma_bench_core::provider::CallContext,
            ) -> Result<
                ::tamma_bench_core::provider::Completion,
                ::tamma_bench_core::provider::ProviderError,
            > {
                self.0.complete(request).await
            }
        }
    };
}
use vendor_provider;

/// Where and how an HTTP provider connects.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Base URL of the API; the vendor's public endpoint when `None`.
    pub base_url: Option<String>,
    /// The API key, if the server needs one.
    pub api_key: Option<SecretString>,
    /// Limit of one request, from sending to the last byte of the answer.
    pub timeout: Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            base_url: None,
            api_key: None,
            timeout: Duration::from_secs(600),
        }
    }
}

impl HttpConfig {
    /// A configuration for the server at `base_url`, with no key.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self {
            base_url: Some(base_url.into()),
            ..Self::default()
        }
    }

    /// Sets the API key.
    pub fn with_api_key(mut self, key: SecretString) -> Self {
        self.api_key = Some(key);
        self
    }

    /// Sets the limit of one request.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Why an HTTP provider could not be built.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HttpConfigError {
    /// The base URL does not parse or is not `http(s)`.
    #[error("base URL {url:?}: {reason}")]
    BaseUrl {
        /// The URL given.
        url: String,
        /// Why it is unusable.
        reason: String,
    },
    /// The vendor needs a key and none was given.
    #[error("{vendor} needs an API key")]
    MissingKey {
        /// The vendor.
        vendor: &'static str,
    },
    /// The key holds characters an HTTP header cannot carry.
    #[error("the API key holds characters an HTTP header cannot carry")]
    InvalidKey,
    /// The HTTP client (TLS set-up) could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl HttpConfigError {
    /// What a caller can do: fix the URL or the key; give up when the HTTP client itself
    /// cannot be built.
    pub fn remedy(&self) -> Remedy {
        match self {
            Self::BaseUrl { .. } | Self::MissingKey { .. } | Self::InvalidKey => Remedy::FixInput,
            Self::Client(_) => Remedy::GiveUp,
        }
    }
}

/// One vendor API: its HTTP client, the base URL, the headers every request carries
/// (the key among them, marked sensitive) and the request limit.
pub(crate) struct Endpoint {
    vendor: &'static str,
    client: reqwest::Client,
    base: Url,
    headers: HeaderMap,
    key: Option<SecretString>,
    timeout: Duration,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("vendor", &self.vendor)
            .field("base_url", &self.base.as_str())
            .field("api_key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A complete response.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
    pub(crate) latency_ms: f64,
}

impl Endpoint {
    /// An endpoint of `vendor`. `auth` turns the key into its header (name, value).
    pub(crate) fn new(
        vendor: &'static str,
        config: HttpConfig,
        default_base: &str,
        auth: impl FnOnce(&SecretString) -> (HeaderName, String),
        fixed: &[(&'static str, &'static str)],
    ) -> Result<Self, HttpConfigError> {
        let raw = config.base_url.as_deref().unwrap_or(default_base);
        let base = Url::parse(raw.trim()).map_err(|e| HttpConfigError::BaseUrl {
            url: raw.to_owned(),
            reason: e.to_string(),
        })?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(HttpConfigError::BaseUrl {
                url: raw.to_owned(),
                reason: "expected an http:// or https:// URL".into(),
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in fixed {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        if let Some(key) = &config.api_key {
            let (name, value) = auth(key);
            let mut value =
                HeaderValue::from_str(&value).map_err(|_| HttpConfigError::InvalidKey)?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        Ok(Self {
            vendor,
            client: client()?,
            base,
            headers,
            key: config.api_key,
            timeout: config.timeout,
        })
    }

    /// The host of the base URL.
    pub(crate) fn host(&self) -> Option<&str> {
        self.base.host_str()
    }

    /// The base URL with `segments` appended (each percent-encoded as one segment).
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// POSTs `body` as JSON and reads the whole response. Dropping the future aborts the
    /// request and closes its connection.
    pub(crate) async fn post(
        &self,
        url: Url,
        body: &impl Serialize,
    ) -> Result<Reply, ProviderError> {
        let body = serde_json::to_vec(body).map_err(|e| {
            ProviderError::new(
                tamma_bench_core::provider::ProviderErrorKind::InvalidRequest,
                format!("{}: cannot encode the request: {e}", self.vendor),
            )
        })?;
        let started = Instant::now();
        let sent = self
            .client
            .post(url)
            .headers(self.headers.clone())
            .timeout(self.timeout)
            .body(body)
            .send()
            .await;
        let response = sent.map_err(|e| self.scrub(errors::transport(self.vendor, &e)))?;
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response
            .bytes()
            .await
            .map_err(|e| self.scrub(errors::transport(self.vendor, &e)))?;
        Ok(Reply {
            status,
            headers,
            body: body.to_vec(),
            latency_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// The error of a non-success reply, given what the vendor's body said.
    pub(crate) fn failure(&self, reply: &Reply, said: VendorError) -> ProviderError {
        self.scrub(errors::classify(
            self.vendor,
            reply.status,
            &reply.headers,
            said,
        ))
    }

    /// The body of a success reply as the vendor's documented shape.
    pub(crate) fn decode<T: DeserializeOwned>(&self, reply: &Reply) -> Result<T, ProviderError> {
        serde_json::from_slice(&reply.body)
            .map_err(|e| self.scrub(errors::decode(self.vendor, &e.to_string(), &reply.body)))
    }

    /// A decode error about a reply whose shape parsed but makes no sense.
    pub(crate) fn nonsense(&self, why: &str, reply: &Reply) -> ProviderError {
        self.scrub(errors::decode(self.vendor, why, &reply.body))
    }

    /// `error` with the key removed from its message, should a server have echoed it.
    pub(crate) fn scrub(&self, error: ProviderError) -> ProviderError {
        if let Some(key) = &self.key {
            let message = key.scrub(error.message().to_owned());
            return error.with_message(message);
        }
        error
    }
}

/// A new HTTP client: HTTP/1.1, rustls with the ring provider and the platform's roots
/// (set up once per process), pooled keep-alive connections, a connect timeout, and no
/// redirects (a redirect would carry the key header to another host). Each provider owns
/// one, so its connections live on the runtime that uses it.
fn client() -> Result<reqwest::Client, HttpConfigError> {
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls_config()?)
        .connect_timeout(Duration::from_secs(10))
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("tamma-bench/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| HttpConfigError::Client(e.to_string()))
}

/// The TLS set-up every client shares.
fn tls_config() -> Result<rustls::ClientConfig, HttpConfigError> {
    static TLS: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    TLS.get_or_init(|| {
        use rustls_platform_verifier::BuilderVerifierExt;
        let crypto = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(crypto)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_platform_verifier()
            .map_err(|e| e.to_string())?
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tls)
    })
    .clone()
    .map_err(HttpConfigError::Client)
}

/// The name of the key `agent` uses when its kind is an HTTP vendor's: its `api_key_env`,
/// else the vendor's default (none for an OpenAI-compatible server at a base URL of its
/// own). `None` for other kinds.
pub(crate) fn key_name(agent: &AgentConfig) -> Option<&str> {
    let default = match agent.provider.as_str() {
        "openai" => openai::OpenAi::default_key_env(agent),
        "anthropic" => anthropic::Anthropic::default_key_env(agent),
        "gemini" => gemini::Gemini::default_key_env(agent),
        _ => return None,
    };
    agent.api_key_env.as_deref().or(default)
}

/// The configuration of `agent`: its `base_url`, and its key looked up in `keys` by the
/// name `api_key_env` gives (or `default_key_env` when it names none; no key when both
/// are absent). A name without a key fails, naming it.
pub(crate) fn config_from_agent(
    agent: &AgentConfig,
    default_key_env: Option<&str>,
    keys: KeyLookup<'_>,
) -> Result<HttpConfig, BuildError> {
    let defaulted = agent.api_key_env.is_none();
    let api_key = agent
        .api_key_env
        .as_deref()
        .or(default_key_env)
        .map(keys)
        .transpose()
        .map_err(|e| BuildError::Invalid {
            agent: agent.name.clone(),
            field: "api_key_env",
            message: if defaulted {
                format!("{e} ({})", e.hint_for_default())
            } else {
                e.to_string()
            },
        })?;
    Ok(HttpConfig {
        base_url: agent.base_url.clone(),
        api_key,
        ..HttpConfig::default()
    })
}

/// `e` as a build error of `agent`, on the field it concerns.
pub(crate) fn build_error(agent: &AgentConfig, e: HttpConfigError) -> BuildError {
    let field = match e {
        HttpConfigError::BaseUrl { .. } => "base_url",
        HttpConfigError::MissingKey { .. } | HttpConfigError::InvalidKey => "api_key_env",
        _ => "provider",
    };
    BuildError::Invalid {
        agent: agent.name.clone(),
        field,
        message: e.to_string(),
    }
}
