//! No SQL outside the backend crates: no source file of the workspace other than a
//! storage backend's (`tamma-bench-sqlite`) names `rusqlite` or holds an SQL statement in
//! a string literal. Core holds the storage contracts, a backend crate all of a
//! database's SQL. Tests may open a database file directly (to tamper with it, or to look
//! at it at rest), so `tests/` folders are not scanned, nor are `benches/` and the test
//! kit (`tamma-bench-testkit`, a dev-dependency only, which makes test databases on the
//! Postgres server) for the same reason. That no library crate but the
//! backend has SQLite among its dependencies is checked in `dependency_direction.rs`.

#![allow(clippy::unwrap_used)] // test fixtures: a failure is the test failing

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The crates that may hold SQL: the storage backends.
const BACKENDS: &[&str] = &["tamma-bench-sqlite", "tamma-bench-postgres"];

/// Phrases that begin (or carry) an SQL statement; written in capitals, as every
/// statement of the backends is.
const SQL: &[&str] = &[
    "CREATE TABLE",
    "CREATE INDEX",
    "CREATE TRIGGER",
    "ALTER TABLE",
    "DROP TABLE",
    "INSERT INTO",
    "INSERT OR ",
    "SELECT ",
    "DELETE FROM",
    " SET ",
    "PRAGMA ",
    "BEGIN IMMEDIATE",
];

/// The pieces of a Rust source file: its code outside strings and comments, and each
/// string literal with the line it starts on. Enough of Rust's lexical rules for this
/// check: line and block comments (nested), strings with escapes, raw strings, byte
/// strings, and character literals (so `'"'` opens no string).
struct Lexed {
    code: Vec<(usize, String)>,
    strings: Vec<(usize, String)>,
}

fn lex(text: &str) -> Lexed {
    let s: Vec<char> = text.chars().collect();
    let (mut i, mut line) = (0, 1);
    let mut out = Lexed {
        code: Vec::new(),
        strings: Vec::new(),
    };
    let mut code_line = String::new();
    let at = |i: usize, p: &str| p.chars().enumerate().all(|(k, c)| s.get(i + k) == Some(&c));
    while i < s.len() {
        let c = s[i];
        if c == '\n' {
            out.code.push((line, std::mem::take(&mut code_line)));
            line += 1;
            i += 1;
        } else if at(i, "//") {
            while i < s.len() && s[i] != '\n' {
                i += 1;
            }
        } else if at(i, "/*") {
            let mut depth = 0;
            while i < s.len() {
                if at(i, "/*") {
                    depth += 1;
                    i += 2;
                } else if at(i, "*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    line += usize::from(s[i] == '\n');
                    i += 1;
                }
            }
        } else if (c == 'r' || at(i, "br")) && {
            let j = i + if c == 'r' { 1 } else { 2 };
            let hashes = s[j..].iter().take_while(|&&h| h == '#').count();
            s.get(j + hashes) == Some(&'"')
                && (i == 0 || !(s[i - 1].is_alphanumeric() || s[i - 1] == '_'))
        } {
            let j = i + if c == 'r' { 1 } else { 2 };
            let hashes = s[j..].iter().take_while(|&&h| h == '#').count();
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let (start, mut lit) = (line, String::new());
            i = j + hashes + 1;
            while i < s.len() && !at(i, &close) {
                line += usize::from(s[i] == '\n');
                lit.push(s[i]);
                i += 1;
            }
            i += close.len();
            out.strings.push((start, lit));
        } else if c == '"' {
            let (start, mut lit) = (line, String::new());
            i += 1;
            while i < s.len() && s[i] != '"' {
                if s[i] == '\\' {
                    i += 1;
                }
                if let Some(&ch) = s.get(i) {
                    line += usize::from(ch == '\n');
                    lit.push(ch);
                }
                i += 1;
            }
            i += 1;
            out.strings.push((start, lit));
        } else if c == '\'' && s.get(i + 1) == Some(&'\\') {
            // An escaped character literal: '\'', '\\', '\n', '\u{..}'.
            i += 3;
            while i < s.len() && s[i] != '\'' {
                i += 1;
            }
            i += 1;
        } else if c == '\'' && s.get(i + 2) == Some(&'\'') {
            i += 3; // a character literal such as '"'
        } else {
            code_line.push(c);
            i += 1;
        }
    }
    out.code.push((line, code_line));
    out
}

/// The Rust files below `dir`, recursively, but none in `target/`, hidden folders, test
/// folders (`tests/`, with their fixtures), `benches/` or the test kit.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if path.is_dir() {
                let test_only =
                    matches!(name.as_ref(), "tests" | "benches" | "tamma-bench-testkit");
                if !(name == "target" || test_only || name.starts_with('.')) {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                files.push(path);
            }
        }
    }
    files
}

/// Every place in `files` that names `rusqlite` or holds SQL: `path:line: what`.
fn sql_in(files: &[PathBuf]) -> Vec<String> {
    let mut found = Vec::new();
    for path in files {
        let lexed = lex(&std::fs::read_to_string(path).unwrap());
        for (line, code) in &lexed.code {
            if code.contains("rusqlite") {
                found.push(format!("{}:{line}: names rusqlite", path.display()));
            }
        }
        for (start, lit) in &lexed.strings {
            for phrase in SQL {
                if let Some(pos) = lit.find(phrase) {
                    let line = start + lit[..pos].matches('\n').count();
                    found.push(format!(
                        "{}:{line}: SQL in a string ({:?})",
                        path.display(),
                        phrase.trim()
                    ));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// The production source files of the workspace (every Rust file [`rust_files`] finds),
/// by backend crate, or `None` for every other crate.
fn production_files() -> BTreeMap<Option<&'static str>, Vec<PathBuf>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: BTreeMap<Option<&'static str>, Vec<PathBuf>> = BTreeMap::new();
    for path in rust_files(root) {
        let rel = path.strip_prefix(root).unwrap();
        let backend = BACKENDS.iter().copied().find(|b| rel.starts_with(b));
        files.entry(backend).or_default().push(path);
    }
    files
}

#[test]
fn no_sql_outside_the_backend_crates() {
    let files = production_files();
    let others = &files[&None];
    let core = Path::new(env!("CARGO_MANIFEST_DIR")).join("tamma-bench-core/src/store/mod.rs");
    assert!(others.contains(&core), "core is scanned");
    let found = sql_in(others);
    assert!(
        found.is_empty(),
        "SQL belongs in a backend crate ({BACKENDS:?}), found:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_the_sql_of_the_sqlite_backend() {
    let found = sql_in(&production_files()[&Some("tamma-bench-sqlite")]);
    for what in [
        "names rusqlite",
        "\"CREATE TABLE\"",
        "\"SELECT\"",
        "\"INSERT INTO\"",
    ] {
        assert!(
            found.iter().any(|f| f.contains(what)),
            "{what} not found in {found:#?}"
        );
    }
    // Strings are told from comments and character literals.
    let lexed = lex(
        "// SELECT x FROM y\nlet q = '\"'; /* \"INSERT INTO\" */\nlet s = r#\"a \"DELETE FROM\" b\"#;\nlet t = \"x\\\"SELECT \";",
    );
    let strings: Vec<&str> = lexed.strings.iter().map(|(_, s)| s.as_str()).collect();
    assert_eq!(strings, ["a \"DELETE FROM\" b", "x\"SELECT "]);
    assert_eq!(lexed.strings[0].0, 3);
}
