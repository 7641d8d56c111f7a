-- 6: tenants' provider credentials, sealed by the privacy crate before they arrive (the
-- database never holds a value in clear), per tenant and name, under row-level security.
-- A worker reads a credential as the job's tenant, like every other tenant-scoped row:
-- no function crosses tenants here.

CREATE TABLE credentials (
    tenant_id TEXT NOT NULL CHECK (tenant_id <> ''),
    name TEXT COLLATE "C" NOT NULL CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
    sealed BYTEA NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

ALTER TABLE credentials ENABLE ROW LEVEL SECURITY;
ALTER TABLE credentials FORCE ROW LEVEL SECURITY;
CREATE POLICY credentials_select ON credentials FOR SELECT
    USING (tenant_id = tamma_current_tenant());
CREATE POLICY credentials_insert ON credentials FOR INSERT
    WITH CHECK (tenant_id = tamma_current_tenant());
CREATE POLICY credentials_update ON credentials FOR UPDATE
    USING (tenant_id = tamma_current_tenant())
    WITH CHECK (tenant_id = tamma_current_tenant());
CREATE POLICY credentials_delete ON credentials FOR DELETE
    USING (tenant_id = tamma_current_tenant());
