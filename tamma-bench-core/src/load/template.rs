//! Prompt templates: `{{input}}`, `{{id}}`, `{{target}}`, `{{cluster}}`, `{{metadata.KEY}}`.

use crate::error::Remedy;
use crate::model::Case;
use std::fmt;

/// What is wrong with a template, or with a case it renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TemplateErrorKind {
    /// A `{{` is never closed.
    Unclosed,
    /// A variable the template may not name.
    UnknownVariable,
    /// The case lacks a `metadata.KEY` the template names.
    MissingMetadata,
}

impl TemplateErrorKind {
    /// What a caller can do: fix the template or the case.
    pub fn remedy(self) -> Remedy {
        match self {
            Self::Unclosed | Self::UnknownVariable | Self::MissingMetadata => Remedy::FixInput,
        }
    }
}

/// Why a template does not parse, or does not render for a case.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TemplateError {
    kind: TemplateErrorKind,
    message: String,
}

impl TemplateError {
    fn new(kind: TemplateErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What is wrong.
    pub fn kind(&self) -> TemplateErrorKind {
        self.kind
    }

    /// Details, naming the variable or field.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TemplateError {}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Var(String),
}

/// A parsed prompt template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

/// The variables a template may name besides `metadata.KEY`.
const VARIABLES: [&str; 4] = ["input", "id", "target", "cluster"];

impl Template {
    /// Parses `source`. Unknown variables and unclosed braces are errors.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        Self::parse_with(source, &[])
    }

    /// Parses `source`, allowing the variables in `extra` besides the case's (a judge's
    /// rubric adds `output`).
    pub fn parse_with(source: &str, extra: &[&str]) -> Result<Self, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| {
                TemplateError::new(TemplateErrorKind::Unclosed, "unclosed `{{` in template")
            })?;
            let name = after[..end].trim();
            let known = VARIABLES.contains(&name)
                || extra.contains(&name)
                || name
                    .strip_prefix("metadata.")
                    .is_some_and(|k| !k.is_empty());
            if !known {
                return Err(TemplateError::new(
                    TemplateErrorKind::UnknownVariable,
                    format!(
                        "unknown template variable `{name}`: expected one of input, id, target, cluster, metadata.KEY"
                    ),
                ));
            }
            parts.push(Part::Var(name.to_owned()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_owned()));
        }
        Ok(Self { parts })
    }

    /// Renders the template for `case`. A `metadata.KEY` the case lacks is an error naming it.
    pub fn render(&self, case: &Case) -> Result<String, TemplateError> {
        self.render_with(case, &[])
    }

    /// Renders the template for `case` with values for the extra variables.
    pub fn render_with(
        &self,
        case: &Case,
        extra: &[(&str, &str)],
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) if extra.iter().any(|(k, _)| k == v) => {
                    out.push_str(extra.iter().find(|(k, _)| k == v).map_or("", |(_, x)| x));
                }
                Part::Var(v) => match v.as_str() {
                    "input" => out.push_str(&case.input.as_text()),
                    "id" => out.push_str(&case.id),
                    "target" => out.push_str(&case.target.values().join(" | ")),
                    "cluster" => out.push_str(case.cluster.as_deref().unwrap_or("")),
                    other => {
                        let key = other.trim_start_matches("metadata.");
                        match case.metadata.get(key) {
                            Some(serde_json::Value::String(s)) => out.push_str(s),
                            Some(v) => out.push_str(&v.to_string()),
                            None => {
                                return Err(TemplateError::new(
                                    TemplateErrorKind::MissingMetadata,
                                    format!(
                                        "case has no metadata field `{key}` used by the template"
                                    ),
                                ));
                            }
                        }
                    }
                },
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case() -> Case {
        serde_json::from_value(serde_json::json!({
            "id": "c1", "input": "2+2?", "target": "4", "metadata": {"hint": "add", "n": 3}
        }))
        .expect("valid case")
    }

    #[test]
    fn renders_variables_and_metadata() {
        let t = Template::parse("Q: {{ input }} ({{metadata.hint}}, {{metadata.n}}) id={{id}}")
            .expect("parses");
        assert_eq!(
            t.render(&case()).expect("renders"),
            "Q: 2+2? (add, 3) id=c1"
        );
    }

    #[test]
    fn rejects_unknown_variables_and_unclosed_braces() {
        let e = Template::parse("{{question}}").unwrap_err();
        assert_eq!(e.kind(), TemplateErrorKind::UnknownVariable);
        assert!(e.message().contains("question"));
        let e = Template::parse("{{input").unwrap_err();
        assert_eq!(e.kind(), TemplateErrorKind::Unclosed);
        let t = Template::parse("{{metadata.missing}}").expect("parses");
        let e = t.render(&case()).unwrap_err();
        assert_eq!(e.kind(), TemplateErrorKind::MissingMetadata);
        assert_eq!(e.remedy(), crate::error::Remedy::FixInput);
        assert!(e.to_string().contains("missing"));
    }
}
