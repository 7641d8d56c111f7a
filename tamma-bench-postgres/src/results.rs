//! [`ResultStore`] for [`PostgresStore`]: runs, trials and annotations, each call one
//! transaction scoped to its tenant.

use crate::{PostgresStore, begin, corrupt, db_err};
use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};
use std::collections::{BTreeMap, HashSet};
use tamma_bench_core::model::{
    Outcome, Run, RunStatus, TenantId, Trial, TrialKey, Visibility, now_ms,
};
use tamma_bench_core::provider::Usage;
use tamma_bench_core::store::{AppendReport, BeginRun, ResultStore, StoreError, StoreErrorKind};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

const RUN_COLUMNS: &str = "id, tenant_id, benchmark_id, benchmark_version, visibility, fingerprint, \
                           agents_json, epochs, n_cases, status, created_at_ms, updated_at_ms";

/// The columns of `public_runs`: a run's public fields and its owner (no fingerprint; the
/// agents' names, providers and models only).
const PUBLIC_RUN_COLUMNS: &str = "id, tenant_id, benchmark_id, benchmark_version, visibility, '', \
                                  agents_json, epochs, n_cases, status, created_at_ms, updated_at_ms";

const TRIAL_COLUMNS: &str = "run_id, tenant_id, agent, case_id, epoch, outcome_json, output, input_tokens, \
                             output_tokens, latency_ms, cost_usd, attempts, cache_hit, finished_at_ms, \
                             cluster, tags_json";

/// Rows per keyset page of [`ResultStore::trials`].
const PAGE: i64 = 2048;

fn run_not_found(run_id: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::NotFound,
        format!("no run {run_id:?} for this tenant"),
    )
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i)
        .map_err(|e| corrupt(format!("column {i}: {e}")))
}

fn unsigned<T: TryFrom<i64>>(v: i64, what: &str) -> Result<T, StoreError> {
    T::try_from(v).map_err(|_| corrupt(format!("{what} out of range: {v}")))
}

fn signed(v: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| {
        StoreError::new(
            StoreErrorKind::Backend,
            format!("{what} too large to store: {v}"),
        )
    })
}

fn tenant_of(s: String) -> Result<TenantId, StoreError> {
    TenantId::new(s).map_err(|e| corrupt(format!("tenant_id: {e}")))
}

fn json<T: serde::de::DeserializeOwned>(s: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| corrupt(format!("{what}: {e}")))
}

fn to_json(v: &impl serde::Serialize) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::new(StoreErrorKind::Backend, e.to_string()))
}

fn run_from_row(row: &Row) -> Result<Run, StoreError> {
    let status: String = get(row, 9)?;
    Ok(Run {
        id: get(row, 0)?,
        tenant_id: tenant_of(get(row, 1)?)?,
        benchmark_id: get(row, 2)?,
        benchmark_version: get(row, 3)?,
        visibility: if get::<&str>(row, 4)? == "public" {
            Visibility::Public
        } else {
            Visibility::Private
        },
        fingerprint: get(row, 5)?,
        agents: json(get(row, 6)?, "agents_json")?,
        epochs: unsigned(get(row, 7)?, "epochs")?,
        n_cases: unsigned(get(row, 8)?, "n_cases")?,
        status: RunStatus::parse(&status).ok_or_else(|| corrupt(format!("status {status:?}")))?,
        created_at_ms: get(row, 10)?,
        updated_at_ms: get(row, 11)?,
    })
}

fn trial_from_row(row: &Row) -> Result<Trial, StoreError> {
    Ok(Trial {
        run_id: get(row, 0)?,
        tenant_id: tenant_of(get(row, 1)?)?,
        key: TrialKey {
            agent: get(row, 2)?,
            case_id: get(row, 3)?,
            epoch: unsigned(get(row, 4)?, "epoch")?,
        },
        outcome: json::<Outcome>(get(row, 5)?, "outcome_json")?,
        output: get(row, 6)?,
        usage: Usage {
            input_tokens: unsigned(get(row, 7)?, "input_tokens")?,
            output_tokens: unsigned(get(row, 8)?, "output_tokens")?,
        },
        latency_ms: get(row, 9)?,
        cost_usd: get(row, 10)?,
        attempts: unsigned(get(row, 11)?, "attempts")?,
        cache_hit: get(row, 12)?,
        finished_at_ms: get(row, 13)?,
        cluster: get(row, 14)?,
        tags: match get::<Option<&str>>(row, 15)? {
            Some(t) => json(t, "tags_json")?,
            None => Vec::new(),
        },
    })
}

/// The public error of a trial's outcome (see `tamma-bench-privacy`'s `PublicTrial`).
fn error_kind(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::InfraFailure { error, .. } => Some(error.as_str().to_owned()),
        Outcome::ScorerError { scorer, .. } => Some(format!("scorer:{scorer}")),
        _ => None,
    }
}

fn visibility_str(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Private => "private",
    }
}

async fn own_run(
    tx: &tokio_postgres::Transaction<'_>,
    tenant: &TenantId,
    run_id: &str,
) -> Result<Option<Run>, StoreError> {
    let row = tx
        .query_opt(
            &format!("SELECT {RUN_COLUMNS} FROM runs WHERE tenant_id = $1 AND id = $2"),
            &[&tenant.as_str(), &run_id],
        )
        .await
        .map_err(db_err)?;
    row.as_ref().map(run_from_row).transpose()
}

async fn require_own_run(
    tx: &tokio_postgres::Transaction<'_>,
    tenant: &TenantId,
    run_id: &str,
) -> Result<(), StoreError> {
    let found = tx
        .query_opt(
            "SELECT 1 FROM runs WHERE tenant_id = $1 AND id = $2",
            &[&tenant.as_str(), &run_id],
        )
        .await
        .map_err(db_err)?;
    found.map(drop).ok_or_else(|| run_not_found(run_id))
}

/// The columns of a batch of trials, one array each, for one `INSERT ... SELECT unnest`.
#[derive(Default)]
struct TrialColumns {
    run_id: Vec<String>,
    agent: Vec<String>,
    case_id: Vec<String>,
    epoch: Vec<i64>,
    outcome_kind: Vec<&'static str>,
    error_kind: Vec<Option<String>>,
    headline: Vec<Option<f64>>,
    outcome_json: Vec<String>,
    output: Vec<Option<String>>,
    input_tokens: Vec<i64>,
    output_tokens: Vec<i64>,
    latency_ms: Vec<f64>,
    cost_usd: Vec<f64>,
    attempts: Vec<i64>,
    cache_hit: Vec<bool>,
    finished_at_ms: Vec<i64>,
    cluster: Vec<Option<String>>,
    tags_json: Vec<Option<String>>,
}

impl TrialColumns {
    fn push(&mut self, t: &Trial) -> Result<(), StoreError> {
        self.run_id.push(t.run_id.clone());
        self.agent.push(t.key.agent.clone());
        self.case_id.push(t.key.case_id.clone());
        self.epoch.push(i64::from(t.key.epoch));
        self.outcome_kind.push(t.outcome.kind_name());
        self.error_kind.push(error_kind(&t.outcome));
        self.headline.push(t.outcome.headline());
        self.outcome_json.push(to_json(&t.outcome)?);
        self.output.push(t.output.clone());
        self.input_tokens
            .push(signed(t.usage.input_tokens, "input_tokens")?);
        self.output_tokens
            .push(signed(t.usage.output_tokens, "output_tokens")?);
        self.latency_ms.push(t.latency_ms);
        self.cost_usd.push(t.cost_usd);
        self.attempts.push(i64::from(t.attempts));
        self.cache_hit.push(t.cache_hit);
        self.finished_at_ms.push(t.finished_at_ms);
        self.cluster.push(t.cluster.clone());
        self.tags_json.push(if t.tags.is_empty() {
            None
        } else {
            Some(to_json(&t.tags)?)
        });
        Ok(())
    }
}

#[async_trait]
impl ResultStore for PostgresStore {
    async fn begin_run(&self, run: &Run) -> Result<BeginRun, StoreError> {
        let agents = to_json(&run.agents)?;
        let n_cases = signed(run.n_cases, "n_cases")?;
        let mut client = self.client().await?;
        let tx = begin(&mut client, Some(&run.tenant_id)).await?;
        let mut stored = own_run(&tx, &run.tenant_id, &run.id).await?;
        if stored.is_none() {
            // A taken id of another tenant is invisible here but still unique: the insert
            // then writes nothing.
            let inserted = tx
                .execute(
                    &format!(
                        "INSERT INTO runs ({RUN_COLUMNS}) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                         ON CONFLICT (id) DO NOTHING"
                    ),
                    &[
                        &run.id,
                        &run.tenant_id.as_str(),
                        &run.benchmark_id,
                        &run.benchmark_version,
                        &visibility_str(run.visibility),
                        &run.fingerprint,
                        &agents,
                        &i64::from(run.epochs),
                        &n_cases,
                        &run.status.as_str(),
                        &run.created_at_ms,
                        &run.updated_at_ms,
                    ],
                )
                .await
                .map_err(db_err)?;
            if inserted == 1 {
                tx.commit().await.map_err(db_err)?;
                return Ok(BeginRun::Created);
            }
            // Taken: by this tenant in a concurrent call (then resume it), or by another.
            stored = own_run(&tx, &run.tenant_id, &run.id).await?;
        }
        let Some(mut stored) = stored else {
            return Err(StoreError::new(
                StoreErrorKind::Conflict,
                format!("run id {:?} is already in use", run.id),
            ));
        };
        if stored.fingerprint != run.fingerprint {
            return Err(StoreError::new(
                StoreErrorKind::FingerprintMismatch,
                format!(
                    "run id {:?} was started with benchmark {} version {} and other agent or benchmark \
                     settings (fingerprint {} vs {}); resume with the same files, or choose a new --run-id",
                    run.id,
                    stored.benchmark_id,
                    stored.benchmark_version,
                    &stored.fingerprint[..stored.fingerprint.len().min(12)],
                    &run.fingerprint[..run.fingerprint.len().min(12)],
                ),
            ));
        }
        stored.status = RunStatus::Running;
        stored.epochs = stored.epochs.max(run.epochs);
        stored.updated_at_ms = now_ms();
        tx.execute(
            "UPDATE runs SET status = $3, epochs = $4, updated_at_ms = $5 \
             WHERE tenant_id = $1 AND id = $2",
            &[
                &stored.tenant_id.as_str(),
                &stored.id,
                &stored.status.as_str(),
                &i64::from(stored.epochs),
                &stored.updated_at_ms,
            ],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(BeginRun::Resumed(stored))
    }

    async fn set_run_status(
        &self,
        tenant: &TenantId,
        run_id: &str,
        status: RunStatus,
    ) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        let n = tx
            .execute(
                "UPDATE runs SET status = $3, updated_at_ms = $4 WHERE tenant_id = $1 AND id = $2",
                &[&tenant.as_str(), &run_id, &status.as_str(), &now_ms()],
            )
            .await
            .map_err(db_err)?;
        if n == 0 {
            return Err(run_not_found(run_id));
        }
        tx.commit().await.map_err(db_err)
    }

    async fn append_trials(&self, trials: Vec<Trial>) -> Result<AppendReport, StoreError> {
        if trials.is_empty() {
            return Ok(AppendReport::default());
        }
        // One transaction; the tenant is set per group of trials. Rows go in key order, so
        // concurrent writers of overlapping batches wait on each other without deadlock.
        let mut by_tenant: BTreeMap<&str, Vec<&Trial>> = BTreeMap::new();
        for t in &trials {
            by_tenant.entry(t.tenant_id.as_str()).or_default().push(t);
        }
        let mut client = self.client().await?;
        let tx = begin(&mut client, None).await?;
        let insert = tx
            .prepare_cached(
                "INSERT INTO trials (tenant_id, run_id, agent, case_id, epoch, outcome_kind, error_kind, \
                 headline, outcome_json, output, input_tokens, output_tokens, latency_ms, cost_usd, attempts, \
                 cache_hit, finished_at_ms, cluster, tags_json) \
                 SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int8[], $6::text[], \
                 $7::text[], $8::float8[], $9::text[], $10::text[], $11::int8[], $12::int8[], $13::float8[], \
                 $14::float8[], $15::int8[], $16::bool[], $17::int8[], $18::text[], $19::text[]) \
                 ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(db_err)?;
        let mut report = AppendReport::default();
        for (tenant, mut group) in by_tenant {
            tx.execute("SELECT set_config('tamma.tenant_id', $1, true)", &[&tenant])
                .await
                .map_err(db_err)?;
            let run_ids: Vec<&str> = group
                .iter()
                .map(|t| t.run_id.as_str())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let found: HashSet<String> = tx
                .query(
                    "SELECT id FROM runs WHERE tenant_id = $1 AND id = ANY($2)",
                    &[&tenant, &run_ids],
                )
                .await
                .map_err(db_err)?
                .iter()
                .map(|r| get::<String>(r, 0))
                .collect::<Result<_, _>>()?;
            if let Some(missing) = run_ids.iter().find(|id| !found.contains(**id)) {
                // Dropping the transaction rolls back the groups already written.
                return Err(run_not_found(missing));
            }
            group.sort_by(|a, b| (&a.run_id, &a.key).cmp(&(&b.run_id, &b.key)));
            let mut cols = TrialColumns::default();
            for t in &group {
                cols.push(t)?;
            }
            let params: [&(dyn ToSql + Sync); 19] = [
                &tenant,
                &cols.run_id,
                &cols.agent,
                &cols.case_id,
                &cols.epoch,
                &cols.outcome_kind,
                &cols.error_kind,
                &cols.headline,
                &cols.outcome_json,
                &cols.output,
                &cols.input_tokens,
                &cols.output_tokens,
                &cols.latency_ms,
                &cols.cost_usd,
                &cols.attempts,
                &cols.cache_hit,
                &cols.finished_at_ms,
                &cols.cluster,
                &cols.tags_json,
            ];
            let inserted = tx.execute(&insert, &params).await.map_err(db_err)?;
            report.inserted += inserted;
            report.duplicates += group.len() as u64 - inserted;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(report)
    }

    async fn completed_keys(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<HashSet<TrialKey>, StoreError> {
        let mut client = self.client().await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        require_own_run(&tx, tenant, run_id).await?;
        let rows = tx
            .query(
                "SELECT agent, case_id, epoch FROM trials WHERE tenant_id = $1 AND run_id = $2",
                &[&tenant.as_str(), &run_id],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        rows.iter()
            .map(|r| {
                Ok(TrialKey {
                    agent: get(r, 0)?,
                    case_id: get(r, 1)?,
                    epoch: unsigned(get(r, 2)?, "epoch")?,
                })
            })
            .collect()
    }

    async fn get_run(&self, tenant: &TenantId, run_id: &str) -> Result<Option<Run>, StoreError> {
        let mut client = self.client().await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        let run = own_run(&tx, tenant, run_id).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(run)
    }

    async fn annotate_run(
        &self,
        tenant: &TenantId,
        run_id: &str,
        key: &str,
        value: serde_json::Value,
    ) -> Result<(), StoreError> {
        let value = to_json(&value)?;
        let mut client = self.client().await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        require_own_run(&tx, tenant, run_id).await?;
        tx.execute(
            "INSERT INTO run_annotations (tenant_id, run_id, key, value_json) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant_id, run_id, key) DO UPDATE SET value_json = excluded.value_json",
            &[&tenant.as_str(), &run_id, &key, &value],
        )
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn run_annotations(
        &self,
        tenant: &TenantId,
        run_id: &str,
    ) -> Result<BTreeMap<String, serde_json::Value>, StoreError> {
        let mut client = self.client().await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        require_own_run(&tx, tenant, run_id).await?;
        let rows = tx
            .query(
                "SELECT key, value_json FROM run_annotations WHERE tenant_id = $1 AND run_id = $2",
                &[&tenant.as_str(), &run_id],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let key: String = get(r, 0)?;
                let value = json(get(r, 1)?, &format!("annotation {key}"))?;
                Ok((key, value))
            })
            .collect()
    }

    async fn list_runs(&self, tenant: &TenantId) -> Result<Vec<Run>, StoreError> {
        let mut client = self.client().await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs WHERE tenant_id = $1 ORDER BY created_at_ms DESC, id"
                ),
                &[&tenant.as_str()],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        rows.iter().map(run_from_row).collect()
    }

    /// Reads the `public_runs` view, with no tenant set: the public fields of every
    /// public run and its owner. Internal fields are left empty (the fingerprint) or out
    /// (agent settings beyond name, provider and model): they never leave their tenant.
    async fn list_public_runs(&self) -> Result<Vec<Run>, StoreError> {
        let mut client = self.client().await?;
        let tx = begin(&mut client, None).await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {PUBLIC_RUN_COLUMNS} FROM public_runs ORDER BY created_at_ms DESC, id"
                ),
                &[],
            )
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        rows.iter().map(run_from_row).collect()
    }

    async fn rewrite_run(&self, run: &Run, trials: Vec<Trial>) -> Result<(), StoreError> {
        let agents = to_json(&run.agents)?;
        let tenant = run.tenant_id.as_str();
        let mut client = self.client().await?;
        let tx = begin(&mut client, Some(&run.tenant_id)).await?;
        let n = tx
            .execute(
                "UPDATE runs SET agents_json = $3 WHERE tenant_id = $1 AND id = $2",
                &[&tenant, &run.id, &agents],
            )
            .await
            .map_err(db_err)?;
        if n == 0 {
            return Err(run_not_found(&run.id));
        }
        let update = tx
            .prepare_cached(
                "UPDATE trials SET outcome_kind = $6, error_kind = $7, headline = $8, outcome_json = $9, \
                 output = $10 WHERE tenant_id = $1 AND run_id = $2 AND agent = $3 AND case_id = $4 AND epoch = $5",
            )
            .await
            .map_err(db_err)?;
        for t in &trials {
            let n = if t.run_id == run.id && t.tenant_id == run.tenant_id {
                tx.execute(
                    &update,
                    &[
                        &tenant,
                        &t.run_id,
                        &t.key.agent,
                        &t.key.case_id,
                        &i64::from(t.key.epoch),
                        &t.outcome.kind_name(),
                        &error_kind(&t.outcome),
                        &t.outcome.headline(),
                        &to_json(&t.outcome)?,
                        &t.output,
                    ],
                )
                .await
                .map_err(db_err)?
            } else {
                0
            };
            if n == 0 {
                // Dropping the transaction rolls back what was written.
                return Err(StoreError::new(
                    StoreErrorKind::NotFound,
                    format!(
                        "no trial {}/{}/{} in run {:?} for this tenant",
                        t.key.agent, t.key.case_id, t.key.epoch, run.id
                    ),
                ));
            }
        }
        tx.commit().await.map_err(db_err)
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
        // Keyset pages along the primary key (tenant, run, agent, case, epoch): each page
        // is one index range scan in its own short transaction, whatever the run's size.
        stream::unfold(Some(after), move |cursor| async move {
            let after = cursor?;
            match self.trial_page(tenant, run_id, after.as_ref()).await {
                Err(e) => Some((vec![Err(e)], None)),
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = (rows.len() as i64 == PAGE)
                        .then(|| rows.last().map(|t| Some(t.key.clone())))
                        .flatten();
                    Some((rows.into_iter().map(Ok).collect(), next))
                }
            }
        })
        .flat_map(stream::iter)
        .boxed()
    }
}

impl PostgresStore {
    async fn trial_page(
        &self,
        tenant: &TenantId,
        run_id: &str,
        after: Option<&TrialKey>,
    ) -> Result<Vec<Trial>, StoreError> {
        let mut client = self.client().await?;
        let tx = begin(&mut client, Some(tenant)).await?;
        let rows = match after {
            None => {
                tx.query(
                    &format!(
                        "SELECT {TRIAL_COLUMNS} FROM trials WHERE tenant_id = $1 AND run_id = $2 \
                         ORDER BY agent, case_id, epoch LIMIT $3"
                    ),
                    &[&tenant.as_str(), &run_id, &PAGE],
                )
                .await
            }
            Some(k) => {
                tx.query(
                    &format!(
                        "SELECT {TRIAL_COLUMNS} FROM trials WHERE tenant_id = $1 AND run_id = $2 \
                         AND (agent, case_id, epoch) > ($3, $4, $5) ORDER BY agent, case_id, epoch LIMIT $6"
                    ),
                    &[
                        &tenant.as_str(),
                        &run_id,
                        &k.agent,
                        &k.case_id,
                        &i64::from(k.epoch),
                        &PAGE,
                    ],
                )
                .await
            }
        }
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        rows.iter().map(trial_from_row).collect()
    }
}
