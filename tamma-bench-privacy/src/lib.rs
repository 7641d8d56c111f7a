//! Tenancy and privacy for tamma-bench.
//!
//! This crate is where results leave storage: the tenant-aware repository, the
//! composable privacy filters (field projection by access level, pseudonymisation,
//! small-cell suppression, differential privacy, secret redaction), field-level
//! encryption and the tamper-evident audit log. External tenants see public benchmarks'
//! public fields and their own data; internal fields never reach them.
//!
//! Modules: [`repository`] (the only way results leave a store, with typed views in
//! [`views`]), [`authz`] (Cedar policies, default deny), [`classification`] (the class of
//! every stored field), [`filters`] (each a core [`PrivacyFilter`], re-exported here),
//! [`crypto`] (field-level encryption), [`audit`] (the hash-chained Merkle audit log),
//! [`access`] (the audit hook the repository calls on every access) and [`credentials`]
//! (tenants' provider credentials, sealed, opened only for a worker running their job).
//! [`agent_configs`] is the registry of agent configurations as internal contexts reach
//! it, audited.

pub use tamma_bench_core::privacy::{Chain, FnFilter, IdentityFilter, PrivacyFilter};

pub mod access;
pub mod agent_configs;
pub mod authz;
pub mod classification;
pub mod credentials;
pub mod error;
pub mod filters;
pub mod repository;
pub mod views;

pub use access::{AccessAudit, AccessEvent, NoAudit};
pub use agent_configs::AgentConfigs;
pub use authz::{AccessPolicy, Action, Decision};
pub use classification::{AccessLevel, Class};
pub use credentials::{CredentialError, CredentialErrorKind, Credentials, Secret};
pub use error::{ErrorKind, RepositoryError};
pub use repository::{Release, Repository, ResealReport, TenantStore, TrialExport};
pub use views::{InternalContext, InternalResult, PublicResult, PublicTrial, RunView};

pub mod audit;
pub mod crypto;
