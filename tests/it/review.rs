//! Deviations from SPEC found in review, each pinned by a regression test named after it.

use clearsight::observe::Silent;
use datafusion::prelude::SessionContext;

use crate::support::{published_marts, rows, TestProject};

async fn build(project: &TestProject) -> SessionContext {
    let ctx = project.workspace();
    ctx.load(&Silent).await.unwrap();
    crate::support::run_all_published(&ctx).await;
    ctx.query_session().await.unwrap()
}

#[tokio::test]
async fn hubspot_lowest_deal_id_is_compared_as_a_number() {
    let project = TestProject::new(
        "warehouse: warehouse\nsources:\n  - {kind: hubspot_contacts, path: data/contacts.csv}\n  - {kind: hubspot_deals, path: data/deals.csv}\n",
    );
    // Contact 1 lists deals 10 and 9, created at the same instant: 9 is the lower id (as text,
    // "10" < "9"). Contact 2 lists 30 (created later) and 31 (earlier): the earliest created wins.
    project.write(
        "data/contacts.csv",
        "hs_object_id,createdate,lastmodifieddate,email,hs_lead_status,Associated Deal IDs\n\
         1,2024-01-05T10:00:00Z,2024-01-05T10:00:00Z,a@x.com,Open,10;9\n\
         2,2024-01-05T10:00:00Z,2024-01-05T10:00:00Z,b@x.com,Open,30; 31\n",
    );
    project.write(
        "data/deals.csv",
        "hs_object_id,createdate,hs_lastmodifieddate,closedate,dealstage,amount,deal_currency_code,hs_is_closed,hs_is_closed_won\n\
         9,2024-01-06T00:00:00Z,2024-01-06T00:00:00Z,2024-02-01,closedwon,900,USD,true,true\n\
         10,2024-01-06T00:00:00Z,2024-01-06T00:00:00Z,2024-02-01,closedwon,1000,USD,true,true\n\
         30,2024-01-08T00:00:00Z,2024-01-08T00:00:00Z,2024-02-01,closedwon,3000,USD,true,true\n\
         31,2024-01-07T00:00:00Z,2024-01-07T00:00:00Z,2024-02-01,closedwon,3100,USD,true,true\n",
    );
    let s = build(&project).await;
    let got = rows(
        &s,
        "SELECT lead_id, opportunity_id, revenue FROM int_leads ORDER BY lead_id",
    )
    .await;
    assert_eq!(
        got,
        vec![vec!["1", "9", "900.0"], vec!["2", "31", "3100.0"]]
    );
}

#[tokio::test]
async fn own_host_listed_only_with_www_still_matches_its_bare_referrer() {
    let project = crate::world::world();
    let mart = std::fs::read_to_string(project.path().join("config/mart.yaml")).unwrap();
    let mart = mart.replace(
        "own_hosts: [acme-analytics.example, www.acme-analytics.example]",
        "own_hosts: [WWW.Acme-Analytics.example]",
    );
    project.write("config/mart.yaml", &mart);
    let s = build(&project).await;
    // Visitor s1: the site's own referrer (www.acme-analytics.example) first, then yahoo.
    let got = rows(
        &s,
        "SELECT source, medium FROM int_sessions WHERE user_pseudo_id = 's1'",
    )
    .await;
    assert_eq!(got, vec![vec!["search.yahoo.com", "organic"]]);
}

#[tokio::test]
async fn match_coverage_counts_leads_only_on_the_hand_made_world() {
    let project = crate::world::world();
    let s = build(&project).await;
    // Eleven leads in March 2024: L1-L6 matched by client id, L10 by gclid, L11 by hashed email;
    // L7 has UTM fields only, L8 a mapped LeadSource, L9 nothing. Pipeline of leads: O2 5,000 +
    // O3 9,000 (L3, L4) + O5 12,000, all on matched journeys; O9 (3,000, no lead) is not counted.
    let got = rows(
        &s,
        "SELECT CAST(month AS VARCHAR), SUM(leads), SUM(matched_leads), SUM(pipeline), SUM(revenue),
                SUM(leads_by_client_id), SUM(leads_by_gclid), SUM(leads_by_user_id), SUM(leads_by_utm),
                SUM(leads_by_lead_source), SUM(leads_unmatched)
         FROM match_coverage GROUP BY 1",
    )
    .await;
    // The sums are decimal: each credit cast to 12 decimals (1/3 + 1/3 + 1/3 is 0.999999999999).
    let want = [11.0, 8.0, 26000.0, 21000.0, 6.0, 1.0, 1.0, 1.0, 1.0, 1.0];
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].len(), want.len() + 1, "the month and every sum");
    assert_eq!(got[0][0], "2024-03-01");
    for (value, want) in got[0][1..].iter().zip(want) {
        let value = value.parse::<f64>().unwrap();
        assert!((value - want).abs() < 1e-9, "{value} vs {want}");
    }
    // Paid Social, linear: L2 1/2, L3 1/3, L5 1/5 on sessions, L7's UTM touch 1 (not matched):
    // leads 61/30, matched 31/30, so a match rate of 31/61.
    let ps = rows(
        &s,
        "SELECT leads, matched_leads, lead_match_rate FROM match_coverage WHERE channel = 'Paid Social'",
    )
    .await;
    let num = |c: &str| c.parse::<f64>().unwrap();
    for (got, want) in ps[0].iter().zip([61.0 / 30.0, 31.0 / 30.0, 31.0 / 61.0]) {
        assert!((num(got) - want).abs() < 1e-9, "{got} vs {want}");
    }
}

#[tokio::test]
async fn data_driven_numbers_are_identical_on_every_build() {
    let first = TestProject::demo_generated(20_000);
    let second = TestProject::demo_generated(20_000);
    build(&first).await;
    build(&second).await;
    let (a, b) = (
        published_marts(&first).await,
        published_marts(&second).await,
    );
    for model in [
        "pipeline_metrics",
        "attribution_touchpoints",
        "myopia",
        "kpi_attainment",
        "match_coverage",
    ] {
        assert!(!a[model].is_empty(), "{model} is empty");
        let first = a[model].iter().zip(&b[model]).position(|(x, y)| x != y);
        assert!(
            first.is_none() && a[model].len() == b[model].len(),
            "{model} differs between two builds of the same input: {:?} vs {:?}",
            first.map(|i| &a[model][i]),
            first.map(|i| &b[model][i])
        );
    }
}
