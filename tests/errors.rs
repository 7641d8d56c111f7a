//! Every public error of the library crates says what a caller can do about it
//! (`remedy()`, and `kind()` where the error is a struct) and keeps the error that
//! caused it as its `source()`.

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tamma_bench::core::error::Remedy;
use tamma_bench::core::executor::RunError;
use tamma_bench::core::load::{LoadErrorKind, Template, TemplateErrorKind, load_benchmark};
use tamma_bench::core::model::{AgentConfig, TenantId};
use tamma_bench::core::provider::wait::MAX_ADVERTISED_WAIT;
use tamma_bench::core::provider::{
    FactoryError, FactoryErrorKind, ProviderError, ProviderErrorKind,
};
use tamma_bench::core::scorer::ScoreError;
use tamma_bench::core::store::{AgentConfigId, StoreError, StoreErrorKind};
use tamma_bench::optimize::OptimizeError;
use tamma_bench::plugin::host::LoadError as PluginLoadError;
use tamma_bench::plugin::{PluginError, PluginErrorKind};
use tamma_bench::privacy::access::AuditFailure;
use tamma_bench::privacy::audit::{AuditError, AuditErrorKind};
use tamma_bench::privacy::authz::PolicyError;
use tamma_bench::privacy::crypto::{CryptoError, CryptoErrorKind};
use tamma_bench::privacy::error::{ErrorKind, RepositoryError};
use tamma_bench::providers::http::{HttpConfigError, KeyError};
use tamma_bench::providers::replay::ReplayProvider;
use tamma_bench::providers::{BuildError, build_provider};

use Remedy::{FixInput, GiveUp, Retry};

/// The cause behind `e`, as a `T`.
fn cause<T: std::error::Error + 'static>(e: &dyn std::error::Error) -> Option<&T> {
    e.source()?.downcast_ref::<T>()
}

fn io_error() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::PermissionDenied, "disk says no")
}

#[test]
fn provider_errors_say_whether_to_retry_and_keep_their_cause() {
    use ProviderErrorKind as K;
    let expected = [
        (K::RateLimited, Retry),
        (K::Timeout, Retry),
        (K::Unavailable, Retry),
        (K::Transport, Retry),
        (K::Auth, FixInput),
        (K::InvalidRequest, FixInput),
        (K::ContextLength, FixInput),
        (K::ContentFilter, FixInput),
        (K::MissingRecording, FixInput),
        (K::Decode, GiveUp),
        (K::Plugin, GiveUp),
        (K::Cancelled, GiveUp),
        (K::QuotaExhausted, GiveUp),
    ];
    for (kind, remedy) in expected {
        let e = ProviderError::new(kind, "m");
        assert_eq!((e.kind(), e.remedy()), (kind, remedy), "{kind}");
        assert_eq!(e.is_retryable(), remedy == Retry, "{kind}");
        assert!(e.source().is_none());
    }
    let e = ProviderError::new(K::Transport, "connection reset")
        .with_source(io_error())
        .with_retry_after(Some(Duration::from_secs(u64::MAX)));
    assert_eq!(e.message(), "connection reset");
    assert_eq!(e.retry_after(), Some(MAX_ADVERTISED_WAIT), "clamped");
    assert_eq!(
        cause::<std::io::Error>(&e).map(|c| c.kind()),
        Some(std::io::ErrorKind::PermissionDenied)
    );
    assert_eq!(e.to_string(), "transport: connection reset");
}

#[test]
fn store_errors_say_what_to_do_and_keep_the_database_error() {
    let expected = [
        (StoreErrorKind::FingerprintMismatch, FixInput),
        (StoreErrorKind::NotFound, FixInput),
        (StoreErrorKind::Conflict, FixInput),
        (StoreErrorKind::Backend, Retry),
        (StoreErrorKind::Corrupt, GiveUp),
    ];
    for (kind, remedy) in expected {
        let e = StoreError::new(kind, "m");
        assert_eq!((e.kind(), e.remedy(), e.message()), (kind, remedy, "m"));
    }
    let e = StoreError::backend(io_error());
    assert_eq!(e.kind(), StoreErrorKind::Backend);
    assert_eq!(e.message(), "disk says no");
    assert!(cause::<std::io::Error>(&e).is_some());

    // A real SQLite failure keeps the rusqlite error.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("not-a-db.sqlite");
    std::fs::write(
        &file,
        b"this is not a database, only text that is long enough",
    )
    .expect("write");
    let e = tamma_bench::sqlite::SqliteStore::open(&file)
        .err()
        .expect("not a database");
    assert!(cause::<rusqlite::Error>(&e).is_some(), "{e:?}");
}

#[test]
fn load_errors_name_file_line_and_field_and_keep_their_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.toml");
    let e = load_benchmark(&missing).expect_err("no file");
    assert_eq!((e.kind(), e.remedy()), (LoadErrorKind::Io, FixInput));
    assert_eq!(e.path(), missing.as_path());
    assert!(cause::<std::io::Error>(&e).is_some());

    let manifest = dir.path().join("benchmark.toml");
    std::fs::write(&manifest, "id = \"b\"\nversion = \"1\"\nepochs = \"two\"\n").expect("write");
    let e = load_benchmark(&manifest).expect_err("bad TOML");
    assert_eq!((e.kind(), e.remedy()), (LoadErrorKind::Syntax, FixInput));
    assert_eq!((e.line(), e.field()), (Some(3), Some("epochs")));
    assert!(e.source().is_some(), "the TOML error is kept");
    assert!(
        e.to_string().contains("benchmark.toml:3: field `epochs`"),
        "{e}"
    );
    for kind in [LoadErrorKind::Invalid, LoadErrorKind::Duplicate] {
        assert_eq!(kind.remedy(), FixInput);
    }
}

#[test]
fn templates_fail_with_a_kind() {
    let e = Template::parse("{{nope}}").expect_err("unknown variable");
    assert_eq!(
        (e.kind(), e.remedy()),
        (TemplateErrorKind::UnknownVariable, FixInput)
    );
    let e = Template::parse("{{input").expect_err("unclosed");
    assert_eq!(e.kind(), TemplateErrorKind::Unclosed);
}

#[test]
fn factory_errors_say_what_to_do_and_keep_their_cause() {
    assert_eq!(FactoryErrorKind::Invalid.remedy(), FixInput);
    assert_eq!(FactoryErrorKind::NotFound.remedy(), FixInput);
    assert_eq!(FactoryErrorKind::Failed.remedy(), GiveUp);
    let e = FactoryError::invalid(io_error());
    assert_eq!(
        (e.kind(), e.message()),
        (FactoryErrorKind::Invalid, "disk says no")
    );
    assert!(cause::<std::io::Error>(&e).is_some());

    let missing = PluginLoadError::NotFound {
        id: "x".into(),
        searched: "/nowhere".into(),
    };
    assert_eq!(missing.remedy(), FixInput);
    let e = FactoryError::from(missing);
    assert_eq!(e.kind(), FactoryErrorKind::NotFound);
    assert!(cause::<PluginLoadError>(&e).is_some());
}

#[test]
fn scorer_run_and_tenant_errors_say_what_to_do() {
    let invalid = ScoreError::InvalidConfig {
        scorer: "regex".into(),
        message: "bad".into(),
    };
    assert_eq!(invalid.remedy(), FixInput);
    let failed = ScoreError::Failed {
        scorer: "judge".into(),
        message: "down".into(),
    };
    assert_eq!(failed.remedy(), Retry);
    assert_eq!(RunError::Invalid("no agents".into()).remedy(), FixInput);
    let store = RunError::Store(StoreError::backend(io_error()));
    assert_eq!(store.remedy(), Retry);
    assert!(
        cause::<std::io::Error>(&store).is_some(),
        "the store's cause, through"
    );
    assert_eq!(RunError::Scorer(invalid).remedy(), FixInput);
    let e = TenantId::new("not a tenant!").expect_err("invalid");
    assert_eq!(e.remedy(), FixInput);
    let e = AgentConfigId::new("not/an id").expect_err("invalid");
    assert_eq!(e.remedy(), FixInput);
}

#[test]
fn provider_build_errors_say_fix_the_configuration() {
    let agent = AgentConfig::new("a", "no-such-kind", "m");
    let e = build_provider(&agent, Path::new("."))
        .err()
        .expect("unknown kind");
    assert!(matches!(e, BuildError::UnknownProvider { .. }));
    assert_eq!(e.remedy(), FixInput);
    assert_eq!(HttpConfigError::InvalidKey.remedy(), FixInput);
    assert_eq!(HttpConfigError::Client("tls".into()).remedy(), GiveUp);
    let unset = KeyError::Unset {
        variable: "X".into(),
    };
    assert_eq!(unset.remedy(), FixInput);
    let e = ReplayProvider::open(&PathBuf::from("/nonexistent/recording.jsonl"))
        .expect_err("no recording");
    assert_eq!(e.remedy(), FixInput);
}

#[test]
fn privacy_errors_say_what_to_do_and_keep_their_cause() {
    let expected = [
        (ErrorKind::NotFound, FixInput),
        (ErrorKind::Denied, FixInput),
        (ErrorKind::Invalid, FixInput),
        (ErrorKind::Conflict, FixInput),
        (ErrorKind::Key, FixInput),
        (ErrorKind::Unavailable, Retry),
        (ErrorKind::BudgetExhausted, GiveUp),
        (ErrorKind::Corrupt, GiveUp),
    ];
    for (kind, remedy) in expected {
        assert_eq!(RepositoryError::new(kind, "m").remedy(), remedy);
    }
    let e = RepositoryError::from(StoreError::new(StoreErrorKind::NotFound, "no run"));
    assert_eq!((e.kind(), e.message()), (ErrorKind::NotFound, "no run"));
    assert_eq!(
        cause::<StoreError>(&e).map(StoreError::kind),
        Some(StoreErrorKind::NotFound)
    );
    let e = RepositoryError::from(CryptoError::new(CryptoErrorKind::Decryption, "tag"));
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    assert!(cause::<CryptoError>(&e).is_some());
    let e = RepositoryError::from(AuditFailure::new("down"));
    assert_eq!(e.remedy(), Retry);
    assert!(cause::<AuditFailure>(&e).is_some());
    assert_eq!(AuditFailure::new("down").remedy(), Retry);

    assert_eq!(
        CryptoError::new(CryptoErrorKind::MissingKey, "m").remedy(),
        FixInput
    );
    assert_eq!(CryptoError::new(CryptoErrorKind::Rng, "m").remedy(), Retry);
    assert_eq!(
        CryptoError::new(CryptoErrorKind::Unsealed, "m").remedy(),
        GiveUp
    );
    assert_eq!(AuditError::new(AuditErrorKind::Store, "m").remedy(), Retry);
    assert_eq!(AuditError::new(AuditErrorKind::Key, "m").remedy(), FixInput);
    assert_eq!(AuditError::new(AuditErrorKind::Proof, "m").remedy(), GiveUp);
    assert_eq!(PolicyError::Parse("x".into()).remedy(), GiveUp);
}

#[test]
fn credential_errors_say_what_to_do_and_keep_their_cause() {
    use tamma_bench::privacy::{CredentialError, CredentialErrorKind};
    let expected = [
        (CredentialErrorKind::InvalidName, FixInput),
        (CredentialErrorKind::InvalidValue, FixInput),
        (CredentialErrorKind::NotFound, FixInput),
        (CredentialErrorKind::Denied, FixInput),
        (CredentialErrorKind::Key, FixInput),
        (CredentialErrorKind::Unavailable, Retry),
        (CredentialErrorKind::Corrupt, GiveUp),
    ];
    for (kind, remedy) in expected {
        assert_eq!(CredentialError::new(kind, "m").remedy(), remedy);
    }
    let e = CredentialError::from(StoreError::new(StoreErrorKind::Backend, "down"));
    assert_eq!(e.kind(), CredentialErrorKind::Unavailable);
    assert!(cause::<StoreError>(&e).is_some());
    let e = CredentialError::from(CryptoError::new(CryptoErrorKind::Decryption, "tag"));
    assert_eq!(e.kind(), CredentialErrorKind::Corrupt);
    assert!(cause::<CryptoError>(&e).is_some());
    let e = CredentialError::from(AuditFailure::new("down"));
    assert_eq!(e.remedy(), Retry);
    assert!(cause::<AuditFailure>(&e).is_some());
    let name = tamma_bench::core::store::CredentialName::new("a b").unwrap_err();
    assert_eq!(name.remedy(), FixInput);
    let e = CredentialError::from(name);
    assert_eq!(e.kind(), CredentialErrorKind::InvalidName);
    assert!(cause::<tamma_bench::core::store::CredentialNameError>(&e).is_some());

    // A job that cannot open a credential: the credential's remedy, and it as the cause.
    use tamma_bench::jobs::{JobError, JobErrorKind};
    let job = JobError::Credential {
        agent: "a".into(),
        provider: "openai".into(),
        defaulted: false,
        source: CredentialError::not_found("K"),
    };
    assert_eq!(
        (job.kind(), job.remedy()),
        (JobErrorKind::Credential, FixInput)
    );
    assert!(cause::<CredentialError>(&job).is_some());
    let job = JobError::Credential {
        agent: "a".into(),
        provider: "openai".into(),
        defaulted: false,
        source: CredentialError::new(CredentialErrorKind::Unavailable, "down"),
    };
    assert_eq!(job.remedy(), Retry);
}

#[test]
fn optimize_and_plugin_errors_say_what_to_do() {
    assert_eq!(OptimizeError::Invalid("x".into()).remedy(), FixInput);
    assert_eq!(OptimizeError::Evaluation("x".into()).remedy(), Retry);
    assert_eq!(OptimizeError::Read("x".into()).remedy(), Retry);

    let e = PluginError::config("base_url: required");
    assert_eq!((e.kind(), e.remedy()), (PluginErrorKind::Config, FixInput));
    assert_eq!(
        PluginError::from("plain text").kind(),
        PluginErrorKind::Config
    );
    assert_eq!(PluginError::failed("down").remedy(), GiveUp);
}

#[test]
fn job_errors_say_what_to_do_and_keep_their_cause() {
    use tamma_bench::jobs::{JobErrorKind, RunJob, StudyJob};
    let e = RunJob::from_payload(&serde_json::json!({"version": 7})).unwrap_err();
    assert_eq!(e.kind(), JobErrorKind::UnsupportedVersion);
    assert_eq!(e.remedy(), FixInput);
    assert!(e.to_string().contains("version 7"), "{e}");
    let e = StudyJob::from_payload(&serde_json::json!({"version": 1, "benchmark": 3})).unwrap_err();
    assert_eq!(e.kind(), JobErrorKind::Payload);
    assert_eq!(e.remedy(), FixInput);
    assert!(e.source().unwrap().is::<serde_json::Error>());
    let e =
        RunJob::from_files(Path::new("no/such/bench.toml"), Path::new("a.toml"), &[]).unwrap_err();
    assert_eq!(e.kind(), JobErrorKind::Load);
    assert_eq!(e.remedy(), FixInput);
    assert!(e.to_string().contains("no/such/bench.toml"), "{e}");
}
