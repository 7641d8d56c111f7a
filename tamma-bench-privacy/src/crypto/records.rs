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
//! it were data, nor opens without them. With a keyset, a field that is not an envelope is
//! read as it is (data written before keys were configured).

use super::{CryptoError, CryptoErrorKind, Envelope, FieldCipher, FieldContext, Keyset};
use std::borrow::Cow;
use std::fmt::Write as _;
use tamma_bench_core::model::{Outcome, Run, TenantId, Trial};

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
#[derive(Debug, Default)]
pub struct RecordCipher {
    cipher: Option<FieldCipher>,
}

/// A row id: each part prefixed by its length.
fn row_id(parts: &[&str]) -> String {
    let mut row = String::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
    for p in parts {
        let _ = write!(row, "{}:{p}", p.len());
    }
    row
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

    /// Seals with `keyset`'s primary key; opens with any of its keys.
    pub fn new(keyset: &Keyset) -> Self {
        Self {
            cipher: Some(FieldCipher::new(keyset)),
        }
    }

    /// Whether a keyset is configured.
    pub fn is_enabled(&self) -> bool {
        self.cipher.is_some()
    }

    fn seal_field(
        cipher: &FieldCipher,
        cx: &FieldContext<'_>,
        value: &mut String,
    ) -> Result<(), CryptoError> {
        *value = cipher.seal_text(cx, value.as_bytes())?;
        Ok(())
    }

    /// Opens `value` in place when it is an envelope.
    fn open_field(&self, cx: &FieldContext<'_>, value: &mut String) -> Result<(), CryptoError> {
        if !Envelope::is_text_envelope(value) {
            return Ok(());
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
        Ok(())
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
            Self::seal_field(cipher, &cx, value)?;
        }
        Ok(())
    }

    /// Opens the sealed fields of a trial in place; without keys, fails on any sealed
    /// field.
    pub fn open_trial(&self, t: &mut Trial) -> Result<(), CryptoError> {
        let sealed = |s: &Option<String>| s.as_deref().is_some_and(Envelope::is_text_envelope);
        let any = sealed(&t.output)
            || matches!(&t.outcome, Outcome::Scored { scores }
                if scores.iter().any(|s| sealed(&s.answer) || sealed(&s.explanation)));
        if !any {
            return Ok(());
        }
        let row = trial_row(t);
        for (column, value) in trial_fields(&mut t.output, &mut t.outcome) {
            let cx = FieldContext::new(&t.tenant_id, TRIALS_TABLE, &column, &row);
            self.open_field(&cx, value)?;
        }
        Ok(())
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

    /// Opens the sealed fields of a run in place.
    pub fn open_run(&self, run: &mut Run) -> Result<(), CryptoError> {
        for_each_run_field(&run.id, &run.tenant_id, &mut run.agents, |cx, v| {
            self.open_field(cx, v)
        })
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
        for (column, value) in [
            ("agents.system", &mut a.system),
            ("agents.prompt", &mut a.prompt),
            ("agents.base_url", &mut a.base_url),
            ("agents.api_key_env", &mut a.api_key_env),
        ] {
            if let Some(v) = value {
                f(&FieldContext::new(tenant, RUNS_TABLE, column, &row), v)?;
            }
        }
    }
    Ok(())
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
