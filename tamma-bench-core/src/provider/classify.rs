//! From an HTTP status and what a vendor's error body says to a [`ProviderErrorKind`],
//! the same way for every vendor: the in-tree HTTP providers and provider plugins (which
//! link only this part of core) classify failures alike.

use super::ProviderErrorKind;

/// Phrases with which servers say the prompt does not fit the context window (OpenAI,
/// vLLM, llama.cpp, Ollama, Anthropic, Gemini).
const CONTEXT_PHRASES: [&str; 7] = [
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context window",
    "context size",
    "prompt is too long",
    "exceeds the maximum number of tokens",
];

/// Whether `message` says the prompt exceeds the context window.
pub fn says_context_length(message: &str) -> bool {
    let lower = message.to_lowercase();
    CONTEXT_PHRASES.iter().any(|p| lower.contains(p))
}

/// Whether a 429's `message` says the account's quota or credit is spent (OpenAI's
/// `insufficient_quota`, Anthropic's credit balance): retrying cannot help.
pub fn says_quota_exhausted(message: &str) -> bool {
    let lower = message.to_lowercase();
    ["insufficient_quota", "credit balance is too low"]
        .iter()
        .any(|p| lower.contains(p))
}

/// The kind of a non-success answer with HTTP `status`, given the kind the vendor's error
/// body hints at (context length, content filter, auth, quota) and its `message`.
///
/// Auth statuses win; a 429 is a rate limit unless the quota is spent; a body's context
/// length or content filter wins over the status; 408 is a timeout, 5xx (and 529) the
/// server being unavailable; otherwise the hint, else an invalid request.
pub fn kind_of_status(
    status: u16,
    hint: Option<ProviderErrorKind>,
    message: &str,
) -> ProviderErrorKind {
    use ProviderErrorKind as K;
    match (status, hint) {
        (401 | 403, _) => K::Auth,
        (429, hint) if hint == Some(K::QuotaExhausted) || says_quota_exhausted(message) => {
            K::QuotaExhausted
        }
        (429, _) => K::RateLimited,
        (_, Some(hint @ (K::ContextLength | K::ContentFilter))) => hint,
        (408, _) => K::Timeout,
        (500..=599, _) => K::Unavailable,
        (_, Some(hint)) => hint,
        _ => K::InvalidRequest,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProviderErrorKind as K;

    #[test]
    fn statuses_map_onto_kinds_with_body_hints() {
        assert_eq!(kind_of_status(401, None, ""), K::Auth);
        assert_eq!(kind_of_status(403, Some(K::ContextLength), ""), K::Auth);
        assert_eq!(kind_of_status(429, None, "slow down"), K::RateLimited);
        assert_eq!(
            kind_of_status(429, None, "You exceeded your quota: insufficient_quota"),
            K::QuotaExhausted
        );
        assert_eq!(
            kind_of_status(429, Some(K::QuotaExhausted), ""),
            K::QuotaExhausted
        );
        assert_eq!(
            kind_of_status(400, Some(K::ContextLength), ""),
            K::ContextLength
        );
        assert_eq!(
            kind_of_status(500, Some(K::ContentFilter), ""),
            K::ContentFilter
        );
        assert_eq!(kind_of_status(408, None, ""), K::Timeout);
        assert_eq!(kind_of_status(529, None, "overloaded"), K::Unavailable);
        assert_eq!(kind_of_status(503, Some(K::Auth), ""), K::Unavailable);
        assert_eq!(kind_of_status(404, Some(K::Auth), ""), K::Auth);
        assert_eq!(kind_of_status(422, None, ""), K::InvalidRequest);
    }

    #[test]
    fn context_and_quota_phrases_are_recognised() {
        assert!(says_context_length(
            "This model's maximum context length is 4096 tokens"
        ));
        assert!(says_context_length("prompt is too long: 210000 tokens"));
        assert!(!says_context_length("invalid temperature"));
        assert!(says_quota_exhausted("Your credit balance is too low"));
        assert!(!says_quota_exhausted("rate limit"));
    }
}
