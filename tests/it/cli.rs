//! The real binary: documented exit codes and the `--json` summary.

use clearsight::run::publish::BuildLock;

use crate::support::{clearsight_ok, fixture_sources, TestProject};

fn clearsight(project: &TestProject, args: &[&str]) -> std::process::Output {
    crate::support::bin_in(project.path())
        .args(args)
        .output()
        .unwrap()
}

fn tiny_project() -> TestProject {
    let project = TestProject::new(&fixture_sources("warehouse"));
    std::fs::remove_dir_all(project.path().join("queries")).unwrap();
    project.write("queries/spend_total.sql", "-- version: 1\n-- tests:\n--   - not_null: [cost]\nSELECT SUM(cost) AS cost FROM ad_spend\n");
    project
}

#[test]
fn exit_0_and_json_summary_for_a_good_build() {
    let project = tiny_project();
    let out = clearsight(&project, &["--json", "load"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["files"].as_array().unwrap().len(), 9);
    let out = clearsight(&project, &["run"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results = std::fs::read_to_string(project.path().join("warehouse/run_results.json"));
    let results: serde_json::Value = serde_json::from_str(&results.unwrap()).unwrap();
    let node = &results["nodes"][0];
    assert_eq!(node["name"], "spend_total");
    assert_eq!(node["tests"][0]["name"], "not_null(cost)");
    // The step's time includes its tests' time.
    let (all, tests) = (node["seconds"].as_f64(), node["test_seconds"].as_f64());
    assert!(tests.unwrap() > 0.0 && tests <= all, "{node}");
}

#[test]
fn exit_1_when_a_data_test_fails() {
    let project = tiny_project();
    project.write(
        "queries/spend_total.sql",
        "-- version: 1\n-- tests:\n--   - not_null: [cost]\nSELECT CAST(NULL AS DOUBLE) AS cost\n",
    );
    let out = clearsight(&project, &["build"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT published"));
}

#[test]
fn exit_2_for_a_bad_flag_or_bad_config() {
    let project = tiny_project();
    assert_eq!(
        clearsight(&project, &["run", "--no-such-flag"])
            .status
            .code(),
        Some(2)
    );
    project.write("config/mart.yaml", "own_hosts: [a\n");
    let out = clearsight(&project, &["run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("mart.yaml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn exit_3_when_another_build_holds_the_lock() {
    let project = tiny_project();
    let ctx = project.workspace();
    let _held = BuildLock::acquire(&ctx.warehouse, project.path()).unwrap();
    let out = clearsight(&project, &["run"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lock"));
    // A second build is refused before it loads anything.
    let out = clearsight(&project, &["build"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        ctx.warehouse.list("_loads/").await.unwrap().is_empty(),
        "nothing was loaded"
    );
}

#[test]
fn exit_4_when_an_input_cannot_be_read() {
    let project = tiny_project();
    let yaml = fixture_sources("warehouse")
        + "  - {kind: generic_spend, path: /nonexistent/spend_*.csv}\n";
    project.write("config/sources.yaml", &yaml);
    let out = clearsight(&project, &["load"]);
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stdout).contains("/nonexistent/spend_*.csv"));
}

#[test]
fn exit_5_when_the_warehouse_cannot_be_written() {
    let project = tiny_project();
    let out = crate::support::bin()
        .args([
            "--project",
            project.path().to_str().unwrap(),
            "--quiet",
            "--warehouse",
            "/proc/clearsight-no-such-place",
            "load",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("/proc/clearsight-no-such-place"));
}

#[test]
fn init_creates_a_project_that_builds_the_demo() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("marketing-mart");
    let init = crate::support::bin()
        .arg("init")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        init.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("cron") && readme.contains("Airflow") && readme.contains("Exit codes"));
    // Every config file and model of this repository is in a new project.
    for sub in ["config", "queries"] {
        for entry in walk(&crate::support::repo().join(sub)) {
            let rel = entry.strip_prefix(crate::support::repo()).unwrap();
            assert!(dir.join(rel).exists(), "init is missing {}", rel.display());
        }
    }
    let stdout = clearsight_ok(&[
        "--project",
        dir.to_str().unwrap(),
        "--quiet",
        "demo",
        "--events",
        "3000",
    ]);
    assert!(
        stdout.contains("cpl") && stdout.contains("roi") && stdout.contains("Display"),
        "{stdout}"
    );
    let snippet = crate::support::bin()
        .args(["--project", dir.to_str().unwrap(), "query", "--duckdb"])
        .output()
        .unwrap();
    let snippet = String::from_utf8_lossy(&snippet.stdout);
    assert!(snippet.contains(&format!("read_parquet('{}/warehouse/marts/pipeline_metrics/v1/**/*.parquet', hive_partitioning = true)", dir.display())), "{snippet}");
    // A second init into the same folder is refused.
    let again = crate::support::bin()
        .arg("init")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn help_teaches_commands_environment_and_exit_codes() {
    let out = crate::support::bin().arg("--help").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "load",
        "run",
        "test",
        "build",
        "query",
        "report",
        "init",
        "demo",
        "CLEARSIGHT_MEMORY_LIMIT",
        "Exit codes:",
        "3  another build holds the warehouse lock",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    let run = crate::support::bin()
        .args(["run", "--help"])
        .output()
        .unwrap();
    let run = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.contains("+model")
            && run.contains("CLEARSIGHT_SELECT")
            && run.contains("CLEARSIGHT_FULL_REFRESH"),
        "{run}"
    );
}

#[test]
fn flags_are_read_from_the_environment() {
    let project = tiny_project();
    let out = crate::support::bin()
        .env("CLEARSIGHT_PROJECT", project.path())
        .env("CLEARSIGHT_JSON", "true")
        .env("CLEARSIGHT_QUIET", "true")
        .arg("load")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("JSON because CLEARSIGHT_JSON is set");
    assert_eq!(summary["files"].as_array().unwrap().len(), 9);
}

#[test]
fn test_command_and_query_formats_read_the_published_mart() {
    let project = TestProject::demo();
    let p = project.path().to_str().unwrap();
    clearsight_ok(&["--project", p, "--quiet", "demo", "--events", "3000"]);
    let tests = clearsight_ok(&["--project", p, "test"]);
    assert!(
        tests
            .contains("PASS pipeline_metrics: unique(month, channel, campaign, attribution_model)"),
        "{tests}"
    );
    assert!(
        tests.contains("PASS assert_mart_reconciles_leads"),
        "{tests}"
    );
    assert!(!tests.contains("FAIL"), "{tests}");
    let sql = "SELECT attribution_model, COUNT(*) AS n FROM pipeline_metrics GROUP BY 1 ORDER BY 1";
    let csv = clearsight_ok(&["--project", p, "query", "--format", "csv", sql]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "attribution_model,n");
    assert_eq!(lines.len(), 8, "{csv}");
    assert!(lines[1].starts_with("data_driven,"));
    let json: serde_json::Value = serde_json::from_str(&clearsight_ok(&[
        "--project",
        p,
        "query",
        "--format",
        "json",
        sql,
    ]))
    .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 7);
    assert_eq!(json[0]["attribution_model"], "data_driven");
    let table = clearsight_ok(&["--project", p, "query", sql]);
    assert!(table.contains("| attribution_model | n "), "{table}");
    // A bad query is a usage error naming the problem.
    let out = clearsight(&project, &["query", "SELECT * FROM no_such_mart"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no_such_mart"));
}

#[test]
fn demo_in_a_folder_without_config_creates_and_builds_a_demo_project() {
    let empty = tempfile::tempdir().unwrap();
    let out = crate::support::bin()
        .args(["--quiet", "demo", "--events", "3000"])
        .current_dir(empty.path())
        .output()
        .unwrap();
    let stdout = crate::support::assert_ok(&out, "demo in an empty folder");
    let project = empty.path().join("clearsight-demo");
    assert!(project.join("config/sources.yaml").exists());
    assert!(
        project.join("warehouse/_published.json").exists(),
        "a published mart"
    );
    assert!(project.join("report.html").exists());
    assert!(
        stdout.contains("clearsight-demo") && stdout.contains("report.html"),
        "{stdout}"
    );
    // A non-empty folder without config/ is refused, never overwritten.
    let taken = tempfile::tempdir().unwrap();
    std::fs::write(taken.path().join("note.txt"), "mine").unwrap();
    let refused = crate::support::bin()
        .args([
            "--quiet",
            "--project",
            taken.path().to_str().unwrap(),
            "demo",
            "--events",
            "3000",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(taken.path().join("note.txt")).unwrap(),
        "mine"
    );
}

#[test]
fn an_empty_query_result_prints_its_header_and_zero_rows() {
    let project = tiny_project();
    clearsight(&project, &["build"]);
    let out = clearsight(
        &project,
        &["query", "SELECT cost FROM spend_total WHERE cost < 0"],
    );
    let stdout = crate::support::assert_ok(&out, "empty query");
    assert!(
        stdout.contains("| cost |") && stdout.trim_end().ends_with("(0 rows)"),
        "{stdout}"
    );
}

/// `--jobs`: models build side by side, yet each after the models it reads (a chain of three
/// beside an independent one, under four jobs), and a count of 0 is a usage error.
#[test]
fn jobs_build_each_model_after_what_it_reads() {
    let project = tiny_project();
    project.write(
        "queries/spend_doubled.sql",
        "-- version: 1\nSELECT cost * 2 AS cost FROM spend_total\n",
    );
    project.write(
        "queries/spend_quadrupled.sql",
        "-- version: 1\nSELECT cost * 2 AS cost FROM spend_doubled\n",
    );
    project.write(
        "queries/spend_rows.sql",
        "-- version: 1\nSELECT COUNT(*) AS n FROM ad_spend\n",
    );
    let zero = clearsight(&project, &["build", "--jobs", "0"]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(!project.path().join("warehouse/_published.json").exists());
    let out = clearsight(&project, &["--json", "build", "--jobs", "4"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ratio = clearsight(
        &project,
        &[
            "query",
            "--format",
            "csv",
            "SELECT (SELECT cost FROM spend_quadrupled) / (SELECT cost FROM spend_total) AS r, \
             (SELECT n FROM spend_rows) > 0 AS counted",
        ],
    );
    let text = String::from_utf8_lossy(&ratio.stdout);
    assert_eq!(text.lines().nth(1), Some("4.0,true"), "{text}");
}

#[test]
fn datafusion_settings_come_from_the_environment_and_a_bad_one_is_a_usage_error() {
    let project = tiny_project();
    let show = |value: &str| {
        crate::support::bin_in(project.path())
            .env("DATAFUSION_EXECUTION_BATCH_SIZE", value)
            .args([
                "query",
                "--format",
                "csv",
                "SHOW datafusion.execution.batch_size",
            ])
            .output()
            .unwrap()
    };
    let shown = crate::support::assert_ok(&show("1234"), "SHOW with the variable set");
    assert!(shown.contains("1234"), "{shown}");
    let out = show("many");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("DATAFUSION_") && stderr.contains("many"),
        "{stderr}"
    );
}

/// A compression variable naming no codec is a usage error naming the variable, before anything
/// is built or loaded (it failed at the first model's write, and `load` used snappy instead).
#[test]
fn a_bad_compression_variable_is_a_usage_error() {
    let project = tiny_project();
    for variable in [
        "CLEARSIGHT_PARQUET_COMPRESSION",
        "CLEARSIGHT_WORKING_COMPRESSION",
    ] {
        for args in [&["query", "SELECT 1"][..], &["load"]] {
            let out = crate::support::bin_in(project.path())
                .env(variable, "brotlish")
                .args(args)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{variable} {args:?}: {stderr}");
            assert!(
                stderr.contains(variable) && stderr.contains("brotlish"),
                "{stderr}"
            );
        }
    }
}

/// `CLEARSIGHT_SCANS_BY_FILE` is `on` or `off`: anything else is a usage error naming it.
#[test]
fn a_bad_scans_by_file_variable_is_a_usage_error() {
    let project = tiny_project();
    let run = |value: &str| {
        crate::support::bin_in(project.path())
            .env("CLEARSIGHT_SCANS_BY_FILE", value)
            .args(["query", "SELECT 1"])
            .output()
            .unwrap()
    };
    let out = run("of");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("CLEARSIGHT_SCANS_BY_FILE") && stderr.contains("\"of\""),
        "{stderr}"
    );
    for value in ["on", "off"] {
        assert_eq!(run(value).status.code(), Some(0), "{value}");
    }
}
