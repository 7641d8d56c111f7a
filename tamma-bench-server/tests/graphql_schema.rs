//! The SDL files under `schema/` are the schemas' SDL (regenerate them with
//! `UPDATE_SCHEMA=1 cargo test -p tamma-bench-server --test graphql_schema`), and the
//! internal schema extends the public one: every public type is in it, with the same
//! fields (the query root with more).

#![allow(clippy::unwrap_used, missing_docs)]

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use tamma_bench_server::graphql::{GraphqlSchema, Limits};

const REGENERATE: &str = "UPDATE_SCHEMA=1 cargo test -p tamma-bench-server --test graphql_schema";

fn check(file: &str, sdl: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("schema")
        .join(file);
    if std::env::var_os("UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, sdl).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == sdl,
        "schema/{file} is not the schema's SDL: the schema changed without its file (or the \
         file was edited). Regenerate it with `{REGENERATE}`, review the diff and commit it.\n\
         First difference at line {}",
        stored
            .lines()
            .zip(sdl.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || stored.lines().count().min(sdl.lines().count()) + 1,
                |i| i + 1
            )
    );
}

#[test]
fn the_checked_in_sdl_is_the_schemas_sdl() {
    check(
        "public.graphql",
        &GraphqlSchema::public(Limits::default()).sdl(),
    );
    check(
        "internal.graphql",
        &GraphqlSchema::internal(Limits::default()).sdl(),
    );
}

/// Each type of an SDL with the names of its fields, input fields or enum values.
fn types(sdl: &str) -> BTreeMap<String, BTreeSet<String>> {
    let doc = parse_schema(sdl).unwrap();
    let mut out = BTreeMap::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(t) = def else {
            continue;
        };
        let t = t.node;
        let members: BTreeSet<String> = match &t.kind {
            TypeKind::Object(o) => o
                .fields
                .iter()
                .map(|f| f.node.name.node.to_string())
                .collect(),
            TypeKind::Interface(i) => i
                .fields
                .iter()
                .map(|f| f.node.name.node.to_string())
                .collect(),
            TypeKind::InputObject(i) => i
                .fields
                .iter()
                .map(|f| f.node.name.node.to_string())
                .collect(),
            TypeKind::Enum(e) => e
                .values
                .iter()
                .map(|v| v.node.value.node.to_string())
                .collect(),
            TypeKind::Scalar | TypeKind::Union(_) => BTreeSet::new(),
        };
        out.insert(t.name.node.to_string(), members);
    }
    out
}

#[test]
fn the_internal_schema_extends_the_public_one() {
    let public = types(&GraphqlSchema::public(Limits::default()).sdl());
    let internal = types(&GraphqlSchema::internal(Limits::default()).sdl());
    assert!(public.contains_key("Query") && public.contains_key("Mutation"));
    for (name, fields) in &public {
        // The query roots are two types: the internal one has every public query and more.
        if name == "Query" {
            let extended = &internal["InternalQuery"];
            assert!(extended.is_superset(fields), "{fields:?} ⊄ {extended:?}");
            let extra: Vec<_> = extended.difference(fields).collect();
            assert!(
                !extra.is_empty()
                    && extra
                        .iter()
                        .all(|f| f.starts_with("internal") || *f == "queueLoad"),
                "{extra:?}"
            );
            assert!(!internal.contains_key("Query"));
        } else {
            let Some(extended) = internal.get(name) else {
                panic!("public type {name} is not in the internal schema");
            };
            assert_eq!(fields, extended, "type {name} differs between the schemas");
        }
    }
    let only_internal: Vec<_> = internal
        .keys()
        .filter(|t| !public.contains_key(*t))
        .collect();
    assert!(
        only_internal.iter().any(|t| *t == "InternalRun"),
        "{only_internal:?}"
    );
    assert!(
        only_internal.iter().any(|t| *t == "AgentConfig"),
        "{only_internal:?}"
    );
}
