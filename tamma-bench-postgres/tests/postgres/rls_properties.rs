//! Property: whatever raw SQL the application role sends, with whatever tenant setting,
//! no row of another tenant comes back and no write for another tenant lands.
//!
//! Over 10,000 generated statements, across three seeded tenants (each with a public and
//! a private run, a queued job for each, and two credentials) and a fourth that owns nothing: SELECTs with
//! generated WHERE clauses (spoofed tenant filters among them) over every tenant-scoped
//! table (the queue's jobs and their events, and the agent configurations, among them)
//! and the public views, with no tenant, an empty one or a tenant set; UPDATEs and
//! DELETEs filtered for others (and any change of a job's append-only history or of an
//! agent configuration's versions); INSERTs of rows for another tenant or into
//! another tenant's run. Each runs in a transaction that is rolled back, on one
//! connection.

use crate::rls::{SEEDED_PER_TENANT, TENANT_TABLES, TENANTS, seed};
use crate::support::{Migrated, TestDb};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, SimpleQueryMessage};

/// Tenants a query may act as: the seeded ones and one that owns nothing.
const ACTORS: [&str; 4] = ["acme", "globex", "initech", "mallory"];

/// The tenant setting of a statement's transaction.
#[derive(Debug, Clone)]
enum Scope {
    Unset,
    Empty,
    Tenant(usize),
}

impl Scope {
    fn tenant(&self) -> Option<&'static str> {
        match self {
            Self::Tenant(i) => Some(ACTORS[*i]),
            _ => None,
        }
    }
}

/// What a statement reads from or writes to.
#[derive(Debug, Clone, Copy)]
enum Target {
    Table(usize),
    PublicRuns,
    PublicTrials,
}

impl Target {
    fn name(self) -> &'static str {
        match self {
            Self::Table(i) => TENANT_TABLES[i],
            Self::PublicRuns => "public_runs",
            Self::PublicTrials => "public_trials",
        }
    }

    /// The column naming a run, if the target has one.
    fn run_column(self) -> Option<&'static str> {
        match self {
            Self::Table(0) | Self::PublicRuns => Some("id"),
            Self::Table(3) | Self::Table(6) | Self::Table(7) => None,
            // A job's events name the job, not the run: a run id matches none of them.
            Self::Table(5) => Some("job_id"),
            _ => Some("run_id"),
        }
    }

    fn has_tenant(self) -> bool {
        !matches!(self, Self::PublicTrials)
    }

    /// The column of a row's own key, where the target has no run column.
    fn key_column(self) -> &'static str {
        match self {
            Self::Table(6) => "id",
            Self::Table(7) => "name",
            _ => "key",
        }
    }

    fn has_visibility(self) -> bool {
        matches!(self, Self::Table(0) | Self::PublicRuns)
    }
}

/// One atom of a WHERE clause, rendered for a target.
#[derive(Debug, Clone)]
enum Atom {
    True,
    TenantIs(usize),
    TenantIsNot(usize),
    TenantIn(usize, usize),
    RunIs(usize, bool),
    RunLike(usize),
    Visibility(bool),
    KeyLike(usize),
    NoSetting,
}

#[derive(Debug, Clone)]
enum Filter {
    Atom(Atom),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    fn sql(&self, target: Target) -> String {
        match self {
            Self::Atom(a) => atom_sql(a, target),
            Self::And(a, b) => format!("({} AND {})", a.sql(target), b.sql(target)),
            Self::Or(a, b) => format!("({} OR {})", a.sql(target), b.sql(target)),
            Self::Not(a) => format!("(NOT {})", a.sql(target)),
        }
    }
}

fn atom_sql(a: &Atom, target: Target) -> String {
    let tenant_col = if target.has_tenant() {
        "tenant_id"
    } else {
        // No tenant column: filter on something every row has.
        "run_id"
    };
    match a {
        Atom::True => "true".into(),
        Atom::TenantIs(t) => format!("{tenant_col} = '{}'", ACTORS[*t]),
        Atom::TenantIsNot(t) => format!("{tenant_col} <> '{}'", ACTORS[*t]),
        Atom::TenantIn(a, b) => format!("{tenant_col} IN ('{}', '{}')", ACTORS[*a], ACTORS[*b]),
        Atom::RunIs(t, public) => match target.run_column() {
            Some(c) => format!(
                "{c} = '{}-{}'",
                ACTORS[*t],
                if *public { "pub" } else { "priv" }
            ),
            None => "true".into(),
        },
        Atom::RunLike(t) => match target.run_column() {
            Some(c) => format!("{c} LIKE '{}%'", ACTORS[*t]),
            None => format!("{} LIKE '{}%'", target.key_column(), ACTORS[*t]),
        },
        Atom::Visibility(public) if target.has_visibility() => {
            format!(
                "visibility = '{}'",
                if *public { "public" } else { "private" }
            )
        }
        Atom::Visibility(_) => "false".into(),
        Atom::KeyLike(t) if matches!(target, Target::Table(3) | Target::Table(7)) => {
            format!("{} LIKE '{}-key-%'", target.key_column(), ACTORS[*t])
        }
        Atom::KeyLike(_) => "true".into(),
        Atom::NoSetting => "current_setting('tamma.tenant_id', true) IS NULL".into(),
    }
}

/// One generated statement.
#[derive(Debug, Clone)]
enum Op {
    Select(Target, Filter),
    /// `UPDATE` (or `DELETE` on the cache) of the rows matching the filter.
    Change(usize, Filter),
    /// A row whose tenant_id is `victim`.
    InsertFor(usize, usize),
    /// A row of the acting tenant that points into `victim`'s run.
    InsertIntoRunOf(usize, usize),
}

fn tenant_index() -> impl Strategy<Value = usize> {
    0..ACTORS.len()
}

fn atom() -> impl Strategy<Value = Atom> {
    prop_oneof![
        Just(Atom::True),
        tenant_index().prop_map(Atom::TenantIs),
        tenant_index().prop_map(Atom::TenantIsNot),
        (tenant_index(), tenant_index()).prop_map(|(a, b)| Atom::TenantIn(a, b)),
        (tenant_index(), any::<bool>()).prop_map(|(t, p)| Atom::RunIs(t, p)),
        tenant_index().prop_map(Atom::RunLike),
        any::<bool>().prop_map(Atom::Visibility),
        tenant_index().prop_map(Atom::KeyLike),
        Just(Atom::NoSetting),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    atom()
        .prop_map(Filter::Atom)
        .prop_recursive(3, 8, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                inner.prop_map(|a| Filter::Not(Box::new(a))),
            ]
        })
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        (0..TENANT_TABLES.len()).prop_map(Target::Table),
        Just(Target::PublicRuns),
        Just(Target::PublicTrials),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (target(), filter()).prop_map(|(t, f)| Op::Select(t, f)),
        2 => (0..TENANT_TABLES.len(), filter()).prop_map(|(t, f)| Op::Change(t, f)),
        1 => (0..TENANT_TABLES.len(), tenant_index()).prop_map(|(t, v)| Op::InsertFor(t, v)),
        1 => (1..3usize, tenant_index()).prop_map(|(t, v)| Op::InsertIntoRunOf(t, v)),
    ]
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        1 => Just(Scope::Unset),
        1 => Just(Scope::Empty),
        4 => tenant_index().prop_map(Scope::Tenant),
    ]
}

/// An INSERT of a row with `tenant_id = owner` into `table`, pointing at `run`.
fn insert_sql(table: usize, owner: &str, run: &str, n: u64) -> String {
    match TENANT_TABLES[table] {
        "runs" => format!(
            "INSERT INTO runs (tenant_id, id, benchmark_id, benchmark_version, visibility, fingerprint, \
             agents_json, epochs, n_cases, status, created_at_ms, updated_at_ms) \
             VALUES ('{owner}', 'forged-{n}', 'b', '1', 'public', 'f', '[]', 1, 1, 'running', 0, 0) RETURNING tenant_id"
        ),
        "trials" => format!(
            "INSERT INTO trials (tenant_id, run_id, agent, case_id, epoch, outcome_kind, outcome_json, \
             input_tokens, output_tokens, latency_ms, cost_usd, attempts, cache_hit, finished_at_ms) \
             VALUES ('{owner}', '{run}', 'a', 'forged-{n}', 0, 'scored', '{{}}', 0, 0, 0, 0, 1, false, 0) \
             RETURNING tenant_id"
        ),
        "run_annotations" => format!(
            "INSERT INTO run_annotations (tenant_id, run_id, key, value_json) \
             VALUES ('{owner}', '{run}', 'forged-{n}', '1') RETURNING tenant_id"
        ),
        "response_cache" => format!(
            "INSERT INTO response_cache (tenant_id, key, completion_json, created_at_ms) \
             VALUES ('{owner}', 'forged-{n}', '{{}}', 0) RETURNING tenant_id"
        ),
        "credentials" => format!(
            "INSERT INTO credentials (tenant_id, name, sealed, updated_at_ms) \
             VALUES ('{owner}', 'forged-{n}', 'x', 0) RETURNING tenant_id"
        ),
        "jobs" => format!(
            "INSERT INTO jobs (tenant_id, id, context_json, tier, priority, kind, run_id, \
             payload_json, state, attempts, max_attempts, submitted_at_ms, available_at_ms) \
             VALUES ('{owner}', 'forged-{n}', '{{\"tenant_id\": \"{owner}\"}}', 'external-free', \
             10, 'run', '{run}', '{{}}', 'queued', 0, 3, 0, 0) RETURNING tenant_id"
        ),
        "job_events" => format!(
            "INSERT INTO job_events (tenant_id, job_id, seq, at_ms, kind, state) \
             VALUES ('{owner}', 'forged-{n}', 1, 0, 'submitted', 'queued') RETURNING tenant_id"
        ),
        _ => format!(
            "INSERT INTO agent_configs (tenant_id, id, version, config_json, author, \
             created_at_ms, digest) \
             VALUES ('{owner}', 'forged-{n}', 1, '{{}}', 'mallory', 0, '') RETURNING tenant_id"
        ),
    }
}

/// What the statement `op` may legitimately return or change, and whether it did more.
struct Checker<'a> {
    client: &'a Client,
    statements: AtomicU64,
    own_rows_seen: AtomicU64,
    public_rows_seen: AtomicU64,
    refused_writes: AtomicU64,
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

impl Checker<'_> {
    async fn run(&self, scope: &Scope, op: &Op) -> Result<(), TestCaseError> {
        let n = self.statements.fetch_add(1, Ordering::Relaxed);
        let begin = match scope {
            Scope::Unset => "BEGIN".to_owned(),
            Scope::Empty => "BEGIN; SELECT set_config('tamma.tenant_id', '', true)".to_owned(),
            Scope::Tenant(i) => format!(
                "BEGIN; SELECT set_config('tamma.tenant_id', '{}', true)",
                ACTORS[*i]
            ),
        };
        self.check(&begin, scope, op, n).await
    }

    /// Runs `sql` in the transaction `begin` opens, and rolls it back: one round trip
    /// (and one more to roll back a statement that failed). Returns the first column of
    /// the statement's rows.
    async fn query(&self, begin: &str, sql: &str) -> Result<Vec<String>, tokio_postgres::Error> {
        let batch = format!("{begin}; {sql}; ROLLBACK");
        match self.client.simple_query(&batch).await {
            Ok(messages) => Ok(messages
                .iter()
                .filter_map(|m| match m {
                    SimpleQueryMessage::Row(r) if r.columns()[0].name() != "set_config" => {
                        Some(r.get(0).unwrap_or_default().to_owned())
                    }
                    _ => None,
                })
                .collect()),
            Err(e) => {
                // The failed statement left the transaction aborted; the next one starts
                // afresh either way.
                let _ = self.client.batch_execute("ROLLBACK").await;
                Err(e)
            }
        }
    }

    async fn check(
        &self,
        begin: &str,
        scope: &Scope,
        op: &Op,
        n: u64,
    ) -> Result<(), TestCaseError> {
        let me = scope.tenant();
        match op {
            Op::Select(target, filter) => {
                let sql = match target {
                    Target::Table(_) => format!(
                        "SELECT tenant_id FROM {} WHERE {}",
                        target.name(),
                        filter.sql(*target)
                    ),
                    Target::PublicRuns => {
                        format!("SELECT id FROM public_runs WHERE {}", filter.sql(*target))
                    }
                    Target::PublicTrials => format!(
                        "SELECT run_id FROM public_trials WHERE {}",
                        filter.sql(*target)
                    ),
                };
                let values = self
                    .query(begin, &sql)
                    .await
                    .map_err(|e| fail(format!("{sql}: {e}")))?;
                match target {
                    Target::Table(i) => {
                        if let Some(bad) = values.iter().find(|t| Some(t.as_str()) != me) {
                            return Err(fail(format!(
                                "{sql} as {scope:?} returned a row of {bad}"
                            )));
                        }
                        let seeded = me.is_some_and(|t| TENANTS.contains(&t));
                        if matches!(filter, Filter::Atom(Atom::True)) && seeded {
                            prop_assert_eq!(values.len() as i64, SEEDED_PER_TENANT[*i], "{}", sql);
                        }
                        self.own_rows_seen
                            .fetch_add(values.len() as u64, Ordering::Relaxed);
                    }
                    _ => {
                        if let Some(bad) = values.iter().find(|id| !id.ends_with("-pub")) {
                            return Err(fail(format!("{sql} returned the private run {bad}")));
                        }
                        self.public_rows_seen
                            .fetch_add(values.len() as u64, Ordering::Relaxed);
                    }
                }
            }
            Op::Change(table, filter) => {
                let target = Target::Table(*table);
                let sql = match TENANT_TABLES[*table] {
                    "runs" => format!(
                        "UPDATE runs SET status = 'failed' WHERE {} RETURNING tenant_id",
                        filter.sql(target)
                    ),
                    "trials" => format!(
                        "UPDATE trials SET output = 'changed' WHERE {} RETURNING tenant_id",
                        filter.sql(target)
                    ),
                    "run_annotations" => format!(
                        "UPDATE run_annotations SET value_json = '0' WHERE {} RETURNING tenant_id",
                        filter.sql(target)
                    ),
                    "response_cache" => format!(
                        "DELETE FROM response_cache WHERE {} RETURNING tenant_id",
                        filter.sql(target)
                    ),
                    "credentials" => format!(
                        "UPDATE credentials SET sealed = 'changed' WHERE {} RETURNING tenant_id",
                        filter.sql(target)
                    ),
                    "jobs" => format!(
                        "UPDATE jobs SET cancel_requested = true WHERE {} RETURNING tenant_id",
                        filter.sql(target)
                    ),
                    table => {
                        // A job's history and an agent configuration's versions are
                        // append-only: no change is allowed at all.
                        let sql = if table == "job_events" {
                            format!(
                                "UPDATE job_events SET message = 'changed' WHERE {} RETURNING tenant_id",
                                filter.sql(target)
                            )
                        } else {
                            format!(
                                "DELETE FROM agent_configs WHERE {} RETURNING tenant_id",
                                filter.sql(target)
                            )
                        };
                        return self
                            .expect_refused(begin, &sql, scope, &[SqlState::INSUFFICIENT_PRIVILEGE])
                            .await;
                    }
                };
                let rows = self
                    .query(begin, &sql)
                    .await
                    .map_err(|e| fail(format!("{sql}: {e}")))?;
                if let Some(bad) = rows.iter().find(|t| Some(t.as_str()) != me) {
                    return Err(fail(format!("{sql} as {scope:?} changed a row of {bad}")));
                }
            }
            Op::InsertFor(table, victim) => {
                let victim = ACTORS[*victim];
                if me == Some(victim) {
                    return Ok(()); // Not a foreign write.
                }
                let sql = insert_sql(*table, victim, &format!("{victim}-priv"), n);
                self.expect_refused(begin, &sql, scope, &[SqlState::INSUFFICIENT_PRIVILEGE])
                    .await?;
            }
            Op::InsertIntoRunOf(table, victim) => {
                let victim = ACTORS[*victim];
                let Some(me) = me.filter(|m| *m != victim) else {
                    return Ok(());
                };
                let sql = insert_sql(*table, me, &format!("{victim}-pub"), n);
                self.expect_refused(begin, &sql, scope, &[SqlState::FOREIGN_KEY_VIOLATION])
                    .await?;
            }
        }
        Ok(())
    }

    async fn expect_refused(
        &self,
        begin: &str,
        sql: &str,
        scope: &Scope,
        codes: &[SqlState],
    ) -> Result<(), TestCaseError> {
        match self.query(begin, sql).await {
            Ok(rows) => Err(fail(format!(
                "{sql} as {scope:?} was accepted ({} rows)",
                rows.len()
            ))),
            Err(e) if e.code().is_some_and(|c| codes.contains(c)) => {
                self.refused_writes.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(fail(format!("{sql} as {scope:?} failed otherwise: {e}"))),
        }
    }
}

#[test]
fn generated_queries_as_the_application_role_never_cross_tenants() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (db, client) = rt.block_on(async {
        let db = TestDb::create().await;
        seed(&db.store(2).await).await;
        let client = db.app_client().await;
        (db, client)
    });
    let checker = Checker {
        client: &client,
        statements: AtomicU64::new(0),
        own_rows_seen: AtomicU64::new(0),
        public_rows_seen: AtomicU64::new(0),
        refused_writes: AtomicU64::new(0),
    };
    let mut runner = TestRunner::new(Config {
        cases: 40,
        failure_persistence: None,
        ..Config::default()
    });
    let batch = proptest::collection::vec((scope(), op()), 256);
    let result = runner.run(&batch, |ops| {
        rt.block_on(async {
            for (scope, op) in &ops {
                checker.run(scope, op).await?;
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let statements = checker.statements.load(Ordering::Relaxed);
    assert!(statements >= 10_000, "{statements} statements");
    // Not vacuous: own rows and public rows were read, foreign writes attempted.
    assert!(checker.own_rows_seen.load(Ordering::Relaxed) > 1_000);
    assert!(checker.public_rows_seen.load(Ordering::Relaxed) > 1_000);
    assert!(checker.refused_writes.load(Ordering::Relaxed) > 500);
    drop(client);
    drop(db);
}
