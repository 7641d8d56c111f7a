//! Following the log from a position of the caller's own, with no consumer offset: for
//! live feeds (a server-sent event stream, a terminal's `events --follow`) whose client
//! remembers where it was and resumes from there.
//!
//! A [`Follower`] keeps a cursor. [`next_page`](Follower::next_page) returns the events
//! after it that pass the filter and that the context may receive
//! ([`EventLog::read_as`]), and moves the cursor past them; when there are none it moves
//! the cursor to the head read *before* the page (positions commit in order, so nothing
//! below that head can arrive later), so events the reader may not see are not read
//! again. [`next`](Follower::next) waits with [`EventLog::wait`] until there is a page.
//!
//! A [`Subscription`](super::subscribe::Subscription) is the durable counterpart: it
//! commits a named consumer's offset in the log's database.
//!
//! ```
//! use std::sync::Arc;
//! use tamma_bench_core::events::follow::Follower;
//! use tamma_bench_core::events::{EventFilter, EventLog, EventPayload, MemoryEventLog, NewEvent};
//! use tamma_bench_core::model::{TenantContext, TenantId, Tier};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let log = Arc::new(MemoryEventLog::new());
//! let acme = TenantId::new("acme").unwrap();
//! let payload = EventPayload::JobStarted { job_id: "j".into(), attempt: 1 };
//! log.append(vec![NewEvent::new(Some(acme.clone()), payload)]).await.unwrap();
//! let cx = TenantContext::external(acme, Tier::Free, "user");
//! let mut follower = Follower::new(log.clone(), EventFilter::all(), Some(cx), 0);
//! let page = follower.next().await.unwrap();
//! assert_eq!(page.len(), 1);
//! assert_eq!(follower.position(), 1);
//! # });
//! ```

use super::{Event, EventFilter, EventLog};
use crate::model::TenantContext;
use crate::store::StoreError;
use std::sync::Arc;
use std::time::Duration;

/// Events returned at once, by default.
pub const DEFAULT_FOLLOW_PAGE: usize = 256;

/// A reader following the log from a cursor: see the [module](self) documentation.
pub struct Follower {
    log: Arc<dyn EventLog>,
    filter: EventFilter,
    context: Option<TenantContext>,
    position: u64,
    page_size: usize,
    poll: Duration,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower")
            .field("filter", &self.filter)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl Follower {
    /// A follower of the events of `log` after position `after` that pass `filter` and,
    /// with a `context`, that the context may receive ([`Event::visible_to`]); without
    /// one, the host's view across tenants.
    pub fn new(
        log: Arc<dyn EventLog>,
        filter: EventFilter,
        context: Option<TenantContext>,
        after: u64,
    ) -> Self {
        Self {
            log,
            filter,
            context,
            position: after,
            page_size: DEFAULT_FOLLOW_PAGE,
            poll: Duration::from_secs(5),
        }
    }

    /// Returns at most `n` events at once (at least 1; default [`DEFAULT_FOLLOW_PAGE`]).
    pub fn with_page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Reads again after `poll` when caught up even if the log's wake-up did not come
    /// (a log whose other writers cannot wake this process; default 5 s).
    pub fn with_poll_interval(mut self, poll: Duration) -> Self {
        self.poll = poll;
        self
    }

    /// The cursor: every event up to it has been returned or was not for this reader.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The next events after the cursor (empty when there are none now), and the cursor
    /// moved past them; when fewer than a page, past the head read before the page.
    /// Cancel-safe: dropped before it returns, it leaves the cursor where it was.
    pub async fn next_page(&mut self) -> Result<Vec<Event>, StoreError> {
        let head = self.log.head().await?;
        let page = match &self.context {
            Some(cx) => {
                self.log
                    .read_as(cx, self.position, &self.filter, self.page_size)
                    .await?
            }
            None => {
                self.log
                    .read(self.position, &self.filter, self.page_size)
                    .await?
            }
        };
        let last = page.last().map_or(self.position, |e| e.position);
        self.position = if page.len() < self.page_size {
            // The read saw everything up to the head: what it skipped is not ours.
            last.max(head)
        } else {
            last
        };
        Ok(page)
    }

    /// The next events after the cursor, waiting for them (woken by the log, or after the
    /// poll interval) until there are some. Cancel-safe.
    pub async fn next(&mut self) -> Result<Vec<Event>, StoreError> {
        loop {
            let page = self.next_page().await?;
            if !page.is_empty() {
                return Ok(page);
            }
            self.log.wait(self.position, self.poll).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventPayload, EventType, MemoryEventLog, NewEvent, Visibility};
    use crate::model::{TenantId, Tier};

    fn tenant(s: &str) -> TenantId {
        TenantId::new(s).unwrap()
    }

    fn started(t: &str) -> NewEvent {
        NewEvent::new(
            Some(tenant(t)),
            EventPayload::JobStarted {
                job_id: format!("job-{t}"),
                attempt: 1,
            },
        )
    }

    #[tokio::test]
    async fn a_reader_gets_its_own_and_public_events_and_moves_past_the_others() {
        let log: Arc<dyn EventLog> = Arc::new(MemoryEventLog::new());
        let mut public = started("zed");
        public.visibility = Visibility::Public;
        log.append(vec![
            started("acme"),
            started("zed"),
            public,
            started("zed"),
        ])
        .await
        .unwrap();
        let cx = TenantContext::external(tenant("acme"), Tier::Free, "u");
        let mut f = Follower::new(log.clone(), EventFilter::all(), Some(cx), 0).with_page_size(1);
        let first = f.next_page().await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].tenant_id, Some(tenant("acme")));
        let second = f.next_page().await.unwrap();
        assert_eq!(second[0].position, 3, "the public event of another tenant");
        assert!(f.next_page().await.unwrap().is_empty());
        assert_eq!(f.position(), 4, "past the other tenant's last event");
    }

    #[tokio::test]
    async fn a_filtered_reader_waits_for_the_next_matching_event() {
        let log: Arc<dyn EventLog> = Arc::new(MemoryEventLog::new());
        log.append(vec![started("acme")]).await.unwrap();
        let filter = EventFilter {
            types: vec![EventType::JobFailed],
            tenant: None,
        };
        let mut f =
            Follower::new(log.clone(), filter, None, 0).with_poll_interval(Duration::from_secs(30));
        let writer = log.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            writer.append(vec![started("acme")]).await.unwrap();
            let failed = NewEvent::new(
                Some(tenant("acme")),
                EventPayload::JobFailed {
                    job_id: "j".into(),
                    error: "boom".into(),
                },
            );
            writer.append(vec![failed]).await.unwrap();
        });
        let page = tokio::time::timeout(Duration::from_secs(10), f.next())
            .await
            .expect("woken by the log")
            .unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].event_type(), EventType::JobFailed);
        assert_eq!(f.position(), 3);
    }
}
