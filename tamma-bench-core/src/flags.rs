//! Feature flags: defined in the deployment's configuration, evaluated in memory.
//!
//! A [`FlagDefinition`] is a global switch, allow and deny lists of tenants and users, and
//! a percentage rollout; a [`FlagSet`] holds the definitions of a deployment, checked,
//! and answers [`FlagSet::evaluate`] with the value and the [`Reason`] for it. The rules,
//! first match wins:
//!
//! 1. an unknown flag is off ([`Reason::UnknownFlag`]);
//! 2. a flag with `enabled = false` is off for everyone ([`Reason::Disabled`]);
//! 3. a denied user is off, an allowed user on ([`Reason::UserDenied`],
//!    [`Reason::UserAllowed`]);
//! 4. then a denied tenant is off, an allowed tenant on ([`Reason::TenantDenied`],
//!    [`Reason::TenantAllowed`]);
//! 5. else the rollout: at 100 % everyone is on, at 0 % everyone off; in between, a user
//!    is on when the [`rollout_bucket`] of the flag's name and the user's id falls below
//!    the percentage ([`Reason::InRollout`], [`Reason::OutOfRollout`]); without a user,
//!    off ([`Reason::NoUser`]).
//!
//! The bucket is the SHA-256 of the flag name, a zero byte and the user id: the same user
//! gets the same answer in every process, on every machine, after every restart, and
//! raising the percentage only adds users. Evaluating takes well under a microsecond
//! (`benches/flags.rs`, `docs/performance.md`); nothing here does I/O.
//!
//! ```
//! use tamma_bench_core::flags::{FlagDefinition, FlagSet, Reason, Subject};
//!
//! let mut flag = FlagDefinition::new("new-report");
//! flag.enabled = true;
//! flag.percentage = 25.0;
//! flag.tenants.allow = vec!["acme".into()];
//! let flags = FlagSet::new(vec![flag]).unwrap();
//!
//! let e = flags.evaluate("new-report", &Subject::new(Some("acme"), Some("alice")));
//! assert!(e.enabled);
//! assert_eq!(e.reason, Reason::TenantAllowed);
//! let e = flags.evaluate("no-such-flag", &Subject::anonymous());
//! assert_eq!((e.enabled, e.reason), (false, Reason::UnknownFlag));
//! ```
//!
//! A host that reloads its configuration swaps the whole set behind a [`FlagHandle`]:
//! readers keep the `Arc` they took until they are done.

use crate::error::Remedy;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

/// Rollout buckets: a user falls in one of `0..BUCKETS`, so a percentage has a resolution
/// of 0.01 %.
pub const BUCKETS: u32 = 10_000;

/// Longest flag name.
pub const MAX_NAME_LEN: usize = 128;

/// Tenants or users named on a flag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetLists {
    /// Always on for these (unless the flag is disabled or a more specific list denies).
    #[serde(default)]
    pub allow: Vec<String>,
    /// Always off for these (unless the flag is disabled).
    #[serde(default)]
    pub deny: Vec<String>,
}

/// A feature flag as written in the configuration (`[[flag]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FlagDefinition {
    /// Its name: 1-128 characters of `[A-Za-z0-9._-]`, unique in the set.
    pub name: String,
    /// What it switches.
    #[serde(default)]
    pub description: String,
    /// Who answers for it (a team or a person).
    #[serde(default)]
    pub owner: Option<String>,
    /// When it was created, `YYYY-MM-DD`.
    #[serde(default)]
    pub created: Option<String>,
    /// The global switch: when false the flag is off for everyone, whatever the lists
    /// and the rollout say.
    #[serde(default)]
    pub enabled: bool,
    /// Share of users it is on for, 0 to 100 (to 0.01).
    #[serde(default)]
    pub percentage: f64,
    /// Tenants it is always on or always off for.
    #[serde(default)]
    pub tenants: TargetLists,
    /// Users it is always on or always off for (before the tenant lists).
    #[serde(default)]
    pub users: TargetLists,
}

impl FlagDefinition {
    /// A flag named `name`: disabled, 0 %, no lists, no metadata.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            description: String::new(),
            owner: None,
            created: None,
            enabled: false,
            percentage: 0.0,
            tenants: TargetLists::default(),
            users: TargetLists::default(),
        }
    }

    /// Checks the definition alone: name, percentage, creation date, lists (an id in
    /// both the allow and the deny list of the same kind is a contradiction).
    pub fn validate(&self) -> Result<(), FlagError> {
        let at = |field: &str, message: String| FlagError::new(None, field, message);
        let name_ok = !self.name.is_empty()
            && self.name.len() <= MAX_NAME_LEN
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !name_ok {
            return Err(at(
                "name",
                format!(
                    "expected 1-{MAX_NAME_LEN} characters of [A-Za-z0-9._-], got {:?}",
                    self.name
                ),
            ));
        }
        if !(0.0..=100.0).contains(&self.percentage) {
            return Err(at(
                "percentage",
                format!("expected a number from 0 to 100, got {}", self.percentage),
            ));
        }
        if let Some(created) = &self.created
            && !is_date(created)
        {
            return Err(at(
                "created",
                format!("expected a date YYYY-MM-DD, got {created:?}"),
            ));
        }
        for (kind, lists) in [("tenants", &self.tenants), ("users", &self.users)] {
            for (list, ids) in [("allow", &lists.allow), ("deny", &lists.deny)] {
                if let Some(id) = ids.iter().find(|id| id.is_empty()) {
                    return Err(at(
                        &format!("{kind}.{list}"),
                        format!("expected non-empty ids, got {id:?}"),
                    ));
                }
            }
            if let Some(id) = lists.allow.iter().find(|id| lists.deny.contains(id)) {
                return Err(at(
                    &format!("{kind}.deny"),
                    format!("{id:?} is both allowed and denied"),
                ));
            }
        }
        Ok(())
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' || !digits(0..4) {
        return false;
    }
    if !digits(5..7) || !digits(8..10) {
        return false;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// Who a flag is evaluated for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Subject<'a> {
    /// The tenant, if known.
    pub tenant: Option<&'a str>,
    /// The user, if known: the key of the percentage rollout.
    pub user: Option<&'a str>,
}

impl<'a> Subject<'a> {
    /// A tenant and a user, each optional.
    pub fn new(tenant: Option<&'a str>, user: Option<&'a str>) -> Self {
        Self { tenant, user }
    }

    /// Nobody in particular: only the switch and a 0 % or 100 % rollout decide.
    pub fn anonymous() -> Self {
        Self::default()
    }

    /// The tenant and the principal of `cx`.
    pub fn from_context(cx: &'a crate::model::TenantContext) -> Self {
        Self::new(Some(cx.tenant_id.as_str()), Some(cx.principal.as_str()))
    }
}

/// Why a flag evaluated as it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// No flag of that name: off.
    UnknownFlag,
    /// The global switch is off.
    Disabled,
    /// The user is in the flag's user deny list.
    UserDenied,
    /// The user is in the flag's user allow list.
    UserAllowed,
    /// The tenant is in the flag's tenant deny list.
    TenantDenied,
    /// The tenant is in the flag's tenant allow list.
    TenantAllowed,
    /// The rollout includes the user (or is at 100 %).
    InRollout,
    /// The rollout leaves the user out (or is at 0 %).
    OutOfRollout,
    /// A partial rollout, and no user to place in it: off.
    NoUser,
}

impl Reason {
    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnknownFlag => "unknown_flag",
            Self::Disabled => "disabled",
            Self::UserDenied => "user_denied",
            Self::UserAllowed => "user_allowed",
            Self::TenantDenied => "tenant_denied",
            Self::TenantAllowed => "tenant_allowed",
            Self::InRollout => "in_rollout",
            Self::OutOfRollout => "out_of_rollout",
            Self::NoUser => "no_user",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer for one flag and one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    /// On or off.
    pub enabled: bool,
    /// Why.
    pub reason: Reason,
}

impl Evaluation {
    const fn new(enabled: bool, reason: Reason) -> Self {
        Self { enabled, reason }
    }
}

/// The rollout bucket of `user` for the flag `flag`, in `0..BUCKETS`: the first eight
/// bytes of SHA-256(`flag` ‖ 0x00 ‖ `user`), big-endian, modulo [`BUCKETS`]. The same on
/// every machine and in every version of this crate.
pub fn rollout_bucket(flag: &str, user: &str) -> u32 {
    bucket_of(seeded(flag), user)
}

fn seeded(flag: &str) -> Sha256 {
    let mut h = Sha256::new();
    h.update(flag.as_bytes());
    h.update([0u8]);
    h
}

fn bucket_of(mut seeded: Sha256, user: &str) -> u32 {
    seeded.update(user.as_bytes());
    let digest = seeded.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // The remainder is below BUCKETS, so it fits.
    (u64::from_be_bytes(first) % u64::from(BUCKETS)) as u32
}

/// A flag ready for evaluation: the definition, its lists as sets, the rollout threshold
/// in buckets and the hash state seeded with its name.
#[derive(Debug, Clone)]
struct Compiled {
    definition: FlagDefinition,
    threshold: u32,
    seeded: Sha256,
    tenants_allow: HashSet<String>,
    tenants_deny: HashSet<String>,
    users_allow: HashSet<String>,
    users_deny: HashSet<String>,
}

impl Compiled {
    fn new(definition: FlagDefinition) -> Self {
        let set = |v: &[String]| v.iter().cloned().collect::<HashSet<_>>();
        // Validated: 0 ≤ percentage ≤ 100, so the threshold is in 0..=BUCKETS.
        let threshold = (definition.percentage * f64::from(BUCKETS) / 100.0).round() as u32;
        Self {
            threshold: threshold.min(BUCKETS),
            seeded: seeded(&definition.name),
            tenants_allow: set(&definition.tenants.allow),
            tenants_deny: set(&definition.tenants.deny),
            users_allow: set(&definition.users.allow),
            users_deny: set(&definition.users.deny),
            definition,
        }
    }

    fn evaluate(&self, subject: &Subject<'_>) -> Evaluation {
        if !self.definition.enabled {
            return Evaluation::new(false, Reason::Disabled);
        }
        if let Some(user) = subject.user {
            if self.users_deny.contains(user) {
                return Evaluation::new(false, Reason::UserDenied);
            }
            if self.users_allow.contains(user) {
                return Evaluation::new(true, Reason::UserAllowed);
            }
        }
        if let Some(tenant) = subject.tenant {
            if self.tenants_deny.contains(tenant) {
                return Evaluation::new(false, Reason::TenantDenied);
            }
            if self.tenants_allow.contains(tenant) {
                return Evaluation::new(true, Reason::TenantAllowed);
            }
        }
        match self.threshold {
            BUCKETS => Evaluation::new(true, Reason::InRollout),
            0 => Evaluation::new(false, Reason::OutOfRollout),
            threshold => match subject.user {
                None => Evaluation::new(false, Reason::NoUser),
                Some(user) if bucket_of(self.seeded.clone(), user) < threshold => {
                    Evaluation::new(true, Reason::InRollout)
                }
                Some(_) => Evaluation::new(false, Reason::OutOfRollout),
            },
        }
    }
}

/// The checked flags of a deployment, ready for evaluation.
#[derive(Debug, Clone, Default)]
pub struct FlagSet {
    /// In definition order.
    flags: Vec<Compiled>,
    by_name: HashMap<String, usize>,
}

impl FlagSet {
    /// No flags: every evaluation is [`Reason::UnknownFlag`].
    pub fn empty() -> Self {
        Self::default()
    }

    /// Checks `definitions` (each by [`FlagDefinition::validate`], names unique) and
    /// prepares them for evaluation.
    pub fn new(definitions: Vec<FlagDefinition>) -> Result<Self, FlagError> {
        let mut by_name = HashMap::with_capacity(definitions.len());
        let mut flags = Vec::with_capacity(definitions.len());
        for (i, d) in definitions.into_iter().enumerate() {
            d.validate().map_err(|e| e.at(i))?;
            if let Some(first) = by_name.insert(d.name.clone(), i) {
                let mut e = FlagError::new(
                    Some(i),
                    "name",
                    format!(
                        "flag {:?} is defined twice (first as flag[{first}]); names must be unique",
                        d.name
                    ),
                );
                e.kind = FlagErrorKind::Duplicate;
                return Err(e);
            }
            flags.push(Compiled::new(d));
        }
        Ok(Self { flags, by_name })
    }

    /// How the flag `name` evaluates for `subject`.
    pub fn evaluate(&self, name: &str, subject: &Subject<'_>) -> Evaluation {
        match self.by_name.get(name) {
            Some(&i) => self.flags[i].evaluate(subject),
            None => Evaluation::new(false, Reason::UnknownFlag),
        }
    }

    /// Whether the flag `name` is on for `subject`.
    pub fn is_enabled(&self, name: &str, subject: &Subject<'_>) -> bool {
        self.evaluate(name, subject).enabled
    }

    /// Every flag with its evaluation for `subject`, in definition order.
    pub fn evaluate_all<'s>(
        &'s self,
        subject: &Subject<'_>,
    ) -> Vec<(&'s FlagDefinition, Evaluation)> {
        self.flags
            .iter()
            .map(|f| (&f.definition, f.evaluate(subject)))
            .collect()
    }

    /// The definition of the flag `name`.
    pub fn get(&self, name: &str) -> Option<&FlagDefinition> {
        self.by_name.get(name).map(|&i| &self.flags[i].definition)
    }

    /// The definitions, in order.
    pub fn definitions(&self) -> impl Iterator<Item = &FlagDefinition> {
        self.flags.iter().map(|f| &f.definition)
    }

    /// How many flags.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }
}

/// The current [`FlagSet`] of a process, replaceable while readers use it: a reload
/// builds a new set and [`replace`](Self::replace)s it; [`current`](Self::current) hands
/// out the set of the moment, which a reader keeps for as long as it needs one
/// consistent view.
#[derive(Debug, Default)]
pub struct FlagHandle {
    current: RwLock<Arc<FlagSet>>,
}

impl FlagHandle {
    /// A handle on `flags`.
    pub fn new(flags: FlagSet) -> Self {
        Self {
            current: RwLock::new(Arc::new(flags)),
        }
    }

    /// The set of the moment.
    pub fn current(&self) -> Arc<FlagSet> {
        // A panic while holding the lock cannot leave the Arc half-written.
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Puts `flags` in place; returns the set it replaces.
    pub fn replace(&self, flags: FlagSet) -> Arc<FlagSet> {
        let mut guard = self.current.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *guard, Arc::new(flags))
    }
}

/// What kind of problem a flag definition has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlagErrorKind {
    /// A field's value is not allowed (name, percentage, date, lists).
    Invalid,
    /// Two flags share a name.
    Duplicate,
}

/// A flag definition that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlagError {
    kind: FlagErrorKind,
    index: Option<usize>,
    field: String,
    message: String,
}

impl FlagError {
    fn new(index: Option<usize>, field: &str, message: String) -> Self {
        Self {
            kind: FlagErrorKind::Invalid,
            index,
            field: field.to_owned(),
            message,
        }
    }

    fn at(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    /// What kind of problem.
    pub fn kind(&self) -> FlagErrorKind {
        self.kind
    }

    /// What a caller can do: fix the definition.
    pub fn remedy(&self) -> Remedy {
        Remedy::FixInput
    }

    /// The position of the flag in the definitions given to [`FlagSet::new`] (0-based),
    /// when the error came from there.
    pub fn index(&self) -> Option<usize> {
        self.index
    }

    /// The field of the definition (`percentage`, `users.deny`).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(i) => write!(f, "flag[{i}].{}: {}", self.field, self.message),
            None => write!(f, "{}: {}", self.field, self.message),
        }
    }
}

impl std::error::Error for FlagError {}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(name: &str) -> FlagDefinition {
        let mut f = FlagDefinition::new(name);
        f.enabled = true;
        f
    }

    fn set(defs: Vec<FlagDefinition>) -> FlagSet {
        FlagSet::new(defs).expect("valid flags")
    }

    fn eval(flags: &FlagSet, name: &str, tenant: Option<&str>, user: Option<&str>) -> Evaluation {
        flags.evaluate(name, &Subject::new(tenant, user))
    }

    #[test]
    fn an_unknown_flag_is_off() {
        let flags = set(vec![flag("a")]);
        let e = eval(&flags, "b", Some("t"), Some("u"));
        assert_eq!(e, Evaluation::new(false, Reason::UnknownFlag));
        assert!(!FlagSet::empty().is_enabled("a", &Subject::anonymous()));
    }

    #[test]
    fn a_disabled_flag_is_off_even_for_allowed_users_and_full_rollout() {
        let mut f = FlagDefinition::new("a");
        f.percentage = 100.0;
        f.users.allow = vec!["u".into()];
        f.tenants.allow = vec!["t".into()];
        let flags = set(vec![f]);
        let e = eval(&flags, "a", Some("t"), Some("u"));
        assert_eq!(e, Evaluation::new(false, Reason::Disabled));
    }

    #[test]
    fn user_lists_come_before_tenant_lists() {
        let mut f = flag("a");
        f.percentage = 100.0;
        f.users.deny = vec!["mallory".into()];
        f.users.allow = vec!["tester".into()];
        f.tenants.deny = vec!["blocked".into()];
        f.tenants.allow = vec!["acme".into()];
        let flags = set(vec![f]);
        // A denied user is off even in an allowed tenant and a full rollout.
        let e = eval(&flags, "a", Some("acme"), Some("mallory"));
        assert_eq!(e, Evaluation::new(false, Reason::UserDenied));
        // An allowed user is on even in a denied tenant.
        let e = eval(&flags, "a", Some("blocked"), Some("tester"));
        assert_eq!(e, Evaluation::new(true, Reason::UserAllowed));
        let e = eval(&flags, "a", Some("blocked"), Some("bob"));
        assert_eq!(e, Evaluation::new(false, Reason::TenantDenied));
        let e = eval(&flags, "a", Some("blocked"), None);
        assert_eq!(e, Evaluation::new(false, Reason::TenantDenied));
    }

    #[test]
    fn an_allowed_tenant_is_on_outside_the_rollout() {
        let mut f = flag("a");
        f.percentage = 0.0;
        f.tenants.allow = vec!["acme".into()];
        let flags = set(vec![f]);
        let e = eval(&flags, "a", Some("acme"), Some("anyone"));
        assert_eq!(e, Evaluation::new(true, Reason::TenantAllowed));
        let e = eval(&flags, "a", Some("acme"), None);
        assert_eq!(e, Evaluation::new(true, Reason::TenantAllowed));
        let e = eval(&flags, "a", Some("other"), Some("anyone"));
        assert_eq!(e, Evaluation::new(false, Reason::OutOfRollout));
    }

    #[test]
    fn full_and_empty_rollouts_need_no_user() {
        let mut all = flag("all");
        all.percentage = 100.0;
        let none = flag("none");
        let flags = set(vec![all, none]);
        let e = eval(&flags, "all", None, None);
        assert_eq!(e, Evaluation::new(true, Reason::InRollout));
        let e = eval(&flags, "none", None, Some("u"));
        assert_eq!(e, Evaluation::new(false, Reason::OutOfRollout));
    }

    #[test]
    fn a_partial_rollout_without_a_user_is_off() {
        let mut f = flag("a");
        f.percentage = 50.0;
        let flags = set(vec![f]);
        let e = eval(&flags, "a", Some("acme"), None);
        assert_eq!(e, Evaluation::new(false, Reason::NoUser));
    }

    #[test]
    fn a_partial_rollout_places_users_by_their_bucket() {
        let mut f = flag("a");
        f.percentage = 30.0;
        let flags = set(vec![f]);
        let mut seen = (false, false);
        for i in 0..200 {
            let user = format!("user-{i}");
            let e = eval(&flags, "a", None, Some(&user));
            let inside = rollout_bucket("a", &user) < 3_000;
            assert_eq!(e.enabled, inside, "{user}");
            let reason = if inside {
                Reason::InRollout
            } else {
                Reason::OutOfRollout
            };
            assert_eq!(e.reason, reason);
            if inside {
                seen.0 = true;
            } else {
                seen.1 = true;
            }
        }
        assert_eq!(seen, (true, true), "both sides of the rollout occur");
    }

    #[test]
    fn a_quarter_rollout_reaches_a_quarter_of_10000_users() {
        let mut f = flag("new-dashboard");
        f.percentage = 25.0;
        let flags = set(vec![f]);
        let on = (0..10_000)
            .filter(|i| {
                flags.is_enabled(
                    "new-dashboard",
                    &Subject::new(None, Some(&format!("user-{i}"))),
                )
            })
            .count();
        let share = on as f64 / 10_000.0;
        assert!((0.235..=0.265).contains(&share), "share {share}");
    }

    #[test]
    fn two_separately_built_sets_give_every_user_the_same_answer() {
        let build = || {
            let mut f = flag("checkout-v2");
            f.percentage = 40.0;
            let mut g = flag("other");
            g.percentage = 60.0;
            FlagSet::new(vec![g, f]).expect("valid")
        };
        let (a, b) = (build(), build());
        for i in 0..2_000 {
            let user = format!("u{i}");
            let s = Subject::new(Some("t"), Some(&user));
            assert_eq!(a.evaluate("checkout-v2", &s), b.evaluate("checkout-v2", &s));
            assert_eq!(a.evaluate("other", &s), b.evaluate("other", &s));
        }
    }

    #[test]
    fn buckets_are_fixed_across_versions_and_machines() {
        // Pinned values (computed independently: Python's hashlib, first eight bytes of
        // SHA-256("checkout-v2\0alice") big-endian, mod 10,000): a change of the hash would
        // move users in or out of every running rollout.
        assert_eq!(rollout_bucket("checkout-v2", "alice"), 3755);
        assert_ne!(
            rollout_bucket("checkout-v2", "alice"),
            rollout_bucket("checkout-v3", "alice")
        );
    }

    #[test]
    fn raising_the_percentage_only_adds_users() {
        let at = |p: f64| {
            let mut f = flag("grow");
            f.percentage = p;
            set(vec![f])
        };
        let (low, high) = (at(10.0), at(20.0));
        for i in 0..2_000 {
            let user = format!("u{i}");
            let s = Subject::new(None, Some(&user));
            if low.is_enabled("grow", &s) {
                assert!(high.is_enabled("grow", &s), "{user}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn buckets_are_in_range_and_rollouts_only_grow(
            name in "[a-z0-9._-]{1,20}",
            user in "\\PC{0,40}",
            low in 0.0f64..=100.0,
            extra in 0.0f64..=100.0,
        ) {
            proptest::prop_assert!(rollout_bucket(&name, &user) < BUCKETS);
            let high = (low + extra).min(100.0);
            let at = |p: f64| {
                let mut f = flag(&name);
                f.percentage = p;
                set(vec![f]).is_enabled(&name, &Subject::new(None, Some(&user)))
            };
            proptest::prop_assert!(!at(low) || at(high), "on at {low}% but off at {high}%");
        }
    }

    #[test]
    fn invalid_definitions_name_the_flag_and_field() {
        let mut pct = flag("ok");
        pct.percentage = 100.5;
        let e = FlagSet::new(vec![flag("first"), pct]).expect_err("percentage");
        assert_eq!((e.index(), e.field()), (Some(1), "percentage"));
        assert_eq!(e.kind(), FlagErrorKind::Invalid);

        let mut nan = flag("nan");
        nan.percentage = f64::NAN;
        assert_eq!(nan.validate().expect_err("nan").field(), "percentage");

        let e = FlagSet::new(vec![flag("a"), flag("b"), flag("a")]).expect_err("dup");
        assert_eq!(
            (e.kind(), e.index(), e.field()),
            (FlagErrorKind::Duplicate, Some(2), "name")
        );
        assert!(e.to_string().contains("flag[0]"), "{e}");

        for bad in ["", "has space", &"x".repeat(129)] {
            let e = flag(bad).validate().expect_err("name");
            assert_eq!(e.field(), "name");
        }

        let mut date = flag("d");
        date.created = Some("2026-13-01".into());
        assert_eq!(date.validate().expect_err("date").field(), "created");
        date.created = Some("2026-02-01".into());
        assert!(date.validate().is_ok());

        let mut both = flag("b");
        both.users.allow = vec!["u".into()];
        both.users.deny = vec!["u".into()];
        assert_eq!(both.validate().expect_err("both").field(), "users.deny");

        let mut empty = flag("e");
        empty.tenants.allow = vec![String::new()];
        assert_eq!(
            empty.validate().expect_err("empty").field(),
            "tenants.allow"
        );
        assert_eq!(
            empty.validate().expect_err("empty").remedy(),
            Remedy::FixInput
        );
    }

    #[test]
    fn evaluate_all_keeps_definition_order() {
        let mut b = flag("b");
        b.percentage = 100.0;
        let flags = set(vec![b, FlagDefinition::new("a")]);
        let all = flags.evaluate_all(&Subject::anonymous());
        let names: Vec<_> = all.iter().map(|(d, _)| d.name.as_str()).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(all[0].1, Evaluation::new(true, Reason::InRollout));
        assert_eq!(all[1].1, Evaluation::new(false, Reason::Disabled));
        assert_eq!(flags.len(), 2);
        assert_eq!(flags.get("a").map(|d| d.enabled), Some(false));
    }

    #[test]
    fn a_handle_swaps_sets_while_readers_keep_theirs() {
        let handle = FlagHandle::new(FlagSet::empty());
        let before = handle.current();
        let mut f = flag("a");
        f.percentage = 100.0;
        let old = handle.replace(set(vec![f]));
        assert!(old.is_empty());
        assert!(!before.is_enabled("a", &Subject::anonymous()));
        assert!(handle.current().is_enabled("a", &Subject::anonymous()));
    }

    #[test]
    fn reasons_have_snake_case_names() {
        assert_eq!(Reason::TenantAllowed.to_string(), "tenant_allowed");
        assert_eq!(
            serde_json::to_value(Reason::NoUser).expect("json"),
            serde_json::json!("no_user")
        );
    }
}
