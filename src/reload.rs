//! Live configuration: a running worker or host picks up a changed configuration file,
//! validates it, and applies the queue's tier limits and the feature flags without a
//! restart; every applied change is recorded in the audit log (`config_change`, with the
//! old and new digests and who changed it) and, when the host has an event log, as a
//! `ConfigChanged` event.
//!
//! The file is polled (its size, modification time and, when they move, its content's
//! digest) every [`ReloadOptions::interval`] (250 ms by default), rather than watched with
//! inotify: editors and deployment tools replace a file by renaming a new one over it
//! (and Kubernetes swaps a symlink), which an inotify watch on the file misses and a watch
//! on its folder sees as a burst of events to debounce; a stat four times a second costs
//! nothing and sees every kind of replacement, so a change takes effect within a second.
//!
//! An invalid file (syntax, an unknown field, a limit out of range) is refused: the error
//! names the file, line and field, is logged and reported once, and the old configuration
//! stays in force.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tamma_bench_core::config::{Config, ConfigError};
use tamma_bench_core::events::{EventLog, EventPayload, NewEvent};
use tamma_bench_core::flags::FlagHandle;
use tamma_bench_core::model::TenantContext;
use tamma_bench_core::queue::JobQueue;
use tamma_bench_privacy::audit::{AuditAction, AuditClass, AuditEntry, AuditLog, Decision};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// What the configuration is applied to. Every part is optional.
#[derive(Clone, Default)]
pub struct ReloadTargets {
    /// The job queue: its tiers, leases and ageing.
    pub queue: Option<Arc<dyn JobQueue>>,
    /// The feature flags.
    pub flags: Option<Arc<FlagHandle>>,
    /// The audit log: one `config_change` entry per applied change.
    pub audit: Option<Arc<AuditLog>>,
    /// The event log: one `ConfigChanged` event per applied change.
    pub events: Option<Arc<dyn EventLog>>,
}

/// How to watch.
#[derive(Debug, Clone)]
pub struct ReloadOptions {
    /// How often the file is checked.
    pub interval: Duration,
    /// The environment overrides (`TAMMA_BENCH__...`), taken once at start: a reload
    /// layers the same ones over the new file.
    pub env: Vec<(String, String)>,
    /// Who the change is recorded as (the audit entry's tenant and principal).
    pub actor: TenantContext,
}

impl ReloadOptions {
    /// Every 250 ms, with the process's environment, recorded as `actor`.
    pub fn new(actor: TenantContext) -> Self {
        Self {
            interval: Duration::from_millis(250),
            env: std::env::vars().collect(),
            actor,
        }
    }
}

/// The last thing the watcher did.
#[derive(Debug, Clone)]
pub enum ReloadStatus {
    /// Watching; nothing changed since start.
    Started {
        /// The digest in force.
        digest: String,
    },
    /// A change was applied.
    Applied {
        /// The digest before.
        old_digest: String,
        /// The digest now in force.
        new_digest: String,
        /// The fields that changed.
        fields: Vec<String>,
    },
    /// A changed file was refused; the old configuration stays.
    Refused {
        /// Why (file, line, field).
        error: ConfigError,
        /// The digest still in force.
        digest: String,
    },
}

/// A running watcher: the configuration in force and the last status.
#[derive(Debug, Clone)]
pub struct Reloader {
    current: watch::Receiver<Arc<Config>>,
    status: watch::Receiver<ReloadStatus>,
}

impl Reloader {
    /// The configuration in force.
    pub fn current(&self) -> Arc<Config> {
        self.current.borrow().clone()
    }

    /// Follows the status: each applied or refused change.
    pub fn status(&self) -> watch::Receiver<ReloadStatus> {
        self.status.clone()
    }
}

/// The file's identity as a stat sees it.
fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

fn digest(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// Starts watching `path`, whose current content `initial` was loaded from (and is
/// already applied by the host), until `cancel` fires.
pub fn watch_config(
    path: impl Into<PathBuf>,
    initial: Config,
    targets: ReloadTargets,
    options: ReloadOptions,
    cancel: CancellationToken,
) -> Reloader {
    let path = path.into();
    let initial = Arc::new(initial);
    let (current_tx, current) = watch::channel(initial.clone());
    let (status_tx, status) = watch::channel(ReloadStatus::Started {
        digest: initial.digest(),
    });
    tokio::spawn(async move {
        let mut seen_stamp = stamp(&path);
        let mut seen_bytes = std::fs::read(&path).map(|b| digest(&b)).ok();
        let mut in_force = initial;
        let mut ticker = tokio::time::interval(options.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = ticker.tick() => {}
            }
            let now_stamp = stamp(&path);
            if now_stamp == seen_stamp {
                continue;
            }
            seen_stamp = now_stamp;
            let Ok(bytes) = std::fs::read(&path) else {
                continue; // being replaced: the next tick sees the new file
            };
            let bytes_digest = digest(&bytes);
            if seen_bytes.as_deref() == Some(bytes_digest.as_str()) {
                continue; // touched, not changed
            }
            seen_bytes = Some(bytes_digest);
            let text = String::from_utf8_lossy(&bytes);
            let next = match Config::from_toml_str(&path, &text, options.env.clone()) {
                Ok(next) => next,
                Err(error) => {
                    tracing::error!(file = %path.display(), %error, "configuration refused; the old one stays");
                    let _ = status_tx.send(ReloadStatus::Refused {
                        error,
                        digest: in_force.digest(),
                    });
                    continue;
                }
            };
            if next.digest() == in_force.digest() {
                continue;
            }
            match apply(&path, &in_force, &next, &targets, &options).await {
                Ok(fields) => {
                    let old_digest = in_force.digest();
                    in_force = Arc::new(next);
                    let _ = current_tx.send(in_force.clone());
                    tracing::info!(file = %path.display(), ?fields, "configuration applied");
                    let _ = status_tx.send(ReloadStatus::Applied {
                        old_digest,
                        new_digest: in_force.digest(),
                        fields,
                    });
                }
                Err(error) => {
                    tracing::error!(file = %path.display(), %error, "configuration refused; the old one stays");
                    let _ = status_tx.send(ReloadStatus::Refused {
                        error,
                        digest: in_force.digest(),
                    });
                }
            }
        }
    });
    Reloader { current, status }
}

/// Applies `next` over `old`: queue, then flags, then the records. Returns the fields
/// that changed.
async fn apply(
    path: &Path,
    old: &Config,
    next: &Config,
    targets: &ReloadTargets,
    options: &ReloadOptions,
) -> Result<Vec<String>, ConfigError> {
    let refused = |message: String| {
        ConfigError::new(
            tamma_bench_core::config::ConfigErrorKind::Invalid,
            tamma_bench_core::config::Origin::File {
                path: path.to_path_buf(),
                line: None,
            },
            None,
            message,
        )
    };
    let flags = next
        .flag_set()
        .map_err(|e| refused(format!("flags: {e}")))?;
    if let Some(queue) = &targets.queue {
        queue
            .reconfigure(next.queue.clone())
            .map_err(|e| refused(format!("queue: {e}")))?;
    }
    if let Some(handle) = &targets.flags {
        handle.replace(flags);
    }
    let fields = old.changed_fields(next);
    let (old_digest, new_digest) = (old.digest(), next.digest());
    let who = changed_by(path, &options.actor);
    if let Some(audit) = &targets.audit {
        let entry = AuditEntry::new(
            &TenantContext {
                principal: who.clone(),
                ..options.actor.clone()
            },
            AuditAction::ConfigChange,
            format!(
                "config:{}:sha256:{old_digest}->sha256:{new_digest}",
                path.display()
            ),
            AuditClass::Internal,
            Decision::Allow,
            Vec::new(),
        );
        if let Err(e) = audit.append(&entry).await {
            tracing::error!(error = %e, "the configuration change could not be audited");
        }
    }
    if let Some(events) = &targets.events {
        let event = NewEvent::new(
            None,
            EventPayload::ConfigChanged {
                old_digest,
                new_digest,
                fields: fields.clone(),
                changed_by: who,
            },
        );
        if let Err(e) = events.append(vec![event]).await {
            tracing::error!(error = %e, "the ConfigChanged event could not be logged");
        }
    }
    Ok(fields)
}

/// Who changed the file: its owner (uid on Unix) as seen by the reloading process, and
/// the principal the process acts as.
fn changed_by(path: &Path, actor: &TenantContext) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let Ok(meta) = std::fs::metadata(path) {
            return format!("{} (file owner uid {})", actor.principal, meta.uid());
        }
    }
    actor.principal.clone()
}
