-- 4: the job queue: jobs and their histories, tenant-scoped under row-level security,
-- and the worker operations that act across tenants as narrow SECURITY DEFINER
-- functions owned by the role running this migration.
--
-- The application role reads and writes its tenant's jobs with plain SQL (submit, cancel,
-- get, list, history), bound by the same policies as every tenant-scoped table: no
-- tenant set, no row. It never reads another tenant's job directly. The worker calls
-- (claim, heartbeat, finish, stats) go through the functions below, which run as the
-- owner, whom one more policy per table admits to every row. Each function takes only
-- values (no SQL, no table or column names) and returns: a job only to the claim that
-- takes it (counting an attempt, leaving `claimed` in its history) and to the holder of
-- its lease token (a random UUID the claim made); a heartbeat's two flags; per-tier
-- counts. Their search_path is pinned to this schema and pg_temp (last), so no object of
-- another schema can stand in for the tables or functions they name.

CREATE FUNCTION tamma_now_ms() RETURNS bigint
    LANGUAGE sql VOLATILE PARALLEL SAFE
    AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint $$;

CREATE TABLE jobs (
    tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),
    id TEXT COLLATE "C" NOT NULL CHECK (id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    -- Submission order: the tie-break of equal submission times.
    ord BIGINT GENERATED ALWAYS AS IDENTITY,
    -- The TenantContext the job runs in: always the job's own tenant's.
    context_json TEXT NOT NULL CHECK ((context_json::jsonb ->> 'tenant_id') = tenant_id),
    tier TEXT NOT NULL,
    priority INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('run', 'study')),
    run_id TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    max_attempts INTEGER NOT NULL CHECK (max_attempts >= 1),
    cancel_requested BOOLEAN NOT NULL DEFAULT false,
    last_error TEXT,
    worker TEXT,
    lease_token TEXT,
    submitted_at_ms BIGINT NOT NULL,
    available_at_ms BIGINT NOT NULL,
    started_at_ms BIGINT,
    lease_until_ms BIGINT,
    finished_at_ms BIGINT,
    PRIMARY KEY (tenant_id, id)
);
-- The claim's candidates and the running count per tier.
CREATE INDEX jobs_open ON jobs (tier, state, available_at_ms) WHERE state IN ('queued', 'running');
-- A tenant's list, newest first, and its submissions per tier in the last minute.
CREATE INDEX jobs_by_tenant ON jobs (tenant_id, submitted_at_ms DESC, ord DESC);
CREATE INDEX jobs_rate ON jobs (tenant_id, tier, submitted_at_ms);

CREATE TABLE job_events (
    tenant_id TEXT NOT NULL,
    job_id TEXT COLLATE "C" NOT NULL,
    seq BIGINT NOT NULL CHECK (seq >= 1),
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('submitted', 'claimed', 'lease_expired', 'released',
        'retried', 'cancel_requested', 'succeeded', 'failed', 'cancelled')),
    state TEXT NOT NULL
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    worker TEXT,
    message TEXT,
    PRIMARY KEY (tenant_id, job_id, seq),
    FOREIGN KEY (tenant_id, job_id) REFERENCES jobs (tenant_id, id)
);

-- The tenant's own rows, as for every tenant-scoped table. A job inserted by the
-- application role is a fresh one: queued, no attempt, no lease.
ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY jobs_select ON jobs FOR SELECT
    USING (tenant_id = tamma_current_tenant());
CREATE POLICY jobs_insert ON jobs FOR INSERT
    WITH CHECK (tenant_id = tamma_current_tenant() AND state = 'queued' AND attempts = 0
                AND lease_token IS NULL);
CREATE POLICY jobs_update ON jobs FOR UPDATE
    USING (tenant_id = tamma_current_tenant())
    WITH CHECK (tenant_id = tamma_current_tenant());

ALTER TABLE job_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_events FORCE ROW LEVEL SECURITY;
CREATE POLICY job_events_select ON job_events FOR SELECT
    USING (tenant_id = tamma_current_tenant());
CREATE POLICY job_events_insert ON job_events FOR INSERT
    WITH CHECK (tenant_id = tamma_current_tenant());

-- The worker functions run as the owner (this migration's role): it sees every job.
CREATE POLICY jobs_worker ON jobs FOR ALL TO CURRENT_USER
    USING (true) WITH CHECK (true);
CREATE POLICY job_events_worker ON job_events FOR ALL TO CURRENT_USER
    USING (true) WITH CHECK (true);

-- Appends an event to a job's history (seq: the next number; the caller holds the job's
-- row lock). Internal: callable by the owner only.
CREATE FUNCTION tamma_job_event(p_tenant text, p_job text, p_kind text, p_state text,
                                p_worker text, p_message text, p_at bigint) RETURNS void
    LANGUAGE sql VOLATILE
    AS $$
    INSERT INTO job_events (tenant_id, job_id, seq, at_ms, kind, state, worker, message)
    SELECT p_tenant, p_job, COALESCE(MAX(e.seq), 0) + 1, p_at, p_kind, p_state, p_worker,
           p_message
    FROM job_events e WHERE e.tenant_id = p_tenant AND e.job_id = p_job
$$;

-- Claims the next job for p_worker from the tiers p_tiers, whose concurrencies are
-- p_concurrency (the process's QueueConfig, passed in on each call). Claimers serialize
-- per tier on transaction-scoped advisory locks taken in name order (no deadlock between
-- claimers of overlapping tier sets), so the running count each one reads is exact; the
-- job row is taken FOR UPDATE SKIP LOCKED, so a row another transaction holds (a
-- heartbeat, a finish, a cancel) is passed over rather than waited for.
CREATE FUNCTION tamma_job_claim(p_worker text, p_tiers text[], p_concurrency integer[],
                                p_lease_ms bigint, p_aging_ms bigint)
    RETURNS SETOF jobs
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    AS $$
DECLARE
    v_tier text;
    v_now bigint;
    v_open text[];
    v_job jobs;
BEGIN
    IF p_worker IS NULL OR p_worker = '' OR length(p_worker) > 256
       OR p_lease_ms IS NULL OR p_lease_ms < 1 OR p_aging_ms IS NULL OR p_aging_ms < 1
       OR cardinality(p_tiers) IS DISTINCT FROM cardinality(p_concurrency) THEN
        RAISE EXCEPTION 'invalid claim arguments' USING ERRCODE = '22023';
    END IF;
    FOR v_tier IN SELECT DISTINCT t COLLATE "C" FROM unnest(p_tiers) AS t ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(1952541040, hashtext(v_tier));
    END LOOP;
    v_now := tamma_now_ms();

    -- Expired leases that will not be claimed again end here: attempts spent (failed) or
    -- a cancellation asked for (cancelled).
    FOR v_job IN
        SELECT * FROM jobs j
        WHERE j.tier = ANY (p_tiers) AND j.state = 'running' AND j.lease_until_ms <= v_now
          AND (j.attempts >= j.max_attempts OR j.cancel_requested)
        FOR UPDATE SKIP LOCKED
    LOOP
        UPDATE jobs j SET
            state = CASE WHEN v_job.cancel_requested THEN 'cancelled' ELSE 'failed' END,
            last_error = CASE WHEN v_job.cancel_requested THEN j.last_error
                ELSE 'the lease of worker ' || COALESCE(j.worker, '?')
                     || ' expired and the job''s ' || j.attempts || ' attempts are spent' END,
            lease_token = NULL, lease_until_ms = NULL, finished_at_ms = v_now
        WHERE j.tenant_id = v_job.tenant_id AND j.id = v_job.id
        RETURNING * INTO v_job;
        PERFORM tamma_job_event(v_job.tenant_id, v_job.id, 'lease_expired', v_job.state,
                                v_job.worker, NULL, v_now);
        PERFORM tamma_job_event(v_job.tenant_id, v_job.id, v_job.state, v_job.state,
                                v_job.worker, v_job.last_error, v_now);
    END LOOP;

    -- The tiers with a free slot: fewer running jobs under a live lease than allowed.
    SELECT COALESCE(array_agg(c.tier), '{}') INTO v_open
    FROM unnest(p_tiers, p_concurrency) AS c (tier, concurrency)
    WHERE (SELECT count(*) FROM jobs j
           WHERE j.tier = c.tier AND j.state = 'running' AND j.lease_until_ms > v_now)
          < c.concurrency;

    -- The highest effective priority (priority + one point per p_aging_ms waited),
    -- oldest first.
    SELECT * INTO v_job FROM jobs j
    WHERE j.tier = ANY (v_open)
      AND ((j.state = 'queued' AND j.available_at_ms <= v_now)
           OR (j.state = 'running' AND j.lease_until_ms <= v_now))
    ORDER BY j.priority::bigint + GREATEST(v_now - j.submitted_at_ms, 0) / p_aging_ms DESC,
             j.submitted_at_ms, j.ord
    LIMIT 1
    FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF v_job.state = 'running' THEN
        PERFORM tamma_job_event(v_job.tenant_id, v_job.id, 'lease_expired', 'running',
                                v_job.worker, NULL, v_now);
    END IF;
    UPDATE jobs j SET
        state = 'running', attempts = j.attempts + 1, worker = p_worker,
        lease_token = gen_random_uuid()::text, started_at_ms = v_now,
        lease_until_ms = v_now + p_lease_ms
    WHERE j.tenant_id = v_job.tenant_id AND j.id = v_job.id
    RETURNING * INTO v_job;
    PERFORM tamma_job_event(v_job.tenant_id, v_job.id, 'claimed', 'running', p_worker, NULL,
                            v_now);
    RETURN NEXT v_job;
END
$$;

-- Renews the lease of the holder of p_token for p_lease_ms. A lease that expired without
-- being taken over is renewed only if its tier (concurrency p_concurrency) has a slot
-- for it, checked under the claimers' lock of the tier. Returns (held, cancel_requested).
CREATE FUNCTION tamma_job_heartbeat(p_tenant text, p_id text, p_token text,
                                    p_lease_ms bigint, p_concurrency integer)
    RETURNS TABLE (lease_held boolean, cancel_asked boolean)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    AS $$
DECLARE
    v_job jobs;
    v_now bigint;
    v_running bigint;
BEGIN
    SELECT * INTO v_job FROM jobs j
    WHERE j.tenant_id = p_tenant AND j.id = p_id AND j.state = 'running'
      AND j.lease_token = p_token
    FOR UPDATE;
    IF NOT FOUND OR p_lease_ms IS NULL OR p_lease_ms < 1 THEN
        RETURN QUERY SELECT false, false;
        RETURN;
    END IF;
    v_now := tamma_now_ms();
    IF v_job.lease_until_ms <= v_now THEN
        PERFORM pg_advisory_xact_lock(1952541040, hashtext(v_job.tier));
        v_now := tamma_now_ms();
        SELECT count(*) INTO v_running FROM jobs j
        WHERE j.tier = v_job.tier AND j.state = 'running' AND j.lease_until_ms > v_now
          AND NOT (j.tenant_id = p_tenant AND j.id = p_id);
        IF v_running >= COALESCE(p_concurrency, 0) THEN
            RETURN QUERY SELECT false, false;
            RETURN;
        END IF;
    END IF;
    UPDATE jobs j SET lease_until_ms = v_now + p_lease_ms
    WHERE j.tenant_id = p_tenant AND j.id = p_id;
    RETURN QUERY SELECT true, v_job.cancel_requested;
END
$$;

-- Ends the lease of the holder of p_token with p_outcome ('succeeded', 'failed',
-- 'cancelled', 'released'); a failure with p_retry and attempts left is queued again
-- after p_backoff_ms. A job whose cancellation was asked for ends cancelled when it
-- fails or is released (its error kept). Returns the job as left, or no row when the lease is not held.
-- Notifies tamma_jobs (a slot is free, or a job is queued again).
CREATE FUNCTION tamma_job_finish(p_tenant text, p_id text, p_token text, p_outcome text,
                                 p_error text, p_retry boolean, p_backoff_ms bigint)
    RETURNS SETOF jobs
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    AS $$
DECLARE
    v_job jobs;
    v_now bigint;
    v_kind text;
    v_state text;
BEGIN
    IF p_outcome IS NULL
       OR p_outcome NOT IN ('succeeded', 'failed', 'cancelled', 'released') THEN
        RAISE EXCEPTION 'invalid outcome' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO v_job FROM jobs j
    WHERE j.tenant_id = p_tenant AND j.id = p_id AND j.state = 'running'
      AND j.lease_token = p_token
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_now := tamma_now_ms();
    v_kind := p_outcome;
    IF p_outcome IN ('failed', 'released') AND v_job.cancel_requested THEN
        v_kind := 'cancelled';
    ELSIF p_outcome = 'failed' AND p_retry AND v_job.attempts < v_job.max_attempts THEN
        v_kind := 'retried';
    END IF;
    v_state := CASE v_kind WHEN 'retried' THEN 'queued' WHEN 'released' THEN 'queued'
                           ELSE v_kind END;
    UPDATE jobs j SET
        state = v_state,
        attempts = CASE WHEN v_kind = 'released' THEN GREATEST(j.attempts - 1, 0)
                        ELSE j.attempts END,
        last_error = CASE WHEN p_outcome = 'failed' THEN p_error ELSE j.last_error END,
        lease_token = NULL,
        lease_until_ms = NULL,
        available_at_ms = CASE v_kind WHEN 'retried' THEN v_now + GREATEST(p_backoff_ms, 0)
                                      WHEN 'released' THEN v_now
                                      ELSE j.available_at_ms END,
        finished_at_ms = CASE WHEN v_state = 'queued' THEN NULL ELSE v_now END
    WHERE j.tenant_id = p_tenant AND j.id = p_id
    RETURNING * INTO v_job;
    PERFORM tamma_job_event(v_job.tenant_id, v_job.id, v_kind, v_state, v_job.worker,
                            CASE WHEN p_outcome = 'failed' THEN p_error END, v_now);
    PERFORM pg_notify('tamma_jobs', v_job.tier);
    RETURN NEXT v_job;
END
$$;

-- Each tier's load: counts only, no job content.
CREATE FUNCTION tamma_job_stats(p_tiers text[])
    RETURNS TABLE (tier text, queued bigint, running bigint, oldest_wait_ms bigint)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    AS $$
    SELECT t.name,
           count(j.id) FILTER (WHERE j.state = 'queued'),
           count(j.id) FILTER (WHERE j.state = 'running' AND j.lease_until_ms > n.now_ms),
           COALESCE(GREATEST(n.now_ms - min(j.submitted_at_ms) FILTER (WHERE j.state = 'queued'),
                             0), 0)
    FROM unnest(p_tiers) WITH ORDINALITY AS t (name, ord)
    CROSS JOIN (SELECT tamma_now_ms() AS now_ms) n
    LEFT JOIN jobs j ON j.tier = t.name AND j.state IN ('queued', 'running')
    GROUP BY t.name, t.ord, n.now_ms
    ORDER BY t.ord
$$;

-- Pin the search path of every function that runs as the owner (and of the internal
-- helper they call) to this schema, pg_temp last; execute only as granted.
DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'tamma_job_event(text, text, text, text, text, text, bigint)',
        'tamma_job_claim(text, text[], integer[], bigint, bigint)',
        'tamma_job_heartbeat(text, text, text, bigint, integer)',
        'tamma_job_finish(text, text, text, text, text, boolean, bigint)',
        'tamma_job_stats(text[])'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
