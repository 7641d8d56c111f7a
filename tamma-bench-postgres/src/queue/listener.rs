//! The queue handle's own connection that `LISTEN`s on [`NOTIFY_CHANNEL`] and wakes
//! [`wait_for_work`](tamma_bench_core::queue::JobQueue::wait_for_work): one per handle,
//! outside the pool (a pooled connection would go back to other borrowers), reconnected
//! with a back-off when it drops. The event log listens the same way on its own channel.
//!
//! [`NOTIFY_CHANNEL`]: super::NOTIFY_CHANNEL

use super::rows::pg_err;
use futures::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tamma_bench_core::queue::{QueueError, QueueErrorKind};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, Config, NoTls};

/// The first wait before reconnecting; doubled per failed attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Stops the listener when dropped (with the last clone of its queue handle).
pub(crate) struct Listener {
    _stop: oneshot::Sender<()>,
}

/// A live `LISTEN`: the client (dropping it closes the connection) and the task driving
/// the connection, which ends when the connection does.
struct Session {
    client: Client,
    driver: JoinHandle<Result<(), tokio_postgres::Error>>,
}

/// What [`wait_for_work`](tamma_bench_core::queue::JobQueue::wait_for_work) waits on: a
/// notification wakes every waiter, or, when none waits, the next one to come (a
/// notification that arrives between a worker's empty claim and its wait is not lost,
/// and one that woke its waiters leaves nothing behind).
#[derive(Default)]
pub(super) struct Wake {
    notify: Notify,
    waiting: AtomicUsize,
}

/// Counts a waiter until dropped (a wait cancelled by its caller's `select!` too).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a notification (or a reconnection, after which notifications may have been
/// missed) wakes.
pub(crate) trait Waker: Send + Sync + 'static {
    /// Wakes the waiters.
    fn wake(&self);
}

impl Waker for Wake {
    fn wake(&self) {
        Wake::wake(self)
    }
}

impl Wake {
    fn wake(&self) {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.notify.notify_waiters();
        } else {
            self.notify.notify_one();
        }
    }

    /// Returns at the next wake-up (or at once, for one that came while nobody waited),
    /// or after `timeout`.
    pub(super) async fn wait(&self, timeout: Duration) {
        let notified = self.notify.notified();
        tokio::pin!(notified);
        // Registered before it is counted: a wake-up that sees the count reaches it.
        notified.as_mut().enable();
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _counted = Waiting(&self.waiting);
        let _ = tokio::time::timeout(timeout, notified).await;
    }
}

/// Connects, listens, and keeps listening until dropped. Fails when the first connection
/// fails: after that, drops are reconnected in the background.
pub(crate) async fn start(
    config: &Config,
    channel: &'static str,
    wake: Arc<dyn Waker>,
) -> Result<Listener, QueueError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        QueueError::new(
            QueueErrorKind::Backend,
            "the Postgres queue runs inside a tokio runtime",
        )
    })?;
    let mut config = config.clone();
    // A network that drops the server silently is noticed in about a minute, not hours.
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .keepalives_interval(Duration::from_secs(10))
        .keepalives_retries(3);
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    let session = listen(&runtime, &config, channel, &wake)
        .await
        .map_err(pg_err)?;
    let (stop_tx, stop_rx) = oneshot::channel();
    runtime.spawn(supervise(
        runtime.clone(),
        config,
        channel,
        wake,
        session,
        stop_rx,
    ));
    Ok(Listener { _stop: stop_tx })
}

/// Opens a connection whose notifications wake `wake`, and `LISTEN`s.
async fn listen(
    runtime: &tokio::runtime::Handle,
    config: &Config,
    channel: &str,
    wake: &Arc<dyn Waker>,
) -> Result<Session, tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let wake = wake.clone();
    let driver = runtime.spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            // Notices (and whatever a later protocol adds) need nothing.
            if let AsyncMessage::Notification(_) = message? {
                wake.wake();
            }
        }
        Ok(())
    });
    client.batch_execute(&format!("LISTEN {channel}")).await?;
    Ok(Session { client, driver })
}

/// Waits for the session to end, then reconnects with a back-off (250 ms doubling to
/// 30 s), waking the waiters once listening again (notifications sent meanwhile were
/// missed); until `stop` fires or its sender is dropped.
async fn supervise(
    runtime: tokio::runtime::Handle,
    config: Config,
    channel: &'static str,
    wake: Arc<dyn Waker>,
    mut session: Session,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let ended = tokio::select! {
            _ = &mut stop => {
                session.driver.abort();
                return;
            }
            ended = &mut session.driver => ended,
        };
        match ended {
            Ok(Err(e)) => {
                tracing::warn!(error = %e, channel, "a LISTEN connection failed; reconnecting")
            }
            _ => tracing::warn!(channel, "a LISTEN connection closed; reconnecting"),
        }
        drop(session.client);
        let mut backoff = FIRST_BACKOFF;
        session = loop {
            tokio::select! {
                _ = &mut stop => return,
                () = tokio::time::sleep(backoff) => {}
            }
            match listen(&runtime, &config, channel, &wake).await {
                Ok(s) => break s,
                Err(e) => {
                    tracing::warn!(error = %e, channel, retry_in = ?backoff, "cannot LISTEN yet");
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        };
        tracing::info!(channel, "listening again");
        wake.wake();
    }
}
