//! Who is asking: tenants, tiers and the visibility of benchmarks.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifier of a tenant: the owner of runs and trials.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(transparent)]
pub struct TenantId(String);

impl TenantId {
    /// The tenant of the local operator (the person running the CLI on their own machine).
    pub const LOCAL: &'static str = "local";

    /// Makes a tenant id. Ids are non-empty and at most 128 characters of
    /// `[A-Za-z0-9._:-]`; anything else is refused so ids are safe in paths, logs and SQL.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidTenantId> {
        let id = id.into();
        if is_safe_id(&id) {
            Ok(Self(id))
        } else {
            Err(InvalidTenantId(id))
        }
    }

    /// The local operator's tenant.
    pub fn local() -> Self {
        Self(Self::LOCAL.to_owned())
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `id` is 1-128 characters of `[A-Za-z0-9._:-]`: the rule of tenant ids and of
/// the other ids that end up in paths, logs and SQL (agent configuration ids).
pub(crate) fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant id that does not follow the rules of [`TenantId::new`].
#[derive(Debug, Clone, thiserror::Error)]
#[error("invalid tenant id {0:?}: expected 1-128 characters of [A-Za-z0-9._:-]")]
#[non_exhaustive]
pub struct InvalidTenantId(pub String);

impl InvalidTenantId {
    /// What a caller can do: fix the id.
    pub fn remedy(&self) -> crate::error::Remedy {
        crate::error::Remedy::FixInput
    }
}

/// Whether a tenant belongs to the operator of the platform (internal) or is a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantKind {
    /// The platform's own tenant (Tamma): may see internal fields.
    Internal,
    /// A customer of the platform: sees public results and its own data only.
    External,
}

/// Service tier of a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Free external tier.
    Free,
    /// Paying external tier.
    Premium,
    /// The platform itself.
    Internal,
}

/// One thing a principal may be granted: the actions of the authorization policy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read results (public fields, and the tenant's own data).
    Read,
    /// Write runs and trials of the tenant.
    Write,
    /// Export trials.
    Export,
    /// Compare results.
    Compare,
    /// Read internal fields (agent configuration, cost analysis, optimization data).
    ReadInternal,
}

impl Permission {
    /// Every permission.
    pub const ALL: [Permission; 5] = [
        Self::Read,
        Self::Write,
        Self::Export,
        Self::Compare,
        Self::ReadInternal,
    ];

    /// The name used in policies and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Export => "export",
            Self::Compare => "compare",
            Self::ReadInternal => "read_internal",
        }
    }
}

/// The caller of every read and write: which tenant, what kind, which principal, and
/// what it has been granted.
///
/// Every run and trial belongs to the tenant of the context that wrote it, and every
/// read is scoped by the context of its caller. Permissions are grants, not decisions:
/// the authorization policy decides with them (an external context holding
/// [`Permission::ReadInternal`] is still refused internal fields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TenantContext {
    /// The tenant acting.
    pub tenant_id: TenantId,
    /// Internal (the platform) or external (a customer).
    pub kind: TenantKind,
    /// Service tier.
    pub tier: Tier,
    /// The user or service acting on behalf of the tenant.
    pub principal: String,
    /// What the principal has been granted (sorted, without repeats).
    #[serde(default)]
    pub permissions: Vec<Permission>,
}

impl TenantContext {
    /// The local operator: an internal context on the `local` tenant.
    pub fn local_operator() -> Self {
        Self {
            tenant_id: TenantId::local(),
            kind: TenantKind::Internal,
            tier: Tier::Internal,
            principal: "operator".to_owned(),
            permissions: Permission::ALL.to_vec(),
        }
    }

    /// An internal context for `tenant_id`, with every permission.
    pub fn internal(tenant_id: TenantId, principal: impl Into<String>) -> Self {
        Self {
            tenant_id,
            kind: TenantKind::Internal,
            tier: Tier::Internal,
            principal: principal.into(),
            permissions: Permission::ALL.to_vec(),
        }
    }

    /// An external (customer) context for `tenant_id` on `tier`, granted read, write,
    /// export and compare.
    pub fn external(tenant_id: TenantId, tier: Tier, principal: impl Into<String>) -> Self {
        Self {
            tenant_id,
            kind: TenantKind::External,
            tier,
            principal: principal.into(),
            permissions: vec![
                Permission::Read,
                Permission::Write,
                Permission::Export,
                Permission::Compare,
            ],
        }
    }

    /// This context with exactly `permissions` granted.
    pub fn with_permissions(mut self, permissions: impl IntoIterator<Item = Permission>) -> Self {
        let mut p: Vec<Permission> = permissions.into_iter().collect();
        p.sort_unstable();
        p.dedup();
        self.permissions = p;
        self
    }

    /// Whether `permission` has been granted.
    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// Whether this context may see internal fields.
    pub fn is_internal(&self) -> bool {
        self.kind == TenantKind::Internal
    }
}

/// Who may see a benchmark and its results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// Everyone may see the public fields of its results.
    Public,
    /// Only the owning tenant.
    #[default]
    Private,
}
