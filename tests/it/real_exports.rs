//! Every file of `../shared/real-exports/`, as people downloaded them, loads as that folder's
//! README says. The expected rows, totals and months below are copied by hand from its table
//! (and, for the spread undated reports, worked out by hand from SPEC section 8).

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use clearsight::config::{Source, SourceKind, SourcesConfig};
use clearsight::load::{parse_file, Parsed};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use crate::support::{repo, rows};

/// `../shared/real-exports/` beside the repository (CI lays shared/ there too).
pub fn corpus() -> PathBuf {
    let dir = repo().join("../shared/real-exports");
    assert!(
        dir.is_dir(),
        "the real-exports corpus is missing: expected {}",
        dir.display()
    );
    dir
}

/// The corpus's currencies all have rates; amounts are checked in the file's own currency.
pub fn config() -> SourcesConfig {
    serde_yaml::from_str(
        "reporting_currency: USD\n\
         currency_rates: {GBP: 1.27, EUR: 1.08, AUD: 0.66, MXN: 0.055, COP: 0.00025, PEN: 0.27}\n\
         sources: []\n",
    )
    .unwrap()
}

pub fn source(kind: SourceKind) -> Source {
    serde_yaml::from_str(&format!(
        "{{kind: {}, path: x}}",
        serde_json::to_value(kind).unwrap().as_str().unwrap()
    ))
    .unwrap()
}

/// Every corpus file with the kind of source it is.
pub const FILES: [(SourceKind, &str); 12] = [
    (
        SourceKind::GoogleAds,
        "google_ads/campaign_report_utf16_tsv_undated.csv",
    ),
    (
        SourceKind::GoogleAds,
        "google_ads/campaign_report_utf8_undated_gb_dates.csv",
    ),
    (
        SourceKind::GoogleAds,
        "google_ads/campaign_report_utf8_undated_us_dates.csv",
    ),
    (
        SourceKind::GoogleAds,
        "google_ads/campaign_performance_daily.csv",
    ),
    (
        SourceKind::GoogleAds,
        "google_ads/campaign_report_header_only_all_time.csv",
    ),
    (
        SourceKind::GoogleAds,
        "google_ads/search_keyword_report_utf16_tsv.csv",
    ),
    (SourceKind::MetaAds, "meta/ads_daily_bom_aud.csv"),
    (SourceKind::MetaAds, "meta/campaigns_no_data.csv"),
    (
        SourceKind::LinkedinAds,
        "linkedin/creative_performance_preamble_only.csv",
    ),
    (
        SourceKind::SalesforceLeads,
        "salesforce/Lead_weekly_export.csv",
    ),
    (
        SourceKind::SalesforceOpportunities,
        "salesforce/Opportunity_weekly_export.csv",
    ),
    (
        SourceKind::Ga4Json,
        "ga4/events_console_download_array.json",
    ),
];

fn load(kind: SourceKind, file: &str) -> Result<Parsed, String> {
    let bytes = std::fs::read(corpus().join(file)).unwrap();
    let name = file.rsplit('/').next().unwrap();
    parse_file(&source(kind), &config(), name, Bytes::from(bytes))
}

fn loaded(kind: SourceKind, file: &str) -> Parsed {
    load(kind, file).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// One query over the parsed rows (table `t`), cells as text.
async fn query(parsed: &Parsed, sql: &str) -> Vec<Vec<String>> {
    let ctx = SessionContext::new();
    let schema = match parsed.batches.first() {
        Some(b) => b.schema(),
        None => return vec![],
    };
    let t = MemTable::try_new(schema, vec![parsed.batches.clone()]).unwrap();
    ctx.register_table("t", Arc::new(t)).unwrap();
    rows(&ctx, sql).await
}

fn assert_close(got: &str, want: f64, what: &str) {
    let g: f64 = got.parse().unwrap_or_else(|_| panic!("{what}: {got}"));
    assert!((g - want).abs() < 0.005, "{what}: got {g}, want {want}");
}

const SPEND_SUMMARY: &str = "SELECT SUM(cost_original), MIN(currency), MAX(currency), \
    CAST(MIN(spend_date) AS VARCHAR), CAST(MAX(spend_date) AS VARCHAR), \
    COUNT(DISTINCT source_line), MIN(date_precision), MAX(date_precision) FROM t";

const BY_MONTH: &str =
    "SELECT CAST(DATE_TRUNC('month', CAST(spend_date AS TIMESTAMP)) AS VARCHAR), \
    SUM(cost_original) FROM t GROUP BY 1 ORDER BY 1";

#[tokio::test]
async fn google_ads_undated_utf16_report_spreads_its_row_over_the_range() {
    let p = loaded(
        SourceKind::GoogleAds,
        "google_ads/campaign_report_utf16_tsv_undated.csv",
    );
    assert_eq!(
        (p.rows_read, p.rejections.len()),
        (1, 0),
        "{:?}",
        p.rejections
    );
    assert_eq!(p.rows(), 28, "one row per day of 27 Jan - 23 Feb 2026");
    let s = &query(&p, SPEND_SUMMARY).await[0];
    assert_close(&s[0], 365.22, "cost");
    assert_eq!(
        &s[1..],
        [
            "GBP",
            "GBP",
            "2026-01-27",
            "2026-02-23",
            "1",
            "range",
            "range"
        ]
    );
    let m = query(&p, BY_MONTH).await;
    assert_eq!(m[0][0], "2026-01-01T00:00:00");
    assert_close(&m[0][1], 65.22, "January: 5/28");
    assert_close(&m[1][1], 300.00, "February: 23/28");
    // "9,380" impressions and 264 clicks spread in whole numbers that add up.
    let counts = query(
        &p,
        "SELECT SUM(impressions), SUM(clicks), MIN(clicks), MAX(clicks) FROM t",
    )
    .await;
    assert_eq!(counts[0], ["9380", "264", "9", "10"]);
}

#[tokio::test]
async fn google_ads_undated_gb_and_us_range_lines() {
    let gb = loaded(
        SourceKind::GoogleAds,
        "google_ads/campaign_report_utf8_undated_gb_dates.csv",
    );
    assert_eq!((gb.rows_read, gb.rejections.len(), gb.rows()), (2, 0, 56));
    let s = &query(&gb, SPEND_SUMMARY).await[0];
    assert_close(&s[0], 1164.10, "cost");
    assert_eq!(&s[3..6], ["2026-01-27", "2026-02-23", "2"]);
    let m = query(&gb, BY_MONTH).await;
    assert_close(&m[0][1], 1164.10 * 5.0 / 28.0, "January");
    assert_close(&m[1][1], 1164.10 * 23.0 / 28.0, "February");

    let us = loaded(
        SourceKind::GoogleAds,
        "google_ads/campaign_report_utf8_undated_us_dates.csv",
    );
    assert_eq!(
        (us.rows_read, us.rejections.len(), us.rows()),
        (3, 0, 3 * 28)
    );
    let s = &query(&us, SPEND_SUMMARY).await[0];
    assert_close(&s[0], 0.0, "cost");
    assert_eq!(&s[1..6], ["EUR", "EUR", "2026-03-27", "2026-04-23", "3"]);
    let greek = query(
        &us,
        "SELECT DISTINCT campaign FROM t WHERE campaign LIKE 'Ο%'",
    )
    .await;
    assert_eq!(
        greek.len(),
        1,
        "the Greek campaign name survives UTF-8 decoding"
    );
}

#[tokio::test]
async fn google_ads_daily_report_loads_every_day() {
    let p = loaded(
        SourceKind::GoogleAds,
        "google_ads/campaign_performance_daily.csv",
    );
    assert_eq!(
        (p.rows(), p.rejections.len()),
        (1016, 0),
        "{:?}",
        p.rejections.first()
    );
    let s = &query(&p, SPEND_SUMMARY).await[0];
    assert_close(&s[0], 35971.56, "cost");
    assert_eq!(
        &s[1..],
        [
            "AUD",
            "AUD",
            "2025-09-02",
            "2026-04-15",
            "1016",
            "day",
            "day"
        ]
    );
}

#[tokio::test]
async fn all_time_reports_refuse_with_the_day_segment_advice_unless_empty() {
    let empty = loaded(
        SourceKind::GoogleAds,
        "google_ads/campaign_report_header_only_all_time.csv",
    );
    assert_eq!(
        (empty.rows_read, empty.rows(), empty.rejections.len()),
        (0, 0, 0)
    );
    let err = load(
        SourceKind::GoogleAds,
        "google_ads/search_keyword_report_utf16_tsv.csv",
    )
    .err()
    .expect("an All time report with rows cannot be dated");
    assert!(
        err.contains("All time") && err.contains("Day segment"),
        "{err}"
    );
}

#[tokio::test]
async fn meta_export_with_bom_duplicate_column_and_embedded_newlines() {
    let p = loaded(SourceKind::MetaAds, "meta/ads_daily_bom_aud.csv");
    assert_eq!(
        (p.rows(), p.rejections.len()),
        (1227, 0),
        "{:?}",
        p.rejections.first()
    );
    let s = &query(&p, SPEND_SUMMARY).await[0];
    assert_close(&s[0], 13571.00, "cost");
    assert_eq!(&s[1..5], ["AUD", "AUD", "2025-08-01", "2026-04-14"]);
}

#[tokio::test]
async fn empty_exports_load_zero_rows_without_quarantine() {
    for (kind, file) in [
        (SourceKind::MetaAds, "meta/campaigns_no_data.csv"),
        (
            SourceKind::LinkedinAds,
            "linkedin/creative_performance_preamble_only.csv",
        ),
    ] {
        let p = loaded(kind, file);
        assert_eq!(
            (p.rows_read, p.rows(), p.rejections.len()),
            (0, 0, 0),
            "{file}"
        );
    }
}

/// Rows where `flag` holds, rows with `counted` set, first and last creation day.
async fn crm_summary(parsed: &Parsed, flag: &str, counted: &str) -> Vec<String> {
    let sql = format!(
        "SELECT COUNT(*) FILTER (WHERE {flag}), COUNT({counted}), \
         CAST(CAST(MIN(created_at) AS DATE) AS VARCHAR), CAST(CAST(MAX(created_at) AS DATE) AS VARCHAR) FROM t"
    );
    query(parsed, &sql).await.remove(0)
}

#[tokio::test]
async fn salesforce_weekly_data_export_in_windows_1252() {
    let leads = loaded(
        SourceKind::SalesforceLeads,
        "salesforce/Lead_weekly_export.csv",
    );
    assert_eq!(
        (leads.rows(), leads.rejections.len()),
        (35, 0),
        "{:?}",
        leads.rejections.first()
    );
    let l = crm_summary(&leads, "is_converted", "opportunity_id").await;
    assert_eq!(l, ["3", "0", "2022-12-21", "2023-06-28"]);
    let accented = query(
        &leads,
        "SELECT COUNT(*) FROM t WHERE lead_source = 'Gestión directa'",
    )
    .await;
    assert_ne!(accented[0][0], "0", "Windows-1252 ó decoded");

    let opps = loaded(
        SourceKind::SalesforceOpportunities,
        "salesforce/Opportunity_weekly_export.csv",
    );
    assert_eq!(
        (opps.rows(), opps.rejections.len()),
        (512, 0),
        "{:?}",
        opps.rejections.first()
    );
    let o = crm_summary(&opps, "is_won", "close_date").await;
    assert_eq!(o, ["163", "512", "2022-12-15", "2023-09-01"]);
    let currencies = query(
        &opps,
        "SELECT currency, COUNT(*) FROM t GROUP BY 1 ORDER BY 2 DESC",
    )
    .await;
    assert_eq!(
        currencies,
        vec![
            vec!["MXN", "220"],
            vec!["COP", "107"],
            vec!["USD", "105"],
            vec!["PEN", "80"]
        ]
    );
    // The first opportunity: "9225.225" PEN, CloseDate "2023-05-11 00:00:00".
    let first = query(
        &opps,
        "SELECT amount_original, CAST(close_date AS VARCHAR) FROM t WHERE source_line = 2",
    )
    .await;
    assert_eq!(first[0], ["9225.225", "2023-05-11"]);
}

#[tokio::test]
async fn ga4_console_download_is_one_json_array() {
    let p = loaded(
        SourceKind::Ga4Json,
        "ga4/events_console_download_array.json",
    );
    assert_eq!(
        (p.rows_read, p.rows(), p.rejections.len()),
        (1, 1, 0),
        "{:?}",
        p.rejections
    );
    let got = query(
        &p,
        "SELECT CAST(event_at AS BIGINT), event_name, user_pseudo_id, ga_session_id, source_line FROM t",
    )
    .await;
    assert_eq!(
        got[0],
        [
            "1673858401132002",
            "sign_up",
            "8d59ce7133e03f6170eadbce40174c91",
            "1673858394",
            "1"
        ]
    );
}

/// A small deterministic generator (xorshift64*), so a failure names a reproducible case.
struct Noise(u64);

impl Noise {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1) as u64) as usize
    }
}

#[test]
fn damaged_corpus_files_never_crash_the_loader() {
    let mut noise = Noise(0x5eed_c0ff_ee00_d00d);
    for (kind, file) in FILES {
        let bytes = std::fs::read(corpus().join(file)).unwrap();
        for case in 0..20 {
            let cut = noise.below(bytes.len());
            let mut flipped = bytes.clone();
            for _ in 0..1 + noise.below(8) {
                let at = noise.below(flipped.len());
                flipped[at] = noise.below(256) as u8;
            }
            for (what, damaged) in [("truncated", bytes[..cut].to_vec()), ("flipped", flipped)] {
                let outcome = std::panic::catch_unwind(|| {
                    parse_file(&source(kind), &config(), "damaged", Bytes::from(damaged))
                        .map(|p| (p.rows_read, p.rows(), p.rejections.len()))
                });
                assert!(
                    outcome.is_ok(),
                    "{file} case {case} ({what} at {cut}) panicked"
                );
            }
        }
    }
}
