//! Cost: fills in what a completion cost, from the agent's prices or the list prices.

use super::pricing::LIST_PRICES;
use async_trait::async_trait;
use tamma_bench_core::model::AgentConfig;
use tamma_bench_core::provider::layer::{Call, Layer};
use tamma_bench_core::provider::{Completion, ProviderError};

/// Sets `cost_usd` on completions that have none: the provider-reported cost wins, then
/// the agent's `price_per_mtok_*`, then the [`LIST_PRICES`] entry of the agent's provider
/// and model. A model with no known price gets no cost (rather than a guess).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostLayer {
    input_per_mtok: Option<f64>,
    output_per_mtok: Option<f64>,
}

impl CostLayer {
    /// Prices in USD per million tokens; a side left `None` counts as free, and with both
    /// `None` the layer sets nothing.
    pub fn with_prices(input_per_mtok: Option<f64>, output_per_mtok: Option<f64>) -> Self {
        Self {
            input_per_mtok,
            output_per_mtok,
        }
    }

    /// The agent's prices, each side falling back to the list price of its model.
    pub fn for_agent(agent: &AgentConfig) -> Self {
        let listed = LIST_PRICES.lookup(&agent.provider, &agent.model);
        Self::with_prices(
            agent
                .price_per_mtok_input
                .or(listed.map(|p| p.input_per_mtok)),
            agent
                .price_per_mtok_output
                .or(listed.map(|p| p.output_per_mtok)),
        )
    }
}

#[async_trait]
impl Layer for CostLayer {
    async fn call(&self, call: Call<'_>) -> Result<Completion, ProviderError> {
        let mut completion = call.forward().await?;
        let priced = self.input_per_mtok.is_some() || self.output_per_mtok.is_some();
        if completion.cost_usd.is_none() && priced {
            let u = completion.usage;
            completion.cost_usd = Some(
                (u.input_tokens as f64 * self.input_per_mtok.unwrap_or(0.0)
                    + u.output_tokens as f64 * self.output_per_mtok.unwrap_or(0.0))
                    / 1e6,
            );
        }
        Ok(completion)
    }
}
