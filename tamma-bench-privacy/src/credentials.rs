//! Tenants' provider credentials: stored sealed, listed by name, opened only for a
//! worker running the tenant's job.
//!
//! [`Credentials`] is the front over core's [`CredentialStore`]: every method acts for
//! the tenant of the caller's [`TenantContext`], checks its permission, reports the
//! access to the [`AccessAudit`] hook before anything is returned, and seals or opens
//! the value with the data keys. A value is restricted data: it is sealed with
//! XChaCha20-Poly1305 under the keyset's primary key ([`FieldCipher`], as the restricted
//! fields of runs are), with the tenant and the credential's name bound into the
//! associated data (table [`CREDENTIALS_TABLE`], column [`VALUE_COLUMN`], row = the
//! name), so a blob copied to another tenant or renamed does not open. Without data keys
//! nothing is stored: a credential is never kept in clear.
//!
//! The value reaches a caller only through [`Credentials::open_for_worker`], as a
//! [`Secret`] (zeroized on drop, printed `[redacted]`); a listing gives names and times.
//!
//! ```
//! use std::sync::Arc;
//! use tamma_bench_core::model::{TenantContext, TenantId, Tier};
//! use tamma_bench_core::store::MemoryCredentialStore;
//! use tamma_bench_privacy::credentials::{Credentials, Secret};
//! use tamma_bench_privacy::crypto::Keyset;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let credentials = Credentials::new(Arc::new(MemoryCredentialStore::new()))
//!     .with_keyset(&Keyset::generate("k1")?);
//! let acme = TenantContext::external(TenantId::new("acme")?, Tier::Free, "alice");
//! credentials.put(&acme, "OPENAI_API_KEY", &Secret::new("sk-acme")).await?;
//! assert_eq!(credentials.names(&acme).await?[0].name.as_str(), "OPENAI_API_KEY");
//! let key = credentials.open_for_worker(&acme, "OPENAI_API_KEY").await?;
//! assert_eq!(key.expose(), "sk-acme");
//! assert_eq!(format!("{key:?} {key}"), "Secret([redacted]) [redacted]");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

use crate::access::{AccessAudit, AccessEvent, AuditFailure, NoAudit, Outcome};
use crate::authz::Action;
use crate::classification::Class;
use crate::crypto::{CryptoError, CryptoErrorKind, FieldCipher, FieldContext, KeyProvider, Keyset};
use std::fmt;
use std::sync::Arc;
use tamma_bench_core::error::{Cause, Remedy};
use tamma_bench_core::model::{Permission, TenantContext, now_ms};
use tamma_bench_core::store::{
    CredentialInfo, CredentialName, CredentialNameError, CredentialStore, StoreError,
    StoreErrorKind,
};
use zeroize::Zeroizing;

/// The table bound into a sealed credential's associated data.
pub const CREDENTIALS_TABLE: &str = "credentials";

/// The column bound into a sealed credential's associated data.
pub const VALUE_COLUMN: &str = "value";

/// The longest credential value, in bytes (API keys are far shorter).
pub const MAX_SECRET_LEN: usize = 8 * 1024;

/// The policy id the audit log records for a tenant acting on its own credentials.
const OWN_TENANT: &str = "credentials-own-tenant";

/// The policy id the audit log records for a worker opening a credential for a job.
const WORKER_OPEN: &str = "credentials-worker-open";

/// A credential's value: zeroized when dropped, printed `[redacted]` by `Debug` and
/// `Display`, not `Clone` nor `Serialize`; [`Secret::expose`] is the one way to it.
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Zeroizing::new(value.into()))
    }

    /// The value itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What went wrong with a credential, and so what a caller can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CredentialErrorKind {
    /// The name is not 1 to 64 characters of `[A-Za-z0-9._-]`.
    InvalidName,
    /// The value is empty (or blank) or longer than [`MAX_SECRET_LEN`].
    InvalidValue,
    /// The tenant has no credential of that name.
    NotFound,
    /// The context lacks the permission (`write` to store, delete or use a credential,
    /// `read` to list them).
    Denied,
    /// No data keys are configured (credentials are never stored in clear), or the key
    /// that sealed a credential is not in the keyset.
    Key,
    /// A stored credential does not open: a wrong key of the same id, an altered value,
    /// or a value moved to another tenant or name.
    Corrupt,
    /// Storage or the audit log failed.
    Unavailable,
}

impl CredentialErrorKind {
    /// What a caller can do: fix the name, the value, the permission or the key
    /// configuration, or store the credential; retry when storage or the audit log
    /// failed; give up on a credential that does not open (store it again).
    pub fn remedy(self) -> Remedy {
        match self {
            Self::InvalidName | Self::InvalidValue | Self::NotFound | Self::Denied | Self::Key => {
                Remedy::FixInput
            }
            Self::Unavailable => Remedy::Retry,
            Self::Corrupt => Remedy::GiveUp,
        }
    }
}

/// A credential failure. Its message names the credential, never its value.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CredentialError {
    kind: CredentialErrorKind,
    message: String,
    source: Option<Cause>,
}

impl fmt::Display for CredentialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CredentialError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl CredentialError {
    /// An error of `kind`.
    pub fn new(kind: CredentialErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// Keeps `cause` as this error's [`source`](std::error::Error::source).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(tamma_bench_core::error::cause(cause));
        self
    }

    /// What kind of failure.
    pub fn kind(&self) -> CredentialErrorKind {
        self.kind
    }

    /// Details, safe to show the caller (never a value).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }

    /// No credential `name` for the caller's tenant.
    pub fn not_found(name: &str) -> Self {
        Self::new(
            CredentialErrorKind::NotFound,
            format!("no credential {name:?} is stored for this tenant"),
        )
    }
}

impl From<CredentialNameError> for CredentialError {
    fn from(e: CredentialNameError) -> Self {
        Self::new(CredentialErrorKind::InvalidName, e.to_string()).with_source(e)
    }
}

impl From<StoreError> for CredentialError {
    fn from(e: StoreError) -> Self {
        let kind = match e.kind() {
            StoreErrorKind::Corrupt => CredentialErrorKind::Corrupt,
            _ => CredentialErrorKind::Unavailable,
        };
        Self::new(kind, format!("credential storage failed: {}", e.message())).with_source(e)
    }
}

impl From<AuditFailure> for CredentialError {
    fn from(e: AuditFailure) -> Self {
        Self::new(CredentialErrorKind::Unavailable, e.to_string()).with_source(e)
    }
}

impl From<CryptoError> for CredentialError {
    /// Nothing of the value or the key is in a crypto error's message.
    fn from(e: CryptoError) -> Self {
        let kind = match e.kind() {
            CryptoErrorKind::MissingKey | CryptoErrorKind::InvalidKey => CredentialErrorKind::Key,
            CryptoErrorKind::Rng => CredentialErrorKind::Unavailable,
            _ => CredentialErrorKind::Corrupt,
        };
        Self::new(kind, format!("credential encryption: {e}")).with_source(e)
    }
}

/// Tenants' credentials over a [`CredentialStore`], sealed with the data keys and audited.
/// Cheap to clone (clones share the store, the keys and the audit hook).
#[derive(Clone)]
pub struct Credentials {
    store: Arc<dyn CredentialStore>,
    cipher: Option<Arc<FieldCipher>>,
    audit: Arc<dyn AccessAudit>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

impl Credentials {
    /// Credentials in `store`, with no data keys (nothing can be stored or opened until
    /// [`Credentials::with_keyset`]) and no audit log.
    pub fn new(store: Arc<dyn CredentialStore>) -> Self {
        Self {
            store,
            cipher: None,
            audit: Arc::new(NoAudit),
        }
    }

    /// Seals new credentials with `keyset`'s primary key and opens them with any of its
    /// keys (keep an old key in the keyset while credentials sealed with it exist; a
    /// credential stored again is sealed under the primary key).
    pub fn with_keyset(mut self, keyset: &Keyset) -> Self {
        self.cipher = Some(Arc::new(FieldCipher::new(keyset)));
        self
    }

    /// With the keyset `keys` provides; fails (closed) when it provides none.
    pub fn with_keys(self, keys: &dyn KeyProvider) -> Result<Self, CredentialError> {
        Ok(self.with_keyset(&keys.keyset()?))
    }

    /// With an audit hook (the audit log): every call is recorded before it returns.
    pub fn with_audit(mut self, audit: Arc<dyn AccessAudit>) -> Self {
        self.audit = audit;
        self
    }

    /// Whether data keys are configured (without them nothing is stored or opened).
    pub fn is_sealing(&self) -> bool {
        self.cipher.is_some()
    }

    /// Stores `secret` as credential `name` of the caller's tenant, sealed, replacing an
    /// older value. Needs the `write` permission and data keys.
    pub async fn put(
        &self,
        cx: &TenantContext,
        name: &str,
        secret: &Secret,
    ) -> Result<(), CredentialError> {
        let name = CredentialName::new(name)?;
        let value = secret.expose();
        if value.trim().is_empty() || value.len() > MAX_SECRET_LEN {
            return Err(CredentialError::new(
                CredentialErrorKind::InvalidValue,
                format!(
                    "credential {name}: a value is 1 to {MAX_SECRET_LEN} bytes and not blank (this one is {} bytes)",
                    value.len()
                ),
            ));
        }
        self.allow(
            cx,
            Action::Write,
            &resource(&name),
            Class::Restricted,
            OWN_TENANT,
        )
        .await?;
        let cipher = self.cipher(&name, "stored")?;
        let sealed = cipher.seal_bytes(&field(cx, &name), value.as_bytes())?;
        Ok(self.store.put(&cx.tenant_id, &name, sealed).await?)
    }

    /// The caller's tenant's credentials: names and times, never values. Needs the
    /// `read` permission.
    pub async fn names(&self, cx: &TenantContext) -> Result<Vec<CredentialInfo>, CredentialError> {
        self.allow(
            cx,
            Action::Read,
            "credentials",
            Class::Sensitive,
            OWN_TENANT,
        )
        .await?;
        Ok(self.store.list(&cx.tenant_id).await?)
    }

    /// Deletes credential `name` of the caller's tenant; whether there was one. Needs the
    /// `write` permission.
    pub async fn delete(&self, cx: &TenantContext, name: &str) -> Result<bool, CredentialError> {
        let name = CredentialName::new(name)?;
        self.allow(
            cx,
            Action::Write,
            &resource(&name),
            Class::Restricted,
            OWN_TENANT,
        )
        .await?;
        Ok(self.store.delete(&cx.tenant_id, &name).await?)
    }

    /// The value of credential `name` of the context's tenant, for a worker about to run
    /// that tenant's job (the context is the job's): the only way a value leaves the
    /// store. Needs the `write` permission (a job that writes its run) and data keys;
    /// audited as a read of restricted data.
    pub async fn open_for_worker(
        &self,
        cx: &TenantContext,
        name: &str,
    ) -> Result<Secret, CredentialError> {
        let name = CredentialName::new(name)?;
        let allowed = cx.has(Permission::Write);
        self.record(
            cx,
            Action::Read,
            &resource(&name),
            Class::Restricted,
            allowed,
            WORKER_OPEN,
        )
        .await?;
        if !allowed {
            return Err(denied(Action::Read, &name));
        }
        let cipher = self.cipher(&name, "opened")?;
        let sealed = self
            .store
            .get(&cx.tenant_id, &name)
            .await?
            .ok_or_else(|| CredentialError::not_found(name.as_str()))?;
        let mut plain = cipher
            .open_bytes(&field(cx, &name), &sealed)
            .map_err(|e| CredentialError::from(e).prefixed(&name))?;
        match String::from_utf8(std::mem::take(&mut *plain)) {
            Ok(value) => Ok(Secret::new(value)),
            Err(e) => {
                // Zeroized as it drops.
                drop(Zeroizing::new(e.into_bytes()));
                Err(CredentialError::new(
                    CredentialErrorKind::Corrupt,
                    format!("credential {name}: the opened value is not UTF-8"),
                ))
            }
        }
    }

    /// The cipher, or why `name` cannot be `what` (stored, opened) without one.
    fn cipher(&self, name: &CredentialName, what: &str) -> Result<&FieldCipher, CredentialError> {
        self.cipher.as_deref().ok_or_else(|| {
            CredentialError::new(
                CredentialErrorKind::Key,
                format!(
                    "credential {name} cannot be {what}: no data keys are configured, and credentials are never kept in clear"
                ),
            )
        })
    }

    /// Checks that `cx` holds the permission `action` needs and records the access either
    /// way; refuses when it does not.
    async fn allow(
        &self,
        cx: &TenantContext,
        action: Action,
        resource: &str,
        classification: Class,
        policy: &str,
    ) -> Result<(), CredentialError> {
        let allowed = cx.has(action.permission());
        self.record(cx, action, resource, classification, allowed, policy)
            .await?;
        if !allowed {
            return Err(CredentialError::new(
                CredentialErrorKind::Denied,
                format!(
                    "not permitted: {} on {resource} (the context lacks the `{}` permission)",
                    action.as_str(),
                    action.permission().as_str()
                ),
            ));
        }
        Ok(())
    }

    /// Reports one access to the audit hook.
    async fn record(
        &self,
        cx: &TenantContext,
        action: Action,
        resource: &str,
        classification: Class,
        allowed: bool,
        policy: &str,
    ) -> Result<(), CredentialError> {
        let (outcome, reasons) = if allowed {
            (Outcome::Allowed, vec![policy.to_owned()])
        } else {
            (Outcome::Denied, Vec::new())
        };
        let event = AccessEvent {
            tenant_id: cx.tenant_id.clone(),
            principal: cx.principal.clone(),
            action,
            resource: resource.to_owned(),
            classification,
            outcome,
            reasons,
            at_ms: now_ms(),
        };
        Ok(self.audit.record(event).await?)
    }
}

impl CredentialError {
    /// This error with its message prefixed by the credential it concerns.
    fn prefixed(mut self, name: &CredentialName) -> Self {
        self.message = format!("credential {name}: {}", self.message);
        self
    }
}

/// A worker may not open `name` for this context.
fn denied(action: Action, name: &CredentialName) -> CredentialError {
    CredentialError::new(
        CredentialErrorKind::Denied,
        format!(
            "not permitted: {} of credential {name} for a job (the context lacks the `write` permission)",
            action.as_str()
        ),
    )
}

/// The audit log's resource of credential `name`.
fn resource(name: &CredentialName) -> String {
    format!("credential:{name}")
}

/// Where a credential's sealed value lives: bound into its associated data.
fn field<'a>(cx: &'a TenantContext, name: &'a CredentialName) -> FieldContext<'a> {
    FieldContext::new(
        &cx.tenant_id,
        CREDENTIALS_TABLE,
        VALUE_COLUMN,
        name.as_str(),
    )
}
