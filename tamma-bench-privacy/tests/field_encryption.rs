//! Field-level encryption: round trips, context binding, rotation, failing closed.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use proptest::prelude::*;
use std::io::Write as _;
use tamma_bench_core::model::TenantId;
use tamma_bench_privacy::crypto::{
    CryptoErrorKind, DataKey, EnvKeyProvider, Envelope, FieldCipher, FieldContext, FileKeyProvider,
    KeyId, KeyProvider, Keyset,
};

fn tenant(s: &str) -> TenantId {
    TenantId::new(s).expect("valid tenant id")
}

fn keyset() -> Keyset {
    Keyset::generate("k1").expect("keyset")
}

#[test]
fn sealed_field_opens_in_its_own_context() {
    let cipher = FieldCipher::new(&keyset());
    let t = tenant("acme");
    let cx = FieldContext::new(&t, "trials", "output", "r1/a/c1/0");
    for plaintext in [&b""[..], b"x", b"a longer answer with \xff bytes"] {
        let bytes = cipher.seal_bytes(&cx, plaintext).expect("seal");
        assert_eq!(
            cipher.open_bytes(&cx, &bytes).expect("open").as_slice(),
            plaintext
        );
        let text = cipher.seal_text(&cx, plaintext).expect("seal");
        assert!(Envelope::is_text_envelope(&text));
        assert_eq!(
            cipher.open_text(&cx, &text).expect("open").as_slice(),
            plaintext
        );
    }
}

#[test]
fn sealing_twice_gives_different_ciphertexts() {
    let cipher = FieldCipher::new(&keyset());
    let t = tenant("acme");
    let cx = FieldContext::new(&t, "trials", "output", "row");
    let a = cipher.seal(&cx, b"same").expect("seal");
    let b = cipher.seal(&cx, b"same").expect("seal");
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.sealed, b.sealed);
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z0-9]{1,6}"
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A ciphertext moved to any other tenant, table, column or row never opens.
    #[test]
    fn moved_ciphertext_never_opens(
        (t1, t2) in (ident(), ident()),
        (table1, table2) in (ident(), ident()),
        (col1, col2) in (ident(), ident()),
        (row1, row2) in (ident(), ident()),
        which in 0usize..4,
        plaintext in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let cipher = FieldCipher::new(&keyset());
        let (ten1, ten2) = (tenant(&t1), tenant(&t2));
        let from = FieldContext::new(&ten1, &table1, &col1, &row1);
        let mut to = from;
        match which {
            0 => to.tenant = &ten2,
            1 => to.table = &table2,
            2 => to.column = &col2,
            _ => to.row = &row2,
        }
        prop_assume!(to != from);
        let sealed = cipher.seal_bytes(&from, &plaintext).expect("seal");
        let err = cipher.open_bytes(&to, &sealed).expect_err("a moved ciphertext must not open");
        prop_assert_eq!(err.kind(), CryptoErrorKind::Decryption);
        let opened = cipher.open_bytes(&from, &sealed).expect("open");
        prop_assert_eq!(opened.as_slice(), &plaintext[..]);
    }

    /// Any truncation or any changed byte of an envelope fails with a typed error.
    #[test]
    fn damaged_envelope_never_opens(
        plaintext in proptest::collection::vec(any::<u8>(), 0..48),
        cut in any::<prop::sample::Index>(),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let cipher = FieldCipher::new(&keyset());
        let t = tenant("acme");
        let cx = FieldContext::new(&t, "trials", "output", "row");
        let sealed = cipher.seal_bytes(&cx, &plaintext).expect("seal");
        let truncated = &sealed[..cut.index(sealed.len())];
        prop_assert!(cipher.open_bytes(&cx, truncated).is_err());
        let mut flipped = sealed.clone();
        let i = flip.index(flipped.len());
        flipped[i] ^= 1 << bit;
        let err = cipher.open_bytes(&cx, &flipped).expect_err("a changed byte must not open");
        prop_assert!(matches!(
            err.kind(),
            CryptoErrorKind::Decryption | CryptoErrorKind::Malformed
                | CryptoErrorKind::UnsupportedVersion | CryptoErrorKind::MissingKey
        ));
    }
}

#[test]
fn names_differing_only_in_where_they_split_are_distinct_contexts() {
    let cipher = FieldCipher::new(&keyset());
    let t = tenant("acme");
    let sealed = cipher
        .seal_bytes(&FieldContext::new(&t, "ab", "c", "r"), b"x")
        .expect("seal");
    let err = cipher
        .open_bytes(&FieldContext::new(&t, "a", "bc", "r"), &sealed)
        .expect_err("different context");
    assert_eq!(err.kind(), CryptoErrorKind::Decryption);
}

#[test]
fn rotation_keeps_old_data_readable_and_seals_new_data_with_the_new_key() {
    let mut ks = keyset();
    let t = tenant("acme");
    let cx = FieldContext::new(&t, "trials", "output", "row");
    let old = FieldCipher::new(&ks).seal(&cx, b"old").expect("seal");
    ks.rotate(
        KeyId::new("k2").expect("id"),
        DataKey::generate().expect("key"),
    )
    .expect("rotate");
    let cipher = FieldCipher::new(&ks);
    assert_eq!(cipher.open(&cx, &old).expect("open").as_slice(), b"old");
    let new = cipher.seal(&cx, b"new").expect("seal");
    assert_eq!(new.key_id.as_str(), "k2");
    assert!(cipher.needs_reseal(&old) && !cipher.needs_reseal(&new));
    let resealed = cipher.reseal(&cx, &old).expect("reseal");
    assert_eq!(resealed.key_id.as_str(), "k2");
    assert_eq!(
        cipher.open(&cx, &resealed).expect("open").as_slice(),
        b"old"
    );
    // Dropping the old key (before re-sealing) leaves its data unreadable, not garbage.
    let only_new = Keyset::new(
        KeyId::new("k2").expect("id"),
        DataKey::generate().expect("key"),
    );
    let err = FieldCipher::new(&only_new)
        .open(&cx, &old)
        .expect_err("no key");
    assert_eq!(err.kind(), CryptoErrorKind::MissingKey);
}

#[test]
fn wrong_key_with_the_same_id_fails_closed() {
    let t = tenant("acme");
    let cx = FieldContext::new(&t, "trials", "output", "row");
    let sealed = FieldCipher::new(&keyset())
        .seal_bytes(&cx, b"secret")
        .expect("seal");
    let err = FieldCipher::new(&keyset())
        .open_bytes(&cx, &sealed)
        .expect_err("wrong key");
    assert_eq!(err.kind(), CryptoErrorKind::Decryption);
    assert!(!err.to_string().contains("secret"));
}

#[test]
fn envelope_format_is_versioned_and_checked() {
    let t = tenant("acme");
    let cx = FieldContext::new(&t, "trials", "output", "row");
    let cipher = FieldCipher::new(&keyset());
    let mut bytes = cipher.seal_bytes(&cx, b"v").expect("seal");
    assert_eq!(bytes[0], 1);
    assert_eq!(&bytes[2..4], b"k1");
    bytes[0] = 2;
    let err = cipher.open_bytes(&cx, &bytes).expect_err("version");
    assert_eq!(err.kind(), CryptoErrorKind::UnsupportedVersion);
    assert_eq!(
        cipher.open_bytes(&cx, &[]).expect_err("empty").kind(),
        CryptoErrorKind::Malformed
    );
    assert_eq!(
        cipher
            .open_text(&cx, "plain text")
            .expect_err("text")
            .kind(),
        CryptoErrorKind::Malformed
    );
}

#[test]
fn keys_never_appear_in_debug_output() {
    let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let ks = Keyset::parse(&format!("k1 = {hex_key}"), "test").expect("parse");
    for shown in [
        format!("{ks:?}"),
        format!("{:?}", ks.get(ks.primary())),
        format!("{:?}", FieldCipher::new(&ks)),
    ] {
        assert!(
            !shown.contains("0011223344") && !shown.contains("ABEiM0RV"),
            "{shown}"
        );
    }
}

#[test]
fn keyset_text_accepts_hex_and_base64_and_requires_a_primary() {
    let text = "# keys\nprimary = new\nold = hex:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\nnew = base64:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
    let ks = Keyset::parse(text, "keys.txt").expect("parse");
    assert_eq!(ks.primary().as_str(), "new");
    assert_eq!(ks.ids().count(), 2);
    let err = Keyset::parse("a = AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\nb = AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", "k")
        .expect_err("no primary");
    assert_eq!(err.kind(), CryptoErrorKind::InvalidKey);
    let err = Keyset::parse("a = AAECAw==", "keys.txt").expect_err("short key");
    assert!(err.to_string().starts_with("keys.txt:1:"), "{err}");
    assert!(!err.to_string().contains("AAECAw"), "{err}");
    let err = Keyset::parse("# nothing", "k").expect_err("empty");
    assert_eq!(err.kind(), CryptoErrorKind::MissingKey);
}

const ENV_VAR: &str = "TAMMA_BENCH_TEST_KEYS_FIELD_ENCRYPTION";

#[test]
fn env_provider_fails_closed_without_its_variable() {
    let err = EnvKeyProvider::from_var("TAMMA_BENCH_TEST_KEYS_NEVER_SET")
        .keyset()
        .expect_err("unset");
    assert_eq!(err.kind(), CryptoErrorKind::MissingKey);
}

/// Runs `env_provider_child` in a child process with the variable set (setting it here
/// would need `unsafe`, which the workspace denies).
#[test]
fn env_provider_reads_its_variable() {
    let status = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "env_provider_child", "--quiet"])
        .env(
            ENV_VAR,
            "primary=b;a=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8;b=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        )
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run child");
    assert!(status.success());
}

#[test]
fn env_provider_child() {
    if std::env::var_os(ENV_VAR).is_none() {
        return;
    }
    let ks = EnvKeyProvider::from_var(ENV_VAR).keyset().expect("keys");
    assert_eq!(ks.primary().as_str(), "b");
    assert_eq!(ks.ids().count(), 2);
}

#[test]
fn file_provider_refuses_files_others_can_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("keys");
    let mut f = std::fs::File::create(&path).expect("create");
    writeln!(
        f,
        "k1 = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
    )
    .expect("write");
    drop(f);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let err = FileKeyProvider::new(&path)
            .keyset()
            .expect_err("world readable");
        assert_eq!(err.kind(), CryptoErrorKind::InvalidKey);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    assert_eq!(
        FileKeyProvider::new(&path)
            .keyset()
            .expect("keys")
            .primary()
            .as_str(),
        "k1"
    );
    let err = FileKeyProvider::new(dir.path().join("absent"))
        .keyset()
        .expect_err("missing");
    assert_eq!(err.kind(), CryptoErrorKind::MissingKey);
}
