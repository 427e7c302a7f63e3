//! SPEC sections 7 and 8's open ends, hand-worked: months in the reporting time zone (DST
//! included), myopia windows, and KPI direction.
//!
//! The world, under America/Los_Angeles (UTC-8 in winter, UTC-7 from 2024-03-10 to 2024-11-03):
//! - Paid Social (UTM linkedin/cpc/abm) leads: A at 2024-03-01T07:59Z (Feb 29, 23:59 local),
//!   B at 08:00Z (Mar 1, 00:00 local), C at 2024-11-01T07:30Z (Nov 1, 00:30 PDT; a fixed UTC-8
//!   would say October). A converts to O1, won 1,000.
//! - Display (UTM dv360/display/prospecting) leads: D 2024-02-15, E 2024-03-15; E converts to O2,
//!   won 5,000.
//! - O3, won 300, no lead, created 2024-03-01T07:00Z: a February (local) lead-less opportunity.
//! - Spend (the ad accounts' own days): linkedin_ads 2024-02-29 50, 2024-03-01 100; dv360
//!   2024-02-10 10, 2024-03-05 200.
//! - Sessions of an anonymous Paid Social visitor: 2024-03-01T07:30Z (February local),
//!   2024-11-01T07:30Z (November), and one across the DST change (2024-11-03T08:50Z and 09:10Z).

use clearsight::observe::Silent;
use datafusion::prelude::SessionContext;

use crate::support::{rows, TestProject};

const SOURCES: &str = "warehouse: warehouse\nsources:\n  - {kind: ga4_json, path: data/events_*.json}\n  - kind: salesforce_leads\n    path: data/leads.csv\n    fields: {utm_source: UTM_Source__c, utm_medium: UTM_Medium__c, utm_campaign: UTM_Campaign__c}\n  - {kind: salesforce_opportunities, path: data/opportunities.csv}\n  - {kind: generic_spend, path: data/spend.csv}\n";

fn event(session: i64, at: &str) -> String {
    let micros = chrono::DateTime::parse_from_rfc3339(at)
        .unwrap()
        .timestamp_micros();
    format!(
        r#"{{"event_timestamp":"{micros}","event_name":"page_view","event_params":[{{"key":"ga_session_id","value":{{"int_value":"{session}"}}}},{{"key":"page_location","value":{{"string_value":"https://www.acme-analytics.example/?utm_source=linkedin&utm_medium=cpc&utm_campaign=abm"}}}}],"user_pseudo_id":"9.9"}}"#
    ) + "\n"
}

fn write_world(project: &TestProject) {
    let ga = [
        event(1, "2024-03-01T07:30:00Z"),
        event(2, "2024-11-01T07:30:00Z"),
        event(3, "2024-11-03T08:50:00Z"),
        event(3, "2024-11-03T09:10:00Z"),
    ]
    .concat();
    project.write("data/events_20240301.json", &ga);
    let social = "linkedin,cpc,abm";
    let display = "dv360,display,prospecting";
    let lead = |id: &str, at: &str, opp: &str, utm: &str| {
        format!("{id},{at},{at},Open,{},{opp},{utm}\n", !opp.is_empty())
    };
    let leads = [
        "Id,CreatedDate,LastModifiedDate,Status,IsConverted,ConvertedOpportunityId,UTM_Source__c,UTM_Medium__c,UTM_Campaign__c\n".to_string(),
        lead("A", "2024-03-01T07:59:00Z", "O1", social),
        lead("B", "2024-03-01T08:00:00Z", "", social),
        lead("C", "2024-11-01T07:30:00Z", "", social),
        lead("D", "2024-02-15T12:00:00Z", "", display),
        lead("E", "2024-03-15T12:00:00Z", "O2", display),
    ]
    .concat();
    project.write("data/leads.csv", &leads);
    project.write(
        "data/opportunities.csv",
        "Id,CreatedDate,LastModifiedDate,CloseDate,StageName,Amount,IsClosed,IsWon,CurrencyIsoCode\n\
         O1,2024-03-05T00:00:00Z,2024-04-01T00:00:00Z,2024-04-01,Closed Won,1000,true,true,USD\n\
         O2,2024-03-20T00:00:00Z,2024-04-01T00:00:00Z,2024-04-01,Closed Won,5000,true,true,USD\n\
         O3,2024-03-01T07:00:00Z,2024-04-01T00:00:00Z,2024-04-01,Closed Won,300,true,true,USD\n",
    );
    project.write(
        "data/spend.csv",
        "date,platform,campaign,cost\n2024-02-29,linkedin_ads,abm,50\n2024-03-01,linkedin_ads,abm,100\n\
         2024-02-10,dv360,prospecting,10\n2024-03-05,dv360,prospecting,200\n",
    );
    project.write(
        "config/targets.yaml",
        "targets:\n  - {metric: cpl, monthly: 40, months: {2024-03: 120}}\n  - {metric: leads, monthly: 2}\n",
    );
}

/// The repository's mart.yaml with another time zone and windows.
fn mart_yaml(zone: &str, windows: &str) -> String {
    let yaml = std::fs::read_to_string(crate::support::repo().join("config/mart.yaml")).unwrap();
    yaml.replace(
        "reporting_timezone: UTC",
        &format!("reporting_timezone: {zone}"),
    )
    .replace("myopia_windows: []", &format!("myopia_windows: {windows}"))
}

async fn built(zone: &str) -> (TestProject, SessionContext) {
    let project = TestProject::new(SOURCES);
    write_world(&project);
    project.write(
        "config/mart.yaml",
        &mart_yaml(zone, "[{name: W-Feb, from: 2024-02, to: 2024-02}]"),
    );
    let ctx = project.workspace();
    let load = ctx.load(&Silent).await.unwrap();
    assert_eq!(load.total(|f| f.rows_quarantined), 0, "{:?}", load.files);
    crate::support::run_all_published(&ctx).await;
    let session = ctx.query_session().await.unwrap();
    (project, session)
}

fn table(cells: &[&[&str]]) -> Vec<Vec<String>> {
    cells
        .iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[tokio::test]
async fn months_are_local_calendar_months_of_the_reporting_time_zone() {
    let (_p, s) = built("America/Los_Angeles").await;
    let got = rows(
        &s,
        "SELECT CAST(month AS VARCHAR), channel, SUM(leads), SUM(spend), SUM(revenue), SUM(sessions)
         FROM pipeline_metrics WHERE attribution_model = 'linear'
         GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .await;
    assert_eq!(
        got,
        table(&[
            &["2024-02-01", "Display", "1.0", "10.0", "0.0", "0"],
            &["2024-02-01", "Paid Social", "1.0", "50.0", "1000.0", "1"],
            &["2024-02-01", "Unattributed", "0.0", "0.0", "300.0", "0"],
            &["2024-03-01", "Display", "1.0", "200.0", "5000.0", "0"],
            &["2024-03-01", "Paid Social", "1.0", "100.0", "0.0", "0"],
            &["2024-11-01", "Paid Social", "1.0", "0.0", "0.0", "2"],
        ])
    );
    // SPEC 7's invariants per local month hold under every model: 2 leads in February and March,
    // 1 in November; revenue 1,300 / 5,000 / 0; spend 60 / 300 / 0.
    let per_model = rows(
        &s,
        "SELECT COUNT(DISTINCT attribution_model), CAST(month AS VARCHAR), MIN(l), MAX(l), MIN(r), MAX(r), MIN(sp), MAX(sp) FROM (
           SELECT attribution_model, month, SUM(leads) AS l, ROUND(SUM(revenue), 6) AS r, SUM(spend) AS sp
           FROM pipeline_metrics GROUP BY 1, 2) GROUP BY 2 ORDER BY 2",
    )
    .await;
    assert_eq!(
        per_model,
        table(&[
            &[
                "7",
                "2024-02-01",
                "2.0",
                "2.0",
                "1300.0",
                "1300.0",
                "60.0",
                "60.0"
            ],
            &[
                "7",
                "2024-03-01",
                "2.0",
                "2.0",
                "5000.0",
                "5000.0",
                "300.0",
                "300.0"
            ],
            &["7", "2024-11-01", "1.0", "1.0", "0.0", "0.0", "0.0", "0.0"],
        ])
    );
}

#[tokio::test]
async fn myopia_is_ranked_within_each_window() {
    let (_p, s) = built("America/Los_Angeles").await;
    let got = rows(
        &s,
        "SELECT \"window\", channel, cpl, cpl_rank, roi_rank, myopia_flag FROM myopia
         WHERE attribution_model = 'linear' AND level = 'channel' AND cpl_rank IS NOT NULL
         ORDER BY 1, 2",
    )
    .await;
    // all: Paid Social 150/3 = 50, ROI (1000-150)/150; Display 210/2 = 105, ROI (5000-210)/210.
    // 2024-02 (and W-Feb): Display 10/1, ROI -1; Paid Social 50/1, ROI 19.
    // 2024-03: Paid Social 100/1, ROI -1; Display 200/1, ROI 24. November has no spend: unranked.
    assert_eq!(
        got,
        table(&[
            &["2024-02", "Display", "10.0", "1", "2", "true"],
            &["2024-02", "Paid Social", "50.0", "2", "1", "false"],
            &["2024-03", "Display", "200.0", "2", "1", "false"],
            &["2024-03", "Paid Social", "100.0", "1", "2", "true"],
            &["W-Feb", "Display", "10.0", "1", "2", "true"],
            &["W-Feb", "Paid Social", "50.0", "2", "1", "false"],
            &["all", "Display", "105.0", "2", "1", "false"],
            &["all", "Paid Social", "50.0", "1", "2", "true"],
        ])
    );
    let windows = rows(
        &s,
        "SELECT DISTINCT \"window\" FROM myopia WHERE level = 'campaign' ORDER BY 1",
    )
    .await;
    assert_eq!(
        windows,
        table(&[
            &["2024-02"],
            &["2024-03"],
            &["2024-11"],
            &["W-Feb"],
            &["all"]
        ])
    );
}

#[tokio::test]
async fn kpi_attainment_knows_which_way_is_better() {
    let (_p, s) = built("America/Los_Angeles").await;
    let got = rows(
        &s,
        "SELECT CAST(month AS VARCHAR), metric, better, target, actual, attainment, on_target
         FROM kpi_attainment ORDER BY 1, 2",
    )
    .await;
    // cpl (lower is better): Feb 60/2 = 30 against 40; Mar 300/2 = 150 against its own 120;
    // Nov 0/1 = 0 against 40. leads (higher is better) against 2.
    assert_eq!(
        got,
        table(&[
            &["2024-02-01", "cpl", "lower", "40.0", "30.0", "0.75", "true"],
            &["2024-02-01", "leads", "higher", "2.0", "2.0", "1.0", "true"],
            &[
                "2024-03-01",
                "cpl",
                "lower",
                "120.0",
                "150.0",
                "1.25",
                "false"
            ],
            &["2024-03-01", "leads", "higher", "2.0", "2.0", "1.0", "true"],
            &["2024-11-01", "cpl", "lower", "40.0", "0.0", "0.0", "true"],
            &[
                "2024-11-01",
                "leads",
                "higher",
                "2.0",
                "1.0",
                "0.5",
                "false"
            ],
        ])
    );
}

fn refused(project: &TestProject, file: &str, words: &[&str]) {
    let out = crate::support::bin()
        .args([
            "--project",
            project.path().to_str().unwrap(),
            "--quiet",
            "build",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for w in [file].iter().chain(words) {
        assert!(stderr.contains(w), "{w:?} not in: {stderr}");
    }
}

#[test]
fn an_unknown_zone_or_metric_is_a_configuration_error() {
    let project = TestProject::new(SOURCES);
    write_world(&project);
    project.write("config/mart.yaml", &mart_yaml("Mars/Olympus_Mons", "[]"));
    refused(
        &project,
        "mart.yaml",
        &["reporting_timezone", "Mars/Olympus_Mons"],
    );
    project.write("config/mart.yaml", &mart_yaml("Europe/Berlin", "[]"));
    project.write(
        "config/targets.yaml",
        "targets:\n  - {metric: cost_per_lead, monthly: 40}\n",
    );
    refused(&project, "targets.yaml", &["cost_per_lead"]);
}
