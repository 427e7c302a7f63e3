//! The GA4 event decoder (sonic-rs into the fields the models read) and the traffic columns the
//! loader reads out of the URLs, with values worked out by reading the events by hand; and an
//! old warehouse (loaded before those columns existed) brought up to date by the next load.

use std::sync::Arc;

use bytes::Bytes;
use clearsight::config::SourceKind;
use clearsight::load::{parse_file, Parsed};
use clearsight::observe::Silent;
use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::SessionContext;

use crate::real_exports::{config, source};
use crate::runner::{ga4_project_without_models, ga_line, DAY, JAN5};
use crate::support::{fixture_sources, rows, TestProject};

fn parse(text: &str) -> Parsed {
    let source = source(SourceKind::Ga4Json);
    parse_file(
        &source,
        &config(),
        "events_1.json",
        Bytes::from(text.to_string()),
    )
    .unwrap()
}

async fn query(parsed: &Parsed, sql: &str) -> Vec<Vec<String>> {
    let ctx = SessionContext::new();
    let t = MemTable::try_new(parsed.batches[0].schema(), vec![parsed.batches.clone()]).unwrap();
    ctx.register_table("t", Arc::new(t)).unwrap();
    rows(&ctx, sql).await
}

/// An event with the given `page_location` and `page_referrer` params (JSON string literals).
fn event(location: &str, referrer: &str) -> String {
    format!(
        r#"{{"event_timestamp":"1704412800000000","event_name":"page_view","event_params":[{{"key":"ga_session_id","value":{{"int_value":"7"}}}},{{"key":"page_location","value":{{"string_value":{location}}}}},{{"key":"page_referrer","value":{{"string_value":{referrer}}}}}],"user_pseudo_id":"u1"}}"#
    )
}

const URL_COLS: &str = "SELECT page_gclid, utm_source, utm_medium, utm_campaign, referrer_host FROM t ORDER BY source_line";

#[tokio::test]
async fn url_traffic_columns_are_read_once_at_load() {
    let text = [
        // gclid and an encoded campaign; the referrer's host loses www. and the port.
        event(
            r#""https://acme.example/?gclid=Cj0x&utm_campaign=Q1%20ABM+launch&utm_source=LinkedIn""#,
            r#""https://WWW.Google.co.uk:443/search?q=acme""#,
        ),
        // Keys in any case, the first non-empty value wins, the fragment is not the query.
        event(
            r#""https://acme.example/p?UTM_SOURCE=&utm_source=bing&utm_source=duck&utm_medium=cpc#utm_campaign=x""#,
            r#""android-app://com.google.android.gm/""#,
        ),
        // No query and an empty referrer: nothing.
        event(r#""https://acme.example/pricing""#, r#""""#),
    ]
    .join("\n");
    let p = parse(&text);
    assert!(p.rejections.is_empty(), "{:?}", p.rejections);
    assert_eq!(
        query(&p, URL_COLS).await,
        vec![
            vec!["Cj0x", "LinkedIn", "NULL", "Q1 ABM launch", "google.co.uk"],
            vec!["NULL", "bing", "cpc", "NULL", "com.google.android.gm"],
            vec!["NULL", "NULL", "NULL", "NULL", "NULL"],
        ]
    );
}

#[tokio::test]
async fn unread_fields_are_skipped_and_read_fields_are_checked() {
    let good = event(r#""https://acme.example/""#, "null");
    // device and items of any shape are skipped: the event loads.
    let odd_unread = good.replacen(
        '{',
        r#"{"device":5,"items":[{"x":[1,{"y":null}]}],"geo":"?","#,
        1,
    );
    // An escaped user id (a decoded, not borrowed, string) and a numeric user_id.
    let escaped = good.replace(
        r#""user_pseudo_id":"u1""#,
        r#""user_pseudo_id":"u\"2\u00e9","user_id":42"#,
    );
    // A wrong type in a field Clearsight reads rejects the event; so does broken JSON.
    let bad_type = good.replace(r#""event_name":"page_view""#, r#""event_name":{"a":1}"#);
    let bad_ts = good.replace(r#""1704412800000000""#, r#""soon""#);
    let broken = good.replacen('}', "", 1);
    let text = [good.clone(), odd_unread, escaped, bad_type, bad_ts, broken].join("\n");
    let p = parse(&text);
    let got = query(
        &p,
        "SELECT source_line, user_pseudo_id, user_id FROM t ORDER BY source_line",
    )
    .await;
    assert_eq!(
        got,
        vec![
            vec!["1", "u1", "NULL"],
            vec!["2", "u1", "NULL"],
            vec!["3", "u\"2é", "42"],
        ]
    );
    let lines: Vec<u64> = p.rejections.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![4, 5, 6]);
    for r in &p.rejections {
        assert!(r.reason.starts_with("not valid JSON: "), "{r:?}");
        assert!(!r.reason.contains('\n'), "one line: {:?}", r.reason);
        assert!(!r.raw.is_empty(), "the record is kept: {r:?}");
    }
    assert!(
        p.rejections[1].reason.contains("soon"),
        "{:?}",
        p.rejections[1]
    );
}

/// Rewrites a loaded `ga_events` file as the loader before format 2 wrote it: without the
/// URL columns, and its manifest entry without a format.
fn downgrade(project: &TestProject) {
    let wh = project.path().join("warehouse");
    for entry in std::fs::read_dir(wh.join("_loads")).unwrap() {
        let path = entry.unwrap().path();
        let mut manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        manifest.as_object_mut().unwrap().remove("format");
        std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    }
    for entry in std::fs::read_dir(wh.join("raw/ga_events")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = Bytes::from(std::fs::read(&path).unwrap());
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
            .unwrap()
            .build()
            .unwrap();
        let old: Vec<RecordBatch> = reader
            .map(|b| {
                let b = b.unwrap();
                let keep: Vec<usize> = (0..b.num_columns())
                    .filter(|&i| {
                        let name = b.schema().field(i).name().clone();
                        ![
                            "page_gclid",
                            "utm_source",
                            "utm_medium",
                            "utm_campaign",
                            "referrer_host",
                        ]
                        .contains(&name.as_str())
                    })
                    .collect();
                b.project(&keep).unwrap()
            })
            .collect();
        let data = clearsight::warehouse::parquet_bytes(old[0].schema(), &old).unwrap();
        std::fs::write(&path, data).unwrap();
    }
}

#[tokio::test]
async fn ga4_files_loaded_before_the_url_columns_are_read_again() {
    let project = TestProject::new(&fixture_sources("warehouse"));
    let ctx = project.workspace();
    let first = ctx.load(&Silent).await.unwrap();
    downgrade(&project);
    let again = ctx.load(&Silent).await.unwrap();
    let reloaded: Vec<&str> = again
        .files
        .iter()
        .filter(|f| !f.skipped)
        .map(|f| f.table.as_str())
        .collect();
    assert_eq!(
        reloaded,
        vec!["ga_events"],
        "only the GA4 file is read again"
    );
    assert_eq!(
        again.total(|f| f.rows_loaded),
        2,
        "the fixture's two good events"
    );
    let session = crate::support::loaded_session(&ctx).await;
    // Line 1's landing page is ?gclid=abc123&utm_campaign=Brand from www.google.com.
    let got = rows(
        &session,
        "SELECT source_line, page_gclid, utm_campaign, referrer_host, \
         (SELECT COUNT(*) FROM quarantine) FROM ga_events ORDER BY source_line",
    )
    .await;
    let quarantined = first.total(|f| f.rows_quarantined).to_string();
    assert_eq!(
        got,
        vec![
            vec!["1", "abc123", "Brand", "google.com", quarantined.as_str()],
            vec!["3", "NULL", "NULL", "NULL", quarantined.as_str()],
        ]
    );
    let third = ctx.load(&Silent).await.unwrap();
    assert!(
        third.files.iter().all(|f| f.skipped),
        "now every file is current"
    );
}

/// A loaded GA4 file is written sorted by session and says so (Parquet `sorting_columns`), so
/// DataFusion reads the order back and `stg_ga_sessions` aggregates sessions as they stream by
/// (`ordering_mode=Sorted`) instead of hashing every event.
#[tokio::test]
async fn ga4_events_are_stored_by_session_and_sessions_stream_by() {
    const T: i64 = 1_704_412_800_000_000; // 2024-01-05T00:00:00Z
    let project = TestProject::new(
        "warehouse: warehouse\nsources:\n  - {kind: ga4_json, path: data/events_*.json}\n",
    );
    // Two users' sessions interleaved, as an export writes them: by time.
    let lines = [
        ("u2", 20, 1),
        ("u1", 10, 2),
        ("u1", 9, 3),
        ("u2", 20, 4),
        ("u1", 10, 5),
    ];
    let text: String = lines
        .iter()
        .map(|&(user, session, at)| crate::world::event(user, session, T + at, "", None, None))
        .collect();
    project.write("data/events_20240105.json", &text);
    let ctx = project.workspace();
    ctx.load(&Silent).await.unwrap();

    let dir = project.path().join("warehouse/raw/ga_events");
    let files: Vec<_> = std::fs::read_dir(dir).unwrap().collect();
    assert_eq!(files.len(), 1);
    let bytes = Bytes::from(std::fs::read(files[0].as_ref().unwrap().path()).unwrap());
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    let metadata = builder.metadata().clone();
    let declared: Vec<(String, bool)> = metadata
        .row_group(0)
        .sorting_columns()
        .unwrap()
        .iter()
        .map(|c| {
            let name = builder.schema().field(c.column_idx as usize).name().clone();
            (name, c.descending)
        })
        .collect();
    let ascending = |name: &str| (name.to_string(), false);
    assert_eq!(
        declared,
        [
            "source_file",
            "user_pseudo_id",
            "ga_session_id",
            "source_line"
        ]
        .map(ascending)
    );
    let batch = builder.build().unwrap().next().unwrap().unwrap();
    let session = SessionContext::new();
    session
        .register_table(
            "f",
            Arc::new(MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap()),
        )
        .unwrap();
    let stored = rows(
        &session,
        "SELECT user_pseudo_id, ga_session_id, source_line, row_number() OVER () FROM f",
    )
    .await;
    let want = [
        ("u1", 9, 3),
        ("u1", 10, 2),
        ("u1", 10, 5),
        ("u2", 20, 1),
        ("u2", 20, 4),
    ];
    let want: Vec<Vec<String>> = want
        .iter()
        .enumerate()
        .map(|(i, (u, s, l))| {
            vec![
                u.to_string(),
                s.to_string(),
                l.to_string(),
                (i + 1).to_string(),
            ]
        })
        .collect();
    assert_eq!(stored, want, "stored by user, session, line");

    let model =
        std::fs::read_to_string(crate::support::repo().join("queries/staging/stg_ga_sessions.sql"))
            .unwrap();
    let body = &model[model.find("WITH").unwrap()..];
    let session = ctx.query_session().await.unwrap();
    let plan = rows(&session, &format!("EXPLAIN {body}")).await;
    let physical = &plan.iter().find(|r| r[0] == "physical_plan").unwrap()[1];
    let aggregates: Vec<&str> = physical
        .lines()
        .filter(|l| l.contains("AggregateExec"))
        .collect();
    assert!(!aggregates.is_empty(), "{physical}");
    for line in aggregates {
        assert!(
            line.contains("ordering_mode=Sorted"),
            "{line}\nin\n{physical}"
        );
    }
}

/// Regression (session 24): scans of `ga_events` regrouped by export file and declared
/// hash-partitioned by `source_file` (so that the sessions' grouping skipped its final
/// aggregate) let a partitioned join on `source_file` leave that side unrepartitioned, while
/// the other side was hashed: at 1M events this join found 467,607 of 995,775 events. Every
/// event belongs to its own file, so the join must keep them all. Now each file goes to the
/// partition DataFusion's hashing sends its name to, and the declaration is true.
#[tokio::test]
async fn a_join_of_the_events_on_their_file_keeps_every_event() {
    let project = ga4_project_without_models();
    for day in 0..4i64 {
        let text: String = (0..5)
            .map(|i| ga_line(&format!("u{i}"), JAN5 + day * DAY + i * 1_000_000))
            .collect();
        project.write(&format!("data/events_2024010{}.json", 5 + day), &text);
    }
    let mut ctx = project.workspace();
    ctx.engine.target_partitions = Some(2);
    ctx.load(&Silent).await.unwrap();
    let session = crate::support::loaded_session(&ctx).await;
    // A partitioned join, however small its sides.
    for setting in ["threshold", "threshold_rows"] {
        let set = format!("SET datafusion.optimizer.hash_join_single_partition_{setting} = 0");
        session.sql(&set).await.unwrap().collect().await.unwrap();
    }
    let join = "SELECT COUNT(*) FROM ga_events e JOIN (SELECT DISTINCT lower(source_file) \
                AS source_file FROM ga_events) f ON e.source_file = f.source_file";
    // The scan is declared partitioned by its file: only the other side is hashed.
    let plan = rows(&session, &format!("EXPLAIN {join}"))
        .await
        .concat()
        .join("\n");
    assert!(plan.contains("HashJoinExec: mode=Partitioned"), "{plan}");
    assert_eq!(plan.matches("RepartitionExec").count(), 1, "{plan}");
    assert_eq!(rows(&session, join).await, [["20"]]);
}
