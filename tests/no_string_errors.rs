//! No public function of a library crate returns `Result<_, String>`: every error a
//! caller gets is a typed error with a kind and a remedy (`docs/ARCHITECTURE.md`).

use std::path::{Path, PathBuf};

const LIBRARY_SOURCES: [&str; 5] = [
    "tamma-bench-core/src",
    "tamma-bench-providers/src",
    "tamma-bench-privacy/src",
    "tamma-bench-optimize/src",
    "tamma-bench-plugin/src",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The signatures (from `fn` to the body or `;`, whitespace collapsed) of the public
/// functions in `src`: `pub fn` (not `pub(crate)`), and every function of a `pub trait`.
fn public_signatures(src: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_pub_trait = false;
    let lines: Vec<&str> = src.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start();
        if t.starts_with("pub trait ") {
            in_pub_trait = true;
        } else if *line == "}" {
            in_pub_trait = false;
        }
        let public = [
            "pub fn ",
            "pub async fn ",
            "pub const fn ",
            "pub unsafe fn ",
        ]
        .iter()
        .any(|p| t.starts_with(p));
        let trait_fn = in_pub_trait && (t.starts_with("fn ") || t.starts_with("async fn "));
        if !(public || trait_fn) {
            continue;
        }
        let mut signature = String::new();
        for l in &lines[i..] {
            signature.push(' ');
            signature.push_str(l.trim());
            if l.contains('{') || l.trim_end().ends_with(';') {
                break;
            }
        }
        let signature = signature.split('{').next().unwrap_or("").to_owned();
        found.push(signature.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    found
}

/// Whether a signature returns a `Result` whose error type is `String`.
fn returns_string_error(signature: &str) -> bool {
    let Some((_, ret)) = signature.split_once("->") else {
        return false;
    };
    let ret = ret
        .replace(' ', "")
        .replace("::std::string::String", "String")
        .replace("std::string::String", "String");
    ret.contains("Result<") && ret.contains(",String>")
}

#[test]
fn the_scan_recognises_a_string_error() {
    let src = "pub fn parse(s: &str)\n    -> Result<Self, String> {\n}\n\
               pub trait T {\n    fn build(&self) -> Result<u8, std::string::String>;\n}\n\
               pub(crate) fn private() -> Result<(), String> {}\n\
               pub fn fine() -> Result<String, Error> {}\n";
    let bad: Vec<String> = public_signatures(src)
        .into_iter()
        .filter(|s| returns_string_error(s))
        .collect();
    assert_eq!(bad.len(), 2, "{bad:?}");
}

#[test]
fn no_public_function_of_a_library_crate_returns_a_string_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut offenders = Vec::new();
    for dir in LIBRARY_SOURCES {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files);
        assert!(!files.is_empty(), "no sources in {dir}");
        for file in files {
            let src = std::fs::read_to_string(&file).expect("read source");
            for signature in public_signatures(&src) {
                if returns_string_error(&signature) {
                    offenders.push(format!("{}: {signature}", file.display()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "public functions returning Result<_, String>:\n{}",
        offenders.join("\n")
    );
}
