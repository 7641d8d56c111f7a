//! List prices of common models, for the cost layer.
//!
//! **These are list prices, and list prices change.** The table is a convenience for
//! estimates, not a bill: batch, cached-input and long-context tiers are not modelled
//! (Gemini 2.5 Pro is listed at its prompts-up-to-200k price). An agent's
//! `price_per_mtok_input` / `price_per_mtok_output` win over the table, and a cost the
//! provider reports wins over both.

/// The price of one model, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelPrice {
    /// Provider kind as in the agents file (`openai`, `anthropic`, `gemini`).
    pub provider: &'static str,
    /// Model name, or the stem of its dated snapshots (`gpt-4o` prices `gpt-4o-2024-08-06`).
    pub model: &'static str,
    /// USD per million input (prompt) tokens.
    pub input_per_mtok: f64,
    /// USD per million output tokens.
    pub output_per_mtok: f64,
}

/// A pricing table and where its numbers come from.
#[derive(Debug, Clone, Copy)]
pub struct PriceTable {
    /// Where the prices were read.
    pub source: &'static str,
    /// When they were read.
    pub as_of: &'static str,
    /// The prices.
    pub prices: &'static [ModelPrice],
}

const fn p(provider: &'static str, model: &'static str, input: f64, output: f64) -> ModelPrice {
    ModelPrice {
        provider,
        model,
        input_per_mtok: input,
        output_per_mtok: output,
    }
}

/// The built-in table: standard (non-batch, uncached) list prices.
pub const LIST_PRICES: PriceTable = PriceTable {
    source: "the vendors' public pricing pages (OpenAI API pricing, Anthropic Claude pricing, \
             Google Gemini API pricing); standard tier, USD per million tokens",
    as_of: "2025-10",
    prices: &[
        p("openai", "gpt-4o", 2.50, 10.00),
        p("openai", "gpt-4o-mini", 0.15, 0.60),
        p("openai", "gpt-4.1", 2.00, 8.00),
        p("openai", "gpt-4.1-mini", 0.40, 1.60),
        p("openai", "gpt-4.1-nano", 0.10, 0.40),
        p("openai", "o1", 15.00, 60.00),
        p("openai", "o3", 2.00, 8.00),
        p("openai", "o3-mini", 1.10, 4.40),
        p("openai", "o4-mini", 1.10, 4.40),
        p("anthropic", "claude-opus-4-5", 5.00, 25.00),
        p("anthropic", "claude-opus-4-1", 15.00, 75.00),
        p("anthropic", "claude-opus-4", 15.00, 75.00),
        p("anthropic", "claude-sonnet-4-5", 3.00, 15.00),
        p("anthropic", "claude-sonnet-4", 3.00, 15.00),
        p("anthropic", "claude-haiku-4-5", 1.00, 5.00),
        p("anthropic", "claude-3-7-sonnet", 3.00, 15.00),
        p("anthropic", "claude-3-5-sonnet", 3.00, 15.00),
        p("anthropic", "claude-3-5-haiku", 0.80, 4.00),
        p("gemini", "gemini-2.5-pro", 1.25, 10.00),
        p("gemini", "gemini-2.5-flash", 0.30, 2.50),
        p("gemini", "gemini-2.5-flash-lite", 0.10, 0.40),
        p("gemini", "gemini-2.0-flash", 0.10, 0.40),
        p("gemini", "gemini-2.0-flash-lite", 0.075, 0.30),
    ],
};

/// Whether `rest` (what follows a model stem) names a snapshot of that model rather than
/// another model: nothing, a date or version number (`-2024-08-06`, `-20250514`, `-001`),
/// or `-latest`, `-preview...`, `-exp...`.
fn is_snapshot_suffix(rest: &str) -> bool {
    let Some(tail) = rest.strip_prefix('-') else {
        return rest.is_empty();
    };
    let digits = tail.bytes().take_while(u8::is_ascii_digit).count();
    digits >= 3 || tail == "latest" || tail.starts_with("preview") || tail.starts_with("exp")
}

impl PriceTable {
    /// The price of `model` at `provider`: the longest stem that `model` (less a
    /// `models/` prefix) starts with and continues only with a snapshot suffix.
    pub fn lookup(&self, provider: &str, model: &str) -> Option<&ModelPrice> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        self.prices
            .iter()
            .filter(|p| p.provider == provider)
            .filter(|p| model.strip_prefix(p.model).is_some_and(is_snapshot_suffix))
            .max_by_key(|p| p.model.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_match_their_stem_and_siblings_do_not() {
        let price = |prov, m| LIST_PRICES.lookup(prov, m).map(|p| p.model);
        assert_eq!(price("openai", "gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(price("openai", "gpt-4o-mini"), Some("gpt-4o-mini"));
        assert_eq!(
            price("openai", "gpt-4.1-mini-2025-04-14"),
            Some("gpt-4.1-mini")
        );
        assert_eq!(
            price("anthropic", "claude-sonnet-4-20250514"),
            Some("claude-sonnet-4")
        );
        assert_eq!(
            price("anthropic", "claude-opus-4-5-20251101"),
            Some("claude-opus-4-5")
        );
        assert_eq!(
            price("anthropic", "claude-3-5-haiku-latest"),
            Some("claude-3-5-haiku")
        );
        assert_eq!(
            price("gemini", "models/gemini-2.0-flash-001"),
            Some("gemini-2.0-flash")
        );
        assert_eq!(
            price("gemini", "gemini-2.5-flash-lite"),
            Some("gemini-2.5-flash-lite")
        );
        // Unknown versions and other providers' servers are not guessed.
        assert_eq!(price("anthropic", "claude-opus-4-7"), None);
        assert_eq!(price("openai", "claude-sonnet-4"), None);
        assert_eq!(price("replay", "gpt-4o"), None);
    }
}
