//! The provider stack a trial calls: what the run requires of each agent's provider, and
//! the executor's own retry for a provider that does not retry.

use super::{RunError, RunOptions};
use crate::model::{AgentConfig, Benchmark, CaseInput};
use crate::provider::layer::{Layer, RetryLayer, TimeoutLayer};
use crate::provider::{Capability, Provider};
use std::sync::Arc;

/// What `benchmark` run by `agent` requires of the agent's provider: tools when a case's
/// conversation calls tools or answers a call, a seed when the agent sets one.
pub(crate) fn requirements(uses_tools: bool, agent: &AgentConfig) -> Vec<Capability> {
    let mut needs = Vec::new();
    if uses_tools {
        needs.push(Capability::Tools);
    }
    if agent.seed.is_some() {
        needs.push(Capability::Seed);
    }
    needs
}

/// Whether a case of `benchmark` holds multi-turn tool use.
pub(crate) fn uses_tools(benchmark: &Benchmark) -> bool {
    benchmark.cases.iter().any(|c| match &c.input {
        CaseInput::Chat(messages) => messages
            .iter()
            .any(|m| !m.tool_calls.is_empty() || m.tool_call_id.is_some()),
        CaseInput::Text(_) => false,
    })
}

/// Refuses an agent whose provider lacks what the run needs, naming both.
pub(crate) fn check(
    uses_tools: bool,
    agent: &AgentConfig,
    provider: &dyn Provider,
) -> Result<(), RunError> {
    let have = provider.capabilities();
    match requirements(uses_tools, agent)
        .into_iter()
        .find(|c| !have.supports(*c))
    {
        Some(capability) => Err(RunError::Unsupported {
            agent: agent.name.clone(),
            provider: provider.name().to_owned(),
            capability,
        }),
        None => Ok(()),
    }
}

/// The stack the executor calls for `provider`: itself when it retries (its capabilities
/// say so: an agent's own `[agent.layers.retry]`), else wrapped in the run's retry
/// ([`RunOptions::retry`], cut at the trial timeout and ended by cancellation) over a
/// timeout of [`RunOptions::attempt_timeout`] per attempt. Either way exactly one retry
/// layer stands between a trial and its provider.
pub(crate) fn stack(provider: Arc<dyn Provider>, options: &RunOptions) -> Arc<dyn Provider> {
    if provider.capabilities().retries {
        return provider;
    }
    let attempt = TimeoutLayer::new(options.attempt_timeout).wrap(provider);
    Arc::new(
        RetryLayer::new(options.retry.clone())
            .with_deadline(options.trial_timeout)
            .with_cancel(options.cancel.clone())
            .wrap(Arc::new(attempt)),
    )
}
