//! The event log in memory: for tests, benches and the in-memory store.

use super::{EVENT_VERSION, Event, EventFilter, EventId, EventLog, NewEvent, validate_consumer};
use crate::store::StoreError;
use async_trait::async_trait;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::watch;

#[derive(Default)]
struct Inner {
    events: Vec<Event>,
    ids: HashSet<EventId>,
    offsets: HashMap<String, u64>,
}

/// An [`EventLog`] in memory. Share it through an `Arc`; nothing survives the process.
/// [`MemoryStore::with_events`](crate::store::MemoryStore::with_events) appends
/// to it as the store changes.
pub struct MemoryEventLog {
    inner: Mutex<Inner>,
    head: watch::Sender<u64>,
}

impl Default for MemoryEventLog {
    fn default() -> Self {
        Self {
            inner: Mutex::default(),
            head: watch::Sender::new(0),
        }
    }
}

impl MemoryEventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update is a push or an insert: a poisoned lock holds consistent state.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `events` at once (see [`EventLog::append`]); for stores that append while
    /// holding their own lock.
    pub fn append_now(&self, events: Vec<NewEvent>) -> Vec<Event> {
        let mut inner = self.lock();
        let mut logged = Vec::with_capacity(events.len());
        for e in events {
            if !inner.ids.insert(e.id.clone()) {
                continue;
            }
            let event = Event {
                position: inner.events.len() as u64 + 1,
                id: e.id,
                version: EVENT_VERSION,
                at_ms: e.at_ms,
                tenant_id: e.tenant_id,
                visibility: e.visibility,
                payload: e.payload,
            };
            inner.events.push(event.clone());
            logged.push(event);
        }
        let head = inner.events.len() as u64;
        drop(inner);
        if !logged.is_empty() {
            self.head.send_replace(head);
        }
        logged
    }
}

#[async_trait]
impl EventLog for MemoryEventLog {
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Event>, StoreError> {
        Ok(self.append_now(events))
    }

    async fn read(
        &self,
        after: u64,
        filter: &EventFilter,
        limit: usize,
    ) -> Result<Vec<Event>, StoreError> {
        let inner = self.lock();
        // Positions are 1, 2, ...: the event at `after` is at index `after - 1`.
        let start = usize::try_from(after).unwrap_or(usize::MAX);
        Ok(inner
            .events
            .iter()
            .skip(start)
            .filter(|e| filter.matches(e))
            .take(limit)
            .cloned()
            .collect())
    }

    async fn head(&self) -> Result<u64, StoreError> {
        Ok(self.lock().events.len() as u64)
    }

    async fn offset(&self, consumer: &str) -> Result<u64, StoreError> {
        validate_consumer(consumer)?;
        Ok(self.lock().offsets.get(consumer).copied().unwrap_or(0))
    }

    async fn commit_offset(&self, consumer: &str, position: u64) -> Result<(), StoreError> {
        validate_consumer(consumer)?;
        let mut inner = self.lock();
        let offset = inner.offsets.entry(consumer.to_owned()).or_default();
        *offset = (*offset).max(position);
        Ok(())
    }

    async fn wait(&self, after: u64, timeout: Duration) {
        let mut head = self.head.subscribe();
        let _ = tokio::time::timeout(timeout, head.wait_for(|h| *h > after)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventPayload, EventType};
    use crate::model::{RunStatus, TenantId, Visibility, now_ms};
    use crate::store::{MemoryStore, ResultStore};
    use std::sync::Arc;

    fn run(id: &str, visibility: Visibility) -> crate::model::Run {
        crate::model::Run {
            id: id.into(),
            tenant_id: TenantId::new("acme").unwrap(),
            benchmark_id: "bench".into(),
            benchmark_version: "1".into(),
            visibility,
            fingerprint: "f".into(),
            agents: vec![],
            epochs: 1,
            n_cases: 1,
            status: RunStatus::Running,
            created_at_ms: now_ms(),
            updated_at_ms: now_ms(),
        }
    }

    #[tokio::test]
    async fn the_store_logs_a_completion_once_and_publication_for_public_runs() {
        let log = Arc::new(MemoryEventLog::new());
        let store = MemoryStore::with_events(log.clone());
        let acme = TenantId::new("acme").unwrap();
        store
            .begin_run(&run("pub", Visibility::Public))
            .await
            .unwrap();
        store
            .begin_run(&run("priv", Visibility::Private))
            .await
            .unwrap();
        store
            .set_run_status(&acme, "priv", RunStatus::Interrupted)
            .await
            .unwrap();
        assert_eq!(log.head().await.unwrap(), 0, "only completion is an event");
        for _ in 0..2 {
            store
                .set_run_status(&acme, "pub", RunStatus::Completed)
                .await
                .unwrap();
        }
        store
            .set_run_status(&acme, "priv", RunStatus::Completed)
            .await
            .unwrap();
        let events = log.read(0, &EventFilter::all(), 10).await.unwrap();
        let types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
        assert_eq!(
            types,
            [
                EventType::BenchmarkCompleted,
                EventType::ResultsPublished,
                EventType::BenchmarkCompleted
            ]
        );
        assert!(matches!(
            &events[2].payload,
            EventPayload::BenchmarkCompleted { run_id, public: false, .. } if run_id == "priv"
        ));
        assert_eq!(events[1].visibility, super::super::Visibility::Public);
        assert_eq!(events[2].tenant_id.as_ref(), Some(&acme));
        // A store without a log logs nothing and still works.
        let plain = MemoryStore::new();
        plain
            .begin_run(&run("x", Visibility::Public))
            .await
            .unwrap();
        plain
            .set_run_status(&acme, "x", RunStatus::Completed)
            .await
            .unwrap();
    }
}
