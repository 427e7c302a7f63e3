//! What a run reports: one result per node, written to `run_results.json` as nodes finish.

use serde::Serialize;

use super::audit::TestOutcome;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    Built,
    /// Unchanged fingerprint: the published output is carried into this run.
    Skipped,
    View,
    /// Not selected: its published output is read.
    NotSelected,
    Passed,
    Failed,
    Error,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeResult {
    pub name: String,
    pub file: String,
    pub status: NodeStatus,
    pub rows: Option<u64>,
    /// Wall time of the whole step: query, write and tests.
    pub seconds: f64,
    /// Of `seconds`, the time its data tests took (none when the step ran none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_seconds: Option<f64>,
    pub fingerprint: Option<String>,
    pub tests: Vec<TestOutcome>,
    pub message: Option<String>,
}

/// `run_results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub run_id: String,
    pub started_at: String,
    pub finished: bool,
    pub published: bool,
    pub nodes: Vec<NodeResult>,
    pub seconds: f64,
}

impl RunReport {
    pub fn failures(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n.status, NodeStatus::Failed | NodeStatus::Error))
            .count()
    }
}
