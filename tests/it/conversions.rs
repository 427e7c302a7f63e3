//! `clearsight export conversions` (SPEC section 9) on a hand-made world, through the binary.
//!
//! Reporting time zone America/Los_Angeles (PST until 2024-03-10T10:00Z, then PDT).
//! - P1 (CRM gclid G-CRM-1, email P1@X.com): created 2024-03-05, SQL 2024-03-06T17:00Z, converts to
//!   O1 (created 2024-03-10T20:00Z, 10,000, won, CloseDate 2024-04-02), which P2 shares: 1/2 each.
//! - P2 (no gclid, no sessions, email p2@x.com): in Meta's file, never in Google's.
//! - P3 (GA client 3.3, no CRM gclid): SQL 2024-03-21T12:00Z; its journey has sessions with
//!   gclid G-OLD (Mar 15), G-NEW (Mar 19) and none (Mar 20): the latest carrying one is G-NEW.
//! - P4 is spam with a gclid and an SQL date: never exported.

use crate::support::{assert_ok, TestProject};

const SOURCES: &str = "warehouse: warehouse\nsources:\n  - {kind: ga4_json, path: data/events_*.json}\n  - kind: salesforce_leads\n    path: data/leads.csv\n    fields: {ga_client_id: GA__c, gclid: GCLID__c, sql_date: SQL_Date__c}\n  - {kind: salesforce_opportunities, path: data/opportunities.csv}\n";

fn session(id: i64, at: &str, query: &str) -> String {
    let micros = chrono::DateTime::parse_from_rfc3339(at)
        .unwrap()
        .timestamp_micros();
    format!(
        r#"{{"event_timestamp":"{micros}","event_name":"page_view","event_params":[{{"key":"ga_session_id","value":{{"int_value":"{id}"}}}},{{"key":"page_location","value":{{"string_value":"https://www.acme-analytics.example/{query}"}}}}],"user_pseudo_id":"3.3"}}"#
    ) + "\n"
}

fn world() -> TestProject {
    let project = TestProject::new(SOURCES);
    let mart = std::fs::read_to_string(crate::support::repo().join("config/mart.yaml")).unwrap();
    project.write(
        "config/mart.yaml",
        &mart.replace(
            "reporting_timezone: UTC",
            "reporting_timezone: America/Los_Angeles",
        ),
    );
    project.write(
        "data/events_20240320.json",
        &[
            session(1, "2024-03-15T12:00:00Z", "?gclid=G-OLD"),
            session(2, "2024-03-19T12:00:00Z", "?gclid=G-NEW"),
            session(3, "2024-03-20T00:00:00Z", ""),
        ]
        .concat(),
    );
    project.write(
        "data/leads.csv",
        "Id,CreatedDate,LastModifiedDate,Email,Status,IsConverted,ConvertedOpportunityId,GA__c,GCLID__c,SQL_Date__c\n\
         P1,2024-03-05T18:00:00Z,2024-03-05T18:00:00Z,P1@X.com,Open,true,O1,,G-CRM-1,2024-03-06T17:00:00Z\n\
         P2,2024-03-07T18:00:00Z,2024-03-07T18:00:00Z,p2@x.com,Open,true,O1,,,\n\
         P3,2024-03-20T12:00:00Z,2024-03-20T12:00:00Z,p3@x.com,Open,false,,GA1.1.3.3,,2024-03-21T12:00:00Z\n\
         P4,2024-03-20T12:00:00Z,2024-03-20T12:00:00Z,p4@x.com,Spam,false,,,G-SPAM,2024-03-21T12:00:00Z\n",
    );
    project.write(
        "data/opportunities.csv",
        "Id,CreatedDate,LastModifiedDate,CloseDate,StageName,Amount,IsClosed,IsWon,CurrencyIsoCode\n\
         O1,2024-03-10T20:00:00Z,2024-04-02T10:00:00Z,2024-04-02,Closed Won,10000,true,true,USD\n",
    );
    project
}

fn clearsight(project: &TestProject, args: &[&str]) -> std::process::Output {
    crate::support::bin_in(project.path())
        .args(args)
        .output()
        .unwrap()
}

fn export(project: &TestProject, args: &[&str]) -> String {
    let all = [&["export", "conversions"][..], args].concat();
    assert_ok(&clearsight(project, &all), "export conversions")
}

const P1: &str = "7d2e2575270fbcccea429481bad32c3dd41a4fe8b581cfe139f6f41677d1c642";
const P2: &str = "39126ce987c02896bd9a388d6ae9455dca7e30aca67120f361cf58bee0758784";
const P3: &str = "824b57d8d83f3b16a390628960f4be32af2fefbae8e4fd9dedd417757053e0db";

#[test]
fn crm_outcomes_become_google_ads_and_meta_upload_files() {
    let project = world();
    let before = clearsight(&project, &["export", "conversions", "--platform", "meta"]);
    assert_eq!(before.status.code(), Some(2), "nothing is published yet");
    assert!(String::from_utf8_lossy(&before.stderr).contains("clearsight build"));
    assert_ok(&clearsight(&project, &["build"]), "build");

    // Times in PST before 2024-03-10T10:00Z, PDT after; the won deal at local midnight of its
    // CloseDate; values are each lead's half of 10,000.
    assert_eq!(
        export(&project, &["--platform", "google_ads"]),
        "Parameters:TimeZone=America/Los_Angeles\n\
         Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency\n\
         G-CRM-1,CRM SQL,2024-03-06 09:00:00,0.00,USD\n\
         G-CRM-1,CRM Opportunity,2024-03-10 13:00:00,5000.00,USD\n\
         G-NEW,CRM SQL,2024-03-21 05:00:00,0.00,USD\n\
         G-CRM-1,CRM Closed Won,2024-04-02 00:00:00,5000.00,USD\n"
    );
    // Meta: every non-spam lead with an email, by SHA-256 of the trimmed, lower-cased address.
    assert_eq!(
        export(&project, &["--platform", "meta"]),
        format!(
            "email,event_name,event_time,value,currency\n\
             {P1},CRM SQL,1709744400,0.00,USD\n\
             {P1},CRM Opportunity,1710100800,5000.00,USD\n\
             {P2},CRM Opportunity,1710100800,5000.00,USD\n\
             {P3},CRM SQL,1711022400,0.00,USD\n\
             {P1},CRM Closed Won,1712041200,5000.00,USD\n\
             {P2},CRM Closed Won,1712041200,5000.00,USD\n"
        )
    );
}

#[test]
fn since_and_stage_pick_the_daily_upload() {
    let project = world();
    assert_ok(&clearsight(&project, &["build"]), "build");
    // --since is a local day: P1's SQL (March 6) goes, its opportunity (March 10, 13:00) stays.
    let out = project.path().join("upload.csv");
    let written = export(
        &project,
        &[
            "--platform",
            "google_ads",
            "--since",
            "2024-03-10",
            "--stage",
            "opportunity,won",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(written, "", "the file, not stdout");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "Parameters:TimeZone=America/Los_Angeles\n\
         Google Click ID,Conversion Name,Conversion Time,Conversion Value,Conversion Currency\n\
         G-CRM-1,CRM Opportunity,2024-03-10 13:00:00,5000.00,USD\n\
         G-CRM-1,CRM Closed Won,2024-04-02 00:00:00,5000.00,USD\n"
    );
    let bad = clearsight(
        &project,
        &[
            "export",
            "conversions",
            "--platform",
            "meta",
            "--since",
            "March",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
}
