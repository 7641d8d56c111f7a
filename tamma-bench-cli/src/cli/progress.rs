//! The progress bar of `run` on stderr, fed from the executor's events.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tamma_bench::core::executor::RunEvent;
use tokio::sync::broadcast;

/// A progress bar on stderr, or a hidden one (every method is then a no-op).
pub fn progress_bar(visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} trials ({per_sec}, eta {eta}) {msg}",
    ) {
        bar.set_style(style);
    }
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    bar
}

/// Feeds the bar from the executor's events until the channel closes.
pub async fn follow(mut events: broadcast::Receiver<RunEvent>, bar: ProgressBar) {
    let mut infra_failures = 0u64;
    loop {
        match events.recv().await {
            Ok(RunEvent::RunStarted {
                planned,
                already_done,
                ..
            }) => {
                bar.reset(); // elapsed time and rate from the first trial, not from loading
                bar.set_length(planned);
                if already_done > 0 {
                    bar.println(format!("resuming: {already_done} trials already stored"));
                }
            }
            Ok(RunEvent::TrialCompleted { done, outcome, .. }) => {
                bar.set_position(done);
                if outcome == "infra_failure" {
                    infra_failures += 1;
                    bar.set_message(format!("{infra_failures} infra failures"));
                }
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}
