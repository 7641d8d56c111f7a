//! `tamma-bench export`: a run's trials as JSON lines or CSV, streamed from the store (one
//! page of trials in memory at a time) to stdout or to a file that appears only when
//! complete.

use super::{Exit, StoreArgs};
use anyhow::{Context, Result, anyhow};
use clap::{Args, ValueEnum};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use tamma_bench::core::model::{Outcome, Trial};
use tamma_bench::privacy::{PublicTrial, TrialExport};

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run.
    #[arg(value_name = "RUN_ID")]
    pub run_id: String,
    /// Output format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Write to this file (replaced only once the export is complete) instead of stdout.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
    /// Store and tenant.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One trial as a JSON object a line.
    Jsonl,
    /// One trial a row, with the headline score (tags joined by `;`).
    Csv,
}

/// The CSV columns.
const CSV_HEADER: [&str; 16] = [
    "run_id",
    "agent",
    "case_id",
    "epoch",
    "outcome",
    "score",
    "error_kind",
    "output",
    "input_tokens",
    "output_tokens",
    "latency_ms",
    "cost_usd",
    "attempts",
    "cache_hit",
    "cluster",
    "tags",
];

/// Exports the trials of a run: every field (secrets redacted) for an internal context;
/// for an external tenant, the public fields of a public run or the public and sensitive
/// fields of its own.
pub async fn execute(args: ExportArgs) -> Result<Exit> {
    let cx = args.store.context();
    let repo = args.store.repository().await?;
    let id = args.run_id.as_str();
    let source = match args.store.internal_context() {
        Some(icx) => Source::Internal(repo.internal_trials(&icx, id).await?),
        None => Source::External(repo.trials(&cx, id).await?),
    };
    match &args.out {
        None => {
            let out = BufWriter::new(std::io::stdout().lock());
            write_trials(&source, args.format, out).await?.flush()?;
        }
        Some(path) => {
            let (pending, file) = PendingFile::create(path)?;
            let out = write_trials(&source, args.format, BufWriter::new(file)).await?;
            let file = out.into_inner().map_err(|e| e.into_error())?;
            pending.commit(file)?;
        }
    }
    Ok(Exit::Success)
}

/// Where the trials come from: an authorized export of the repository.
enum Source {
    Internal(TrialExport<Trial>),
    External(TrialExport<PublicTrial>),
}

/// Writes every trial of the run to `out` in `format`; returns `out` for flushing.
async fn write_trials<W: Write>(source: &Source, format: Format, out: W) -> Result<W> {
    let header: &[&str] = match source {
        Source::Internal(_) => &CSV_HEADER,
        Source::External(_) => &PUBLIC_CSV_HEADER,
    };
    let mut sink = match format {
        Format::Jsonl => Sink::Jsonl(out),
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(header)?;
            Sink::Csv(Box::new(csv))
        }
    };
    // The streams are `futures` streams; this binary does not depend on `futures`, and the
    // trait object's `poll_next` is callable without importing its trait.
    match source {
        Source::Internal(export) => {
            let mut trials = export.stream();
            while let Some(t) = std::future::poll_fn(|cx| trials.as_mut().poll_next(cx)).await {
                sink.write(&t?)?;
            }
        }
        Source::External(export) => {
            let mut trials = export.stream();
            while let Some(t) = std::future::poll_fn(|cx| trials.as_mut().poll_next(cx)).await {
                sink.write_public(&t?)?;
            }
        }
    }
    sink.finish()
}

/// The CSV columns of an external tenant's export.
const PUBLIC_CSV_HEADER: [&str; 13] = [
    "run_id",
    "agent",
    "case_id",
    "epoch",
    "outcome",
    "score",
    "error_kind",
    "answer",
    "output",
    "latency_ms",
    "finished_at_ms",
    "cluster",
    "tags",
];

fn public_csv_record(t: &PublicTrial) -> [String; 13] {
    [
        t.run_id.clone(),
        t.agent.clone(),
        t.case_id.clone(),
        t.epoch.to_string(),
        t.outcome.to_owned(),
        t.score.map(|s| s.to_string()).unwrap_or_default(),
        t.error_kind.clone().unwrap_or_default(),
        t.answer.clone().unwrap_or_default(),
        t.output.clone().unwrap_or_default(),
        t.latency_ms.to_string(),
        t.finished_at_ms.to_string(),
        t.cluster.clone().unwrap_or_default(),
        t.tags.join(";"),
    ]
}

/// A writer of trials in one format.
enum Sink<W: Write> {
    Jsonl(W),
    Csv(Box<csv::Writer<W>>),
}

impl<W: Write> Sink<W> {
    fn write(&mut self, trial: &Trial) -> Result<()> {
        match self {
            Self::Jsonl(out) => {
                serde_json::to_writer(&mut *out, trial)?;
                out.write_all(b"\n")?;
            }
            Self::Csv(csv) => csv.write_record(csv_record(trial))?,
        }
        Ok(())
    }

    fn write_public(&mut self, trial: &PublicTrial) -> Result<()> {
        match self {
            Self::Jsonl(out) => {
                serde_json::to_writer(&mut *out, trial)?;
                out.write_all(b"\n")?;
            }
            Self::Csv(csv) => csv.write_record(public_csv_record(trial))?,
        }
        Ok(())
    }

    fn finish(self) -> Result<W> {
        match self {
            Self::Jsonl(out) => Ok(out),
            Self::Csv(csv) => csv.into_inner().map_err(|e| anyhow!(e.into_error())),
        }
    }
}

fn csv_record(t: &Trial) -> [String; 16] {
    let error_kind = match &t.outcome {
        Outcome::Scored { .. } => String::new(),
        Outcome::InfraFailure { error, .. } => error.as_str().to_owned(),
        Outcome::ScorerError { scorer, .. } => format!("scorer:{scorer}"),
    };
    [
        t.run_id.clone(),
        t.key.agent.clone(),
        t.key.case_id.clone(),
        t.key.epoch.to_string(),
        t.outcome.kind_name().to_owned(),
        t.outcome
            .headline()
            .map(|s| s.to_string())
            .unwrap_or_default(),
        error_kind,
        t.output.clone().unwrap_or_default(),
        t.usage.input_tokens.to_string(),
        t.usage.output_tokens.to_string(),
        t.latency_ms.to_string(),
        t.cost_usd.to_string(),
        t.attempts.to_string(),
        t.cache_hit.to_string(),
        t.cluster.clone().unwrap_or_default(),
        t.tags.join(";"),
    ]
}

/// A file written under a temporary name beside its destination and renamed over it
/// once complete, so the destination is never half-written. Dropped uncommitted, the
/// temporary file is removed.
pub(super) struct PendingFile {
    temp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl PendingFile {
    /// Creates the temporary file beside `dest`.
    pub(super) fn create(dest: &Path) -> Result<(Self, File)> {
        let name = dest
            .file_name()
            .ok_or_else(|| anyhow!("--out {}: expected a file name", dest.display()))?;
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = dir.join(temp_name);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .with_context(|| format!("cannot create {}", temp.display()))
            .with_context(|| format!("cannot write --out {}", dest.display()))?;
        let pending = Self {
            temp,
            dest: dest.to_owned(),
            committed: false,
        };
        Ok((pending, file))
    }

    /// Flushes `file` to disk and renames it over the destination.
    pub(super) fn commit(mut self, file: File) -> Result<()> {
        file.sync_all()
            .with_context(|| format!("cannot write {}", self.temp.display()))?;
        drop(file);
        std::fs::rename(&self.temp, &self.dest)
            .with_context(|| format!("cannot write {}", self.dest.display()))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
