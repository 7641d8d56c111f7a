//! Loading and validating benchmark manifests, cases files and agents files.
//!
//! Every error names the file, the line (and the field where there is one) and what was
//! expected. Nothing is half-loaded: a file either loads whole or gives an error.

mod template;

pub use template::{Template, TemplateError, TemplateErrorKind};

use crate::error::{Cause, Remedy};
use crate::model::{AgentConfig, AgentsFile, Benchmark, BenchmarkManifest, Case};
use crate::scorer::ScorerSpec;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of loading problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be read.
    Io,
    /// The file is not valid TOML / JSON, or a field has the wrong type.
    Syntax,
    /// The content is well-formed but invalid (empty id, bad range, unknown variable).
    Invalid,
    /// Two cases or two agents share an id or name.
    Duplicate,
}

impl LoadErrorKind {
    /// What a caller can do: every loading problem is fixed in the input (a file that
    /// cannot be read is a wrong path or permission far more often than a flaky disk).
    pub fn remedy(self) -> Remedy {
        match self {
            Self::Io | Self::Syntax | Self::Invalid | Self::Duplicate => Remedy::FixInput,
        }
    }
}

/// A problem with an input file, located by file, line and field.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadError {
    kind: LoadErrorKind,
    path: PathBuf,
    line: Option<usize>,
    field: Option<String>,
    message: String,
    source: Option<Cause>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|e| e as _)
    }
}

impl LoadError {
    /// An error of `kind` in the file `path`, at `line` and `field` where known.
    pub fn new(
        kind: LoadErrorKind,
        path: &Path,
        line: Option<usize>,
        field: Option<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            kind,
            path: path.to_owned(),
            line,
            field,
            message: message.into(),
            source: None,
        }
    }

    /// Keeps `cause` as this error's [`source`](std::error::Error::source).
    pub fn with_source(mut self, cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(crate::error::cause(cause));
        self
    }

    /// What kind of problem.
    pub fn kind(&self) -> LoadErrorKind {
        self.kind
    }

    /// What a caller can do about it.
    pub fn remedy(&self) -> Remedy {
        self.kind.remedy()
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// 1-based line, where known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The field, where there is one (`temperature`, `input[0].role`).
    pub fn field(&self) -> Option<&str> {
        self.field.as_deref()
    }

    /// What is wrong and what was expected.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The cause, shared.
    pub(crate) fn cause(&self) -> Option<Cause> {
        self.source.clone()
    }

    fn io(path: &Path, e: std::io::Error) -> Self {
        Self::new(
            LoadErrorKind::Io,
            path,
            None,
            None,
            format!("cannot read: {e}"),
        )
        .with_source(e)
    }
}

pub(crate) fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|e| LoadError::io(path, e))
}

/// 1-based line of byte `offset` in `src`.
pub(crate) fn line_of(src: &str, offset: usize) -> usize {
    src.as_bytes()[..offset.min(src.len())]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// Lines (1-based) of each `[[header]]` table in a TOML source, in order.
fn header_lines(src: &str, header: &str) -> Vec<usize> {
    let needle = format!("[[{header}]]");
    src.lines()
        .enumerate()
        .filter(|(_, l)| l.trim_start().starts_with(&needle))
        .map(|(i, _)| i + 1)
        .collect()
}

/// Parses TOML into `T`, turning errors into [`LoadError`]s with line and field.
fn parse_toml<T: serde::de::DeserializeOwned>(path: &Path, src: &str) -> Result<T, LoadError> {
    toml::from_str(src).map_err(|e| toml_error(path, src, e))
}

/// A TOML parse or type error of the file `path` (content `src`) as a [`LoadError`] with
/// line and field.
pub(crate) fn toml_error(path: &Path, src: &str, e: toml::de::Error) -> LoadError {
    let line = e.span().map(|s| line_of(src, s.start));
    let message = e.message().to_owned();
    // A missing field is named in the message; a bad value sits on a `key = ...` line.
    let field = backticked(&message).or_else(|| {
        let l = src.lines().nth(line? - 1)?;
        let key = l.split_once('=')?.0.trim();
        (!key.is_empty() && !key.starts_with('[')).then(|| key.trim_matches('"').to_owned())
    });
    LoadError::new(LoadErrorKind::Syntax, path, line, field, message).with_source(e)
}

/// The first `name` quoted in backticks in a serde message ("missing field `model`").
pub(crate) fn backticked(message: &str) -> Option<String> {
    let (kind, rest) = message.split_once('`')?;
    if !(kind.contains("missing field")
        || kind.contains("unknown field")
        || kind.contains("duplicate field"))
    {
        return None;
    }
    Some(rest.split_once('`')?.0.to_owned())
}

fn valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Generates the cases of a benchmark whose manifest names a `source` (`plugin:ID`).
pub trait CaseSource {
    /// The cases `source` generates from `config`, or why it cannot.
    fn cases(
        &self,
        source: &str,
        config: &serde_json::Value,
    ) -> Result<Vec<Case>, crate::provider::FactoryError>;
}

/// The cases `source` generates, each with an id (the content hash when it gave none)
/// that no other case has.
fn generated_cases(
    source: &str,
    config: Option<&serde_json::Value>,
    sources: &dyn CaseSource,
) -> Result<Vec<Case>, String> {
    let empty = serde_json::json!({});
    let mut cases = sources
        .cases(source, config.unwrap_or(&empty))
        .map_err(|e| e.to_string())?;
    let mut seen = std::collections::HashSet::new();
    for case in &mut cases {
        if case.id.is_empty() {
            case.id = case.content_id();
        }
        if !seen.insert(case.id.clone()) {
            return Err(format!("generated the case id {:?} twice", case.id));
        }
    }
    Ok(cases)
}

/// Loads and validates a benchmark manifest and its cases.
pub fn load_benchmark(path: impl AsRef<Path>) -> Result<Benchmark, LoadError> {
    load_benchmark_with(path, None)
}

/// Loads and validates a benchmark manifest and its cases; a manifest that names a
/// `source` gets its cases from `sources`.
pub fn load_benchmark_with(
    path: impl AsRef<Path>,
    sources: Option<&dyn CaseSource>,
) -> Result<Benchmark, LoadError> {
    let path = path.as_ref();
    let src = read(path)?;
    let manifest: BenchmarkManifest = parse_toml(path, &src)?;
    let invalid = |field: &str, msg: String| {
        let line = src
            .lines()
            .position(|l| l.trim_start().starts_with(field))
            .map(|i| i + 1);
        LoadError::new(
            LoadErrorKind::Invalid,
            path,
            line,
            Some(field.to_owned()),
            msg,
        )
    };
    if !valid_slug(&manifest.id) {
        return Err(invalid(
            "id",
            format!(
                "expected 1-128 characters of [A-Za-z0-9._-], got {:?}",
                manifest.id
            ),
        ));
    }
    if manifest.version.trim().is_empty() {
        return Err(invalid("version", "expected a non-empty version".into()));
    }
    if manifest.epochs == 0 {
        return Err(invalid("epochs", "expected at least 1".into()));
    }
    let system = manifest
        .system
        .as_deref()
        .map(Template::parse)
        .transpose()
        .map_err(|m| invalid("system", m.to_string()))?;
    let prompt_src = manifest
        .prompt
        .clone()
        .unwrap_or_else(|| "{{input}}".to_owned());
    let prompt = Template::parse(&prompt_src).map_err(|m| invalid("prompt", m.to_string()))?;
    for (i, spec) in manifest.scorers.iter().enumerate() {
        spec.validate().map_err(|e| {
            let line = header_lines(&src, "scorer").get(i).copied();
            LoadError::new(
                LoadErrorKind::Invalid,
                path,
                line,
                Some(format!("scorer[{i}]")),
                e.to_string(),
            )
        })?;
    }

    // Cases: from the JSONL file, or inline `[[case]]` tables; each with the line it came from.
    let (cases_path, located): (PathBuf, Vec<(usize, Case)>) = if let Some(source) =
        &manifest.source
    {
        if manifest.cases.is_some() || !manifest.inline_cases.is_empty() {
            return Err(invalid(
                "source",
                "give one of `source`, `cases = \"file.jsonl\"` or `[[case]]` tables".into(),
            ));
        }
        let Some(sources) = sources else {
            return Err(invalid(
                "source",
                format!(
                    "{source:?} generates the cases, but no case source is available here (give --plugin-dir)"
                ),
            ));
        };
        let line = src
            .lines()
            .position(|l| l.trim_start().starts_with("source"))
            .map_or(0, |i| i + 1);
        let generated = generated_cases(source, manifest.source_config.as_ref(), sources)
            .map_err(|m| invalid("source", format!("{source}: {m}")))?;
        let located = generated.into_iter().map(|c| (line, c)).collect();
        (path.to_owned(), located)
    } else {
        match (&manifest.cases, manifest.inline_cases.is_empty()) {
            (Some(_), false) => {
                return Err(invalid(
                    "cases",
                    "give either `cases = \"file.jsonl\"` or `[[case]]` tables, not both".into(),
                ));
            }
            (Some(rel), true) => {
                let p = path.parent().unwrap_or(Path::new(".")).join(rel);
                let cases = load_cases(&p)?;
                (p, cases)
            }
            (None, false) => {
                let lines = header_lines(&src, "case");
                let cases = manifest
                    .inline_cases
                    .iter()
                    .cloned()
                    .enumerate()
                    .map(|(i, c)| (lines.get(i).copied().unwrap_or(0), c))
                    .collect();
                (path.to_owned(), cases)
            }
            (None, true) => {
                return Err(invalid(
                    "cases",
                    "expected `cases = \"file.jsonl\"` or at least one `[[case]]`".into(),
                ));
            }
        }
    };
    if located.is_empty() {
        return Err(LoadError::new(
            LoadErrorKind::Invalid,
            &cases_path,
            None,
            None,
            "the benchmark has no cases",
        ));
    }
    let mut cases = Vec::with_capacity(located.len());
    for (line, case) in located {
        let at = |field: &str, msg: String| {
            LoadError::new(
                LoadErrorKind::Invalid,
                &cases_path,
                Some(line),
                Some(field.to_owned()),
                msg,
            )
        };
        if let Some(t) = &system {
            t.render(&case)
                .map_err(|m| at("metadata", format!("{m} (system template)")))?;
        }
        prompt
            .render(&case)
            .map_err(|m| at("metadata", format!("{m} (prompt template)")))?;
        cases.push((line, case));
    }
    let scorers = if manifest.scorers.is_empty() {
        vec![ScorerSpec::default_exact()]
    } else {
        manifest.scorers
    };
    Ok(Benchmark {
        id: manifest.id,
        name: manifest.name,
        version: manifest.version,
        description: manifest.description,
        visibility: manifest.visibility,
        system: manifest.system,
        prompt: prompt_src,
        cases: cases.into_iter().map(|(_, c)| c).collect(),
        scorers,
        epochs: manifest.epochs,
    })
}

/// Loads a JSONL cases file: one case a line (blank lines skipped). Ids default to the
/// content hash; a duplicated id is an error naming both lines.
pub fn load_cases(path: &Path) -> Result<Vec<(usize, Case)>, LoadError> {
    let src = read(path)?;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut cases = Vec::new();
    for (i, line) in src.lines().enumerate() {
        let lineno = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let de = &mut serde_json::Deserializer::from_str(line);
        let mut case: Case = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let field = (field != ".").then_some(field);
            let message = e.inner().to_string();
            LoadError::new(LoadErrorKind::Syntax, path, Some(lineno), field, message)
                .with_source(e.into_inner())
        })?;
        if case.id.is_empty() {
            case.id = case.content_id();
        }
        if let Some(first) = seen.insert(case.id.clone(), lineno) {
            return Err(LoadError::new(
                LoadErrorKind::Duplicate,
                path,
                Some(lineno),
                Some("id".into()),
                format!(
                    "duplicate case id {:?} (first on line {first}); ids must be unique",
                    case.id
                ),
            ));
        }
        cases.push((lineno, case));
    }
    Ok(cases)
}

/// A loaded agents file: the agents, the line each starts on, and the file's folder
/// (recordings are relative to it).
#[derive(Debug, Clone)]
pub struct LoadedAgents {
    /// The file.
    pub path: PathBuf,
    /// Its folder: relative paths in agent configurations resolve against it.
    pub base_dir: PathBuf,
    /// The agents, in file order.
    pub agents: Vec<AgentConfig>,
    /// The line of each agent's `[[agent]]` header.
    pub lines: Vec<usize>,
    /// The file's `plugin_dir`, resolved against its folder.
    pub plugin_dir: Option<PathBuf>,
}

impl LoadedAgents {
    /// A [`LoadError`] about agent `index`'s `field`.
    pub fn error(&self, index: usize, field: &str, message: impl Into<String>) -> LoadError {
        LoadError::new(
            LoadErrorKind::Invalid,
            &self.path,
            self.lines.get(index).copied(),
            Some(field.to_owned()),
            message,
        )
    }
}

/// Loads and validates an agents file.
pub fn load_agents(path: impl AsRef<Path>) -> Result<LoadedAgents, LoadError> {
    let path = path.as_ref();
    let src = read(path)?;
    let file: AgentsFile = parse_toml(path, &src)?;
    let base_dir = path.parent().unwrap_or(Path::new(".")).to_owned();
    let loaded = LoadedAgents {
        path: path.to_owned(),
        plugin_dir: file.plugin_dir.map(|d| base_dir.join(d)),
        base_dir,
        lines: header_lines(&src, "agent"),
        agents: file.agents,
    };
    if loaded.agents.is_empty() {
        return Err(LoadError::new(
            LoadErrorKind::Invalid,
            path,
            None,
            Some("agent".into()),
            "expected at least one [[agent]]",
        ));
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    for (i, a) in loaded.agents.iter().enumerate() {
        if let Some(first) = names.insert(a.name.as_str(), i) {
            let first_line = loaded.lines.get(first).copied().unwrap_or(0);
            return Err(LoadError::new(
                LoadErrorKind::Duplicate,
                &loaded.path,
                loaded.lines.get(i).copied(),
                Some("name".into()),
                format!(
                    "duplicate agent name {:?} (first on line {first_line})",
                    a.name
                ),
            ));
        }
        validate_agent(a).map_err(|(field, msg)| loaded.error(i, field, msg))?;
    }
    Ok(loaded)
}

fn validate_agent(a: &AgentConfig) -> Result<(), (&'static str, String)> {
    if !valid_slug(&a.name) {
        return Err((
            "name",
            format!(
                "expected 1-128 characters of [A-Za-z0-9._-], got {:?}",
                a.name
            ),
        ));
    }
    if a.provider.trim().is_empty() {
        return Err((
            "provider",
            "expected a provider kind such as \"replay\" or \"openai\"".into(),
        ));
    }
    if a.model.trim().is_empty() {
        return Err(("model", "expected a model name".into()));
    }
    if let Some(t) = a.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err((
            "temperature",
            format!("expected a number in [0, 2], got {t}"),
        ));
    }
    if let Some(p) = a.top_p
        && !(p > 0.0 && p <= 1.0)
    {
        return Err(("top_p", format!("expected a number in (0, 1], got {p}")));
    }
    if a.max_tokens == Some(0) {
        return Err(("max_tokens", "expected at least 1".into()));
    }
    if a.concurrency == Some(0) {
        return Err(("concurrency", "expected at least 1".into()));
    }
    for (field, price) in [
        ("price_per_mtok_input", a.price_per_mtok_input),
        ("price_per_mtok_output", a.price_per_mtok_output),
    ] {
        if price.is_some_and(|p| !(p >= 0.0 && p.is_finite())) {
            return Err((field, "expected a finite price >= 0".into()));
        }
    }
    if let Some(env) = &a.api_key_env {
        let looks_like_name = !env.is_empty()
            && env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !env.starts_with(|c: char| c.is_ascii_digit());
        if !looks_like_name {
            return Err((
                "api_key_env",
                "expected the NAME of an environment variable (like OPENAI_API_KEY), not a key"
                    .into(),
            ));
        }
    }
    a.layers.validate()?;
    for (field, t) in [("system", &a.system), ("prompt", &a.prompt)] {
        if let Some(t) = t {
            Template::parse(t).map_err(|m| (field, m.to_string()))?;
        }
    }
    Ok(())
}

/// Loads a job queue's configuration ([`QueueConfig`](crate::queue::QueueConfig), TOML)
/// and checks it: a syntax error names the line and the field; an invalid configuration
/// (a duplicate tier, a zero concurrency) is `Invalid`.
pub fn load_queue_config(path: impl AsRef<Path>) -> Result<crate::queue::QueueConfig, LoadError> {
    let path = path.as_ref();
    let src = read(path)?;
    let config: crate::queue::QueueConfig = parse_toml(path, &src)?;
    config.validate().map_err(|e| {
        LoadError::new(LoadErrorKind::Invalid, path, None, None, e.message()).with_source(e)
    })?;
    Ok(config)
}

/// Checks that every agent's template overrides render for every case of `benchmark`.
pub fn check_agents_against(agents: &LoadedAgents, benchmark: &Benchmark) -> Result<(), LoadError> {
    for (i, a) in agents.agents.iter().enumerate() {
        for (field, t) in [("system", &a.system), ("prompt", &a.prompt)] {
            let Some(src) = t else { continue };
            let t = Template::parse(src).map_err(|m| agents.error(i, field, m.message()))?;
            for case in &benchmark.cases {
                t.render(case)
                    .map_err(|m| agents.error(i, field, format!("case {:?}: {m}", case.id)))?;
            }
        }
    }
    Ok(())
}
