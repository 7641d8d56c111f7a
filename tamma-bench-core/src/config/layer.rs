//! The layering: defaults, then the file, then environment overrides, merged as JSON and
//! deserialized once (with `serde_path_to_error`), every problem traced back to the file
//! line (through the TOML parser's spans) or the variable that set the field.

use super::{Config, ConfigError, ConfigErrorKind, ENV_PREFIX, Origin};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// One step of a path to a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    /// A table's key.
    Key(String),
    /// An array's element.
    Index(usize),
}

impl Seg {
    pub(super) fn key(k: &str) -> Self {
        Self::Key(k.to_owned())
    }
}

/// `queue.tiers[1].concurrency`.
pub(super) fn field_name(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) if out.is_empty() => out.push_str(k),
            Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The configuration being layered, and where each layer's values came from.
pub(super) struct Layered {
    doc: Value,
    file: Option<(PathBuf, String)>,
    /// Fields set by environment variables, in the order applied.
    overrides: Vec<(Vec<Seg>, String)>,
}

impl Layered {
    /// The defaults.
    pub(super) fn defaults() -> Result<Self, ConfigError> {
        let doc = serde_json::to_value(Config::default()).map_err(|e| {
            ConfigError::new(ConfigErrorKind::Invalid, Origin::Value, None, e.to_string())
        })?;
        Ok(Self {
            doc,
            file: None,
            overrides: Vec::new(),
        })
    }

    /// Merges the TOML file `path` (content `src`) over what is there: tables merge key by
    /// key, any other value (arrays included) replaces.
    pub(super) fn file(&mut self, path: &Path, src: &str) -> Result<(), ConfigError> {
        let table: toml::Table = toml::from_str(src)
            .map_err(|e| ConfigError::from_load(crate::load::toml_error(path, src, e)))?;
        self.file = Some((path.to_owned(), src.to_owned()));
        let mut trail = Vec::new();
        let value = toml_to_json(toml::Value::Table(table), &mut trail)
            .map_err(|(at, message)| self.locate(ConfigErrorKind::Syntax, at, message))?;
        merge(&mut self.doc, value);
        Ok(())
    }

    /// Applies the variables of `env` that start with [`ENV_PREFIX`], in name order.
    pub(super) fn env<K, V>(
        &mut self,
        env: impl IntoIterator<Item = (K, V)>,
    ) -> Result<(), ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        vars.sort();
        for (name, raw) in vars {
            let path = self.set(&name, &raw)?;
            self.overrides.push((path, name));
        }
        Ok(())
    }

    /// Sets the field the variable `name` names to `raw`, read as the type of the value
    /// it replaces.
    fn set(&mut self, name: &str, raw: &str) -> Result<Vec<Seg>, ConfigError> {
        let rest = &name[ENV_PREFIX.len()..];
        let keys: Vec<String> = rest.split("__").map(str::to_ascii_lowercase).collect();
        if keys.iter().any(String::is_empty) {
            return Err(ConfigError::in_env(
                name,
                ConfigErrorKind::Environment,
                None,
                "expected TAMMA_BENCH__SECTION__KEY: names separated by double underscores",
            ));
        }
        let mut path = Vec::with_capacity(keys.len());
        let mut node = &mut self.doc;
        for (n, key) in keys.iter().enumerate() {
            let is_last = n + 1 == keys.len();
            let seg = match node {
                Value::Array(items) => {
                    let i = key.parse::<usize>().ok().filter(|i| *i < items.len());
                    let Some(i) = i else {
                        return Err(ConfigError::in_env(
                            name,
                            ConfigErrorKind::Environment,
                            Some(field_name(&path)),
                            format!(
                                "expected an element number below {} of `{}`, got {key:?}",
                                items.len(),
                                field_name(&path)
                            ),
                        ));
                    };
                    Seg::Index(i)
                }
                Value::Object(_) => Seg::Key(key.clone()),
                _ => {
                    return Err(ConfigError::in_env(
                        name,
                        ConfigErrorKind::Environment,
                        Some(field_name(&path)),
                        format!("`{}` is a single value, not a table", field_name(&path)),
                    ));
                }
            };
            path.push(seg.clone());
            if is_last {
                let existing = match (&*node, &seg) {
                    (Value::Array(items), Seg::Index(i)) => items.get(*i),
                    (Value::Object(map), Seg::Key(k)) => map.get(k),
                    _ => None,
                };
                let value = typed(existing, raw).map_err(|m| {
                    ConfigError::in_env(
                        name,
                        ConfigErrorKind::Environment,
                        Some(field_name(&path)),
                        m,
                    )
                })?;
                if let Some(s) = slot(node, &seg) {
                    *s = value;
                }
                break;
            }
            match slot(node, &seg) {
                Some(next) => {
                    // A table not written yet (or an unknown name, which deserializing
                    // will report as such).
                    if next.is_null() {
                        *next = Value::Object(Map::new());
                    }
                    node = next;
                }
                None => break,
            }
        }
        Ok(path)
    }

    /// Deserializes and validates the merged configuration.
    pub(super) fn finish(mut self) -> Result<Config, ConfigError> {
        let doc = std::mem::take(&mut self.doc);
        let config: Config = serde_path_to_error::deserialize(doc).map_err(|e| {
            let mut path = path_of(e.path());
            let message = e.inner().to_string();
            if let Some(name) = crate::load::backticked(&message) {
                // An unknown or missing field: the error is raised on the table; name
                // the field itself.
                if path.last() != Some(&Seg::Key(name.clone())) {
                    path.push(Seg::Key(name));
                }
            }
            let kind = if self.variable_for(&path).is_some() {
                ConfigErrorKind::Environment
            } else {
                ConfigErrorKind::Syntax
            };
            self.locate(kind, path, message)
        })?;
        match config.problem() {
            Some((path, kind, message)) => Err(self.locate(kind, path, message)),
            None => Ok(config),
        }
    }

    /// The variable that set the field at `path` (or a table holding it, or, for an
    /// unknown field, a field inside it), the last one applied winning.
    fn variable_for(&self, path: &[Seg]) -> Option<&str> {
        self.overrides
            .iter()
            .rev()
            .find(|(set, _)| path.starts_with(set) || (!path.is_empty() && set.starts_with(path)))
            .map(|(_, name)| name.as_str())
    }

    /// An error about the field at `path`, located in the variable that set it, else in
    /// the file (the line of the deepest part of `path` the file has), else in the
    /// defaults.
    fn locate(&self, kind: ConfigErrorKind, path: Vec<Seg>, message: String) -> ConfigError {
        let field = (!path.is_empty()).then(|| field_name(&path));
        if let Some(name) = self.variable_for(&path) {
            return ConfigError::in_env(name, kind, field, message);
        }
        match &self.file {
            Some((file, src)) => {
                let line = line_in(src, &path);
                ConfigError::in_file(kind, file, line, field, message)
            }
            None => ConfigError::new(kind, Origin::Value, field, message),
        }
    }
}

/// The value at `seg` of `node`, created (as null) for a missing key.
fn slot<'a>(node: &'a mut Value, seg: &Seg) -> Option<&'a mut Value> {
    match (node, seg) {
        (Value::Array(items), Seg::Index(i)) => items.get_mut(*i),
        (Value::Object(map), Seg::Key(k)) => Some(map.entry(k.clone()).or_insert(Value::Null)),
        _ => None,
    }
}

/// `raw` read as the type of `existing`; where there is none (an optional field not
/// set), as a boolean, a number or a JSON string (`"123"`) when it is one, else as text.
fn typed(existing: Option<&Value>, raw: &str) -> Result<Value, String> {
    let number = |raw: &str| -> Option<Value> {
        let t = raw.trim();
        t.parse::<i64>()
            .map(Value::from)
            .or_else(|_| t.parse::<u64>().map(Value::from))
            .ok()
            .or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
            })
    };
    match existing {
        Some(Value::Bool(_)) => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("expected true or false, got {raw:?}")),
        },
        Some(Value::Number(_)) => {
            number(raw).ok_or_else(|| format!("expected a number, got {raw:?}"))
        }
        Some(Value::String(_)) => Ok(Value::String(raw.to_owned())),
        Some(Value::Array(_)) if raw.trim_start().starts_with('[') => {
            serde_json::from_str::<Value>(raw).map_err(|e| format!("expected a JSON array: {e}"))
        }
        Some(Value::Array(_)) => Ok(Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        )),
        Some(Value::Object(_)) => serde_json::from_str::<Value>(raw)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| "expected a JSON object such as {\"key\": 1}".to_owned()),
        None | Some(Value::Null) => {
            let t = raw.trim();
            Ok(match t {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ if t.starts_with('"') && t.ends_with('"') && t.len() >= 2 => {
                    serde_json::from_str(t).unwrap_or_else(|_| Value::String(raw.to_owned()))
                }
                _ => number(raw).unwrap_or_else(|| Value::String(raw.to_owned())),
            })
        }
    }
}

/// A path of `serde_path_to_error`.
fn path_of(p: &serde_path_to_error::Path) -> Vec<Seg> {
    use serde_path_to_error::Segment;
    p.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(Seg::Index(*index)),
            Segment::Map { key } => Some(Seg::Key(key.clone())),
            Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            Segment::Unknown => None,
        })
        .collect()
}

/// TOML as JSON: date-times become their text (`created = 2026-01-15`), non-finite floats
/// are refused.
fn toml_to_json(v: toml::Value, at: &mut Vec<Seg>) -> Result<Value, (Vec<Seg>, String)> {
    Ok(match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => match serde_json::Number::from_f64(f) {
            Some(n) => Value::Number(n),
            None => return Err((at.clone(), format!("expected a finite number, got {f}"))),
        },
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.into_iter().enumerate() {
                at.push(Seg::Index(i));
                out.push(toml_to_json(item, at)?);
                at.pop();
            }
            Value::Array(out)
        }
        toml::Value::Table(table) => {
            let mut out = Map::new();
            for (k, item) in table {
                at.push(Seg::Key(k.clone()));
                out.insert(k, toml_to_json(item, at)?);
                at.pop();
            }
            Value::Object(out)
        }
    })
}

/// `over` merged into `base`: objects key by key, anything else replaced.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

/// The line (1-based) of the deepest part of `path` written in the TOML `src`.
fn line_in(src: &str, path: &[Seg]) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(src).ok()?;
    let mut table: &DeTable<'_> = doc.get_ref();
    let mut value: Option<&DeValue<'_>> = None;
    let mut span: Option<std::ops::Range<usize>> = None;
    for seg in path {
        let next = match (value, seg) {
            (None, Seg::Key(k)) | (Some(DeValue::Table(_)), Seg::Key(k)) => {
                if let Some(DeValue::Table(t)) = value {
                    table = t;
                }
                table
                    .iter()
                    .find(|(key, _)| key.get_ref() == k)
                    .map(|(key, v)| (key.span(), v))
            }
            (Some(DeValue::Array(items)), Seg::Index(i)) => items.get(*i).map(|v| (v.span(), v)),
            _ => None,
        };
        let Some((key_span, v)) = next else { break };
        span = Some(key_span);
        value = Some(v.get_ref());
    }
    span.map(|s| crate::load::line_of(src, s.start))
}

/// `v` as canonical JSON: object keys sorted, no whitespace.
pub(crate) fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The leaf fields where `a` and `b` differ, into `out`.
pub(super) fn diff(a: &Value, b: &Value, at: &mut Vec<Seg>, out: &mut Vec<String>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                at.push(Seg::Key(k.clone()));
                match (x.get(k), y.get(k)) {
                    (Some(p), Some(q)) => diff(p, q, at, out),
                    _ => out.push(field_name(at)),
                }
                at.pop();
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                at.push(Seg::Index(i));
                diff(p, q, at, out);
                at.pop();
            }
        }
        (p, q) if p == q => {}
        _ => out.push(field_name(at)),
    }
}
