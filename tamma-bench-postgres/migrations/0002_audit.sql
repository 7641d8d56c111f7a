-- 2: the audit log: one hash chain for the whole platform (not tenant-scoped: each entry
-- names its tenant inside its bytes). Append-only: the application role is granted
-- SELECT and INSERT only, and triggers refuse UPDATE, DELETE and TRUNCATE to everyone.

CREATE TABLE audit_entries (
    idx BIGINT PRIMARY KEY CHECK (idx >= 0),
    entry BYTEA NOT NULL,
    chain_hash BYTEA NOT NULL
);

CREATE TABLE audit_checkpoints (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    size BIGINT NOT NULL,
    note TEXT NOT NULL
);

CREATE FUNCTION tamma_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$ BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;

CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION tamma_audit_append_only();
CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
    FOR EACH STATEMENT EXECUTE FUNCTION tamma_audit_append_only();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION tamma_audit_append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION tamma_audit_append_only();
