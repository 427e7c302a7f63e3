//! Progress lines on stderr for long work; silent with `--quiet`.

use std::io::Write;

use crate::load::FileLoad;

#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub quiet: bool,
}

impl Progress {
    pub fn line(&self, text: &str) {
        if !self.quiet {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{text}");
        }
    }

    pub fn file_loaded(&self, done: usize, total: usize, load: &FileLoad) {
        let what = format!(
            "{} rows -> {} ({} quarantined), {:.1} MB in {:.2}s",
            load.rows_read,
            load.table,
            load.rows_quarantined,
            load.bytes as f64 / 1e6,
            load.seconds
        );
        self.line(&format!("[{done}/{total}] {}: {what}", load.file));
    }
}

impl Progress {
    pub fn node(&self, step: usize, total: usize, node: &crate::run::NodeResult) {
        use crate::run::NodeStatus::*;
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
