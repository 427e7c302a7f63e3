//! Builds under `--memory-limit`: joins are sort-merge joins, which spill, instead of hash
//! joins, which hold their build side in memory; the marts are those of an unlimited build.

use clearsight::observe::Silent;
use clearsight::workspace::{Overrides, Workspace};
use datafusion::physical_plan::displayable;

use crate::support::{assert_same_marts, published_marts, run_all_published, TestProject};

/// Regression (100M events, `--memory-limit 4G`): `stg_ga_sessions` failed with "Failed to
/// allocate additional 1995.2 KB for HashJoinInput[1]": a hash join cannot spill.
#[tokio::test]
async fn regression_hash_join_exhausted_a_memory_limited_build() {
    let limited = TestProject::demo_generated(5_000);
    let overrides = Overrides {
        memory_limit: Some(256 << 20),
        spill_dir: Some(limited.path().join("spill")),
        ..Default::default()
    };
    let ctx = Workspace::open(limited.path(), &overrides).unwrap();
    let session = ctx.session().await.unwrap();
    let join = "SELECT a.x FROM (VALUES (1), (2)) a(x) JOIN (VALUES (1), (3)) b(x) ON a.x = b.x";
    let plan = session.sql(join).await.unwrap();
    let plan = plan.create_physical_plan().await.unwrap();
    let text = displayable(plan.as_ref()).indent(true).to_string();
    assert!(text.contains("SortMergeJoin"), "{text}");
    assert!(!text.contains("HashJoin"), "{text}");

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
}
