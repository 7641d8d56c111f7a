//! `tamma-bench bridge`: publish the event log to NATS JetStream (stream
//! `TAMMA_<DEPLOYMENT>`, subject `tamma.<deployment>.<event type>`, de-duplicated by event
//! id), following it until Ctrl-C, or once with `--once`.

use super::events::open_event_log;
use super::{Exit, StoreArgs};
use anyhow::{Context, Result};
use clap::Args;
use tamma_bench::nats::{Bridge, Deployment, JetStreamPublisher};
use tokio_util::sync::CancellationToken;

/// Arguments of `bridge`.
#[derive(Debug, Args)]
pub struct BridgeArgs {
    /// The NATS server.
    #[arg(long, value_name = "URL", default_value = "nats://127.0.0.1:4222")]
    pub nats: String,
    /// The deployment's name ([a-z0-9_-], 1-64): the stream `TAMMA_<NAME>` and the
    /// subjects `tamma.<name>.>`; the bridge's offset in the log is `nats:<name>`.
    #[arg(long, value_name = "NAME")]
    pub deployment: String,
    /// Publish what the log holds now and exit, instead of following it.
    #[arg(long)]
    pub once: bool,
    /// The database (the caller's context is not used: the bus carries every event for
    /// the deployment's own services, never for tenants).
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Runs the bridge.
pub async fn execute(args: BridgeArgs) -> Result<Exit> {
    let deployment = Deployment::new(&args.deployment)?;
    let database = args.store.database();
    let opened = database.open(false).await?;
    let log = open_event_log(&database, &opened).await?;
    let publisher = JetStreamPublisher::connect(&args.nats, deployment)
        .await
        .with_context(|| format!("cannot reach NATS at {}", args.nats))?;
    let bridge = Bridge::new(log, publisher)?;
    let stats = if args.once {
        bridge.catch_up().await?
    } else {
        let cancel = CancellationToken::new();
        let stop = cancel.clone();
        tokio::spawn(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        });
        bridge.run(&cancel).await?
    };
    println!(
        "published {} events to {}; the log's offset is {}",
        stats.delivered, args.deployment, stats.offset
    );
    Ok(Exit::Success)
}
