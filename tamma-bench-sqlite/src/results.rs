//! [`SqliteStore`]: runs, trials and run annotations in the results database. WAL
//! journal, versioned migrations, batched transactional writes, paged streaming reads.

use crate::connection::{self, SharedConnection};
use crate::migrations::open_results;
use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use tamma_bench_core::events::run_completed_events;
use tamma_bench_core::model::{
    Outcome, Run, RunStatus, TenantId, Trial, TrialKey, Visibility, now_ms,
};
use tamma_bench_core::provider::Usage;
use tamma_bench_core::store::{AppendReport, BeginRun, ResultStore, StoreError, StoreErrorKind};

/// A [`ResultStore`] in a SQLite file (the CLI's default `./tamma-bench.db`).
///
/// One connection writes and one reads; WAL lets them run side by side, and other
/// processes may open the same file (writers wait up to the busy timeout).
pub struct SqliteStore {
    path: PathBuf,
    writer: SharedConnection,
    reader: SharedConnection,
    events: crate::events::Wake,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let writer = open_results(&path)?;
        // Each trial's index entry lands beside its case's earlier epochs, so a batch dirties
        // about one index page per trial, and the same pages again an epoch later. So the
        // writer checkpoints every 10,000 WAL pages (about 40 MB on disk) instead of
        // SQLite's 1,000: each page is written back once for many batches and the files are
        // synced a tenth as often. And its page cache is 8 MiB instead of 2, enough for the
        // page each case's next entry goes to (4 MiB for 1,000 cases). See
        // docs/performance.md for what each does to the write rate.
        writer
            .pragma_update(None, "wal_autocheckpoint", 10_000)
            .and_then(|()| writer.pragma_update(None, "cache_size", -8192))
            .map_err(StoreError::backend)?;
        let reader = connection::open(&path)?;
        Ok(Self {
            events: crate::events::Wake::of(&path),
            path,
            writer: SharedConnection::new(writer),
            reader: SharedConnection::new(reader),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on the writer connection on the blocking pool.
    async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.writer.run(f).await
    }

    /// Runs `f` on the reader connection on the blocking pool.
    async fn with_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.reader.run(|c| f(c)).await
    }
}

const RUN_COLUMNS: &str = "id, tenant_id, benchmark_id, benchmark_version, visibility, fingerprint, agents_json, \
                           epochs, n_cases, status, created_at_ms, updated_at_ms";

fn corrupt(what: &str, e: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("{what}: {e}").into(),
    )
}

fn run_from_row(row: &Row<'_>) -> rusqlite::Result<Run> {
    let tenant: String = row.get(1)?;
    let visibility: String = row.get(4)?;
    let agents: String = row.get(6)?;
    let status: String = row.get(9)?;
    Ok(Run {
        id: row.get(0)?,
        tenant_id: TenantId::new(tenant).map_err(|e| corrupt("tenant_id", e))?,
        benchmark_id: row.get(2)?,
        benchmark_version: row.get(3)?,
        visibility: if visibility == "public" {
            Visibility::Public
        } else {
            Visibility::Private
        },
        fingerprint: row.get(5)?,
        agents: serde_json::from_str(&agents).map_err(|e| corrupt("agents_json", e))?,
        epochs: row.get(7)?,
        n_cases: row.get::<_, i64>(8)? as u64,
        status: RunStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        created_at_ms: row.get(10)?,
        updated_at_ms: row.get(11)?,
    })
}

fn visibility_str(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Private => "private",
    }
}

fn db_err(e: rusqlite::Error) -> StoreError {
    match e {
        rusqlite::Error::FromSqlConversionFailure(..) => {
            StoreError::new(StoreErrorKind::Corrupt, e.to_string()).with_source(e)
        }
        e => StoreError::backend(e),
    }
}

const TRIAL_COLUMNS: &str = "run_id, tenant_id, agent, case_id, epoch, outcome_kind, headline, outcome_json, output, \
                             input_tokens, output_tokens, latency_ms, cost_usd, attempts, cache_hit, finished_at_ms, \
                             cluster, tags_json";

fn trial_from_row(row: &Row<'_>) -> rusqlite::Result<Trial> {
    let tenant: String = row.get(1)?;
    let outcome: String = row.get(7)?;
    Ok(Trial {
        run_id: row.get(0)?,
        tenant_id: TenantId::new(tenant).map_err(|e| corrupt("tenant_id", e))?,
        key: TrialKey {
            agent: row.get(2)?,
            case_id: row.get(3)?,
            epoch: row.get(4)?,
        },
        outcome: serde_json::from_str::<Outcome>(&outcome)
            .map_err(|e| corrupt("outcome_json", e))?,
        output: row.get(8)?,
        usage: Usage {
            input_tokens: row.get::<_, i64>(9)? as u64,
            output_tokens: row.get::<_, i64>(10)? as u64,
        },
        latency_ms: row.get(11)?,
        cost_usd: row.get(12)?,
        attempts: row.get(13)?,
        cache_hit: row.get(14)?,
        finished_at_ms: row.get(15)?,
        cluster: row.get(16)?,
        tags: match row.get::<_, Option<String>>(17)? {
            Some(t) => serde_json::from_str(&t).map_err(|e| corrupt("tags_json", e))?,
            None => Vec::new(),
        },
    })
}

fn get_run_any_tenant(conn: &Connection, run_id: &str) -> Result<Option<Run>, StoreError> {
    conn.query_row(
        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
        [run_id],
        run_from_row,
    )
    .optional()
    .map_err(db_err)
}

/// The one ownership check: the run `run_id` exists and belongs to `tenant`. Else
/// [`StoreErrorKind::NotFound`], which does not say whether another tenant has that id.
fn require_run_of(conn: &Connection, tenant: &TenantId, run_id: &str) -> Result<(), StoreError> {
    let owned: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM runs WHERE id = ?1 AND tenant_id = ?2)")
        .and_then(|mut stmt| stmt.query_row(params![run_id, tenant.as_str()], |r| r.get(0)))
        .map_err(db_err)?;
    if owned {
        Ok(())
    } else {
        Err(StoreError::run_not_found(run_id))
    }
}

#[async_trait]
impl ResultStore for SqliteStore {
    async fn begin_run(&self, run: &Run) -> Result<BeginRun, StoreError> {
        let run = run.clone();
        self.with_writer(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            let result = match get_run_any_tenant(&tx, &run.id)? {
                None => {
                    let agents = serde_json::to_string(&run.agents).map_err(StoreError::backend)?;
                    tx.execute(
                        &format!("INSERT INTO runs ({RUN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
                        params![
                            run.id, run.tenant_id.as_str(), run.benchmark_id, run.benchmark_version,
                            visibility_str(run.visibility), run.fingerprint, agents, run.epochs,
                            run.n_cases as i64, run.status.as_str(), run.created_at_ms, run.updated_at_ms
                        ],
                    )
                    .map_err(db_err)?;
                    BeginRun::Created
                }
                Some(stored) if stored.tenant_id != run.tenant_id => {
                    return Err(StoreError::new(StoreErrorKind::Conflict, format!("run id {:?} is already in use", run.id)));
                }
                Some(stored) if stored.fingerprint != run.fingerprint => {
                    return Err(StoreError::fingerprint_mismatch(&run, &stored));
                }
                Some(mut stored) => {
                    stored.status = RunStatus::Running;
                    stored.epochs = stored.epochs.max(run.epochs);
                    stored.updated_at_ms = now_ms();
                    tx.execute(
                        "UPDATE runs SET status = ?2, epochs = ?3, updated_at_ms = ?4 WHERE id = ?1",
                        params![stored.id, stored.status.as_str(), stored.epochs, stored.updated_at_ms],
                    )
                    .map_err(db_err)?;
                    BeginRun::Resumed(stored)
                }
            };
            tx.commit().map_err(db_err)?;
            Ok(result)
        })
        .await
    }

    async fn set_run_status(
        &self,
        tenant: &TenantId,
        run_id: &str,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        let (tenant, run_id) = (tenant.clone(), run_id.to_owned());
        let logged = self
            .with_writer(move |conn| {
                let tx = conn
                    .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                    .map_err(db_err)?;
                let run = tx
                    .query_row(
                        &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1 AND tenant_id = ?2"),
                        params![run_id, tenant.as_str()],
                        run_from_row,
                    )
                    .optional()
                    .map_err(db_err)?
                    .ok_or_else(|| StoreError::run_not_found(&run_id))?;
                tx.execute(
                "UPDATE runs SET status = ?3, updated_at_ms = ?4 WHERE id = ?1 AND tenant_id = ?2",
                params![run_id, tenant.as_str(), status.as_str(), now_ms()],
            )
            .map_err(db_err)?;
                // The outbox: the first completion is logged in the transaction that makes it.
                let logged = if status == RunStatus::Completed && run.status != RunStatus::Completed
                {
                    crate::events::append_in(&tx, &run_completed_events(&run))
                        .map_err(db_err)?
                        .len()
                } else {
                    0
                };
                tx.commit().map_err(db_err)?;
                Ok(logged)
            })
            .await?;
        if logged > 0 {
            self.events.bump();
        }
        Ok(())
    }

    async fn append_trials(&self, trials: Vec<Trial>) -> Result<AppendReport, StoreError> {
        if trials.is_empty() {
            return Ok(AppendReport::default());
        }
        self.with_writer(move |conn| {
            let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(db_err)?;
            // Every trial must belong to a run of its tenant; checked once per distinct pair.
            let mut checked: Vec<(&str, &TenantId)> = Vec::new();
            for t in &trials {
                if !checked.iter().any(|(r, ten)| *r == t.run_id && *ten == &t.tenant_id) {
                    require_run_of(&tx, &t.tenant_id, &t.run_id)?;
                    checked.push((&t.run_id, &t.tenant_id));
                }
            }
            let mut report = AppendReport::default();
            {
                let mut stmt = tx
                    .prepare_cached(&format!(
                        "INSERT OR IGNORE INTO trials ({TRIAL_COLUMNS}) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
                    ))
                    .map_err(db_err)?;
                for t in &trials {
                    let outcome = serde_json::to_string(&t.outcome).map_err(StoreError::backend)?;
                    let tags = if t.tags.is_empty() { None } else { Some(serde_json::to_string(&t.tags).map_err(StoreError::backend)?) };
                    let n = stmt
                        .execute(params![
                            t.run_id, t.tenant_id.as_str(), t.key.agent, t.key.case_id, t.key.epoch,
                            t.outcome.kind_name(), t.outcome.headline(), outcome, t.output,
                            t.usage.input_tokens as i64, t.usage.output_tokens as i64, t.latency_ms,
                            t.cost_usd, t.attempts, t.cache_hit, t.finished_at_ms, t.cluster, tags
                        ])
                        .map_err(db_err)?;
                    if n == 1 { report.inserted += 1 } else { report.duplicates += 1 }
                }
            }
            tx.commit().map_err(db_err)?;
            Ok(report)
        })
        .await
    }

    async fn completed_keys(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<HashSet<TrialKey>, StoreError> {
        let (tenant, run_id) = (tenant.clone(), run_id.to_owned());
        self.with_reader(move |conn| {
            require_run_of(conn, &tenant, &run_id)?;
            let mut stmt = conn
                .prepare_cached("SELECT agent, case_id, epoch FROM trials WHERE run_id = ?1")
                .map_err(db_err)?;
            let keys = stmt
                .query_map([&run_id], |r| {
                    Ok(TrialKey {
                        agent: r.get(0)?,
                        case_id: r.get(1)?,
                        epoch: r.get(2)?,
                    })
                })
                .map_err(db_err)?
                .collect::<Result<HashSet<_>, _>>()
                .map_err(db_err)?;
            Ok(keys)
        })
        .await
    }

    async fn get_run(&self, tenant: &TenantId, run_id: &str) -> Result<Option<Run>, StoreError> {
        let (tenant, run_id) = (tenant.clone(), run_id.to_owned());
        self.with_reader(move |conn| {
            Ok(get_run_any_tenant(conn, &run_id)?.filter(|r| r.tenant_id == tenant))
        })
        .await
    }

    async fn annotate_run(
        &self,
        tenant: &TenantId,
        run_id: &str,
        key: &str,
        value: serde_json::Value,
    ) -> Result<(), StoreError> {
        let (tenant, run_id, key) = (tenant.clone(), run_id.to_owned(), key.to_owned());
        let value = serde_json::to_string(&value).map_err(StoreError::backend)?;
        self.with_writer(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err)?;
            require_run_of(&tx, &tenant, &run_id)?;
            tx.execute(
                "INSERT INTO run_annotations (run_id, key, value_json) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (run_id, key) DO UPDATE SET value_json = excluded.value_json",
                params![run_id, key, value],
            )
            .map_err(db_err)?;
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn run_annotations(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<std::collections::BTreeMap<String, serde_json::Value>, StoreError> {
        let (tenant, run_id) = (tenant.clone(), run_id.to_owned());
        self.with_reader(move |conn| {
            require_run_of(conn, &tenant, &run_id)?;
            let mut stmt = conn
                .prepare_cached("SELECT key, value_json FROM run_annotations WHERE run_id = ?1")
                .map_err(db_err)?;
            let rows = stmt
                .query_map([&run_id], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .map_err(db_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(db_err)?;
            rows.into_iter()
                .map(|(k, v)| {
                    let value = serde_json::from_str(&v).map_err(|e| {
                        StoreError::new(StoreErrorKind::Corrupt, format!("annotation {k}: {e}"))
                    })?;
                    Ok((k, value))
                })
                .collect()
        })
        .await
    }

    async fn rewrite_run(&self, run: &Run, trials: Vec<Trial>) -> Result<(), StoreError> {
        let run = run.clone();
        let agents = serde_json::to_string(&run.agents).map_err(StoreError::backend)?;
        self.with_writer(move |conn| {
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(db_err)?;
            let n = tx
                .execute(
                    "UPDATE runs SET agents_json = ?3 WHERE id = ?1 AND tenant_id = ?2",
                    params![run.id, run.tenant_id.as_str(), agents],
                )
                .map_err(db_err)?;
            if n == 0 {
                return Err(StoreError::run_not_found(&run.id));
            }
            {
                let mut stmt = tx
                    .prepare_cached(
                        "UPDATE trials SET outcome_kind = ?6, headline = ?7, outcome_json = ?8, output = ?9 \
                         WHERE run_id = ?1 AND tenant_id = ?2 AND agent = ?3 AND case_id = ?4 AND epoch = ?5",
                    )
                    .map_err(db_err)?;
                for t in &trials {
                    let outcome = serde_json::to_string(&t.outcome).map_err(StoreError::backend)?;
                    let n = if t.run_id == run.id && t.tenant_id == run.tenant_id {
                        stmt.execute(params![
                            t.run_id, t.tenant_id.as_str(), t.key.agent, t.key.case_id, t.key.epoch,
                            t.outcome.kind_name(), t.outcome.headline(), outcome, t.output
                        ])
                        .map_err(db_err)?
                    } else {
                        0
                    };
                    if n == 0 {
                        // Dropping the transaction rolls back what was written.
                        return Err(StoreError::trial_not_found(&run.id, &t.key));
                    }
                }
            }
            tx.commit().map_err(db_err)
        })
        .await
    }

    async fn list_runs(&self, tenant: &TenantId) -> Result<Vec<Run>, StoreError> {
        let tenant = tenant.clone();
        self.with_reader(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE tenant_id = ?1 ORDER BY created_at_ms DESC, id"))
                .map_err(db_err)?;
            let runs = stmt.query_map([tenant.as_str()], run_from_row).map_err(db_err)?.collect::<Result<Vec<_>, _>>().map_err(db_err)?;
            Ok(runs)
        })
        .await
    }

    async fn list_public_runs(&self) -> Result<Vec<Run>, StoreError> {
        self.with_reader(move |conn| {
            let mut stmt = conn
                .prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE visibility = 'public' ORDER BY created_at_ms DESC, id"))
                .map_err(db_err)?;
            let runs = stmt.query_map([], run_from_row).map_err(db_err)?.collect::<Result<Vec<_>, _>>().map_err(db_err)?;
            Ok(runs)
        })
        .await
    }

    fn trials<'a>(
        &'a self,
        tenant: &'a TenantId,
        run_id: &'a str,
    ) -> BoxStream<'a, Result<Trial, StoreError>> {
        self.trials_after(tenant, run_id, None)
    }

    fn trials_after<'a>(
        &'a self,
        tenant: &'a TenantId,
        run_id: &'a str,
        after: Option<TrialKey>,
    ) -> BoxStream<'a, Result<Trial, StoreError>> {
        // Keyset pages along the unique (run_id, agent, case_id, epoch) index: each page is
        // one index range scan, whatever the size of the run.
        const PAGE: i64 = 2048;
        let first = after.is_none();
        let start = after.unwrap_or(TrialKey {
            agent: String::new(),
            case_id: String::new(),
            epoch: 0,
        });
        stream::unfold(Some((start, first)), move |cursor| async move {
            let (after, first) = cursor?;
            let (tenant, run_id) = (tenant.clone(), run_id.to_owned());
            let page = self
                .with_reader(move |conn| {
                    let range = if first { "?3 IS NOT NULL AND ?4 IS NOT NULL AND ?5 IS NOT NULL" } else { "(agent, case_id, epoch) > (?3, ?4, ?5)" };
                    let mut stmt = conn
                        .prepare_cached(&format!(
                            "SELECT {TRIAL_COLUMNS} FROM trials WHERE run_id = ?1 AND tenant_id = ?2 AND {range} \
                             ORDER BY agent, case_id, epoch LIMIT ?6"
                        ))
                        .map_err(db_err)?;
                    let rows = stmt
                        .query_map(params![run_id, tenant.as_str(), after.agent, after.case_id, after.epoch, PAGE], trial_from_row)
                        .map_err(db_err)?
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(db_err)?;
                    Ok(rows)
                })
                .await;
            match page {
                Err(e) => Some((vec![Err(e)], None)),
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = (rows.len() as i64 == PAGE).then(|| rows.last().map(|t| (t.key.clone(), false))).flatten();
                    Some((rows.into_iter().map(Ok).collect::<Vec<_>>(), next))
                }
            }
        })
        .flat_map(stream::iter)
        .boxed()
    }
}
