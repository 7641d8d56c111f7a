//! Authentication: bearer JWTs at two doors.
//!
//! - The **public door** (`/api/v1`) takes customers' tokens, signed by a key of the
//!   public JWK Set with the public audience: `tenant`, `sub` (the user) and `tier`
//!   (`free` or `premium`) make the caller's `TenantContext::external(tenant, tier, sub)`.
//! - The **internal door** (`/internal/v1`) takes service tokens, signed by a key of a
//!   separate internal JWK Set with the internal audience: `tenant` and `sub` (the
//!   service) make `TenantContext::internal(tenant, sub)`.
//!
//! Tokens are EdDSA (Ed25519) or RS256, chosen by the key their `kid` names (a token whose
//! header names another algorithm is refused: no algorithm confusion); `exp`, `nbf`, `aud`
//! and `iss` are checked with a small leeway. A token of one door at the other is refused
//! with 403; every other refusal is 401 with `WWW-Authenticate: Bearer` and the same
//! generic message. Every decision, allowed or refused, is appended to the audit log with
//! the door, the outcome, the kind of reason and the tenant and subject when known, never
//! the token.

mod keys;

pub use keys::KeySetError;

use crate::config::{AuthConfig, DoorAuth};
use crate::error::ApiError;
use jsonwebtoken::errors::ErrorKind as JwtErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use keys::KeySet;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tamma_bench::core::model::{TenantContext, TenantId, Tier};
use tamma_bench::privacy::InternalContext;
use tamma_bench::privacy::audit::{AuditAction, AuditClass, AuditEntry, AuditLog, Decision};

/// Which listener a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Door {
    /// `/api/v1`: customers.
    Public,
    /// `/internal/v1`: the platform's services.
    Internal,
}

impl Door {
    /// `public` or `internal`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Internal => "internal",
        }
    }

    fn other(self) -> Self {
        match self {
            Self::Public => Self::Internal,
            Self::Internal => Self::Public,
        }
    }
}

/// The authenticated caller of a request (a request extension of every authenticated
/// route).
#[derive(Debug, Clone)]
pub struct Caller {
    /// The door it came through.
    pub door: Door,
    /// Its context: external at the public door, internal at the internal door.
    pub context: TenantContext,
}

impl Caller {
    /// The internal context of a caller of the internal door.
    pub fn internal(&self) -> Result<InternalContext, ApiError> {
        InternalContext::new(self.context.clone()).map_err(|_| ApiError::forbidden("not permitted"))
    }
}

/// Why a request was refused (recorded in the audit log; the caller sees only the status
/// and a generic message).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// No `Authorization: Bearer` header.
    Missing,
    /// Not a JWT, or a header without `kid`, or claims of the wrong type.
    Malformed,
    /// The signature does not verify, or the header's algorithm is not the key's.
    BadSignature,
    /// `exp` has passed.
    Expired,
    /// `nbf` has not come.
    NotYetValid,
    /// `aud` is not this door's.
    WrongAudience,
    /// `iss` is not this door's.
    WrongIssuer,
    /// No key of this door (nor of the other) has the token's `kid`.
    UnknownKey,
    /// A valid token of the other door.
    WrongDoor,
    /// A valid token whose `tenant` or `tier` is unusable.
    InvalidClaims,
}

impl Refusal {
    /// The name recorded in the audit log.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Malformed => "malformed",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongAudience => "wrong_audience",
            Self::WrongIssuer => "wrong_issuer",
            Self::UnknownKey => "unknown_key",
            Self::WrongDoor => "wrong_door",
            Self::InvalidClaims => "invalid_claims",
        }
    }

    /// The answer: 403 for a genuine token at the wrong door or with unusable claims, 401
    /// otherwise.
    pub fn to_error(self) -> ApiError {
        match self {
            Self::WrongDoor | Self::InvalidClaims => {
                ApiError::forbidden("this token is not accepted here")
            }
            _ => ApiError::unauthorized(),
        }
    }
}

/// The claims read from a token.
#[derive(Debug, Deserialize)]
struct Claims {
    sub: String,
    tenant: String,
    #[serde(default)]
    tier: Option<String>,
}

/// One door's verifier.
struct DoorKeys {
    keys: KeySet,
    validation: Validation,
}

/// Verifies tokens at both doors and records each decision in the audit log.
pub struct Authenticator {
    public: DoorKeys,
    internal: DoorKeys,
    audit: Arc<AuditLog>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Reads both key sets now (an unreadable one is an error) and audits into `audit`.
    pub fn new(config: &AuthConfig, audit: Arc<AuditLog>) -> Result<Self, KeySetError> {
        let interval = Duration::from_millis(config.reload_interval_ms);
        let door = |d: &DoorAuth| -> Result<DoorKeys, KeySetError> {
            // The algorithm is set per token from its key; the rest holds for every token.
            let mut validation = Validation::new(jsonwebtoken::Algorithm::EdDSA);
            validation.leeway = config.leeway_secs;
            validation.validate_nbf = true;
            validation.set_audience(&[&d.audience]);
            validation.set_issuer(&[&d.issuer]);
            validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
            Ok(DoorKeys {
                keys: KeySet::open(&d.jwks, interval)?,
                validation,
            })
        };
        Ok(Self {
            public: door(&config.public)?,
            internal: door(&config.internal)?,
            audit,
        })
    }

    fn door(&self, door: Door) -> &DoorKeys {
        match door {
            Door::Public => &self.public,
            Door::Internal => &self.internal,
        }
    }

    /// The caller of a request at `door` with the `Authorization` header `authorization`;
    /// the decision is audited either way. An allowed decision that cannot be audited is
    /// refused (503): no access goes unrecorded.
    pub async fn authenticate(
        &self,
        door: Door,
        authorization: Option<&str>,
    ) -> Result<Caller, ApiError> {
        match self.verify(door, authorization) {
            Ok(caller) => {
                let entry = audit_entry(door, &caller.context, None);
                if let Err(e) = self.audit.append(&entry).await {
                    tracing::error!(error = %e, "an authentication could not be audited");
                    return Err(ApiError::unavailable());
                }
                Ok(caller)
            }
            Err((refusal, claims)) => {
                let entry = audit_entry(door, &claimed(claims.as_ref()), Some(refusal));
                if let Err(e) = self.audit.append(&entry).await {
                    tracing::error!(error = %e, "a refused authentication could not be audited");
                }
                tracing::info!(
                    door = door.as_str(),
                    reason = refusal.as_str(),
                    "token refused"
                );
                Err(refusal.to_error())
            }
        }
    }

    /// Verifies the token; on a refusal, the claims when the token was genuine.
    fn verify(
        &self,
        door: Door,
        authorization: Option<&str>,
    ) -> Result<Caller, (Refusal, Option<Claims>)> {
        let token = authorization
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
            .ok_or((Refusal::Missing, None))?;
        let header = decode_header(token).map_err(|_| (Refusal::Malformed, None))?;
        let kid = header.kid.ok_or((Refusal::Malformed, None))?;
        let here = self.door(door);
        let Some(key) = here.keys.key(&kid) else {
            // A genuine token of the other door is a wrong door, not an unknown key.
            let there = self.door(door.other());
            if let Some(key) = there.keys.holds(&kid)
                && key.algorithm == header.alg
            {
                let mut validation = there.validation.clone();
                validation.algorithms = vec![key.algorithm];
                if let Ok(data) = decode::<Claims>(token, &key.key, &validation) {
                    return Err((Refusal::WrongDoor, Some(data.claims)));
                }
            }
            return Err((Refusal::UnknownKey, None));
        };
        if header.alg != key.algorithm {
            return Err((Refusal::BadSignature, None));
        }
        let mut validation = here.validation.clone();
        validation.algorithms = vec![key.algorithm];
        let claims = match decode::<Claims>(token, &key.key, &validation) {
            Ok(data) => data.claims,
            Err(e) => {
                let refusal = match e.kind() {
                    JwtErrorKind::InvalidSignature => Refusal::BadSignature,
                    JwtErrorKind::ExpiredSignature => Refusal::Expired,
                    JwtErrorKind::ImmatureSignature => Refusal::NotYetValid,
                    JwtErrorKind::InvalidIssuer => Refusal::WrongIssuer,
                    JwtErrorKind::InvalidAudience => {
                        // The other door's audience, signed by a key both doors share.
                        let mut other = self.door(door.other()).validation.clone();
                        other.algorithms = vec![key.algorithm];
                        if let Ok(data) = decode::<Claims>(token, &key.key, &other) {
                            return Err((Refusal::WrongDoor, Some(data.claims)));
                        }
                        Refusal::WrongAudience
                    }
                    _ => Refusal::Malformed,
                };
                return Err((refusal, None));
            }
        };
        let Ok(tenant) = TenantId::new(claims.tenant.clone()) else {
            return Err((Refusal::InvalidClaims, Some(claims)));
        };
        if claims.sub.is_empty() || claims.sub.len() > 256 {
            return Err((Refusal::InvalidClaims, Some(claims)));
        }
        let context = match door {
            Door::Public => {
                let tier = match claims.tier.as_deref() {
                    Some("free") => Tier::Free,
                    Some("premium") => Tier::Premium,
                    _ => return Err((Refusal::InvalidClaims, Some(claims))),
                };
                TenantContext::external(tenant, tier, claims.sub)
            }
            Door::Internal => TenantContext::internal(tenant, claims.sub),
        };
        Ok(Caller { door, context })
    }
}

/// The audit entry of a decision at `door` about `cx` (refused: the tenant and subject
/// the token claimed if it was genuine, else `-`).
fn audit_entry(door: Door, cx: &TenantContext, refusal: Option<Refusal>) -> AuditEntry {
    let (decision, reason) = match refusal {
        None => (Decision::Allow, "ok"),
        Some(r) => (Decision::Deny, r.as_str()),
    };
    AuditEntry::new(
        cx,
        AuditAction::Authenticate,
        format!("door:{}", door.as_str()),
        AuditClass::Internal,
        decision,
        vec![format!("reason:{reason}")],
    )
}

/// The context recorded for a refusal: what a genuine token claimed, else `-`.
fn claimed(claims: Option<&Claims>) -> TenantContext {
    let tenant = claims
        .and_then(|c| TenantId::new(c.tenant.clone()).ok())
        .unwrap_or_else(unknown_tenant);
    let subject = claims
        .map(|c| c.sub.as_str())
        .filter(|s| !s.is_empty() && s.len() <= 256)
        .unwrap_or("-");
    TenantContext::external(tenant, Tier::Free, subject)
}

/// The tenant recorded for a request whose tenant is not known.
fn unknown_tenant() -> TenantId {
    TenantId::new("-").unwrap_or_else(|_| TenantId::local())
}
