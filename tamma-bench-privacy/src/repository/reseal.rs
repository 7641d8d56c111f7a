//! Re-sealing: the migration that seals legacy plaintext and moves old keys' envelopes
//! onto the primary key.

use super::Repository;
use crate::classification::Class;
use crate::crypto::Resealed;
use crate::error::{ErrorKind, RepositoryError};
use crate::views::InternalContext;
use futures::TryStreamExt;
use tamma_bench_core::model::Trial;

/// What [`Repository::reseal`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ResealReport {
    /// The key every sealed value is now under.
    pub primary_key: String,
    /// Runs of the tenant examined.
    pub runs: u64,
    /// Runs rewritten (each in one write).
    pub runs_changed: u64,
    /// Trials rewritten.
    pub trials_changed: u64,
    /// Values changed, by how.
    #[serde(flatten)]
    pub values: Resealed,
}

impl Repository {
    /// Re-seals every sealed column of the internal caller's own tenant's runs under the
    /// keyset's primary key: plaintext values (data written before keys were configured)
    /// are sealed, envelopes of an older key are opened and sealed again (rotation);
    /// values already under the primary key are left as they are. Each run is a write on
    /// that run (authorized and audited as one, of restricted data) and is rewritten whole
    /// in one store transaction, its run record and changed trials together, or not at
    /// all. Runs written before a failure stay re-sealed; running it again finishes the
    /// rest.
    ///
    /// Values are sealed as they are found: whoever could write the database before this
    /// ran could have put plaintext there, and it is sealed as authentic. Run it over
    /// data you trust, right after configuring keys.
    ///
    /// Fails with [`ErrorKind::Key`] without a keyset, [`ErrorKind::Corrupt`] (naming the
    /// run, trial and column) on an envelope that does not open.
    pub async fn reseal(&self, icx: &InternalContext) -> Result<ResealReport, RepositoryError> {
        let cx = icx.context();
        let Some(primary) = self.cipher.primary() else {
            return Err(RepositoryError::new(
                ErrorKind::Key,
                "re-sealing needs data keys and none are configured",
            ));
        };
        let mut report = ResealReport {
            primary_key: primary.to_string(),
            ..ResealReport::default()
        };
        for run in self.store.list_runs(&cx.tenant_id).await? {
            report.runs += 1;
            self.decide_write(cx, &run, Class::Restricted).await?;
            let mut sealed = run;
            let mut changed = self.cipher.reseal_run(&mut sealed)?;
            // Only the trials that change are held until the write.
            let mut trials: Vec<Trial> = Vec::new();
            let mut stream = self.store.trials(&cx.tenant_id, &sealed.id);
            while let Some(mut t) = stream.try_next().await? {
                let done = self.cipher.reseal_trial(&mut t)?;
                if done.changed() {
                    changed += done;
                    trials.push(t);
                }
            }
            drop(stream);
            if changed.changed() {
                report.runs_changed += 1;
                report.trials_changed += trials.len() as u64;
                report.values += changed;
                self.store.rewrite_run(&sealed, trials).await?;
            }
        }
        Ok(report)
    }
}
