//! One trial: build the request, call the agent's provider stack once (its retry layer
//! makes the attempts), score, make the record.

use super::RunOptions;
use crate::load::Template;
use crate::model::{
    AgentConfig, Case, CaseInput, Message, Outcome, Role, Score, TenantId, Trial, TrialKey, now_ms,
};
use crate::provider::layer::counting_attempts;
use crate::provider::{
    CallContext, Completion, CompletionRequest, Provider, ProviderError, ProviderErrorKind,
};
use crate::scorer::Scorer;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// An agent ready to run: its configuration, its provider, and its parsed templates.
pub(crate) struct PreparedAgent {
    pub(crate) config: AgentConfig,
    pub(crate) provider: Arc<dyn Provider>,
    pub(crate) system: Option<Template>,
    pub(crate) prompt: Template,
    pub(crate) limit: Arc<Semaphore>,
}

impl PreparedAgent {
    /// The request this agent sends for `case`.
    pub(crate) fn request(&self, case: &Case) -> Result<CompletionRequest, String> {
        let system = self
            .system
            .as_ref()
            .map(|t| t.render(case))
            .transpose()
            .map_err(|e| e.to_string())?;
        let mut messages = Vec::with_capacity(2);
        match &case.input {
            CaseInput::Chat(chat) => {
                if let Some(s) = system.filter(|_| !chat.iter().any(|m| m.role == Role::System)) {
                    messages.push(Message::new(Role::System, s));
                }
                messages.extend(chat.iter().cloned());
            }
            CaseInput::Text(_) => {
                if let Some(s) = system {
                    messages.push(Message::new(Role::System, s));
                }
                messages.push(Message::new(
                    Role::User,
                    self.prompt.render(case).map_err(|e| e.to_string())?,
                ));
            }
        }
        let c = &self.config;
        Ok(CompletionRequest {
            model: c.model.clone(),
            messages,
            temperature: c.temperature,
            top_p: c.top_p,
            max_tokens: c.max_tokens,
            seed: c.seed,
            stop: c.stop.clone(),
            tools: Vec::new(),
            response_format: Default::default(),
        })
    }
}

/// A conservative estimate of a request's input tokens (for the budget): one token per
/// three bytes, plus a few per message.
pub(crate) fn estimate_input_tokens(request: &CompletionRequest) -> u64 {
    request
        .messages
        .iter()
        .map(|m| m.content.len() as u64 / 3 + 8)
        .sum()
}

/// What a trial needs besides its agent and case.
pub(crate) struct TrialEnv {
    pub(crate) run_id: Arc<str>,
    pub(crate) tenant_id: TenantId,
    pub(crate) scorers: Arc<[Arc<dyn Scorer>]>,
    pub(crate) trial_timeout: Duration,
    pub(crate) cancel: CancellationToken,
}

impl TrialEnv {
    pub(crate) fn from_options(
        run_id: Arc<str>,
        tenant_id: TenantId,
        scorers: Arc<[Arc<dyn Scorer>]>,
        o: &RunOptions,
    ) -> Self {
        Self {
            run_id,
            tenant_id,
            scorers,
            trial_timeout: o.trial_timeout,
            cancel: o.cancel.clone(),
        }
    }
}

/// The instant a trial started at `now` must end by, or `None` when `timeout` reaches past
/// what an `Instant` can represent (`Duration::MAX`): no deadline then.
pub(crate) fn trial_deadline(now: Instant, timeout: Duration) -> Option<Instant> {
    now.checked_add(timeout)
}

/// The end of a trial: a record to store, or nothing when it was cancelled before it
/// finished (so that a resumed run executes it).
pub(crate) type TrialResult = Option<Trial>;

/// Runs one trial to its end.
pub(crate) async fn run_trial(
    env: Arc<TrialEnv>,
    agent: Arc<PreparedAgent>,
    case: Arc<Case>,
    epoch: u32,
    request: CompletionRequest,
) -> TrialResult {
    if env.cancel.is_cancelled() {
        return None;
    }
    let cx = CallContext {
        run_id: env.run_id.to_string(),
        tenant_id: env.tenant_id.clone(),
        agent: agent.config.name.clone(),
        case_id: case.id.clone(),
        epoch,
        attempt: 1,
    };
    let deadline = trial_deadline(Instant::now(), env.trial_timeout);
    // `biased`: a free permit is taken without first registering a cancellation waiter.
    let _permit = tokio::select! {
        biased;
        p = agent.limit.acquire() => p.ok()?,
        _ = env.cancel.cancelled() => return None,
    };
    let started = Instant::now();
    // One call of the agent's stack: its one retry layer makes the attempts, and says
    // how many it made.
    let (result, attempts) = counting_attempts(async {
        let call = agent.provider.complete(&request, &cx);
        match deadline {
            // `biased`: the call is polled first, so that an answer that is ready at once
            // never arms the deadline's timer (which wakes the timer driver each time).
            // Cancellation lets in-flight calls finish (their results are stored), but a
            // call still running at the trial's deadline is abandoned.
            Some(at) => tokio::select! {
                biased;
                r = call => r,
                _ = tokio::time::sleep_until(at.into()) => Err(ProviderError::new(
                    ProviderErrorKind::Timeout,
                    "trial deadline passed",
                )),
            },
            None => call.await,
        }
    })
    .await;
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    let cx = CallContext {
        attempt: attempts,
        ..cx
    };
    let completion = match result {
        Ok(c) => c,
        Err(e) if e.kind() == ProviderErrorKind::Cancelled => return None,
        Err(e) => {
            return Some(record(
                cx,
                &case,
                Outcome::InfraFailure {
                    error: e.kind(),
                    message: e.message().to_owned(),
                },
                None,
                latency_ms,
                0.0,
                Default::default(),
                false,
            ));
        }
    };
    let outcome = score(&env.scorers, &case, &completion).await;
    let cost = completion.cost_usd.unwrap_or_else(|| {
        agent.config.cost_usd(
            completion.usage.input_tokens,
            completion.usage.output_tokens,
        )
    });
    let latency = if completion.latency_ms > 0.0 {
        completion.latency_ms
    } else {
        latency_ms
    };
    let Completion {
        text,
        usage,
        cache_hit,
        ..
    } = completion;
    Some(record(
        cx,
        &case,
        outcome,
        Some(text),
        latency,
        cost,
        usage,
        cache_hit,
    ))
}

async fn score(scorers: &[Arc<dyn Scorer>], case: &Case, completion: &Completion) -> Outcome {
    let mut scores: Vec<Score> = Vec::with_capacity(scorers.len());
    for s in scorers {
        match s.score(case, completion).await {
            Ok(score) if (0.0..=1.0).contains(&score.value) => scores.push(score),
            Ok(score) => {
                return Outcome::ScorerError {
                    scorer: s.name().to_owned(),
                    message: format!("score {} outside [0, 1]", score.value),
                };
            }
            Err(e) => {
                return Outcome::ScorerError {
                    scorer: s.name().to_owned(),
                    message: e.to_string(),
                };
            }
        }
    }
    Outcome::Scored { scores }
}

/// The record of a trial, made from its call context (whose strings it takes over).
#[allow(clippy::too_many_arguments)]
fn record(
    cx: CallContext,
    case: &Case,
    outcome: Outcome,
    output: Option<String>,
    latency_ms: f64,
    cost_usd: f64,
    usage: crate::provider::Usage,
    cache_hit: bool,
) -> Trial {
    Trial {
        run_id: cx.run_id,
        tenant_id: cx.tenant_id,
        key: TrialKey {
            agent: cx.agent,
            case_id: cx.case_id,
            epoch: cx.epoch,
        },
        cluster: case.cluster.clone(),
        tags: case.tags.clone(),
        outcome,
        output,
        usage,
        latency_ms,
        cost_usd,
        attempts: cx.attempt,
        cache_hit,
        finished_at_ms: now_ms(),
    }
}

#[cfg(test)]
mod tests {
    use super::trial_deadline;
    use proptest::prelude::*;
    use std::time::{Duration, Instant};

    proptest! {
        #[test]
        fn a_trial_deadline_never_panics_and_is_never_before_now(
            secs in any::<u64>(),
            nanos in 0u32..1_000_000_000,
        ) {
            let now = Instant::now();
            let timeout = Duration::new(secs, nanos);
            match trial_deadline(now, timeout) {
                Some(at) => prop_assert_eq!(at.duration_since(now), timeout),
                None => prop_assert!(now.checked_add(timeout).is_none()),
            }
        }
    }

    #[test]
    fn the_longest_timeout_is_no_deadline() {
        assert_eq!(trial_deadline(Instant::now(), Duration::MAX), None);
    }
}
