//! Record: appends every completion to a file in the `replay` provider's format.

use crate::replay::{RecordedCompletion, RecordingError};
use async_trait::async_trait;
use std::collections::HashSet;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use tamma_bench_core::provider::layer::{Call, Layer};
use tamma_bench_core::provider::{CallContext, Completion, ProviderError};

struct Recording {
    file: File,
    /// (case, epoch) already in the file: the first answer is kept, so the file stays a
    /// valid recording when a run is repeated.
    written: HashSet<(String, u32)>,
}

/// Appends each successful completion as one JSON line
/// (`{"case_id", "epoch", "output", "usage", "latency_ms"}`) that
/// [`ReplayProvider`](crate::replay::ReplayProvider) reads back, so a live run can be
/// replayed and re-scored offline.
///
/// Lines are written whole under a lock, each with one write and a flush, so concurrent
/// calls never interleave and a crash loses at most the line being written. A (case,
/// epoch) already in the file is not written again. The format has no agent: give each
/// agent its own file. Tool calls and costs are not part of the format. A failed write is
/// logged and does not fail the call.
pub struct RecordLayer {
    path: PathBuf,
    recording: Mutex<Recording>,
}

impl fmt::Debug for RecordLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordLayer")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl RecordLayer {
    /// Records into `path`, appending to it when it exists (it must then be a recording)
    /// and creating it and its folder when not.
    pub fn open(path: &Path) -> Result<Self, RecordingError> {
        let err = |line: Option<usize>, message: String| RecordingError {
            path: path.display().to_string(),
            line,
            field: None,
            message,
        };
        let mut written = HashSet::new();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                for (i, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    let rec: RecordedCompletion = serde_json::from_str(line).map_err(|e| {
                        err(
                            Some(i + 1),
                            format!("not a recording, will not append to it: {e}"),
                        )
                    })?;
                    if let Some(epoch) = rec.epoch {
                        written.insert((rec.case_id, epoch));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| err(None, format!("cannot create its folder: {e}")))?;
                }
            }
            Err(e) => return Err(err(None, format!("cannot read: {e}"))),
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| err(None, format!("cannot open for appending: {e}")))?;
        Ok(Self {
            path: path.to_owned(),
            recording: Mutex::new(Recording { file, written }),
        })
    }

    /// The recording file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn append(&self, cx: &CallContext, c: &Completion) -> std::io::Result<()> {
        let rec = RecordedCompletion {
            case_id: cx.case_id.clone(),
            epoch: Some(cx.epoch),
            output: c.text.clone(),
            usage: Some(c.usage),
            latency_ms: Some(c.latency_ms),
        };
        let mut line = serde_json::to_vec(&rec)?;
        line.push(b'\n');
        // A panic elsewhere cannot leave a half-written line behind the lock: the write
        // is one call.
        let mut r = self.recording.lock().unwrap_or_else(|p| p.into_inner());
        let key = (cx.case_id.clone(), cx.epoch);
        if !r.written.contains(&key) {
            r.file.write_all(&line)?;
            r.file.flush()?;
            r.written.insert(key);
        }
        Ok(())
    }
}

#[async_trait]
impl Layer for RecordLayer {
    async fn call(&self, call: Call<'_>) -> Result<Completion, ProviderError> {
        let completion = call.forward().await?;
        if let Err(e) = self.append(call.cx, &completion) {
            tracing::error!(path = %self.path.display(), error = %e, "record layer: cannot write the recording");
        }
        Ok(completion)
    }
}
