//! `tamma-bench events`: the event log as the caller's tenant context sees it (its own
//! events and public ones; internal ones only for an internal context), once or
//! following new events until Ctrl-C.

use super::{Exit, StoreArgs};
use anyhow::Result;
use clap::Args;
use std::io::Write;
use std::sync::Arc;
use tamma_bench::core::events::follow::Follower;
use tamma_bench::core::events::{Event, EventFilter, EventLog, EventType};
use tamma_bench::core::model::utc_rfc3339;

/// Arguments of `events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events of this type (repeatable): benchmark.completed, results.published,
    /// optimization.triggered, optimization.completed, insight.generated,
    /// config.changed, job.queued, job.started, job.finished, job.failed.
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_type)]
    pub types: Vec<EventType>,
    /// Start after this log position (0: from the beginning).
    #[arg(long, value_name = "POSITION", default_value_t = 0)]
    pub after: u64,
    /// At most this many events (without --follow).
    #[arg(long, value_name = "N", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub limit: u64,
    /// Keep printing new events as they are logged, until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    /// One JSON object a line.
    #[arg(long)]
    pub json: bool,
    /// Store and tenant.
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_type(s: &str) -> Result<EventType, String> {
    EventType::parse(s).ok_or_else(|| {
        let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        format!(
            "unknown event type {s:?}; expected one of {}",
            names.join(", ")
        )
    })
}

/// Prints the log.
pub async fn execute(args: EventsArgs) -> Result<Exit> {
    let cx = args.store.context();
    let database = args.store.database();
    let opened = database.open(false).await?;
    let log = open_event_log(&database, &opened).await?;
    let filter = EventFilter {
        types: args.types.clone(),
        tenant: None,
    };
    let mut left = usize::try_from(args.limit).unwrap_or(usize::MAX);
    let page_size = if args.follow { 256 } else { left.min(1000) };
    // Core's follower: the head is read before each page, so a caught-up cursor moves
    // past what this context may not see without skipping what commits meanwhile.
    let mut follower = Follower::new(log, filter, Some(cx), args.after).with_page_size(page_size);
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let mut page = if args.follow {
            tokio::select! {
                _ = &mut ctrl_c => return Ok(Exit::Success),
                page = follower.next() => page?,
            }
        } else {
            follower.next_page().await?
        };
        if !args.follow {
            page.truncate(left);
        }
        let mut out = std::io::stdout().lock();
        for event in &page {
            let written = if args.json {
                serde_json::to_writer(&mut out, event)
                    .map_err(std::io::Error::from)
                    .and_then(|()| writeln!(out))
            } else {
                writeln!(out, "{}", line(event))
            };
            if let Err(e) = written {
                // A closed pipe (`events | head`) ends the listing quietly.
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(Exit::Success);
                }
                return Err(e.into());
            }
        }
        out.flush()?;
        drop(out);
        if !args.follow {
            left = left.saturating_sub(page.len());
            if page.is_empty() || left == 0 {
                return Ok(Exit::Success);
            }
        }
    }
}

/// The event log of a database already opened (its `events` table).
pub async fn open_event_log(
    _database: &super::Database,
    opened: &super::Opened,
) -> Result<Arc<dyn EventLog>> {
    Ok(opened.event_log().await?)
}

/// `POSITION  TIME  TYPE  TENANT  VISIBILITY  DATA`.
fn line(e: &Event) -> String {
    let data = serde_json::to_value(&e.payload)
        .ok()
        .and_then(|v| v.get("data").cloned())
        .map(|d| d.to_string())
        .unwrap_or_default();
    format!(
        "{:>6}  {}  {:<22}  {:<12}  {:<8}  {data}",
        e.position,
        utc_rfc3339(e.at_ms),
        e.event_type().as_str(),
        e.tenant_id.as_ref().map_or("-", |t| t.as_str()),
        e.visibility.as_str(),
    )
}
