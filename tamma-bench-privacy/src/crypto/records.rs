//! Sealing the sensitive and restricted fields of stored records ([`Run`], [`Trial`]).
//!
//! [`RecordCipher`] is what the repository applies at write (after redaction) and at read
//! (before redaction and the views). Each field is sealed as a text envelope in its own
//! place in the record, bound to tenant, table, column and row:
//!
//! | record | column | row |
//! | --- | --- | --- |
//! | `Trial` | `output`, `outcome.scores.N.answer`, `outcome.scores.N.explanation` | run, agent, case, epoch |
//! | `Run` (table `runs`) | `agents.system`, `agents.prompt`, `agents.base_url`, `agents.api_key_env` | run, agent name |
//!
//! (A row id is its parts, each prefixed by its length, so no two rows encode alike.)
//! Tenant ids are not sealed: they are the key every query is scoped by.
//!
//! Without a keyset nothing is sealed, and reading a sealed field fails with
//! [`CryptoErrorKind::MissingKey`]: a store written with keys never leaks ciphertext as if
//! it were data, nor opens without them. With a keyset, a present, non-empty field that is
//! not an envelope is refused ([`CryptoErrorKind::Unsealed`]): plaintext swapped into the
//! store is never served as if it were authentic. Data written before keys were
//! configured is read as it is only with the explicit legacy opt-in
//! ([`RecordCipher::allow_plaintext_legacy`]) until it is re-sealed
//! ([`RecordCipher::reseal_trial`], [`RecordCipher::reseal_run`]).

use super::{CryptoError, CryptoErrorKind, Envelope, FieldCipher, FieldContext, KeyId, Keyset};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;
use tamma_bench_core::model::{Outcome, Run, TenantId, Trial, TrialKey};

/// The variable that, set to `1`, lets the CLI read plaintext in sealed columns as legacy
/// data ([`RecordCipher::allow_plaintext_legacy`]).
pub const ALLOW_PLAINTEXT_VAR: &str = "TAMMA_BENCH_DATA_KEYS_ALLOW_PLAINTEXT";

/// The table name bound into trial fields.
pub const TRIALS_TABLE: &str = "trials";
/// The table name bound into run fields.
pub const RUNS_TABLE: &str = "runs";

/// The stored fields sealed at write, as `(record, field)` of the classification table:
/// every sensitive and restricted stored field but the tenant ids (a test keeps this equal
/// to `classification::stored_fields_of`).
pub const SEALED_FIELDS: [(&str, &str); 7] = [
    ("AgentConfig", "base_url"),
    ("AgentConfig", "api_key_env"),
    ("AgentConfig", "system"),
    ("AgentConfig", "prompt"),
    ("Trial", "outcome.scores.answer"),
    ("Trial", "outcome.scores.explanation"),
    ("Trial", "output"),
];

/// Seals and opens the sensitive and restricted fields of runs and trials; a no-op
/// sealer (that refuses to open sealed fields) when no keyset is configured.
#[derive(Debug, Default, Clone)]
pub struct RecordCipher {
    cipher: Option<Arc<FieldCipher>>,
    /// With a keyset: read a non-envelope value of a sealed column as legacy plaintext
    /// instead of refusing it.
    plaintext_legacy: bool,
}

/// What re-sealing a record changed ([`RecordCipher::reseal_trial`],
/// [`RecordCipher::reseal_run`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Resealed {
    /// Plaintext values sealed under the primary key.
    pub sealed: u64,
    /// Envelopes of an older key opened and sealed again under the primary key.
    pub rekeyed: u64,
}

impl Resealed {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        self.sealed + self.rekeyed > 0
    }
}

impl std::ops::AddAssign for Resealed {
    fn add_assign(&mut self, other: Self) {
        self.sealed += other.sealed;
        self.rekeyed += other.rekeyed;
    }
}

/// A row id: each part prefixed by its length.
fn row_id(parts: &[&str]) -> String {
    let mut row = String::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for p in parts {
        let _ = write!(row, "{}:{p}", p.len());
    }
    row
}

/// Where a trial's field lives, for messages (public ids only, never a value).
fn trial_place(run_id: &str, key: &TrialKey, column: &str) -> String {
    format!(
        "run {run_id:?}, trial {}/{}/{}, column {TRIALS_TABLE}.{column}",
        key.agent, key.case_id, key.epoch
    )
}

/// `e` with the place of the field it is about in front.
fn at(place: impl FnOnce() -> String) -> impl FnOnce(CryptoError) -> CryptoError {
    move |e| CryptoError::new(e.kind(), format!("{}: {e}", place()))
}

fn trial_row(t: &Trial) -> String {
    row_id(&[
        &t.run_id,
        &t.key.agent,
        &t.key.case_id,
        &t.key.epoch.to_string(),
    ])
}

/// The sealed fields of a trial that are present, with their column names.
fn trial_fields<'t>(
    output: &'t mut Option<String>,
    outcome: &'t mut Outcome,
) -> Vec<(Cow<'static, str>, &'t mut String)> {
    let mut fields: Vec<(Cow<'static, str>, &'t mut String)> = Vec::new();
    if let Some(o) = output {
        fields.push((Cow::Borrowed("output"), o));
    }
    if let Outcome::Scored { scores } = outcome {
        for (i, s) in scores.iter_mut().enumerate() {
            if let Some(a) = &mut s.answer {
                fields.push((Cow::Owned(format!("outcome.scores.{i}.answer")), a));
            }
            if let Some(e) = &mut s.explanation {
                fields.push((Cow::Owned(format!("outcome.scores.{i}.explanation")), e));
            }
        }
    }
    fields
}

impl RecordCipher {
    /// No keys: nothing is sealed, and a sealed field does not open.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Seals with `keyset`'s primary key; opens with any of its keys; refuses a
    /// non-envelope value of a sealed column.
    pub fn new(keyset: &Keyset) -> Self {
        Self {
            cipher: Some(Arc::new(FieldCipher::new(keyset))),
            plaintext_legacy: false,
        }
    }

    /// With `allow`, a non-envelope value of a sealed column is read as it is (data
    /// written before keys were configured) instead of refused; without a keyset this
    /// changes nothing (plaintext is all there is).
    pub fn allow_plaintext_legacy(mut self, allow: bool) -> Self {
        self.plaintext_legacy = allow;
        self
    }

    /// Whether non-envelope values of sealed columns are read as legacy plaintext.
    pub fn allows_plaintext_legacy(&self) -> bool {
        self.plaintext_legacy
    }

    /// Whether a keyset is configured.
    pub fn is_enabled(&self) -> bool {
        self.cipher.is_some()
    }

    /// The id of the key new data is sealed with, when a keyset is configured.
    pub fn primary(&self) -> Option<&KeyId> {
        self.cipher.as_deref().map(FieldCipher::primary)
    }

    fn seal_field(
        cipher: &FieldCipher,
        cx: &FieldContext<'_>,
        value: &mut String,
    ) -> Result<(), CryptoError> {
        *value = cipher.seal_text(cx, value.as_bytes())?;
        Ok(())
    }

    /// Opens `value` in place when it is an envelope. A non-envelope is plaintext: read as
    /// it is without a keyset, or when empty; with a keyset, refused unless legacy
    /// plaintext is allowed. Returns whether it was read as legacy plaintext.
    fn open_field(&self, cx: &FieldContext<'_>, value: &mut String) -> Result<bool, CryptoError> {
        if !Envelope::is_text_envelope(value) {
            if self.cipher.is_none() || value.is_empty() {
                return Ok(false);
            }
            if self.plaintext_legacy {
                return Ok(true);
            }
            return Err(CryptoError::new(
                CryptoErrorKind::Unsealed,
                format!(
                    "the value is not encrypted and data keys require it (plaintext written \
                     before keys were configured, or put there by someone who can write the \
                     database); seal legacy data with `tamma-bench keys reseal` \
                     (`Repository::reseal`), or read it as it is with {ALLOW_PLAINTEXT_VAR}=1 \
                     (`Repository::allow_plaintext_legacy`)"
                ),
            ));
        }
        let Some(cipher) = &self.cipher else {
            return Err(CryptoError::new(
                CryptoErrorKind::MissingKey,
                format!(
                    "{}.{} is encrypted and no data keys are configured",
                    cx.table, cx.column
                ),
            ));
        };
        let plain = cipher.open_text(cx, value)?;
        *value = String::from_utf8(plain.to_vec()).map_err(|_| {
            CryptoError::new(
                CryptoErrorKind::Malformed,
                "a sealed text field is not UTF-8",
            )
        })?;
        Ok(false)
    }

    /// Re-seals `value` in place under the primary key: a non-envelope (plaintext) is
    /// sealed, an envelope of an older key is opened and sealed again, an envelope of the
    /// primary key is left as it is.
    fn reseal_field(
        cipher: &FieldCipher,
        cx: &FieldContext<'_>,
        value: &mut String,
    ) -> Result<Resealed, CryptoError> {
        if !Envelope::is_text_envelope(value) {
            Self::seal_field(cipher, cx, value)?;
            return Ok(Resealed {
                sealed: 1,
                rekeyed: 0,
            });
        }
        let envelope = Envelope::from_text(value)?;
        if !cipher.needs_reseal(&envelope) {
            return Ok(Resealed::default());
        }
        *value = cipher.reseal(cx, &envelope)?.to_text();
        Ok(Resealed {
            sealed: 0,
            rekeyed: 1,
        })
    }

    fn require(&self) -> Result<&FieldCipher, CryptoError> {
        self.cipher.as_deref().ok_or_else(|| {
            CryptoError::new(
                CryptoErrorKind::MissingKey,
                "re-sealing needs data keys and none are configured",
            )
        })
    }

    /// Seals the trial's output, scorer answers and explanations in place. On error the
    /// trial may be partly sealed: do not store it.
    pub fn seal_trial(&self, t: &mut Trial) -> Result<(), CryptoError> {
        let Some(cipher) = &self.cipher else {
            return Ok(());
        };
        let row = trial_row(t);
        for (column, value) in trial_fields(&mut t.output, &mut t.outcome) {
            let cx = FieldContext::new(&t.tenant_id, TRIALS_TABLE, &column, &row);
            Self::seal_field(cipher, &cx, value)
                .map_err(at(|| trial_place(&t.run_id, &t.key, &column)))?;
        }
        Ok(())
    }

    /// Opens the sealed fields of a trial in place; without keys, fails on any sealed
    /// field; with keys, fails on a present, non-empty field that is not sealed unless
    /// legacy plaintext is allowed. Returns how many fields were read as legacy plaintext.
    pub fn open_trial(&self, t: &mut Trial) -> Result<usize, CryptoError> {
        let sealed = |s: &Option<String>| s.as_deref().is_some_and(Envelope::is_text_envelope);
        let any = sealed(&t.output)
            || matches!(&t.outcome, Outcome::Scored { scores }
                if scores.iter().any(|s| sealed(&s.answer) || sealed(&s.explanation)));
        if !any && self.cipher.is_none() {
            return Ok(0);
        }
        let row = trial_row(t);
        let mut legacy = 0;
        for (column, value) in trial_fields(&mut t.output, &mut t.outcome) {
            let cx = FieldContext::new(&t.tenant_id, TRIALS_TABLE, &column, &row);
            let read_as_is = self
                .open_field(&cx, value)
                .map_err(at(|| trial_place(&t.run_id, &t.key, &column)))?;
            legacy += usize::from(read_as_is);
        }
        Ok(legacy)
    }

    /// Re-seals the sealed fields of a stored trial in place under the primary key (see
    /// [`RecordCipher::reseal_run`]). On error the trial may be partly re-sealed: do not
    /// store it.
    pub fn reseal_trial(&self, t: &mut Trial) -> Result<Resealed, CryptoError> {
        let cipher = self.require()?;
        let row = trial_row(t);
        let mut done = Resealed::default();
        for (column, value) in trial_fields(&mut t.output, &mut t.outcome) {
            let cx = FieldContext::new(&t.tenant_id, TRIALS_TABLE, &column, &row);
            done += Self::reseal_field(cipher, &cx, value)
                .map_err(at(|| trial_place(&t.run_id, &t.key, &column)))?;
        }
        Ok(done)
    }

    /// Seals the restricted fields of the run's agents (`system`, `prompt`, `base_url`,
    /// `api_key_env`) in place.
    pub fn seal_run(&self, run: &mut Run) -> Result<(), CryptoError> {
        let Some(cipher) = &self.cipher else {
            return Ok(());
        };
        for_each_run_field(&run.id, &run.tenant_id, &mut run.agents, |cx, v| {
            Self::seal_field(cipher, cx, v)
        })
    }

    /// Opens the sealed fields of a run in place (see [`RecordCipher::open_trial`]).
    /// Returns how many fields were read as legacy plaintext.
    pub fn open_run(&self, run: &mut Run) -> Result<usize, CryptoError> {
        let mut legacy = 0;
        for_each_run_field(&run.id, &run.tenant_id, &mut run.agents, |cx, v| {
            legacy += usize::from(self.open_field(cx, v)?);
            Ok(())
        })?;
        Ok(legacy)
    }

    /// Re-seals the sealed fields of a stored run in place under the primary key: every
    /// plaintext value sealed, every envelope of an older key opened and sealed again
    /// (an envelope that does not open is an error). Fails with
    /// [`CryptoErrorKind::MissingKey`] without a keyset. On error the run may be partly
    /// re-sealed: do not store it.
    pub fn reseal_run(&self, run: &mut Run) -> Result<Resealed, CryptoError> {
        let cipher = self.require()?;
        let mut done = Resealed::default();
        for_each_run_field(&run.id, &run.tenant_id, &mut run.agents, |cx, v| {
            done += Self::reseal_field(cipher, cx, v)?;
            Ok(())
        })?;
        Ok(done)
    }
}

fn for_each_run_field(
    run_id: &str,
    tenant: &TenantId,
    agents: &mut [tamma_bench_core::model::AgentConfig],
    mut f: impl FnMut(&FieldContext<'_>, &mut String) -> Result<(), CryptoError>,
) -> Result<(), CryptoError> {
    for a in agents {
        let row = row_id(&[run_id, &a.name]);
        let name = a.name.clone();
        let place =
            |column: &str| format!("run {run_id:?}, agent {name:?}, column {RUNS_TABLE}.{column}");
        for_each_agent_field(tenant, RUNS_TABLE, "agents.", &row, a, &place, &mut f)?;
    }
    Ok(())
}

/// The table of the agent configuration registry, in the sealed fields' context.
const AGENT_CONFIGS_TABLE: &str = "agent_configs";

/// Calls `f` on each restricted field of `agent` that is set (`system`, `prompt`,
/// `base_url`, `api_key_env`), in the context of `table`, columns named `prefix` + field.
fn for_each_agent_field(
    tenant: &TenantId,
    table: &str,
    prefix: &str,
    row: &str,
    agent: &mut tamma_bench_core::model::AgentConfig,
    place: &dyn Fn(&str) -> String,
    f: &mut impl FnMut(&FieldContext<'_>, &mut String) -> Result<(), CryptoError>,
) -> Result<(), CryptoError> {
    for (field, value) in [
        ("system", &mut agent.system),
        ("prompt", &mut agent.prompt),
        ("base_url", &mut agent.base_url),
        ("api_key_env", &mut agent.api_key_env),
    ] {
        if let Some(v) = value {
            let column = format!("{prefix}{field}");
            f(&FieldContext::new(tenant, table, &column, row), v).map_err(at(|| place(&column)))?;
        }
    }
    Ok(())
}

impl RecordCipher {
    /// Seals the restricted fields of a configuration of the agent registry (`system`,
    /// `prompt`, `base_url`, `api_key_env`) in place, bound to the tenant and the
    /// configuration's id (a value moved to another tenant or id does not open). Without
    /// a keyset, leaves them as they are.
    pub fn seal_agent_config(
        &self,
        tenant: &TenantId,
        id: &str,
        config: &mut tamma_bench_core::model::AgentConfig,
    ) -> Result<(), CryptoError> {
        let Some(cipher) = &self.cipher else {
            return Ok(());
        };
        let place = |column: &str| {
            format!("agent configuration {id:?}, column {AGENT_CONFIGS_TABLE}.{column}")
        };
        for_each_agent_field(
            tenant,
            AGENT_CONFIGS_TABLE,
            "",
            id,
            config,
            &place,
            &mut |cx, v| Self::seal_field(cipher, cx, v),
        )
    }

    /// Opens the sealed fields of a configuration of the agent registry in place (as
    /// [`RecordCipher::open_run`]). Returns how many fields were read as legacy plaintext.
    pub fn open_agent_config(
        &self,
        tenant: &TenantId,
        id: &str,
        config: &mut tamma_bench_core::model::AgentConfig,
    ) -> Result<usize, CryptoError> {
        let mut legacy = 0;
        let place = |column: &str| {
            format!("agent configuration {id:?}, column {AGENT_CONFIGS_TABLE}.{column}")
        };
        for_each_agent_field(
            tenant,
            AGENT_CONFIGS_TABLE,
            "",
            id,
            config,
            &place,
            &mut |cx, v| {
                legacy += usize::from(self.open_field(cx, v)?);
                Ok(())
            },
        )?;
        Ok(legacy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classification::{Class, stored_fields_of};

    #[test]
    fn sealed_fields_are_every_sensitive_and_restricted_stored_field_but_tenant_ids() {
        let mut want: Vec<(&str, &str)> = stored_fields_of(&[Class::Sensitive, Class::Restricted])
            .filter(|(_, f)| *f != "tenant_id")
            .collect();
        want.sort_unstable();
        let mut have = SEALED_FIELDS.to_vec();
        have.sort_unstable();
        assert_eq!(have, want);
    }

    #[test]
    fn row_ids_do_not_collide_when_parts_hold_separators() {
        assert_ne!(row_id(&["a:b", "c"]), row_id(&["a", "b:c"]));
        assert_ne!(row_id(&["1:a", ""]), row_id(&["", "1:a"]));
    }
}
