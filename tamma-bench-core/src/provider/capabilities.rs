//! What a provider can do, as data: [`Capabilities`], and the [`Capability`] a benchmark
//! may need of it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// What a provider supports. [`Provider::capabilities`](super::Provider::capabilities)
/// reports it; a layer reports its inner provider's (a retry layer adds `retries`).
///
/// The default claims nothing: a provider that says nothing is assumed to answer plain
/// chat requests only, and the executor refuses to give it what it did not claim (a
/// seed, a conversation with tool calls). Build one from the default and set fields:
///
/// ```
/// use tamma_bench_core::provider::{Capabilities, Capability};
/// let mut caps = Capabilities::default();
/// caps.tools = true;
/// assert!(caps.supports(Capability::Tools) && !caps.supports(Capability::Seed));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
#[non_exhaustive]
pub struct Capabilities {
    /// Hands out text deltas as they are generated (without it `complete_streaming`
    /// still works: the whole text arrives as one delta).
    pub streaming: bool,
    /// Understands tool definitions and multi-turn tool use (assistant messages calling
    /// tools, `tool` messages answering them).
    pub tools: bool,
    /// Reports the tokens a call used.
    pub usage: bool,
    /// Honours a sampling seed (or, like a replay, answers the same whatever the seed).
    pub seed: bool,
    /// Retries retryable errors itself (a retry layer is part of it): the executor then
    /// adds no retry of its own, so no call is retried twice.
    pub retries: bool,
}

/// One thing a provider may support; what a run can require of an agent's provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Capability {
    /// See [`Capabilities::streaming`].
    Streaming,
    /// See [`Capabilities::tools`].
    Tools,
    /// See [`Capabilities::usage`].
    Usage,
    /// See [`Capabilities::seed`].
    Seed,
    /// See [`Capabilities::retries`].
    Retries,
}

impl Capability {
    /// Every capability, in declaration order.
    pub const ALL: [Capability; 5] = [
        Self::Streaming,
        Self::Tools,
        Self::Usage,
        Self::Seed,
        Self::Retries,
    ];

    /// The snake_case name (as in a plugin manifest's `features`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Streaming => "streaming",
            Self::Tools => "tools",
            Self::Usage => "usage",
            Self::Seed => "seed",
            Self::Retries => "retries",
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Capabilities {
    /// Whether `capability` is supported.
    pub fn supports(&self, capability: Capability) -> bool {
        *self.flag(capability)
    }

    /// These capabilities with `capability` supported.
    pub fn with(mut self, capability: Capability) -> Self {
        *self.flag_mut(capability) = true;
        self
    }

    /// The capabilities a list of names declares (a plugin manifest's `features`): each
    /// name of a [`Capability`] sets it; other names are ignored.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        names.into_iter().fold(Self::default(), |caps, name| {
            match Capability::ALL.into_iter().find(|c| c.as_str() == name) {
                Some(c) => caps.with(c),
                None => caps,
            }
        })
    }

    fn flag(&self, capability: Capability) -> &bool {
        match capability {
            Capability::Streaming => &self.streaming,
            Capability::Tools => &self.tools,
            Capability::Usage => &self.usage,
            Capability::Seed => &self.seed,
            Capability::Retries => &self.retries,
        }
    }

    fn flag_mut(&mut self, capability: Capability) -> &mut bool {
        match capability {
            Capability::Streaming => &mut self.streaming,
            Capability::Tools => &mut self.tools,
            Capability::Usage => &mut self.usage,
            Capability::Seed => &mut self.seed,
            Capability::Retries => &mut self.retries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_ignored() {
        for c in Capability::ALL {
            assert_eq!(
                Capabilities::from_names([c.as_str()]),
                Capabilities::default().with(c)
            );
        }
        let caps = Capabilities::from_names(["tools", "json_output", "seed"]);
        assert!(caps.tools && caps.seed && !caps.streaming && !caps.usage && !caps.retries);
        assert_eq!(Capabilities::from_names([]), Capabilities::default());
    }
}
