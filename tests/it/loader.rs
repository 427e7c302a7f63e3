//! The loader: each format read from hand-written fixtures with exact expected rows, every
//! quarantine reason, idempotent reload, and an object-store (memory://) round trip.

use clearsight::observe::Silent;
use std::sync::Arc;

use bytes::Bytes;
use clearsight::config::{Source, SourceKind, SourcesConfig};
use clearsight::load::{parse_file, Parsed};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::support::{fixture_sources, fixtures, rows, TestProject};

fn sources_config() -> SourcesConfig {
    serde_yaml::from_str(&fixture_sources("warehouse")).unwrap()
}

fn source(kind: SourceKind) -> Source {
    sources_config()
        .sources
        .into_iter()
        .find(|s| s.kind == kind)
        .unwrap()
}

fn parse(kind: SourceKind, file: &str) -> Parsed {
    let bytes = std::fs::read(fixtures().join(file)).unwrap();
    let name = file.rsplit('/').next().unwrap();
    parse_file(&source(kind), &sources_config(), name, Bytes::from(bytes)).unwrap()
}

/// The parsed rows as text, selected columns only.
async fn table(parsed: &Parsed, columns: &str) -> Vec<Vec<String>> {
    let ctx = SessionContext::new();
    let t = MemTable::try_new(parsed.batches[0].schema(), vec![parsed.batches.clone()]).unwrap();
    ctx.register_table("t", Arc::new(t)).unwrap();
    rows(
        &ctx,
        &format!("SELECT {columns} FROM t ORDER BY source_line"),
    )
    .await
}

fn reasons(parsed: &Parsed) -> Vec<(u64, String, String)> {
    parsed
        .rejections
        .iter()
        .map(|r| (r.line, r.field.clone(), r.reason.clone()))
        .collect()
}

fn v(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn ga4_json_export_flattens_params_and_quarantines_bad_lines() {
    let p = parse(SourceKind::Ga4Json, "ga4/events_20240105.json");
    assert_eq!(p.rows_read, 6, "blank line is not a row");
    let got = table(&p, "CAST(event_at AS BIGINT), user_pseudo_id, user_id, ga_session_id, page_location, page_referrer, manual_source, manual_campaign_name, gclid, source_line").await;
    assert_eq!(
        got,
        vec![
            v(&[
                "1704412800123456",
                "111.222",
                "NULL",
                "1704412800",
                "https://www.acme.example/?gclid=abc123&utm_campaign=Brand",
                "https://www.google.com/",
                "google",
                "Brand",
                "abc123",
                "1"
            ]),
            v(&[
                "1704412860000000",
                "111.222",
                "deadbeef",
                "1704412800",
                "https://www.acme.example/pricing",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "3"
            ]),
        ]
    );
    let r = reasons(&p);
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].0, 4);
    assert!(r[0].2.starts_with("not valid JSON"), "{r:?}");
    let fields: Vec<(u64, &str)> = r[1..].iter().map(|x| (x.0, x.1.as_str())).collect();
    assert_eq!(
        fields,
        vec![
            (5, "event_params.ga_session_id"),
            (6, "user_pseudo_id"),
            (7, "event_timestamp")
        ]
    );
    assert!(r[1..].iter().all(|x| x.2.starts_with("required field")));
}

#[tokio::test]
async fn ga4_parquet_export_reads_like_the_json_one() {
    // A Parquet export whose schema arrow infers from the JSON itself (timestamps as text,
    // params as a list of structs), as another tool would have written it.
    let text = std::fs::read_to_string(fixtures().join("ga4/events_20240105.json")).unwrap();
    let good: String = text
        .lines()
        .filter(|l| {
            [
                "\"ga_session_id\"",
                "\"user_pseudo_id\"",
                "\"event_timestamp\"",
            ]
            .iter()
            .all(|k| l.contains(k))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let (schema, _) =
        arrow_json::reader::infer_json_schema(std::io::Cursor::new(good.clone()), None).unwrap();
    let reader = arrow_json::ReaderBuilder::new(Arc::new(schema))
        .with_coerce_primitive(true)
        .build(std::io::Cursor::new(good))
        .unwrap();
    let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
    let bytes = clearsight::warehouse::parquet_bytes(batches[0].schema(), &batches).unwrap();
    let export = Source {
        kind: SourceKind::Ga4Parquet,
        path: "events.parquet".into(),
        fields: Default::default(),
        platform: None,
        encoding: None,
        decimal_separator: Default::default(),
    };
    let p = parse_file(&export, &sources_config(), "events.parquet", bytes).unwrap();
    assert_eq!(p.rows_read, 2);
    assert!(p.rejections.is_empty());
    let got = table(
        &p,
        "CAST(event_at AS BIGINT), ga_session_id, gclid, user_id, source_line",
    )
    .await;
    assert_eq!(
        got,
        vec![
            v(&["1704412800123456", "1704412800", "abc123", "NULL", "1"]),
            v(&["1704412860000000", "1704412800", "NULL", "deadbeef", "2"])
        ]
    );
}

#[tokio::test]
async fn salesforce_leads_map_custom_fields_and_quarantine_each_reason() {
    let p = parse(SourceKind::SalesforceLeads, "crm/sf_leads.csv");
    assert_eq!(p.rows_read, 6);
    let got = table(&p, "lead_id, crm, CAST(created_at AS VARCHAR), email_sha256, status, is_converted, opportunity_id, ga_client_id, gclid, utm_source, CAST(mql_at AS VARCHAR), source_line").await;
    assert_eq!(
        got,
        vec![
            v(&[
                "00Q000000000001",
                "salesforce",
                "2024-01-05T10:22:33Z",
                "71d4f55f72fa128dfb468a1a3901507c804b74316488744d769d7f4b16696476",
                "Converted",
                "true",
                "006000000000001",
                "111.222",
                "NULL",
                "NULL",
                "2024-01-07T00:00:00Z",
                "2"
            ]),
            v(&[
                "00Q000000000002",
                "salesforce",
                "2024-01-06T11:00:00Z",
                &sha("bob@example.com"),
                "Spam",
                "false",
                "NULL",
                "NULL",
                "abc123",
                "LinkedIn",
                "NULL",
                "3"
            ]),
        ]
    );
    assert_eq!(
        got[0][3],
        sha("ann@example.com"),
        "email is lower-cased and trimmed before hashing"
    );
    let r = reasons(&p);
    assert_eq!(
        r.iter().map(|x| (x.0, x.1.as_str())).collect::<Vec<_>>(),
        vec![(4, "CreatedDate"), (5, "IsConverted"), (6, ""), (7, "")]
    );
    assert!(r[0].2.contains("2024-02-30"));
    assert!(r[1].2.contains("true/false") && r[1].2.contains("\"yes\""));
    assert_eq!(r[2].2, "line repeats the header");
    assert_eq!(r[3].2, "expected 16 fields, found 5");
}

fn sha(email: &str) -> String {
    clearsight::load::values::email_sha256(email).unwrap()
}

#[tokio::test]
async fn salesforce_opportunities_convert_currency_and_reject_bad_amounts() {
    let p = parse(
        SourceKind::SalesforceOpportunities,
        "crm/sf_opportunities.csv",
    );
    assert_eq!(p.rows_read, 5);
    let got = table(&p, "opportunity_id, CAST(close_date AS VARCHAR), stage, amount, amount_original, currency, is_won").await;
    assert_eq!(
        got,
        vec![
            v(&[
                "006000000000001",
                "2024-03-01",
                "Closed Won",
                "12000.0",
                "12000.0",
                "USD",
                "true"
            ]),
            v(&[
                "006000000000002",
                "2024-04-30",
                "Prospecting",
                "NULL",
                "NULL",
                "USD",
                "false"
            ]),
            v(&[
                "006000000000003",
                "2024-04-30",
                "Closed Won",
                "1080.0",
                "1000.0",
                "EUR",
                "true"
            ]),
        ]
    );
    let r = reasons(&p);
    assert_eq!(
        r.iter().map(|x| (x.0, x.1.as_str())).collect::<Vec<_>>(),
        vec![(5, "Amount"), (6, "CurrencyIsoCode")]
    );
    assert!(
        r[1].2.contains("\"JPY\" has no configured rate"),
        "{}",
        r[1].2
    );
}

#[tokio::test]
async fn hubspot_contacts_and_deals_use_internal_property_names() {
    let c = parse(SourceKind::HubspotContacts, "crm/hs_contacts.csv");
    let got = table(&c, "lead_id, crm, CAST(created_at AS VARCHAR), status, lead_source, associated_deal_ids, is_converted, CAST(mql_at AS VARCHAR)").await;
    assert_eq!(
        got,
        vec![v(&[
            "501",
            "hubspot",
            "2024-01-08T09:30:00Z",
            "OPEN",
            "Trade Show",
            "902;901",
            "true",
            "2024-01-09T10:00:00Z"
        ])]
    );
    let d = parse(SourceKind::HubspotDeals, "crm/hs_deals.csv");
    let got = table(
        &d,
        "opportunity_id, CAST(created_at AS VARCHAR), amount, is_closed, is_won",
    )
    .await;
    assert_eq!(
        got,
        vec![
            v(&["901", "2024-01-15T12:00:00Z", "5000.0", "true", "true"]),
            v(&["902", "2024-01-12T12:00:00Z", "NULL", "false", "false"])
        ]
    );
}

#[tokio::test]
async fn spend_exports_skip_preamble_and_totals_and_parse_costs() {
    let g = parse(SourceKind::GoogleAds, "spend/google_ads.csv");
    assert_eq!(
        g.rows_read, 2,
        "title, date range and Total lines are not rows"
    );
    let cols = "CAST(spend_date AS VARCHAR), platform, campaign, cost, cost_original, currency, impressions, clicks";
    assert_eq!(
        table(&g, cols).await,
        vec![
            v(&[
                "2024-01-05",
                "google_ads",
                "Brand",
                "1234.56",
                "1234.56",
                "USD",
                "10000",
                "250"
            ]),
            v(&[
                "2024-01-06",
                "google_ads",
                "Display Remarketing",
                "10.0",
                "10.0",
                "USD",
                "500",
                "5"
            ]),
        ]
    );
    let m = parse(SourceKind::MetaAds, "spend/meta_ads.csv");
    assert_eq!(
        table(&m, cols).await,
        vec![v(&[
            "2024-01-05",
            "meta_ads",
            "Ebook Lead Gen",
            "45.1",
            "45.1",
            "USD",
            "3000",
            "60"
        ])]
    );
    assert_eq!(
        reasons(&m),
        vec![(
            3,
            "Amount spent (USD)".to_string(),
            "not a number: \"oops\"".to_string()
        )]
    );
    let l = parse(SourceKind::LinkedinAds, "spend/linkedin.csv");
    assert_eq!(
        table(&l, cols).await,
        vec![v(&[
            "2024-01-05",
            "linkedin_ads",
            "ABM Enterprise",
            "108.0",
            "100.0",
            "EUR",
            "1000",
            "10"
        ])]
    );
    assert_eq!(reasons(&l)[0].0, 5);
    assert_eq!(reasons(&l)[0].1, "Currency");
    let x = parse(SourceKind::GenericSpend, "spend/generic.csv");
    assert_eq!(
        table(&x, cols).await,
        vec![v(&[
            "2024-01-05",
            "dv360",
            "Display Prospecting",
            "20.5",
            "20.5",
            "USD",
            "40000",
            "30"
        ])]
    );
}

#[tokio::test]
async fn load_reconciles_counts_keeps_quarantine_and_reloads_nothing() {
    let project = TestProject::new(&fixture_sources("warehouse"));
    let ctx = project.workspace();
    let report = ctx.load(&Silent).await.unwrap();
    assert!(report.unreadable.is_empty(), "{:?}", report.unreadable);
    assert_eq!(report.files.len(), 9);
    for f in &report.files {
        assert_eq!(
            f.rows_read,
            f.rows_loaded + f.rows_quarantined,
            "{}",
            f.file
        );
    }
    assert_eq!(
        report.total(|f| f.rows_read),
        6 + 6 + 5 + 1 + 2 + 2 + 2 + 2 + 1
    );
    assert_eq!(report.total(|f| f.rows_quarantined), 4 + 4 + 2 + 1 + 1);

    let session = crate::support::loaded_session(&ctx).await;
    let q = rows(
        &session,
        "SELECT source_file, line, field FROM quarantine ORDER BY source_file, line",
    )
    .await;
    assert_eq!(q.len(), 12);
    assert_eq!(q[0], vec!["events_20240105.json", "4", ""]);
    let counts = rows(&session, "SELECT (SELECT COUNT(*) FROM ga_events) AS e, (SELECT COUNT(*) FROM crm_leads) AS l, (SELECT COUNT(*) FROM ad_spend) AS s").await;
    assert_eq!(counts, vec![v(&["2", "3", "5"])]);

    let again = ctx.load(&Silent).await.unwrap();
    assert!(
        again.files.iter().all(|f| f.skipped),
        "second load must skip every file"
    );
    assert_eq!(again.total(|f| f.rows_loaded), 0);
    let session = crate::support::loaded_session(&ctx).await;
    let after = rows(&session, "SELECT (SELECT COUNT(*) FROM ga_events) AS e, (SELECT COUNT(*) FROM crm_leads) AS l, (SELECT COUNT(*) FROM quarantine) AS q").await;
    assert_eq!(after, vec![v(&["2", "3", "12"])]);
}

#[tokio::test]
async fn memory_object_store_round_trip() {
    let project = TestProject::new(&fixture_sources("memory://loader-test/wh"));
    let ctx = project.workspace();
    assert!(ctx.warehouse.url.starts_with("memory://"));
    let report = ctx.load(&Silent).await.unwrap();
    assert_eq!(
        report.total(|f| f.rows_loaded),
        2 + 2 + 3 + 1 + 2 + 2 + 1 + 1 + 1
    );
    assert!(!std::path::Path::new(&project.path().join("warehouse")).exists());
    let files = ctx.warehouse.list("raw/").await.unwrap();
    assert!(
        files.iter().any(|f| f.starts_with("raw/ga_events/")),
        "{files:?}"
    );
    let session = crate::support::loaded_session(&ctx).await;
    let got = rows(&session, "SELECT SUM(cost) FROM ad_spend").await;
    assert_eq!(
        got[0][0].parse::<f64>().unwrap(),
        1234.56 + 10.0 + 45.1 + 108.0 + 20.5
    );
}

#[tokio::test]
async fn google_ads_excel_download_in_utf16_with_tabs_reads_the_same() {
    // Google Ads' "Excel .csv" download: UTF-16LE with a BOM, tab-separated.
    let text = std::fs::read_to_string(fixtures().join("spend/google_ads.csv")).unwrap();
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let tabbed: String = rdr
        .records()
        .map(|r| r.unwrap().iter().collect::<Vec<_>>().join("\t") + "\n")
        .collect();
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(tabbed.encode_utf16().flat_map(|u| u.to_le_bytes()));
    let excel = parse_file(
        &source(SourceKind::GoogleAds),
        &sources_config(),
        "google_ads.csv",
        Bytes::from(bytes),
    )
    .unwrap();
    let plain = parse(SourceKind::GoogleAds, "spend/google_ads.csv");
    let cols = "CAST(spend_date AS VARCHAR), campaign, cost, impressions, clicks, source_line";
    assert_eq!(table(&excel, cols).await, table(&plain, cols).await);
    assert_eq!(excel.rows(), 2);
}
