//! A reload trusts a file listed with the size and modification time it had when it was
//! loaded (`src/load/seen.rs`): it is skipped without being read.

use std::time::{Duration, SystemTime};

use clearsight::observe::Silent;
use clearsight::run::RunOptions;
use clearsight::workspace::{Overrides, Workspace};

use crate::runner::{ga4_project_without_models, ga_line, DAY, JAN5};
use crate::support::{rows, TestProject};

const SOURCES: &str = "warehouse: warehouse\nreporting_currency: USD\nsources:\n  - {kind: generic_spend, path: spend/costs.csv}\n";
const HEADER: &str = "date,platform,campaign,cost,impressions,clicks\n";

/// Writes the spend file with `cost` and sets its modification time to `modified`.
fn write_costs(project: &TestProject, cost: &str, modified: SystemTime) {
    project.write(
        "spend/costs.csv",
        &format!("{HEADER}2024-01-05,dv360,Display Prospecting,{cost},40000,30\n"),
    );
    let file = std::fs::File::options()
        .write(true)
        .open(project.path().join("spend/costs.csv"))
        .unwrap();
    file.set_modified(modified).unwrap();
}

async fn spend(ctx: &Workspace) -> Vec<Vec<String>> {
    let session = crate::support::loaded_session(ctx).await;
    rows(&session, "SELECT cost FROM ad_spend ORDER BY cost").await
}

#[tokio::test]
async fn a_file_listed_as_it_was_loaded_is_skipped_unread_and_rehash_reads_it() {
    let project = TestProject::new(SOURCES);
    let day_ago = SystemTime::now() - Duration::from_secs(86_400);
    write_costs(&project, "20.5", day_ago);
    let ctx = project.workspace();
    let first = ctx.load(&Silent).await.unwrap();
    assert_eq!((first.files.len(), first.files[0].skipped), (1, false));

    // Other bytes, same size, same time: the listing cannot tell, so the file is not read.
    write_costs(&project, "30.5", day_ago);
    let again = ctx.load(&Silent).await.unwrap();
    assert!(again.files[0].skipped);
    assert_eq!(again.files[0].content_hash, first.files[0].content_hash);
    assert_eq!(
        again.files[0].rows_loaded, 1,
        "the counts of the first load"
    );
    assert_eq!(spend(&ctx).await, vec![vec!["20.5".to_string()]]);

    // --rehash reads and hashes it: new content, loaded.
    let overrides = Overrides {
        rehash: true,
        ..Default::default()
    };
    let rehashed = Workspace::open(project.path(), &overrides).unwrap();
    let third = rehashed.load(&Silent).await.unwrap();
    assert!(!third.files[0].skipped);
    assert_ne!(third.files[0].content_hash, first.files[0].content_hash);
    assert!(spend(&ctx).await.contains(&vec!["30.5".to_string()]));
}

#[tokio::test]
async fn a_file_modified_after_its_recording_is_hashed_again() {
    // A modification time at or after the recording (the same clock tick, or a clock ahead)
    // cannot vouch for the bytes: the file is read and hashed on every load.
    let project = TestProject::new(SOURCES);
    let ahead = SystemTime::now() + Duration::from_secs(3_600);
    write_costs(&project, "20.5", ahead);
    let ctx = project.workspace();
    let first = ctx.load(&Silent).await.unwrap();
    write_costs(&project, "30.5", ahead);
    let again = ctx.load(&Silent).await.unwrap();
    assert!(!again.files[0].skipped);
    assert_ne!(again.files[0].content_hash, first.files[0].content_hash);
}

#[tokio::test]
async fn a_touched_file_with_the_same_bytes_is_hashed_and_skipped() {
    let project = TestProject::new(SOURCES);
    write_costs(
        &project,
        "20.5",
        SystemTime::now() - Duration::from_secs(86_400),
    );
    let ctx = project.workspace();
    let first = ctx.load(&Silent).await.unwrap();
    write_costs(
        &project,
        "20.5",
        SystemTime::now() - Duration::from_secs(3_600),
    );
    let again = ctx.load(&Silent).await.unwrap();
    assert!(
        again.files[0].skipped,
        "same bytes: skipped by the manifest"
    );
    assert_eq!(again.files[0].content_hash, first.files[0].content_hash);
    assert_eq!(spend(&ctx).await, vec![vec!["20.5".to_string()]]);
}

#[tokio::test]
async fn a_ga4_export_copied_under_a_new_name_is_loaded_once() {
    // A file this warehouse has not seen is hashed; its content, already loaded under the first
    // name, is found in the manifest and nothing is written twice.
    let day = std::fs::read(crate::support::fixtures().join("ga4/events_20240105.json")).unwrap();
    let project = TestProject::new(
        "warehouse: warehouse\nreporting_currency: USD\nsources:\n  - {kind: ga4_json, path: ga4/*.json}\n",
    );
    std::fs::create_dir_all(project.path().join("ga4")).unwrap();
    std::fs::write(project.path().join("ga4/events_20240105.json"), &day).unwrap();
    let ctx = project.workspace();
    let first = ctx.load(&Silent).await.unwrap();
    assert!(!first.files[0].skipped);
    assert_eq!(
        first.files[0].content_hash,
        // The reference C library's xxh3-128 of the fixture (python-xxhash, xxh3_128_intdigest).
        "55bce00873e5a274da42933737ed81aa",
        "the content hash is the file's xxh3-128"
    );
    std::fs::write(project.path().join("ga4/events_copy.json"), &day).unwrap();
    let again = ctx.load(&Silent).await.unwrap();
    let copy = again
        .files
        .iter()
        .find(|f| f.file.ends_with("events_copy.json"))
        .unwrap();
    assert!(copy.skipped, "same content: skipped by the manifest");
    assert_eq!(copy.content_hash, first.files[0].content_hash);
    let session = crate::support::loaded_session(&ctx).await;
    let count = rows(&session, "SELECT COUNT(*) FROM ga_events").await;
    assert_eq!(count[0][0], first.files[0].rows_loaded.to_string());
}

/// Regression (session 19): `stg_leads` joined the latest version back by (file, line), but a
/// CRM export downloaded again under the same name puts other rows at the same lines: a second
/// demo over the first one's project had 283 leads twice and did not publish.
#[test]
fn crm_exports_reloaded_under_their_names_keep_one_version_per_lead() {
    let project = TestProject::demo();
    let p = project.path().to_str().unwrap();
    crate::support::demo_run(&project, "44");
    crate::support::demo_run(&project, "45");
    let query = |sql: &str| {
        crate::support::clearsight_ok(&["--project", p, "query", "--format", "csv", sql])
    };
    let reused = query(
        "SELECT COUNT(*) AS n FROM (SELECT source_file, source_line FROM crm_leads \
         GROUP BY 1, 2 HAVING COUNT(*) > 1)",
    );
    assert_ne!(
        reused.trim(),
        "n\n0",
        "the second extracts reuse the first ones' lines"
    );
    let leads = query("SELECT COUNT(*) = COUNT(DISTINCT lead_id) AS one_each FROM stg_leads");
    assert_eq!(leads.trim(), "one_each\ntrue");
}

/// A GA4 day exported again with a late event is a second loaded file of the same source file.
/// Scans of `ga_events` put each source file's files in one partition, by the hash of its name,
/// and declare it (`src/run/file_groups.rs`), so the sessions are grouped once per partition,
/// with no final merge: both versions of the day must land in the same partition, or a session
/// would have two rows (and `stg_ga_sessions`' unique test would fail the run).
#[tokio::test]
async fn a_ga4_day_exported_again_keeps_one_row_per_session_in_its_file() {
    let project = ga4_project_without_models();
    let sessions = crate::support::repo().join("queries/staging/stg_ga_sessions.sql");
    project.write(
        "queries/stg_ga_sessions.sql",
        &std::fs::read_to_string(sessions).unwrap(),
    );
    // Eight days; a's session starts 2 s into Jan 7 (GA4 session ids are the start in seconds),
    // one user a day from Jan 8.
    let jan7 = JAN5 + 2 * DAY;
    project.write("data/events_20240105.json", &ga_line("b", JAN5 + 7_000_000));
    project.write("data/events_20240106.json", &ga_line("c", JAN5 + DAY + 5));
    for (user, day) in ["d", "e", "f", "g", "h"].into_iter().zip(3..) {
        let file = format!("data/events_202401{:02}.json", 5 + day);
        project.write(&file, &ga_line(user, JAN5 + day * DAY + 9));
    }
    let day = ga_line("a", jan7 + 2_000_100) + &ga_line("a", jan7 + 2_000_200);
    project.write("data/events_20240107.json", &day);
    let mut ctx = project.workspace();
    // Two partitions for nine files of about the same size: the eight names' hashes split them
    // evenly enough for the rule (four or five days put three of four files, or four of five
    // names, in one partition, and the scan was left as DataFusion plans it).
    ctx.engine.target_partitions = Some(2);
    ctx.load(&Silent).await.unwrap();
    // Jan 7 again, with an earlier event of a's session (the same second, the same id).
    project.write(
        "data/events_20240107.json",
        &(ga_line("a", jan7 + 2_000_001) + &day),
    );
    ctx.load(&Silent).await.unwrap();

    let session = crate::support::loaded_session(&ctx).await;
    let files = rows(
        &session,
        "SELECT COUNT(DISTINCT source_file), COUNT(*) FROM ga_events",
    )
    .await;
    assert_eq!(
        files,
        [["8", "12"]],
        "eight days, Jan 7 loaded twice (2 + 3 events)"
    );
    let plan = rows(
        &session,
        "EXPLAIN SELECT source_file, user_pseudo_id, ga_session_id, MIN(event_at) \
         FROM ga_events GROUP BY 1, 2, 3",
    )
    .await
    .concat()
    .join("\n");
    assert!(plan.contains("mode=SinglePartitioned"), "{plan}");
    assert!(!plan.contains("RepartitionExec"), "{plan}");

    let options = RunOptions {
        full_refresh: true,
        ..Default::default()
    };
    let report = ctx.runner(session, &Silent).run(&options).await.unwrap();
    assert!(report.published, "{report:?}");
    let session = ctx.query_session().await.unwrap();
    let got = rows(
        &session,
        "SELECT user_pseudo_id, CAST(first_event_at AS VARCHAR) FROM stg_ga_sessions ORDER BY 1",
    )
    .await;
    assert_eq!(
        got,
        [
            ["a", "2024-01-07T00:00:02.000001Z"],
            ["b", "2024-01-05T00:00:07Z"],
            ["c", "2024-01-06T00:00:00.000005Z"],
            ["d", "2024-01-08T00:00:00.000009Z"],
            ["e", "2024-01-09T00:00:00.000009Z"],
            ["f", "2024-01-10T00:00:00.000009Z"],
            ["g", "2024-01-11T00:00:00.000009Z"],
            ["h", "2024-01-12T00:00:00.000009Z"],
        ]
    );
}
