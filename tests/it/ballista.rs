//! The same models on Apache Ballista: results do not depend on the engine.
#![cfg(feature = "ballista")]

use clearsight::engine::EngineKind;
use clearsight::observe::Silent;

use crate::support::{assert_same_marts, published_marts, TestProject};

/// A demo project with its extracts generated and loaded.
async fn loaded_demo() -> TestProject {
    let project = TestProject::demo_generated(3_000);
    let ctx = project.workspace();
    ctx.load(&Silent).await.unwrap();
    project
}

/// Runs every model of `project` on `kind` and asserts it published.
async fn build_on(project: &TestProject, kind: EngineKind) {
    let mut ctx = project.workspace();
    ctx.engine.kind = kind;
    crate::support::run_all_published(&ctx).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn demo_mart_on_in_process_ballista_equals_local() {
    let local = loaded_demo().await;
    build_on(&local, EngineKind::Local).await;

    let remote = loaded_demo().await;
    let engine = remote.workspace().engine().unwrap();
    let scheduler = clearsight::cluster::start_in_process(&engine, 2, 2)
        .await
        .unwrap();
    build_on(&remote, EngineKind::Ballista { scheduler }).await;

    assert_same_marts(
        &published_marts(&local).await,
        &published_marts(&remote).await,
    );
}

/// Regression: tables with nothing loaded yet were in-memory tables, which Ballista cannot ship
/// to executors ("LogicalExtensionCodec is not provided").
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn empty_loaded_tables_are_readable_on_ballista() {
    let project = TestProject::demo();
    let mut ctx = project.workspace();
    let engine = ctx.engine().unwrap();
    let scheduler = clearsight::cluster::start_in_process(&engine, 1, 2)
        .await
        .unwrap();
    ctx.engine.kind = EngineKind::Ballista { scheduler };
    let session = crate::support::loaded_session(&ctx).await;
    let sql = "SELECT (SELECT COUNT(*) FROM ad_spend) + (SELECT COUNT(*) FROM crm_leads) AS n";
    assert_eq!(crate::support::number(&session, sql).await, 0.0);
}
