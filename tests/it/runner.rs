//! The runner: DAG order, cycle and unknown-table errors, fingerprint skip, a failing data test
//! that blocks publication while the old mart stays readable, two versions side by side.

use clearsight::observe::Silent;
use clearsight::run::publish::Published;
use clearsight::run::{dag, model, NodeStatus, RunOptions, RunReport};
use clearsight::workspace::{Overrides, Workspace};

use crate::support::{fixture_sources, rows, TestProject};

/// A project whose queries/ holds only `models` (name, sql), over the loaded fixtures.
async fn small_project(models: &[(&str, &str)]) -> TestProject {
    let project = TestProject::new(&fixture_sources("warehouse"));
    std::fs::remove_dir_all(project.path().join("queries")).unwrap();
    for (name, sql) in models {
        project.write(&format!("queries/{name}.sql"), sql);
    }
    let ctx = project.workspace();
    ctx.load(&Silent).await.unwrap();
    project
}

async fn run(project: &TestProject, options: RunOptions) -> clearsight::Result<RunReport> {
    let ctx = project.workspace();
    ctx.runner(ctx.session().await?, &Silent)
        .run(&options)
        .await
}

async fn full_refresh(project: &TestProject) -> RunReport {
    let options = RunOptions {
        full_refresh: true,
        ..Default::default()
    };
    run(project, options).await.unwrap()
}

fn status(report: &RunReport, name: &str) -> NodeStatus {
    report
        .nodes
        .iter()
        .find(|n| n.name == name)
        .unwrap_or_else(|| panic!("no node {name}"))
        .status
}

const SPEND_BY_DAY: &str = "-- version: 1\n-- tests:\n--   - not_null: [spend_date]\nSELECT spend_date, SUM(cost) AS cost FROM ad_spend GROUP BY spend_date\n";
const TOTAL: &str = "-- version: 1\n-- tests:\n--   - row_count: {min: 1, max: 1}\nWITH days AS (SELECT * FROM spend_by_day) SELECT SUM(cost) AS cost FROM days\n";

#[tokio::test]
async fn models_run_after_their_inputs_and_ctes_are_not_dependencies() {
    let project = small_project(&[("total", TOTAL), ("spend_by_day", SPEND_BY_DAY)]).await;
    let models = model::discover(&project.path().join("queries")).unwrap();
    let total = models.iter().find(|m| m.name == "total").unwrap();
    assert_eq!(
        total.reads.iter().collect::<Vec<_>>(),
        vec!["spend_by_day"],
        "the CTE `days` is not a dependency"
    );
    let report = run(&project, RunOptions::default()).await.unwrap();
    let order: Vec<&str> = report.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(order, vec!["spend_by_day", "total"]);
    assert!(report.published);
    let ctx = project.workspace();
    let session = ctx.query_session().await.unwrap();
    let got = rows(&session, "SELECT cost FROM total").await;
    assert!(
        (got[0][0].parse::<f64>().unwrap() - 1418.16).abs() < 1e-9,
        "{got:?}"
    );
}

#[tokio::test]
async fn a_cycle_is_an_error_naming_the_files() {
    let project = small_project(&[
        ("a", "-- version: 1\nSELECT * FROM b"),
        ("b", "-- version: 1\nSELECT * FROM a"),
    ])
    .await;
    let err = run(&project, RunOptions::default()).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("cycle") && text.contains("a.sql") && text.contains("b.sql"),
        "{text}"
    );
    assert_eq!(err.exit_code(), 2);
}

#[tokio::test]
async fn an_unknown_table_is_an_error_naming_the_file() {
    let project = small_project(&[("a", "-- version: 1\nSELECT * FROM no_such_table")]).await;
    let err = run(&project, RunOptions::default()).await.unwrap_err();
    assert!(
        err.to_string().contains("a.sql") && err.to_string().contains("no_such_table"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 2);
}

#[tokio::test]
async fn unchanged_models_are_skipped_and_a_changed_one_rebuilds_with_its_children() {
    let project = small_project(&[("spend_by_day", SPEND_BY_DAY), ("total", TOTAL)]).await;
    let first = run(&project, RunOptions::default()).await.unwrap();
    assert_eq!(status(&first, "spend_by_day"), NodeStatus::Built);
    let second = run(&project, RunOptions::default()).await.unwrap();
    assert_eq!(status(&second, "spend_by_day"), NodeStatus::Skipped);
    assert_eq!(status(&second, "total"), NodeStatus::Skipped);
    assert!(second.published);
    project.write(
        "queries/spend_by_day.sql",
        &SPEND_BY_DAY.replace("SUM(cost)", "SUM(cost) * 2"),
    );
    let third = run(&project, RunOptions::default()).await.unwrap();
    assert_eq!(status(&third, "spend_by_day"), NodeStatus::Built);
    assert_eq!(
        status(&third, "total"),
        NodeStatus::Built,
        "a child of a changed model rebuilds"
    );
    let forced = full_refresh(&project).await;
    assert_eq!(status(&forced, "spend_by_day"), NodeStatus::Built);
    let ctx = project.workspace();
    let session = ctx.query_session().await.unwrap();
    let got = rows(&session, "SELECT cost FROM total").await;
    assert!(
        (got[0][0].parse::<f64>().unwrap() - 2.0 * 1418.16).abs() < 1e-9,
        "{got:?}"
    );
}

#[tokio::test]
async fn a_failing_test_blocks_publication_and_the_old_mart_stays_readable() {
    let project = small_project(&[("spend_by_day", SPEND_BY_DAY)]).await;
    let good = run(&project, RunOptions::default()).await.unwrap();
    assert!(good.published);
    project.write(
        "queries/spend_by_day.sql",
        &SPEND_BY_DAY
            .replace(
                "SELECT spend_date,",
                "SELECT CAST(NULL AS DATE) AS spend_date,",
            )
            .replace("GROUP BY spend_date", ""),
    );
    let bad = run(&project, RunOptions::default()).await.unwrap();
    assert!(!bad.published);
    assert_eq!(status(&bad, "spend_by_day"), NodeStatus::Failed);
    let failed = &bad.nodes[0].tests[0];
    assert_eq!(
        (failed.name.as_str(), failed.failing_rows),
        ("not_null(spend_date)", 1)
    );
    let ctx = project.workspace();
    let published = Published::read(&ctx.warehouse).await.unwrap().unwrap();
    assert_eq!(
        published.run_id, good.run_id,
        "the pointer still names the good run"
    );
    let session = ctx.query_session().await.unwrap();
    assert_eq!(
        rows(
            &session,
            "SELECT COUNT(*) FROM spend_by_day WHERE spend_date IS NOT NULL"
        )
        .await[0][0],
        "2"
    );
    // BI tools read the local path through the `marts` symlink: still the good run's files.
    let marts = project.path().join("warehouse/marts/spend_by_day/v1");
    assert!(marts.join("_SUCCESS.json").exists());
    let success = std::fs::read_to_string(marts.join("_SUCCESS.json")).unwrap();
    assert!(success.contains(&good.run_id));
    // The failed run left no staged output behind.
    assert!(ctx
        .warehouse
        .list(&format!("_runs/{}/marts/", bad.run_id))
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn two_versions_live_side_by_side() {
    let project = small_project(&[("spend_by_day", SPEND_BY_DAY)]).await;
    run(&project, RunOptions::default()).await.unwrap();
    project.write(
        "queries/spend_by_day.sql",
        &SPEND_BY_DAY
            .replace("version: 1", "version: 2")
            .replace("SUM(cost)", "SUM(cost) + 1"),
    );
    let report = run(&project, RunOptions::default()).await.unwrap();
    assert!(report.published);
    let marts = project.path().join("warehouse/marts/spend_by_day");
    assert!(
        marts.join("v1/_SUCCESS.json").exists(),
        "v1 stays for dashboards that have not moved"
    );
    assert!(marts.join("v2/_SUCCESS.json").exists());
}

#[test]
fn selection_follows_dbt_syntax() {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in [
        ("a", "-- version: 1\nSELECT 1 AS x FROM ad_spend"),
        ("b", "-- version: 1\nSELECT * FROM a"),
        ("c", "-- version: 1\nSELECT * FROM b"),
    ] {
        std::fs::write(dir.path().join(format!("{name}.sql")), sql).unwrap();
    }
    let models = model::discover(dir.path()).unwrap();
    let names = |sel: &[&str]| -> Vec<String> {
        let s: Vec<String> = sel.iter().map(|s| s.to_string()).collect();
        dag::select(&models, &s)
            .unwrap()
            .into_iter()
            .map(|i| models[i].name.clone())
            .collect()
    };
    assert_eq!(names(&["b"]), vec!["b"]);
    assert_eq!(names(&["+b"]), vec!["a", "b"]);
    assert_eq!(names(&["b+"]), vec!["b", "c"]);
    assert_eq!(names(&["+c"]), vec!["a", "b", "c"]);
    assert!(dag::select(&models, &["nope".to_string()]).is_err());
}

pub(crate) fn ga_line(user: &str, at_micros: i64) -> String {
    format!(
        r#"{{"event_timestamp":"{at_micros}","event_name":"page_view","event_params":[{{"key":"ga_session_id","value":{{"int_value":"{}"}}}}],"user_pseudo_id":"{user}"}}"#,
        at_micros / 1_000_000
    ) + "\n"
}

pub(crate) const JAN5: i64 = 1_704_412_800_000_000; // 2024-01-05T00:00:00Z
pub(crate) const DAY: i64 = 86_400_000_000;

/// A project loading GA4 files from `data/`, with no model yet.
pub(crate) fn ga4_project_without_models() -> TestProject {
    let project = TestProject::new(
        "warehouse: warehouse\nsources:\n  - {kind: ga4_json, path: data/events_*.json}\n",
    );
    std::fs::remove_dir_all(project.path().join("queries")).unwrap();
    project
}

#[tokio::test]
async fn incremental_model_rebuilds_only_the_days_of_new_files() {
    let project = ga4_project_without_models();
    let file = crate::support::repo().join("queries/staging/web_traffic_daily.sql");
    let daily = std::fs::read_to_string(&file).unwrap();
    project.write("queries/web_traffic_daily.sql", &daily);
    let version = model::Model::parse(&file, daily, false)
        .unwrap()
        .header
        .version;
    let key = format!("web_traffic_daily/v{version}");
    project.write(
        "data/events_20240105.json",
        &(ga_line("a", JAN5 + 1) + &ga_line("b", JAN5 + 2)),
    );
    project.write("data/events_20240106.json", &ga_line("a", JAN5 + DAY + 5));
    let ctx = project.workspace();
    let load = || async { ctx.load(&Silent).await.unwrap() };
    load().await;
    let first = run(&project, RunOptions::default()).await.unwrap();
    assert!(first.published);
    let published = Published::read(&ctx.warehouse).await.unwrap().unwrap();
    assert_eq!(
        published.models[&key].partitions_rebuilt, None,
        "the first build builds every day"
    );

    // The next night's export holds one late event of Jan 6 and the events of Jan 7.
    project.write(
        "data/events_20240107.json",
        &(ga_line("c", JAN5 + DAY + 9) + &ga_line("c", JAN5 + 2 * DAY + 1)),
    );
    load().await;
    let second = run(&project, RunOptions::default()).await.unwrap();
    assert!(second.published);
    let published = Published::read(&ctx.warehouse).await.unwrap().unwrap();
    let success = &published.models[&key];
    assert_eq!(
        success.partitions_rebuilt,
        Some(vec!["2024-01-06".to_string(), "2024-01-07".to_string()])
    );
    assert_eq!(success.rows, 3);
    let session = ctx.query_session().await.unwrap();
    let got = rows(
        &session,
        "SELECT CAST(day AS VARCHAR) AS d, events, users FROM web_traffic_daily ORDER BY d",
    )
    .await;
    let want: Vec<Vec<String>> = [
        ["2024-01-05", "2", "2"],
        ["2024-01-06", "2", "2"],
        ["2024-01-07", "1", "1"],
    ]
    .iter()
    .map(|r| r.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(
        got, want,
        "Jan 5 carried over, Jan 6 rebuilt from both files, Jan 7 new"
    );

    let forced = full_refresh(&project).await;
    assert!(forced.published);
    let published = Published::read(&ctx.warehouse).await.unwrap().unwrap();
    assert_eq!(published.models[&key].partitions_rebuilt, None);
    assert_eq!(published.models[&key].rows, 3);
}

/// After an incremental build, the row tests run over the rebuilt days only; a bad row there
/// still fails the run.
#[tokio::test]
async fn a_nightly_tests_the_rebuilt_days_and_still_catches_a_bad_row() {
    let project = ga4_project_without_models();
    project.write(
        "queries/daily_users.sql",
        "-- version: 1\n-- materialized: incremental\n-- partition_by: day\n-- tests:\n\
         --   - accepted_values: {column: user_pseudo_id, values: [a, b]}\n\
         SELECT DISTINCT CAST(event_at AS DATE) AS day, user_pseudo_id FROM ga_events\n",
    );
    project.write(
        "data/events_20240105.json",
        &(ga_line("a", JAN5 + 1) + &ga_line("b", JAN5 + 2)),
    );
    let ctx = project.workspace();
    ctx.load(&Silent).await.unwrap();
    assert!(
        run(&project, RunOptions::default())
            .await
            .unwrap()
            .published
    );

    project.write("data/events_20240106.json", &ga_line("z", JAN5 + DAY + 5));
    ctx.load(&Silent).await.unwrap();
    let night = run(&project, RunOptions::default()).await.unwrap();
    assert!(!night.published);
    let node = night
        .nodes
        .iter()
        .find(|n| n.name == "daily_users")
        .unwrap();
    assert_eq!(node.status, NodeStatus::Failed);
    assert_eq!(
        node.message.as_deref(),
        Some("incremental: rebuilt 1 partition(s)")
    );
    assert_eq!(node.tests[0].failing_rows, 1, "user z, on the new day");
}

/// The Parquet codec of each column chunk of a published model's files (every row group), and
/// whether the chunk has a dictionary page.
fn chunks_of(project: &TestProject, model: &str) -> std::collections::BTreeSet<(String, bool)> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = project.path().join(format!("warehouse/marts/{model}/v1"));
    let mut chunks = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "parquet") {
            let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
            for group in reader.metadata().row_groups() {
                chunks.extend(group.columns().iter().map(|c| {
                    (
                        c.compression().to_string(),
                        c.dictionary_page_offset().is_some(),
                    )
                }));
            }
        }
    }
    chunks
}

/// Staging and intermediate models are the build's working files, read back by the models
/// after them: written uncompressed and plain (no dictionary). The marts, which BI tools read,
/// stay snappy with dictionaries.
#[tokio::test]
async fn working_models_are_written_uncompressed_and_plain_and_marts_snappy() {
    let project = small_project(&[
        ("staging/spend_by_day", SPEND_BY_DAY),
        ("marts/total", TOTAL),
    ])
    .await;
    assert!(full_refresh(&project).await.published);
    assert_eq!(
        chunks_of(&project, "spend_by_day"),
        [("UNCOMPRESSED".to_string(), false)].into()
    );
    assert_eq!(
        chunks_of(&project, "total"),
        [("SNAPPY".to_string(), true)].into()
    );
}

/// Under a memory limit the working files keep their dictionaries: plain pages make the
/// readers' string views hold whole pages, and the limited builds were measured so.
#[tokio::test]
async fn under_a_memory_limit_working_models_keep_their_dictionaries() {
    let project = small_project(&[("staging/spend_by_day", SPEND_BY_DAY)]).await;
    let overrides = Overrides {
        memory_limit: Some(256 << 20),
        spill_dir: Some(project.path().join("spill")),
        ..Default::default()
    };
    let ctx = Workspace::open(project.path(), &overrides).unwrap();
    let options = RunOptions {
        full_refresh: true,
        ..Default::default()
    };
    let session = ctx.session().await.unwrap();
    assert!(
        ctx.runner(session, &Silent)
            .run(&options)
            .await
            .unwrap()
            .published
    );
    assert_eq!(
        chunks_of(&project, "spend_by_day"),
        [("UNCOMPRESSED".to_string(), true)].into()
    );
}
