-- 5: the event log (the outbox of the results database) and its consumers' offsets.
--
-- `events` is tenant-scoped under row-level security like every tenant's table, with one
-- difference: a tenant also sees the public events of others (published results). The
-- application role may INSERT and SELECT, never UPDATE or DELETE: the log is append-only.
-- Its tenant-scoped writes are the outbox: triggers on `runs` and `jobs` append the event
-- of a change in the transaction of that change (as the role making it, so a tenant's
-- transaction logs only that tenant's events), whether the change comes from the
-- application's SQL or from the worker functions of migration 4. The host's reads across
-- tenants, the head and appends of any tenant go through narrow SECURITY DEFINER
-- functions, as the queue's worker calls do.
--
-- Positions: every append first takes one transaction-scoped advisory lock, so event
-- transactions commit in position order and a reader that has seen position p never
-- finds a later-committed event below p (a rolled-back append leaves a gap). Each append
-- NOTIFYs `tamma_events` (payload: the position), delivered at commit.

CREATE TABLE events (
    pos BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE CHECK (id <> ''),
    version INTEGER NOT NULL,
    at_ms BIGINT NOT NULL,
    tenant_id TEXT CHECK (tenant_id <> ''),
    visibility TEXT NOT NULL CHECK (visibility IN ('public', 'tenant', 'internal')),
    type TEXT NOT NULL,
    payload_json TEXT NOT NULL
);
CREATE INDEX events_by_tenant ON events (tenant_id, pos);
CREATE INDEX events_by_type ON events (type, pos);

CREATE TABLE consumer_offsets (
    consumer TEXT COLLATE "C" PRIMARY KEY CHECK (consumer ~ '^[A-Za-z0-9._:-]{1,128}$'),
    pos BIGINT NOT NULL CHECK (pos >= 0),
    updated_at_ms BIGINT NOT NULL
);

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY events_select ON events FOR SELECT
    USING (visibility = 'public' OR tenant_id = tamma_current_tenant());
CREATE POLICY events_insert ON events FOR INSERT
    WITH CHECK (tenant_id = tamma_current_tenant());
-- The functions below run as the owner (this migration's role): every row, read and
-- appended, never changed.
CREATE POLICY events_owner_select ON events FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY events_owner_insert ON events FOR INSERT TO CURRENT_USER WITH CHECK (true);

-- Appends one event as the calling role (its row-level security applies), skipping an id
-- logged already; returns its position, or NULL for a duplicate.
CREATE FUNCTION tamma_event_insert(p_id text, p_version integer, p_at bigint, p_tenant text,
                                   p_visibility text, p_type text, p_payload text)
    RETURNS bigint
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    v_pos bigint;
BEGIN
    -- Event transactions commit in position order ("tamma-ev").
    PERFORM pg_advisory_xact_lock(8386104297689802102);
    INSERT INTO events (id, version, at_ms, tenant_id, visibility, type, payload_json)
    VALUES (p_id, p_version, p_at, p_tenant, p_visibility, p_type, p_payload)
    ON CONFLICT (id) DO NOTHING
    RETURNING pos INTO v_pos;
    IF v_pos IS NOT NULL THEN
        PERFORM pg_notify('tamma_events', v_pos::text);
    END IF;
    RETURN v_pos;
END
$$;

-- A new event of tenant p_tenant now, with a fresh id: what the triggers log.
CREATE FUNCTION tamma_event_log(p_tenant text, p_visibility text, p_type text, p_kind text,
                                p_data json) RETURNS void
    LANGUAGE sql VOLATILE
    AS $$
    SELECT tamma_event_insert('evt-' || replace(gen_random_uuid()::text, '-', ''), 1,
                              tamma_now_ms(), p_tenant, p_visibility, p_type,
                              json_build_object('type', p_kind, 'data', p_data)::text)
$$;

-- The outbox of runs: the first completion of a run logs benchmark.completed and, for a
-- public run, results.published.
CREATE FUNCTION tamma_events_of_run() RETURNS trigger
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    IF NEW.status = 'completed' AND OLD.status IS DISTINCT FROM 'completed' THEN
        PERFORM tamma_event_log(NEW.tenant_id, 'tenant', 'benchmark.completed',
            'benchmark_completed',
            json_build_object('run_id', NEW.id, 'benchmark_id', NEW.benchmark_id,
                              'benchmark_version', NEW.benchmark_version,
                              'public', NEW.visibility = 'public'));
        IF NEW.visibility = 'public' THEN
            PERFORM tamma_event_log(NEW.tenant_id, 'public', 'results.published',
                'results_published',
                json_build_object('run_id', NEW.id, 'benchmark_id', NEW.benchmark_id,
                                  'benchmark_version', NEW.benchmark_version));
        END IF;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER runs_events AFTER UPDATE OF status ON runs
    FOR EACH ROW EXECUTE FUNCTION tamma_events_of_run();

-- The outbox of jobs: queued (inserted), started (claimed: running with a new attempt),
-- finished (succeeded or cancelled) and failed; a retry or a release (queued again), a
-- heartbeat or a cancellation asked for log nothing.
CREATE FUNCTION tamma_events_of_job() RETURNS trigger
    LANGUAGE plpgsql VOLATILE
    AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM tamma_event_log(NEW.tenant_id, 'tenant', 'job.queued', 'job_queued',
            json_build_object('job_id', NEW.id, 'kind', NEW.kind, 'tier', NEW.tier));
    ELSIF NEW.state = 'running'
          AND (OLD.state <> 'running' OR NEW.attempts <> OLD.attempts) THEN
        PERFORM tamma_event_log(NEW.tenant_id, 'tenant', 'job.started', 'job_started',
            json_build_object('job_id', NEW.id, 'attempt', NEW.attempts));
    ELSIF NEW.state IN ('succeeded', 'cancelled') AND OLD.state <> NEW.state THEN
        PERFORM tamma_event_log(NEW.tenant_id, 'tenant', 'job.finished', 'job_finished',
            json_build_object('job_id', NEW.id, 'state', NEW.state));
    ELSIF NEW.state = 'failed' AND OLD.state <> 'failed' THEN
        PERFORM tamma_event_log(NEW.tenant_id, 'tenant', 'job.failed', 'job_failed',
            json_build_object('job_id', NEW.id, 'error', COALESCE(NEW.last_error, '')));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_events AFTER INSERT OR UPDATE OF state, attempts ON jobs
    FOR EACH ROW EXECUTE FUNCTION tamma_events_of_job();

-- The host's calls, across tenants. Appends events of any tenant (or none).
CREATE FUNCTION tamma_events_append(p_id text, p_version integer, p_at bigint, p_tenant text,
                                    p_visibility text, p_type text, p_payload text)
    RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER
    AS $$
    SELECT tamma_event_insert(p_id, p_version, p_at, p_tenant, p_visibility, p_type, p_payload)
$$;

-- Up to p_limit events after p_after, of the types p_types (all when empty) and of
-- tenant p_tenant (all when NULL), in log order.
CREATE FUNCTION tamma_events_read(p_after bigint, p_types text[], p_tenant text,
                                  p_limit bigint)
    RETURNS TABLE (pos bigint, id text, version integer, at_ms bigint, tenant_id text,
                   visibility text, payload_json text)
    LANGUAGE sql STABLE SECURITY DEFINER
    AS $$
    SELECT e.pos, e.id, e.version, e.at_ms, e.tenant_id, e.visibility, e.payload_json
    FROM events e
    WHERE e.pos > p_after
      AND (cardinality(p_types) = 0 OR e.type = ANY (p_types))
      AND (p_tenant IS NULL OR e.tenant_id = p_tenant)
    ORDER BY e.pos
    LIMIT GREATEST(p_limit, 0)
$$;

-- The newest position (0 when the log is empty).
CREATE FUNCTION tamma_events_head() RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER
    AS $$ SELECT COALESCE(max(e.pos), 0) FROM events e $$;

DO $$
DECLARE
    f text;
BEGIN
    FOREACH f IN ARRAY ARRAY[
        'tamma_event_insert(text, integer, bigint, text, text, text, text)',
        'tamma_event_log(text, text, text, text, json)',
        'tamma_events_of_run()',
        'tamma_events_of_job()',
        'tamma_events_append(text, integer, bigint, text, text, text, text)',
        'tamma_events_read(bigint, text[], text, bigint)',
        'tamma_events_head()'
    ] LOOP
        EXECUTE format('ALTER FUNCTION %s SET search_path = %I, pg_temp', f, current_schema());
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END
$$;
