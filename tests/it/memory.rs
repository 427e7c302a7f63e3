//! Builds under `--memory-limit`: the marts are those of an unlimited build.

use clearsight::observe::Silent;
use clearsight::workspace::{Overrides, Workspace};

use crate::support::{assert_same_marts, published_marts, run_all_published, TestProject};

/// A build under a memory limit (spill files in the project) publishes, row for row, the marts
/// of a build without one.
#[tokio::test]
async fn a_memory_limited_build_publishes_the_marts_of_an_unlimited_build() {
    let limited = TestProject::demo_generated(5_000);
    let overrides = Overrides {
        memory_limit: Some(256 << 20),
        spill_dir: Some(limited.path().join("spill")),
        ..Default::default()
    };
    let ctx = Workspace::open(limited.path(), &overrides).unwrap();
    assert_eq!(ctx.engine.memory_limit, Some(256 << 20));
    ctx.load(&Silent).await.unwrap();
    run_all_published(&ctx).await;
    let unlimited = TestProject::demo_generated(5_000);
    let full = unlimited.workspace();
    full.load(&Silent).await.unwrap();
    run_all_published(&full).await;
    let (a, b) = (
        published_marts(&unlimited).await,
        published_marts(&limited).await,
    );
    assert!(a.contains_key("pipeline_metrics") && !a["pipeline_metrics"].is_empty());
    assert_same_marts(&a, &b);
    assert!(join_plan_mentions_compaction(&ctx).await);
    assert!(!join_plan_mentions_compaction(&full).await);
}

/// Under a limit, a join's output is compacted before a sort counts it (`engine::compact`).
async fn join_plan_mentions_compaction(ctx: &Workspace) -> bool {
    let sql = "EXPLAIN SELECT l.lead_id, s.user_pseudo_id FROM int_touches l \
        JOIN int_sessions s ON s.user_pseudo_id = l.user_pseudo_id ORDER BY 1, 2";
    let session = ctx.query_session().await.unwrap();
    let plan = session.sql(sql).await.unwrap().collect().await.unwrap();
    let text = arrow::util::pretty::pretty_format_batches(&plan).unwrap();
    text.to_string().contains("CompactViewsExec")
}
