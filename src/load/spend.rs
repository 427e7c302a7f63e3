//! Ad-spend exports: Google Ads report CSV (title and date-range preamble, "1,234.56" costs),
//! Meta Ads and LinkedIn Campaign Manager exports, and the plain
//! `date,platform,campaign,cost,impressions,clicks` CSV, into `ad_spend`.

use crate::config::{Source, SourceKind, SourcesConfig};

use super::rows::{read_csv, CsvRow, RowCollector, Value};
use super::{schema, values, Parsed};

const DATE_COLUMNS: [&str; 6] = [
    "day",
    "date",
    "reporting starts",
    "start date (in utc)",
    "start date",
    "spend_date",
];
const COST_PREFIXES: [&str; 4] = ["cost", "amount spent", "total spent", "spend"];
const CAMPAIGN_COLUMNS: [&str; 3] = ["campaign", "campaign name", "campaign_name"];
const IMPRESSION_COLUMNS: [&str; 3] = ["impressions", "impr.", "impr"];
const CLICK_COLUMNS: [&str; 4] = ["clicks", "link clicks", "clicks (all)", "link clicks (all)"];
const CURRENCY_COLUMNS: [&str; 3] = ["currency", "currency code", "currency_code"];

fn is_cost_column(h: &str) -> bool {
    let h = h.to_ascii_lowercase();
    COST_PREFIXES
        .iter()
        .any(|p| h == *p || h.starts_with(&format!("{p} (")))
}

/// The header is the first line naming a known date column and a known cost column.
fn is_header(fields: &[String]) -> bool {
    fields
        .iter()
        .any(|f| DATE_COLUMNS.contains(&f.to_ascii_lowercase().as_str()))
        && fields.iter().any(|f| is_cost_column(f))
}

fn first_present<'h>(headers: &'h [String], names: &[&str]) -> Option<&'h str> {
    names.iter().find_map(|n| {
        headers
            .iter()
            .find(|h| h.eq_ignore_ascii_case(n))
            .map(String::as_str)
    })
}

/// `Amount spent (EUR)` carries its currency in the column name.
fn currency_in_name(cost_column: &str) -> Option<String> {
    let open = cost_column.rfind('(')?;
    let code = cost_column[open + 1..].trim_end_matches(')').trim();
    (code.len() == 3 && code.chars().all(|c| c.is_ascii_alphabetic()))
        .then(|| code.to_ascii_uppercase())
}

fn default_platform(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::GoogleAds => "google_ads",
        SourceKind::MetaAds => "meta_ads",
        SourceKind::LinkedinAds => "linkedin_ads",
        _ => "unknown",
    }
}

struct Columns<'h> {
    date: &'h str,
    cost: &'h str,
    campaign: Option<&'h str>,
    impressions: Option<&'h str>,
    clicks: Option<&'h str>,
    currency: Option<&'h str>,
}

fn spend_row(
    src: &Source,
    cfg: &SourcesConfig,
    cols: &Columns,
    row: &CsvRow,
    file: &str,
) -> Result<Vec<Value>, super::rows::Rejection> {
    let date = values::date(row.get(cols.date)).map_err(|r| row.reject(cols.date, r))?;
    let cost = values::amount(row.get(cols.cost))
        .map_err(|r| row.reject(cols.cost, r))?
        .unwrap_or(0.0);
    let currency = cols
        .currency
        .and_then(|c| values::text(row.get(c)))
        .or_else(|| currency_in_name(cols.cost))
        .unwrap_or_else(|| cfg.reporting_currency.clone())
        .to_ascii_uppercase();
    let rate = cfg.rate(&currency).ok_or_else(|| {
        row.reject(
            cols.currency.unwrap_or(cols.cost),
            format!(
                "currency {currency:?} has no configured rate to {}",
                cfg.reporting_currency
            ),
        )
    })?;
    let platform = if row.has("platform") {
        values::text(row.get("platform"))
            .ok_or_else(|| row.reject("platform", "required value is empty"))?
    } else {
        src.platform
            .clone()
            .unwrap_or_else(|| default_platform(src.kind).to_string())
    };
    let count = |col: Option<&str>| -> Result<Value, super::rows::Rejection> {
        let Some(col) = col else {
            return Ok(Value::Null);
        };
        values::count(row.get(col))
            .map(|v| v.map_or(Value::Null, Value::Int))
            .map_err(|r| row.reject(col, r))
    };
    Ok(vec![
        Value::Date(values::date32(date)),
        Value::Text(platform),
        cols.campaign.and_then(|c| values::text(row.get(c))).into(),
        Value::Float(cost * rate),
        Value::Float(cost),
        Value::Text(currency),
        count(cols.impressions)?,
        count(cols.clicks)?,
        Value::Text(file.to_string()),
        Value::Int(row.line as i64),
    ])
}

/// Parses one spend export.
pub fn parse(src: &Source, cfg: &SourcesConfig, file: &str, text: &str) -> Result<Parsed, String> {
    let mut rows = RowCollector::new(schema::AD_SPEND.clone());
    let mut headers: Option<Vec<String>> = None;
    let outcome = read_csv(text, is_header, |row| {
        let h = headers.get_or_insert_with(|| row_headers(row));
        let cols = Columns {
            date: first_present(h, &DATE_COLUMNS).expect("header has a date column"),
            cost: h
                .iter()
                .find(|c| is_cost_column(c))
                .expect("header has a cost column"),
            campaign: first_present(h, &CAMPAIGN_COLUMNS),
            impressions: first_present(h, &IMPRESSION_COLUMNS),
            clicks: first_present(h, &CLICK_COLUMNS),
            currency: first_present(h, &CURRENCY_COLUMNS),
        };
        rows.push(spend_row(src, cfg, &cols, row, file)?);
        Ok(())
    })?;
    Parsed::new(rows, outcome)
}

fn row_headers(row: &CsvRow) -> Vec<String> {
    row.headers().to_vec()
}
