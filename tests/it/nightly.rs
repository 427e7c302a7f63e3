//! Nightly builds: a new day of GA4 export (and a refreshed CRM snapshot) after a build rebuilds
//! only the new file's partition of the per-file models, and the published marts equal, row for
//! row, a full build of the same inputs in a fresh warehouse. A session that crosses midnight has
//! events in two day files and is still one session, sourced from its earliest tagged event.

use std::path::Path;

use clearsight::observe::Silent;
use clearsight::run::RunReport;

use crate::support::{assert_same_marts, published_marts, rows, run_all_published, TestProject};
use crate::world::{event, world};

/// 2024-03-08T23:50:00Z and, twenty minutes later, 2024-03-09T00:10:00Z.
const BEFORE_MIDNIGHT: i64 = 1_709_941_800_000_000;
const AFTER_MIDNIGHT: i64 = BEFORE_MIDNIGHT + 20 * 60 * 1_000_000;
const SESSION: i64 = 1_709_941_800;

async fn build(project: &TestProject) -> RunReport {
    let ctx = project.workspace();
    ctx.load(&Silent).await.unwrap();
    run_all_published(&ctx).await
}

fn message<'a>(report: &'a RunReport, model: &str) -> Option<&'a str> {
    let node = report.nodes.iter().find(|n| n.name == model).unwrap();
    node.message.as_deref()
}

/// The first night's file: the session's first event, direct (no campaign, no referrer).
fn night_one() -> String {
    event("9.9", SESSION, BEFORE_MIDNIGHT, "", None, None)
}

/// The next day's file: the same session after midnight, landing from a Google Ads click.
fn night_two() -> String {
    event(
        "9.9",
        SESSION,
        AFTER_MIDNIGHT,
        "?gclid=Night2&utm_campaign=Late+Offer",
        None,
        None,
    )
}

#[tokio::test]
async fn a_session_across_midnight_merges_and_the_nightly_equals_a_full_build() {
    let nightly = world();
    nightly.write("data/events_20240308.json", &night_one());
    let first = build(&nightly).await;
    assert_eq!(
        message(&first, "stg_ga_sessions"),
        None,
        "the first build is full"
    );
    nightly.write("data/events_20240309.json", &night_two());
    let second = build(&nightly).await;
    assert_eq!(
        message(&second, "stg_ga_sessions"),
        Some("incremental: rebuilt 1 partition(s)")
    );
    assert_eq!(
        message(&second, "stg_ga_identities"),
        Some("incremental: rebuilt 1 partition(s)")
    );
    // The session's day (March 8, from its id), rebuilt from both files.
    assert_eq!(
        message(&second, "int_sessions"),
        Some("incremental: rebuilt 1 partition(s)")
    );
    let ctx = nightly.workspace();
    let session = ctx.query_session().await.unwrap();
    // Started before midnight (night one's event); its gclid and campaign came after.
    let got = rows(
        &session,
        "SELECT CAST(session_start AS VARCHAR), gclid, source, medium, campaign, \
         (SELECT COUNT(*) FROM stg_ga_sessions WHERE user_pseudo_id = '9.9') \
         FROM int_sessions WHERE user_pseudo_id = '9.9'",
    )
    .await;
    assert_eq!(
        got,
        vec![vec![
            "2024-03-08T23:50:00Z",
            "Night2",
            "google",
            "cpc",
            "late offer",
            "2"
        ]]
    );

    let full = world();
    full.write("data/events_20240308.json", &night_one());
    full.write("data/events_20240309.json", &night_two());
    build(&full).await;
    assert_same_marts(
        &published_marts(&full).await,
        &published_marts(&nightly).await,
    );
}

/// Moves the files of `dir` whose name matches `pick` into `dir/../held/` (or back).
fn hold(dir: &Path, pick: impl Fn(&str) -> bool) -> Vec<String> {
    let held = dir.parent().unwrap().join("held");
    std::fs::create_dir_all(&held).unwrap();
    let mut moved = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if pick(&name) {
            std::fs::rename(dir.join(&name), held.join(&name)).unwrap();
            moved.push(name);
        }
    }
    moved
}

fn release(dir: &Path, names: &[String]) {
    let held = dir.parent().unwrap().join("held");
    for name in names {
        std::fs::rename(held.join(name), dir.join(name)).unwrap();
    }
}

#[tokio::test]
async fn nightly_on_generated_data_equals_a_full_build() {
    let nightly = TestProject::demo_generated(20_000);
    let ga4 = nightly.path().join("demo-data/ga4");
    let crm = nightly.path().join("demo-data/crm");
    let mut days: Vec<String> = std::fs::read_dir(&ga4)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    days.sort();
    let last = days.last().unwrap().clone();
    let held_day = hold(&ga4, |n| n == last);
    let held_crm = hold(&crm, |n| n.contains("2024b"));
    assert!(
        !held_crm.is_empty(),
        "the demo writes a second CRM snapshot"
    );
    build(&nightly).await;
    release(&ga4, &held_day);
    release(&crm, &held_crm);
    let second = build(&nightly).await;
    assert_eq!(
        message(&second, "stg_ga_sessions"),
        Some("incremental: rebuilt 1 partition(s)")
    );
    // The new day's sessions, and the day before's for those that crossed midnight: a few
    // days of the history, not all of it.
    let sessions = message(&second, "int_sessions").unwrap_or_default();
    let days: usize = sessions
        .trim_start_matches("incremental: rebuilt ")
        .trim_end_matches(" partition(s)")
        .parse()
        .unwrap_or_else(|_| panic!("int_sessions: {sessions:?}"));
    assert!((1..=2).contains(&days), "{sessions}");

    let full = TestProject::demo_generated(20_000);
    build(&full).await;
    assert_same_marts(
        &published_marts(&full).await,
        &published_marts(&nightly).await,
    );
}

/// Working out which days a nightly build rebuilds used to swap `ga_events` in the shared
/// catalog for just the new files and put it back afterwards. With models built side by side
/// (`--jobs`), a model planned meanwhile read only the new files: a nightly `web_traffic_daily`
/// differed from a full build's. The shared catalog must keep every file throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finding_the_new_days_leaves_the_shared_tables_whole() {
    let project = world();
    project.write("data/events_20240308.json", &night_one());
    project.write("data/events_20240309.json", &night_two());
    let ctx = project.workspace();
    ctx.load(&Silent).await.unwrap();
    let session = crate::support::loaded_session(&ctx).await;
    let count = "SELECT COUNT(*) FROM ga_events";
    let all = rows(&session, count).await;
    let files = ctx.warehouse.list("raw/ga_events/").await.unwrap();
    let added = std::collections::BTreeMap::from([("ga_events".to_string(), files[..1].to_vec())]);
    let file = crate::support::repo().join("queries/staging/web_traffic_daily.sql");
    let sql = std::fs::read_to_string(&file).unwrap();
    let model = clearsight::run::model::Model::parse(&file, sql, false).unwrap();
    let reader = {
        let session = session.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..200 {
                seen.push(rows(&session, count).await);
            }
            seen
        })
    };
    for _ in 0..20 {
        let days = clearsight::run::incremental::changed_partitions(
            &session,
            &ctx.warehouse,
            &model,
            "day",
            &added,
            &std::collections::BTreeMap::new(),
        )
        .await
        .unwrap();
        assert!(!days.is_empty(), "the new file has events");
    }
    for seen in reader.await.unwrap() {
        assert_eq!(seen, all, "the shared ga_events kept every file");
    }
}
