//! The behaviour suite every [`CredentialStore`] must pass.
//!
//! Use [`crate::credential_store_conformance_tests!`] in a test file with an expression
//! that makes `(guard, store)` for a fresh, empty store (`store` an
//! `Arc<dyn CredentialStore>`; the guard keeps what it needs alive: a temporary
//! directory, a database to drop). It expands to one `#[test]` per behaviour below.
//!
//! A store keeps opaque bytes: the values here stand for sealed envelopes, and include
//! every byte value, so a store that treats them as text fails.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use tamma_bench_core::model::{TenantId, now_ms};
use tamma_bench_core::store::{
    CredentialName, CredentialNameError, CredentialStore, MAX_CREDENTIAL_NAME_LEN,
};

fn tenant(name: &str) -> TenantId {
    TenantId::new(name).unwrap()
}

fn name(n: &str) -> CredentialName {
    CredentialName::new(n).unwrap()
}

/// Bytes that are not text: every byte value, then `tag`.
fn blob(tag: &str) -> Vec<u8> {
    let mut b: Vec<u8> = (0..=255u8).collect();
    b.extend_from_slice(tag.as_bytes());
    b
}

/// What was stored comes back byte for byte; what was not is absent.
pub async fn put_then_get_returns_the_same_bytes(store: Arc<dyn CredentialStore>) {
    let acme = tenant("acme");
    let key = name("OPENAI_API_KEY");
    assert_eq!(store.get(&acme, &key).await.unwrap(), None);
    store.put(&acme, &key, blob("v1")).await.unwrap();
    assert_eq!(store.get(&acme, &key).await.unwrap(), Some(blob("v1")));
    assert_eq!(store.get(&acme, &name("OTHER")).await.unwrap(), None);
    let large = vec![0xA5; 64 * 1024];
    store
        .put(&acme, &name("large"), large.clone())
        .await
        .unwrap();
    assert_eq!(store.get(&acme, &name("large")).await.unwrap(), Some(large));
}

/// A second put of a name replaces its value and its time; the listing keeps one entry.
pub async fn put_replaces_the_value_and_its_time(store: Arc<dyn CredentialStore>) {
    let acme = tenant("acme");
    let key = name("k");
    let before = now_ms();
    store.put(&acme, &key, blob("first")).await.unwrap();
    let first = store.list(&acme).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        first[0].updated_at_ms >= before,
        "{first:?} set before {before}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store.put(&acme, &key, blob("second")).await.unwrap();
    assert_eq!(store.get(&acme, &key).await.unwrap(), Some(blob("second")));
    let second = store.list(&acme).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].name, key);
    assert!(
        second[0].updated_at_ms > first[0].updated_at_ms,
        "{second:?} after {first:?}"
    );
}

/// A listing gives the tenant's names, sorted, and nothing of the values.
pub async fn list_gives_names_sorted(store: Arc<dyn CredentialStore>) {
    let acme = tenant("acme");
    assert!(store.list(&acme).await.unwrap().is_empty());
    for n in ["b-key", "A_KEY", "a.key", "z"] {
        store.put(&acme, &name(n), blob(n)).await.unwrap();
    }
    let names: Vec<String> = store
        .list(&acme)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.to_string())
        .collect();
    // Byte order: upper case before lower case, `.` before letters.
    assert_eq!(names, ["A_KEY", "a.key", "b-key", "z"]);
}

/// A delete removes the one credential and says whether there was one.
pub async fn delete_removes_and_reports_whether_it_did(store: Arc<dyn CredentialStore>) {
    let acme = tenant("acme");
    store.put(&acme, &name("a"), blob("a")).await.unwrap();
    store.put(&acme, &name("b"), blob("b")).await.unwrap();
    assert!(store.delete(&acme, &name("a")).await.unwrap());
    assert!(!store.delete(&acme, &name("a")).await.unwrap());
    assert!(!store.delete(&acme, &name("never")).await.unwrap());
    assert_eq!(store.get(&acme, &name("a")).await.unwrap(), None);
    assert_eq!(store.get(&acme, &name("b")).await.unwrap(), Some(blob("b")));
    let left: Vec<CredentialName> = store
        .list(&acme)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(left, [name("b")]);
    // Deleted, then stored again: a fresh value.
    store.put(&acme, &name("a"), blob("again")).await.unwrap();
    assert_eq!(
        store.get(&acme, &name("a")).await.unwrap(),
        Some(blob("again"))
    );
}

/// Two tenants with the same names never see, replace or delete each other's values.
pub async fn tenants_are_isolated(store: Arc<dyn CredentialStore>) {
    let (acme, globex, initech) = (tenant("acme"), tenant("globex"), tenant("initech"));
    let key = name("OPENAI_API_KEY");
    store.put(&acme, &key, blob("acme")).await.unwrap();
    store.put(&globex, &key, blob("globex")).await.unwrap();
    store
        .put(&globex, &name("only-globex"), blob("g"))
        .await
        .unwrap();
    assert_eq!(store.get(&acme, &key).await.unwrap(), Some(blob("acme")));
    assert_eq!(
        store.get(&globex, &key).await.unwrap(),
        Some(blob("globex"))
    );
    assert_eq!(store.get(&acme, &name("only-globex")).await.unwrap(), None);
    assert_eq!(store.get(&initech, &key).await.unwrap(), None);
    assert!(store.list(&initech).await.unwrap().is_empty());
    assert_eq!(store.list(&acme).await.unwrap().len(), 1);
    assert_eq!(store.list(&globex).await.unwrap().len(), 2);
    // Replacing and deleting as one tenant leaves the other's alone.
    store.put(&acme, &key, blob("acme-2")).await.unwrap();
    assert_eq!(
        store.get(&globex, &key).await.unwrap(),
        Some(blob("globex"))
    );
    assert!(!store.delete(&acme, &name("only-globex")).await.unwrap());
    assert!(store.delete(&globex, &key).await.unwrap());
    assert_eq!(store.get(&acme, &key).await.unwrap(), Some(blob("acme-2")));
    assert_eq!(store.get(&globex, &key).await.unwrap(), None);
}

/// Names are checked before a store sees them (1 to 64 characters of `[A-Za-z0-9._-]`),
/// and every valid shape, the longest included, round-trips through the store.
pub async fn names_are_validated_and_every_valid_shape_round_trips(
    store: Arc<dyn CredentialStore>,
) {
    let acme = tenant("acme");
    let longest = "k".repeat(MAX_CREDENTIAL_NAME_LEN);
    let valid = ["a", "Z", "0", ".", "-", "_", "a.b-c_D9", longest.as_str()];
    for (i, n) in valid.iter().enumerate() {
        store
            .put(&acme, &name(n), blob(&i.to_string()))
            .await
            .unwrap();
    }
    for (i, n) in valid.iter().enumerate() {
        assert_eq!(
            store.get(&acme, &name(n)).await.unwrap(),
            Some(blob(&i.to_string())),
            "{n}"
        );
    }
    let mut listed: Vec<String> = store
        .list(&acme)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name.to_string())
        .collect();
    let mut want: Vec<String> = valid.iter().map(|s| s.to_string()).collect();
    listed.sort();
    want.sort();
    assert_eq!(listed, want);
    assert_eq!(CredentialName::new(""), Err(CredentialNameError::Empty));
    assert_eq!(
        CredentialName::new("k".repeat(MAX_CREDENTIAL_NAME_LEN + 1)),
        Err(CredentialNameError::TooLong {
            len: MAX_CREDENTIAL_NAME_LEN + 1
        })
    );
    for bad in ["a b", "a/b", "a%", "a'b", "é", "a\u{0}", "x;DROP"] {
        assert!(
            matches!(
                CredentialName::new(bad),
                Err(CredentialNameError::InvalidCharacter { .. })
            ),
            "{bad:?} is refused"
        );
    }
}

/// Expands to one `#[test]` per behaviour of the credential store conformance suite.
/// `$make` is evaluated per test, inside the test's runtime (it may `.await`), and yields
/// `(guard, store)`, `store` an `Arc<dyn CredentialStore>` on a fresh, empty store (the
/// guard is kept to the test's end).
#[macro_export]
macro_rules! credential_store_conformance_tests {
    ($make:expr) => {
        $crate::credential_store_conformance_tests!(@tests $make;
            put_then_get_returns_the_same_bytes,
            put_replaces_the_value_and_its_time,
            list_gives_names_sorted,
            delete_removes_and_reports_whether_it_did,
            tenants_are_isolated,
            names_are_validated_and_every_valid_shape_round_trips,
        );
    };
    (@tests $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::block_on(async {
                    let (_guard, store) = $make;
                    $crate::conformance::credentials::$name(store).await;
                });
            }
        )*
    };
}
