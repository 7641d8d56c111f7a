-- 3: the response cache: completions by content key, per tenant, under row-level security.

CREATE TABLE response_cache (
    tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),
    key TEXT NOT NULL,
    completion_json TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX response_cache_by_expiry ON response_cache (tenant_id, expires_at_ms);

ALTER TABLE response_cache ENABLE ROW LEVEL SECURITY;
ALTER TABLE response_cache FORCE ROW LEVEL SECURITY;
CREATE POLICY response_cache_select ON response_cache FOR SELECT
    USING (tenant_id = tamma_current_tenant());
CREATE POLICY response_cache_insert ON response_cache FOR INSERT
    WITH CHECK (tenant_id = tamma_current_tenant());
CREATE POLICY response_cache_update ON response_cache FOR UPDATE
    USING (tenant_id = tamma_current_tenant())
    WITH CHECK (tenant_id = tamma_current_tenant());
CREATE POLICY response_cache_delete ON response_cache FOR DELETE
    USING (tenant_id = tamma_current_tenant());
