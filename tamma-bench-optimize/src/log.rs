//! The study log: an append-only JSON-lines file. The first line names the study (seed,
//! strategy, configurations, cases); then one line per evaluated batch with its
//! measurements; then the decision. Resuming replays the measurements into the same
//! asks, so the same seed makes the same decisions and nothing is evaluated twice.

use crate::error::OptimizeError;
use crate::observations::Measurement;
use crate::strategy::{Decision, Guarantee, StrategyKind};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogEntry {
    /// What the study is: resuming requires the same.
    Header {
        /// Study id.
        study: String,
        /// Strategy.
        strategy: StrategyKind,
        /// ε and δ.
        guarantee: Guarantee,
        /// Seed.
        seed: u64,
        /// Configuration names, in index order.
        arms: Vec<String>,
        /// Cases in the benchmark.
        n_cases: usize,
    },
    /// One evaluated batch.
    Batch {
        /// Round number, from 0.
        round: usize,
        /// What was measured.
        measurements: Vec<Measurement>,
    },
    /// The end of the study.
    Decided {
        /// The decision.
        decision: Decision,
    },
}

/// An open log.
#[derive(Debug)]
pub struct StudyLog {
    path: PathBuf,
    file: std::fs::File,
}

impl StudyLog {
    /// Opens (or creates) the log at `path`; returns it with the entries already there.
    pub fn open(path: impl AsRef<Path>) -> Result<(Self, Vec<LogEntry>), OptimizeError> {
        let path = path.as_ref().to_owned();
        let err = |message: String| OptimizeError::Log {
            path: path.clone(),
            message,
        };
        let mut entries = Vec::new();
        let mut valid_len = 0u64;
        if path.exists() {
            let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
            let mut offset = 0usize;
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            for (i, line) in lines.iter().enumerate() {
                offset += line.len();
                let complete = line.ends_with('\n');
                match serde_json::from_str::<LogEntry>(line.trim()) {
                    Ok(e) if complete || i + 1 < lines.len() => {
                        entries.push(e);
                        valid_len = offset as u64;
                    }
                    _ if line.trim().is_empty() => valid_len = offset as u64,
                    // A torn last line (crash mid-write) is dropped; anything else is corrupt.
                    _ if i + 1 == lines.len() => break,
                    Err(e) => return Err(err(format!("line {}: {e}", i + 1))),
                    Ok(_) => break,
                }
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| err(e.to_string()))?;
        // Cut a torn tail so the next entry starts on its own line.
        file.set_len(valid_len).map_err(|e| err(e.to_string()))?;
        Ok((Self { path, file }, entries))
    }

    /// Appends one entry and flushes it to disk.
    pub fn append(&mut self, entry: &LogEntry) -> Result<(), OptimizeError> {
        let err = |e: std::io::Error| OptimizeError::Log {
            path: self.path.clone(),
            message: e.to_string(),
        };
        let mut line = serde_json::to_string(entry).map_err(|e| OptimizeError::Log {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        line.push('\n');
        self.file.write_all(line.as_bytes()).map_err(err)?;
        self.file.sync_data().map_err(err)
    }
}
