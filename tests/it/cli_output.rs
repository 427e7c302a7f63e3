//! What the binary writes: layer errors, JSON progress events, query results streamed batch by
//! batch, and a reader closing the pipe.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::support::{bin, bin_in, fixture_sources, TestProject};

/// Regression: `stg_spend` (staging) read `int_touches` (intermediate) for its campaign
/// matching; a staging model reading a model is refused before anything is built.
#[test]
fn exit_2_when_a_staging_model_reads_an_intermediate_model() {
    let project = TestProject::demo();
    project.write(
        "queries/staging/stg_spend_check.sql",
        "-- version: 1\nSELECT channel, campaign FROM int_touches\n",
    );
    let out = bin_in(project.path()).arg("run").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("stg_spend_check") && stderr.contains("the intermediate model int_touches"),
        "names both models: {stderr}"
    );
    assert!(!project.path().join("warehouse/_published.json").exists());
}

#[test]
fn exit_2_when_a_mart_reads_a_loaded_table() {
    let project = TestProject::demo();
    project.write(
        "queries/marts/raw_spend.sql",
        "-- version: 1\nSELECT SUM(cost) AS cost FROM ad_spend\n",
    );
    let out = bin_in(project.path()).arg("check").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("raw_spend") && stderr.contains("the loaded table ad_spend"),
        "{stderr}"
    );
}

#[test]
fn progress_json_is_one_object_per_file_and_model() {
    let project = TestProject::new(&fixture_sources("warehouse"));
    std::fs::remove_dir_all(project.path().join("queries")).unwrap();
    project.write(
        "queries/spend_total.sql",
        "-- version: 1\nSELECT SUM(cost) AS cost FROM ad_spend\n",
    );
    let out = bin()
        .arg("--project")
        .arg(project.path())
        .args(["--progress", "json", "build"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect();
    let of = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    // The nine fixture files, then the one model.
    assert_eq!(of("file_loaded"), 9, "{stderr}");
    assert_eq!(of("node_finished"), 1, "{stderr}");
    let node = events
        .iter()
        .find(|e| e["event"] == "node_finished")
        .unwrap();
    assert_eq!(node["node"]["name"], "spend_total");
    assert_eq!(node["node"]["status"], "built");
    assert_eq!(
        (node["step"].as_u64(), node["total"].as_u64()),
        (Some(1), Some(1))
    );
}

#[test]
fn a_reader_closing_the_pipe_ends_query_output_quietly() {
    let project = TestProject::demo();
    // Far more than a pipe buffer (64 KiB) of output.
    let mut child = bin_in(project.path())
        .args([
            "query",
            "--format",
            "csv",
            "SELECT value FROM generate_series(1, 300000)",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert_eq!(first.trim(), "value");
    // The reader is gone (as `| head -1` exits): the rest of the output has nowhere to go.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
        "{stderr}"
    );
}

#[test]
fn query_streams_every_row_of_a_result_of_many_batches_once() {
    let project = TestProject::demo();
    // 300,000 rows: 37 of DataFusion's 8,192-row batches, each written as it comes.
    let sql = "SELECT value FROM generate_series(1, 300000)";
    let output = |format: &str| {
        let out = bin_in(project.path())
            .args(["query", "--format", format, sql])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = output("csv");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("value"), "one header, first");
    let values: Vec<u64> = lines.map(|l| l.parse().unwrap()).collect();
    assert_eq!(values.len(), 300_000);
    assert_eq!(values.iter().sum::<u64>(), 300_000 * 300_001 / 2);
    let json: serde_json::Value = serde_json::from_str(&output("json")).unwrap();
    let values = json.as_array().unwrap();
    assert_eq!(values.len(), 300_000);
    let sum: u64 = values.iter().map(|v| v["value"].as_u64().unwrap()).sum();
    assert_eq!(sum, 300_000 * 300_001 / 2);
}
