-- 1: runs, trials and run annotations: tenant-scoped, under row-level security.
--
-- Every tenant-scoped table has RLS enabled and forced (the owner is bound too), with one
-- policy per command comparing tenant_id with the transaction's tamma.tenant_id setting.
-- Unset (NULL) or reset ('') matches no row: no tenant, no rows.

CREATE FUNCTION tamma_current_tenant() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT NULLIF(current_setting('tamma.tenant_id', true), '') $$;

CREATE TABLE runs (
    tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),
    id TEXT COLLATE "C" NOT NULL,
    benchmark_id TEXT NOT NULL,
    benchmark_version TEXT NOT NULL,
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
    fingerprint TEXT NOT NULL,
    agents_json TEXT NOT NULL,
    epochs BIGINT NOT NULL,
    n_cases BIGINT NOT NULL,
    status TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    -- Run ids are unique across tenants (a taken id is a conflict, as in every store).
    PRIMARY KEY (id),
    UNIQUE (tenant_id, id)
);
CREATE INDEX runs_by_tenant ON runs (tenant_id, created_at_ms DESC, id);
CREATE INDEX runs_public ON runs (created_at_ms DESC, id) WHERE visibility = 'public';

CREATE TABLE trials (
    tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),
    run_id TEXT COLLATE "C" NOT NULL,
    agent TEXT COLLATE "C" NOT NULL,
    case_id TEXT COLLATE "C" NOT NULL,
    epoch BIGINT NOT NULL,
    outcome_kind TEXT NOT NULL,
    -- The public error of a failed trial: the infrastructure failure kind, or scorer:NAME.
    error_kind TEXT,
    headline DOUBLE PRECISION,
    outcome_json TEXT NOT NULL,
    output TEXT,
    input_tokens BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    cost_usd DOUBLE PRECISION NOT NULL,
    attempts BIGINT NOT NULL,
    cache_hit BOOLEAN NOT NULL,
    finished_at_ms BIGINT NOT NULL,
    cluster TEXT,
    tags_json TEXT,
    -- The trial key (run, agent, case, epoch), tenant first: the index every policy
    -- filter, keyset page and resume query walks.
    PRIMARY KEY (tenant_id, run_id, agent, case_id, epoch),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, id)
);

CREATE TABLE run_annotations (
    tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),
    run_id TEXT COLLATE "C" NOT NULL,
    key TEXT NOT NULL,
    value_json TEXT NOT NULL,
    PRIMARY KEY (tenant_id, run_id, key),
    FOREIGN KEY (tenant_id, run_id) REFERENCES runs (tenant_id, id)
);

ALTER TABLE runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE runs FORCE ROW LEVEL SECURITY;
CREATE POLICY runs_select ON runs FOR SELECT
    USING (tenant_id = tamma_current_tenant());
CREATE POLICY runs_insert ON runs FOR INSERT
    WITH CHECK (tenant_id = tamma_current_tenant());
CREATE POLICY runs_update ON runs FOR UPDATE
    USING (tenant_id = tamma_current_tenant())
    WITH CHECK (tenant_id = tamma_current_tenant());

ALTER TABLE trials ENABLE ROW LEVEL SECURITY;
ALTER TABLE trials FORCE ROW LEVEL SECURITY;
CREATE POLICY trials_select ON trials FOR SELECT
    USING (tenant_id = tamma_current_tenant());
CREATE POLICY trials_insert ON trials FOR INSERT
    WITH CHECK (tenant_id = tamma_current_tenant());
CREATE POLICY trials_update ON trials FOR UPDATE
    USING (tenant_id = tamma_current_tenant())
    WITH CHECK (tenant_id = tamma_current_tenant());

ALTER TABLE run_annotations ENABLE ROW LEVEL SECURITY;
ALTER TABLE run_annotations FORCE ROW LEVEL SECURITY;
CREATE POLICY run_annotations_select ON run_annotations FOR SELECT
    USING (tenant_id = tamma_current_tenant());
CREATE POLICY run_annotations_insert ON run_annotations FOR INSERT
    WITH CHECK (tenant_id = tamma_current_tenant());
CREATE POLICY run_annotations_update ON run_annotations FOR UPDATE
    USING (tenant_id = tamma_current_tenant())
    WITH CHECK (tenant_id = tamma_current_tenant());

-- Public results across tenants: two views of the public columns only (those of
-- tamma-bench-privacy's RunView and PublicTrial, and the owner the repository needs to
-- tell own runs from others'). A view reads with its owner's rights, and RLS binds the
-- owner too (FORCE); so the owner, the role running this migration, gets one more
-- SELECT policy per table, for public rows only. The application role is granted SELECT
-- on the views, never on those rows of the tables.
CREATE POLICY runs_public_read ON runs FOR SELECT TO CURRENT_USER
    USING (visibility = 'public');
CREATE POLICY trials_public_read ON trials FOR SELECT TO CURRENT_USER
    USING (EXISTS (
        SELECT 1 FROM runs r
        WHERE r.tenant_id = trials.tenant_id AND r.id = trials.run_id
          AND r.visibility = 'public'
    ));

CREATE VIEW public_runs WITH (security_barrier) AS
SELECT r.id, r.tenant_id, r.benchmark_id, r.benchmark_version, r.visibility,
       COALESCE((
           SELECT jsonb_agg(jsonb_build_object(
                      'name', a.value ->> 'name',
                      'provider', a.value ->> 'provider',
                      'model', a.value ->> 'model') ORDER BY a.ord)
           FROM jsonb_array_elements(r.agents_json::jsonb) WITH ORDINALITY AS a (value, ord)
       ), '[]'::jsonb)::text AS agents_json,
       r.epochs, r.n_cases, r.status, r.created_at_ms, r.updated_at_ms
FROM runs r
WHERE r.visibility = 'public';

CREATE VIEW public_trials WITH (security_barrier) AS
SELECT t.run_id, t.agent, t.case_id, t.epoch, t.cluster, t.tags_json, t.outcome_kind,
       t.headline AS score, t.error_kind, t.latency_ms, t.finished_at_ms
FROM trials t
JOIN runs r ON r.tenant_id = t.tenant_id AND r.id = t.run_id
WHERE r.visibility = 'public';
