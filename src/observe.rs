//! What long work tells whoever watches it. The loader and the runner report [`Event`]s to an
//! [`Observer`]; they print nothing themselves. The CLI's observer draws lines or bars on stderr
//! or writes one JSON object per event (`--progress json`); a test or an embedding program
//! passes [`Silent`] or its own.

use serde::Serialize;

use crate::load::FileLoad;
use crate::run::NodeResult;

/// One step of a load or a run.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event<'a> {
    /// File `done` of `total` was read and its tables written.
    FileLoaded {
        done: usize,
        total: usize,
        load: &'a FileLoad,
    },
    /// File `done` of `total` could not be read at all; the load goes on without it.
    FileUnreadable {
        done: usize,
        total: usize,
        file: &'a str,
        message: &'a str,
    },
    /// File `done` of `total` failed in a way that stops the load (the error follows).
    FileFailed {
        done: usize,
        total: usize,
        file: &'a str,
        message: &'a str,
    },
    /// `skipped` of `total` files had been loaded before with the same content.
    FilesSkipped { skipped: usize, total: usize },
    /// Step `step` of `total` of a run finished (built, reused, tested, or failed).
    NodeFinished {
        step: usize,
        total: usize,
        node: &'a NodeResult,
    },
}

/// Receives the events of a load or a run, in order, from the task doing the work.
pub trait Observer: Send + Sync {
    fn event(&self, event: &Event);
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Observer for Silent {
    fn event(&self, _: &Event) {}
}
