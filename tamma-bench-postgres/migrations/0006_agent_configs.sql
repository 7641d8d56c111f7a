-- 6: the agent configuration registry: versions of agent configurations under stable
-- ids, per tenant, under row-level security. A version is written once and never
-- changed: the primary key (tenant, id, version) lets exactly one of two writers based
-- on the same version insert the next one, and the application role is granted SELECT
-- and INSERT only (no policy admits UPDATE or DELETE either).

CREATE TABLE agent_configs (
    tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),
    id TEXT COLLATE "C" NOT NULL CHECK (id ~ '^[A-Za-z0-9._:-]{1,128}$'),
    version BIGINT NOT NULL CHECK (version >= 1),
    config_json TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id, version)
);

ALTER TABLE agent_configs ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_configs FORCE ROW LEVEL SECURITY;
CREATE POLICY agent_configs_select ON agent_configs FOR SELECT
    USING (tenant_id = tamma_current_tenant());
CREATE POLICY agent_configs_insert ON agent_configs FOR INSERT
    WITH CHECK (tenant_id = tamma_current_tenant());
