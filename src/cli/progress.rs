//! The CLI's [`Observer`]: progress of long work on stderr; silent with `--quiet`. On a
//! terminal, `load` and `run` draw a bar (indicatif) with throughput and an ETA; elsewhere (CI
//! logs, files) one plain line per file or node; with `--progress json` one JSON object per
//! event, for a scheduler to parse.

use std::io::{IsTerminal, Write};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

use crate::load::FileLoad;
use crate::observe::{Event, Observer};
use crate::run::{NodeResult, NodeStatus};

/// How progress is written (`--progress`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressFormat {
    /// Bars on a terminal, plain lines elsewhere.
    #[default]
    Auto,
    /// One plain line per file or model, even on a terminal.
    Plain,
    /// One JSON object per event (`{"event": "node_finished", ...}`).
    Json,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub quiet: bool,
    pub format: ProgressFormat,
}

impl Observer for Progress {
    fn event(&self, event: &Event) {
        if self.quiet {
            return;
        }
        if self.format == ProgressFormat::Json {
            let line = serde_json::to_string(event).expect("events serialise");
            let _ = writeln!(std::io::stderr().lock(), "{line}");
            return;
        }
        match *event {
            Event::FileLoaded { done, total, load } => self.file_loaded(done, total, load),
            Event::FileUnreadable {
                done,
                total,
                file,
                message,
            } => self.line(&format!(
                "[{done}/{total}] {file}: cannot be read: {message}"
            )),
            Event::FileFailed {
                done,
                total,
                file,
                message,
            } => self.line(&format!("[{done}/{total}] {file}: {message}")),
            Event::FilesSkipped { skipped, total } => self.line(&format!(
                "{skipped} of {total} files already loaded (same content), skipped"
            )),
            Event::NodeFinished { step, total, node } => self.node(step, total, node),
        }
    }
}

/// The bar being drawn, with when it started and the bytes counted so far.
struct Bar {
    bar: ProgressBar,
    started: Instant,
    bytes: u64,
}

fn bar_slot() -> &'static Mutex<Option<Bar>> {
    static SLOT: OnceLock<Mutex<Option<Bar>>> = OnceLock::new();
    SLOT.get_or_init(|| Mutex::new(None))
}

impl Progress {
    fn draws_bars(&self) -> bool {
        !self.quiet && self.format == ProgressFormat::Auto && std::io::stderr().is_terminal()
    }

    /// A line of text on stderr (above the bar, when one is drawn); nothing with `--quiet` or
    /// `--progress json`.
    pub fn line(&self, text: &str) {
        if self.quiet || self.format == ProgressFormat::Json {
            return;
        }
        if let Some(b) = bar_slot().lock().expect("progress bar").as_ref() {
            b.bar.println(text);
            return;
        }
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }

    /// Moves the bar of `what` to `done` of `total` (a new bar when none is drawn), adding
    /// `bytes` to its throughput; the bar is cleared when `done == total`.
    fn advance(&self, what: &str, done: usize, total: usize, bytes: u64, message: &str) {
        let mut slot = bar_slot().lock().expect("progress bar");
        let b = slot.get_or_insert_with(|| {
            let bar = ProgressBar::new(total as u64);
            let style =
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} (ETA {eta})")
                    .expect("a valid template")
                    .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(what.to_string());
            Bar {
                bar,
                started: Instant::now(),
                bytes: 0,
            }
        });
        b.bytes += bytes;
        let seconds = b.started.elapsed().as_secs_f64().max(1e-3);
        let rate = if b.bytes > 0 {
            format!("{:.1} MB/s ", b.bytes as f64 / 1e6 / seconds)
        } else {
            String::new()
        };
        b.bar.set_position(done as u64);
        b.bar.set_message(format!("{rate}{message}"));
        if done >= total {
            b.bar.finish_and_clear();
            *slot = None;
        }
    }

    fn file_loaded(&self, done: usize, total: usize, load: &FileLoad) {
        let what = format!(
            "{} rows -> {} ({} quarantined), {:.1} MB in {:.2}s",
            load.rows_read,
            load.table,
            load.rows_quarantined,
            load.bytes as f64 / 1e6,
            load.seconds
        );
        if self.draws_bars() {
            self.advance("load", done, total, load.bytes, &load.file);
        } else {
            self.line(&format!("[{done}/{total}] {}: {what}", load.file));
        }
    }
}

impl Progress {
    fn node(&self, step: usize, total: usize, node: &NodeResult) {
        use NodeStatus::*;
        let status = match node.status {
            Built => "OK",
            Skipped => "SKIP (unchanged)",
            View => "VIEW",
            NotSelected => "USE (published)",
            Passed => "PASS",
            Failed => "FAIL",
            Error => "ERROR",
        };
        let rows = node.rows.map(|r| format!(" {r} rows")).unwrap_or_default();
        if self.draws_bars() && !matches!(node.status, Failed | Error) {
            self.advance("run", step, total, 0, &format!("{}{rows}", node.name));
            return;
        }
        self.line(&format!(
            "[{step}/{total}] {status:<16} {}{rows} in {:.2}s",
            node.name, node.seconds
        ));
        for t in node.tests.iter().filter(|t| !t.passed) {
            let why = t
                .message
                .clone()
                .unwrap_or_else(|| format!("{} failing rows", t.failing_rows));
            self.line(&format!("      test {}: {why}", t.name));
        }
        if let Some(m) = &node.message {
            if matches!(node.status, Error) {
                self.line(&format!("      {m}"));
            }
        }
    }
}
