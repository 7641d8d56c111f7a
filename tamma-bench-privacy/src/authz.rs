//! Authorization: a Cedar policy decides every access, default deny, forbid overrides
//! permit.
//!
//! The product's policy and schema ship as files (`policies/tamma.cedar`,
//! `policies/tamma.cedarschema`), embedded at build time and validated strictly against
//! the schema when loaded. Each [`Decision`] carries the ids (`@id` annotations) of the
//! policies that determined it, for the audit log.

use cedar_policy::{
    Authorizer, Context, Entities, Entity, EntityId, EntityTypeName, EntityUid, PolicyId,
    PolicySet, Request, RestrictedExpression, Schema, ValidationMode, Validator,
};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use tamma_bench_core::model::{Permission, TenantContext, TenantId, TenantKind, Tier, Visibility};

/// The shipped policies.
pub const POLICIES: &str = include_str!("../policies/tamma.cedar");
/// The shipped schema.
pub const SCHEMA: &str = include_str!("../policies/tamma.cedarschema");

/// What a caller asks to do with a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Read public (and, for the owner, sensitive) fields.
    Read,
    /// Create a run or append trials.
    Write,
    /// Export trials.
    Export,
    /// Compare results.
    Compare,
    /// Read internal fields.
    ReadInternal,
}

impl Action {
    const ALL: [Action; 5] = [
        Self::Read,
        Self::Write,
        Self::Export,
        Self::Compare,
        Self::ReadInternal,
    ];

    /// The action's name in the policy and the audit log.
    pub fn as_str(self) -> &'static str {
        self.permission().as_str()
    }

    /// The permission the action needs.
    pub fn permission(self) -> Permission {
        match self {
            Self::Read => Permission::Read,
            Self::Write => Permission::Write,
            Self::Export => Permission::Export,
            Self::Compare => Permission::Compare,
            Self::ReadInternal => Permission::ReadInternal,
        }
    }
}

/// The run an action is about: its id, owner and visibility.
#[derive(Debug, Clone, Copy)]
pub struct RunResource<'a> {
    /// Run id.
    pub id: &'a str,
    /// Owning tenant.
    pub owner: &'a TenantId,
    /// Visibility of the run's benchmark.
    pub visibility: Visibility,
}

/// The outcome of one authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// Whether the action is allowed.
    pub allowed: bool,
    /// Ids of the policies that determined the decision (permits when allowed, forbids
    /// when denied by a forbid; empty when denied by default).
    pub reasons: Vec<String>,
}

/// The policy failed to load: a bug in the shipped files or in a host's own policy.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The schema does not parse.
    #[error("authorization schema: {0}")]
    Schema(String),
    /// The policies do not parse.
    #[error("authorization policies: {0}")]
    Parse(String),
    /// The policies do not validate against the schema.
    #[error("authorization policies do not match the schema: {0}")]
    Invalid(String),
}

impl PolicyError {
    /// What a caller can do: nothing but report it; the policy files are part of the build
    /// (or of the host's own configuration, which its operator fixes).
    pub fn remedy(&self) -> tamma_bench_core::error::Remedy {
        tamma_bench_core::error::Remedy::GiveUp
    }
}

/// The loaded, validated policy and the Cedar authorizer.
pub struct AccessPolicy {
    policies: PolicySet,
    authorizer: Authorizer,
    actions: HashMap<&'static str, EntityUid>,
    types: [EntityTypeName; 3],
}

impl std::fmt::Debug for AccessPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessPolicy")
            .field("policies", &self.policies.policies().count())
            .finish()
    }
}

fn uid(ty: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(ty.clone(), EntityId::new(id))
}

impl AccessPolicy {
    /// The shipped policy.
    pub fn shipped() -> Result<Self, PolicyError> {
        Self::from_sources(POLICIES, SCHEMA)
    }

    /// A policy from Cedar sources, validated strictly against `schema`. Every policy is
    /// identified by its `@id` annotation (else Cedar's positional id).
    pub fn from_sources(policies: &str, schema: &str) -> Result<Self, PolicyError> {
        let (schema, _warnings) =
            Schema::from_cedarschema_str(schema).map_err(|e| PolicyError::Schema(e.to_string()))?;
        let parsed =
            PolicySet::from_str(policies).map_err(|e| PolicyError::Parse(e.to_string()))?;
        let mut named = PolicySet::new();
        for p in parsed.policies() {
            let id = p
                .annotation("id")
                .map_or_else(|| p.id().clone(), PolicyId::new);
            named
                .add(p.new_id(id))
                .map_err(|e| PolicyError::Parse(e.to_string()))?;
        }
        let result = Validator::new(schema).validate(&named, ValidationMode::Strict);
        if !result.validation_passed() {
            let errors: Vec<String> = result.validation_errors().map(|e| e.to_string()).collect();
            return Err(PolicyError::Invalid(errors.join("; ")));
        }
        let ty =
            |s: &str| EntityTypeName::from_str(s).map_err(|e| PolicyError::Schema(e.to_string()));
        let action_ty = ty("Action")?;
        let actions = Action::ALL
            .iter()
            .map(|a| (a.as_str(), uid(&action_ty, a.as_str())))
            .collect();
        Ok(Self {
            policies: named,
            authorizer: Authorizer::new(),
            actions,
            types: [ty("Tenant")?, ty("Principal")?, ty("Run")?],
        })
    }

    /// Decides whether `cx` may do `action` on `run`. Anything the policy cannot evaluate
    /// is a denial (fail closed).
    pub fn decide(&self, cx: &TenantContext, action: Action, run: RunResource<'_>) -> Decision {
        let deny = Decision {
            allowed: false,
            reasons: Vec::new(),
        };
        let [tenant_ty, principal_ty, run_ty] = &self.types;
        let tenant = uid(tenant_ty, cx.tenant_id.as_str());
        let owner = uid(tenant_ty, run.owner.as_str());
        let principal = uid(principal_ty, &cx.principal);
        let resource = uid(run_ty, run.id);
        let kind = match cx.kind {
            TenantKind::Internal => "internal",
            TenantKind::External => "external",
        };
        let tier = match cx.tier {
            Tier::Free => "free",
            Tier::Premium => "premium",
            Tier::Internal => "internal",
        };
        let visibility = match run.visibility {
            Visibility::Public => "public",
            Visibility::Private => "private",
        };
        let s = |v: &str| RestrictedExpression::new_string(v.to_owned());
        let principal_attrs = HashMap::from([
            (
                "tenant".to_owned(),
                RestrictedExpression::new_entity_uid(tenant.clone()),
            ),
            ("kind".to_owned(), s(kind)),
            ("tier".to_owned(), s(tier)),
            (
                "permissions".to_owned(),
                RestrictedExpression::new_set(cx.permissions.iter().map(|p| s(p.as_str()))),
            ),
        ]);
        let run_attrs = HashMap::from([
            (
                "owner".to_owned(),
                RestrictedExpression::new_entity_uid(owner.clone()),
            ),
            ("visibility".to_owned(), s(visibility)),
        ]);
        let entities = (|| {
            let p =
                Entity::new(principal.clone(), principal_attrs, HashSet::from([tenant])).ok()?;
            let r = Entity::new(resource.clone(), run_attrs, HashSet::from([owner])).ok()?;
            Entities::from_entities([p, r], None).ok()
        })();
        let (Some(entities), Some(action)) = (entities, self.actions.get(action.as_str())) else {
            return deny;
        };
        let Ok(request) = Request::new(principal, action.clone(), resource, Context::empty(), None)
        else {
            return deny;
        };
        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &entities);
        let diagnostics = response.diagnostics();
        if diagnostics.errors().next().is_some() {
            return deny;
        }
        Decision {
            allowed: response.decision() == cedar_policy::Decision::Allow,
            reasons: diagnostics.reason().map(|id| id.to_string()).collect(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn run<'a>(owner: &'a TenantId, visibility: Visibility) -> RunResource<'a> {
        RunResource {
            id: "r1",
            owner,
            visibility,
        }
    }

    #[test]
    fn the_shipped_policy_validates_and_decides_with_reasons() {
        let policy = AccessPolicy::shipped().unwrap();
        let a = TenantId::new("a").unwrap();
        let b = TenantId::new("b").unwrap();
        let ext = TenantContext::external(a.clone(), Tier::Free, "alice");
        let d = policy.decide(&ext, Action::Read, run(&a, Visibility::Private));
        assert!(d.allowed);
        assert_eq!(d.reasons, vec!["owner-reads-own-runs"]);
        let d = policy.decide(&ext, Action::Read, run(&b, Visibility::Private));
        assert!(!d.allowed);
        assert_eq!(d.reasons, vec!["private-runs-stay-with-their-owner"]);
        assert!(
            policy
                .decide(&ext, Action::Read, run(&b, Visibility::Public))
                .allowed
        );
        assert!(
            !policy
                .decide(&ext, Action::Write, run(&b, Visibility::Public))
                .allowed
        );
        let d = policy.decide(&ext, Action::ReadInternal, run(&a, Visibility::Private));
        assert!(
            !d.allowed,
            "external never reads internal fields, even its own"
        );
        let granted = ext.clone().with_permissions(Permission::ALL);
        let d = policy.decide(&granted, Action::ReadInternal, run(&a, Visibility::Private));
        assert!(
            !d.allowed
                && d.reasons
                    .contains(&"external-never-reads-internal-fields".into())
        );
        let int = TenantContext::internal(a.clone(), "svc");
        assert!(
            policy
                .decide(&int, Action::ReadInternal, run(&a, Visibility::Private))
                .allowed
        );
        assert!(
            !policy
                .decide(&int, Action::ReadInternal, run(&b, Visibility::Private))
                .allowed
        );
    }

    #[test]
    fn an_action_without_its_permission_is_forbidden() {
        let policy = AccessPolicy::shipped().unwrap();
        let a = TenantId::new("a").unwrap();
        let cx = TenantContext::external(a.clone(), Tier::Premium, "p")
            .with_permissions([Permission::Read]);
        assert!(
            policy
                .decide(&cx, Action::Read, run(&a, Visibility::Private))
                .allowed
        );
        let d = policy.decide(&cx, Action::Export, run(&a, Visibility::Private));
        assert_eq!(
            (d.allowed, d.reasons),
            (false, vec!["export-needs-permission".into()])
        );
    }

    #[test]
    fn a_policy_that_does_not_match_the_schema_is_refused() {
        let bad = "permit (principal, action, resource) when { resource.colour == \"red\" };";
        assert!(matches!(
            AccessPolicy::from_sources(bad, SCHEMA),
            Err(PolicyError::Invalid(_))
        ));
    }
}
