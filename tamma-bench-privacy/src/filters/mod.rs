//! The privacy filters, each a [`PrivacyFilter`](crate::PrivacyFilter) that composes
//! with [`Chain`](crate::Chain):
//!
//! - [`Projection`]: clears the fields of stored records the caller's access level may
//!   not see, reading the classes from [`crate::classification::CLASSIFICATION`];
//! - [`Redaction`]: replaces secrets (API keys, bearer tokens, e-mail addresses) in
//!   outputs, scorer notes and messages;
//! - [`Pseudonymization`]: keyed HMAC-SHA256 pseudonyms of tenant and principal ids in
//!   public aggregates, with a fresh key per release;
//! - [`SmallCellSuppression`]: no aggregate cell from fewer than 11 runs or 3 tenants,
//!   with complementary suppression;
//! - [`DpNoise`]: discrete Laplace noise with a per-release privacy-budget ledger.

mod aggregate;
mod dp;
mod projection;
mod pseudonym;
mod redact;
mod suppression;

pub use aggregate::{AggregateCell, AggregateTable, Contribution, SCORE_UNIT, Total};
pub use dp::{BudgetLedger, DpNoise, Epsilon, discrete_laplace};
pub use projection::Projection;
pub use pseudonym::Pseudonymization;
pub use redact::{Redaction, redact_secrets};
pub use suppression::{MIN_RUNS, MIN_TENANTS, SmallCellSuppression};
