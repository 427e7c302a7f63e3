//! SPEC section 7's invariants on the demo data, for every attribution model and month, and
//! every lead's shares summing to 1.

use clearsight::demo::{generate, DemoOptions};
use clearsight::observe::Silent;

use crate::support::{rows, TestProject};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_mart_holds_the_invariants_for_every_model_and_month() {
    let project = TestProject::demo();
    let options = DemoOptions {
        target_events: 20_000,
        ..DemoOptions::default()
    };
    let summary = generate(&project.path().join("demo-data"), &options).unwrap();
    let ctx = project.workspace();
    let load = ctx.load(&Silent).await.unwrap();
    assert_eq!(
        load.total(|f| f.rows_quarantined),
        summary.bad_rows,
        "each deliberately bad row is quarantined"
    );
    crate::support::run_all_published(&ctx).await;
    let s = ctx.query_session().await.unwrap();

    // Every model and month: leads = leads created that month.
    let leads = rows(
        &s,
        "WITH created AS (SELECT CAST(DATE_TRUNC('month', created_at) AS DATE) AS month, COUNT(DISTINCT lead_id) AS n FROM crm_leads GROUP BY 1),
              mart AS (SELECT month, attribution_model, SUM(leads) AS n FROM pipeline_metrics GROUP BY 1, 2)
         SELECT m.month, m.attribution_model, m.n, COALESCE(c.n, 0) FROM mart m LEFT JOIN created c ON c.month = m.month
         WHERE ABS(m.n - COALESCE(c.n, 0)) > 1e-6",
    )
    .await;
    assert!(leads.is_empty(), "leads per month differ: {leads:?}");
    let models = rows(
        &s,
        "SELECT COUNT(DISTINCT attribution_model) FROM pipeline_metrics",
    )
    .await;
    assert_eq!(models[0][0], "7");

    // Revenue = won amount of that month's leads' opportunities (1/k each) + lead-less won opportunities dated that month.
    let revenue = rows(
        &s,
        "WITH expected AS (
             SELECT month, SUM(r) AS revenue FROM (
                 SELECT lead_month AS month, revenue AS r FROM int_leads
                 UNION ALL
                 SELECT created_month, won_amount FROM stg_opportunities o
                 WHERE NOT EXISTS (SELECT 1 FROM int_leads l WHERE l.opportunity_id = o.opportunity_id)
             ) x GROUP BY month),
              mart AS (SELECT month, attribution_model, SUM(revenue) AS revenue FROM pipeline_metrics GROUP BY 1, 2)
         SELECT m.month, m.attribution_model, m.revenue, e.revenue FROM mart m LEFT JOIN expected e ON e.month = m.month
         WHERE ABS(m.revenue - COALESCE(e.revenue, 0)) > 1e-6",
    )
    .await;
    assert!(revenue.is_empty(), "revenue per month differs: {revenue:?}");
    let total_revenue = rows(
        &s,
        "SELECT SUM(revenue) FROM pipeline_metrics WHERE attribution_model = 'linear'",
    )
    .await;
    assert!(total_revenue[0][0].parse::<f64>().unwrap() > 0.0);

    // Spend = the spend extracts' total for the month, under every model.
    let spend = rows(
        &s,
        "WITH extract AS (SELECT CAST(DATE_TRUNC('month', CAST(spend_date AS TIMESTAMP)) AS DATE) AS month, SUM(cost) AS spend FROM ad_spend GROUP BY 1),
              mart AS (SELECT month, attribution_model, SUM(spend) AS spend FROM pipeline_metrics GROUP BY 1, 2)
         SELECT e.month, m.attribution_model, m.spend, e.spend FROM extract e LEFT JOIN mart m ON m.month = e.month
         WHERE m.spend IS NULL OR ABS(m.spend - e.spend) > 1e-6",
    )
    .await;
    assert!(spend.is_empty(), "spend per month differs: {spend:?}");

    // Shares of every lead sum to 1 under every model.
    let shares = rows(
        &s,
        "SELECT attribution_model, lead_id, SUM(credit) FROM attribution_touchpoints GROUP BY 1, 2 HAVING ABS(SUM(credit) - 1.0) > 1e-9",
    )
    .await;
    assert!(shares.is_empty(), "{shares:?}");
    let per_model = rows(
        &s,
        "SELECT COUNT(DISTINCT lead_id) FROM attribution_touchpoints GROUP BY attribution_model",
    )
    .await;
    let leads_total = rows(&s, "SELECT COUNT(*) FROM int_leads").await[0][0].clone();
    assert!(
        per_model.iter().all(|r| r[0] == leads_total),
        "every lead is credited under every model"
    );

    // The demo's point: display and Meta leads are the cheapest and bring the least money.
    let myopic = rows(&s, "SELECT channel FROM myopia WHERE attribution_model = 'linear' AND level = 'channel' AND myopia_flag ORDER BY channel").await;
    assert!(myopic.iter().any(|r| r[0] == "Display"), "{myopic:?}");
}
