//! Ad-spend exports: Google Ads reports (title and date-range preamble, `"1,234.56"` costs,
//! `Total:` lines, with or without the Day segment), Meta Ads and LinkedIn Campaign Manager
//! exports, and the plain `date,platform,campaign,cost,impressions,clicks` CSV, into `ad_spend`.
//!
//! A report without a date column takes its days from the preamble's range line and spreads
//! each row's cost, impressions and clicks evenly over them (`date_precision = 'range'`).

use chrono::NaiveDate;

use crate::config::{Source, SourceKind, SourcesConfig};

use super::csv_reader::{read_csv, CsvRow};
use super::rows::{Rejection, RowCollector, Value};
use super::{values, Parsed};
use crate::warehouse::schema;

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

/// What to do about a report without dates.
const DAY_SEGMENT_ADVICE: &str =
    "download the report again with the Day segment (Segment > Time > Day)";

fn is_cost_column(h: &str) -> bool {
    let h = h.to_ascii_lowercase();
    COST_PREFIXES
        .iter()
        .any(|p| h == *p || h.starts_with(&format!("{p} (")))
}

fn names_any(fields: &[String], names: &[&str]) -> bool {
    fields
        .iter()
        .any(|f| names.contains(&f.to_ascii_lowercase().as_str()))
}

/// The header is the first line naming a known date column and a known cost column, or, for
/// reports downloaded without the Day segment, the first naming a campaign column.
fn is_header(fields: &[String]) -> bool {
    (names_any(fields, &DATE_COLUMNS) && fields.iter().any(|f| is_cost_column(f)))
        || names_any(fields, &CAMPAIGN_COLUMNS)
}

fn first_present(headers: &[String], names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| headers.iter().find(|h| h.eq_ignore_ascii_case(n)).cloned())
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

/// One side of a range line: `March 27, 2026`, `27 January 2026`, `1 May 2026`, ISO or US.
fn range_date(text: &str) -> Option<NaiveDate> {
    let s = text.trim().trim_matches('"').trim();
    [
        "%B %d, %Y",
        "%d %B %Y",
        "%b %d, %Y",
        "%d %b %Y",
        "%Y-%m-%d",
        "%m/%d/%Y",
    ]
    .iter()
    .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

/// The report's date range from a preamble line `START - END` (first and last day included).
pub fn range_line(line: &str) -> Option<(NaiveDate, NaiveDate)> {
    let line = line.trim().trim_matches('"');
    let (from, to) = line.split_once(" - ").or_else(|| line.split_once(" – "))?;
    let (from, to) = (range_date(from)?, range_date(to)?);
    (from <= to).then_some((from, to))
}

/// Where a row's day comes from.
enum Dating {
    Column(String),
    /// Spread evenly over these days, first and last included.
    Range(NaiveDate, NaiveDate),
}

/// The columns of one export, found from its header (and preamble).
struct Layout {
    dating: Dating,
    cost: String,
    campaign: Option<String>,
    impressions: Option<String>,
    clicks: Option<String>,
    currency: Option<String>,
}

impl Layout {
    fn of(headers: &[String], preamble: &[String]) -> Result<Layout, String> {
        let cost = headers.iter().find(|c| is_cost_column(c)).cloned().ok_or_else(|| {
            format!("the header has no cost column (Cost, Amount spent, Total spent or Spend): {headers:?}")
        })?;
        let dating = match first_present(headers, &DATE_COLUMNS) {
            Some(column) => Dating::Column(column),
            None => match preamble.iter().find_map(|l| range_line(l)) {
                Some((from, to)) => Dating::Range(from, to),
                None if preamble.iter().any(|l| l.trim().eq_ignore_ascii_case("all time")) => {
                    return Err(format!(
                        "the report covers \"All time\" and has no Day column, so its cost cannot be dated: {DAY_SEGMENT_ADVICE}"
                    ))
                }
                None => {
                    return Err(format!(
                        "the report has no date column and no date range line before its header: {DAY_SEGMENT_ADVICE}"
                    ))
                }
            },
        };
        Ok(Layout {
            dating,
            cost,
            campaign: first_present(headers, &CAMPAIGN_COLUMNS),
            impressions: first_present(headers, &IMPRESSION_COLUMNS),
            clicks: first_present(headers, &CLICK_COLUMNS),
            currency: first_present(headers, &CURRENCY_COLUMNS),
        })
    }
}

/// One export line's values, before they are given days.
struct Line {
    platform: String,
    campaign: Option<String>,
    cost_original: f64,
    rate: f64,
    currency: String,
    impressions: Option<i64>,
    clicks: Option<i64>,
}

fn read_line(
    src: &Source,
    cfg: &SourcesConfig,
    cols: &Layout,
    row: &CsvRow,
) -> Result<Line, Rejection> {
    let decimal = src.decimal_separator;
    let cost_original = values::amount(row.get(&cols.cost), decimal)
        .map_err(|r| row.reject(&cols.cost, r))?
        .unwrap_or(0.0);
    let currency = cols
        .currency
        .as_deref()
        .and_then(|c| values::text(row.get(c)))
        .or_else(|| currency_in_name(&cols.cost))
        .unwrap_or_else(|| cfg.reporting_currency.clone())
        .to_ascii_uppercase();
    let rate = cfg.rate(&currency).ok_or_else(|| {
        row.reject(
            cols.currency.as_deref().unwrap_or(&cols.cost),
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
    let count = |col: &Option<String>| -> Result<Option<i64>, Rejection> {
        let Some(col) = col else { return Ok(None) };
        values::count(row.get(col), decimal).map_err(|r| row.reject(col, r))
    };
    Ok(Line {
        platform,
        campaign: cols
            .campaign
            .as_deref()
            .and_then(|c| values::text(row.get(c))),
        cost_original,
        rate,
        currency,
        impressions: count(&cols.impressions)?,
        clicks: count(&cols.clicks)?,
    })
}

/// `total` split over `days` whole parts that add up to it: the first `total % days` days get
/// one more.
fn spread_count(total: Option<i64>, day: i64, days: i64) -> Value {
    total.map_or(Value::Null, |t| {
        Value::Int(t / days + i64::from(day < t % days))
    })
}

/// The canonical rows of one line: one for a dated row, one per day of the range otherwise.
fn push_rows(
    rows: &mut RowCollector,
    line: &Line,
    dating: &Dating,
    row: &CsvRow,
    file: &str,
) -> Result<(), Rejection> {
    let (first, days, precision) = match dating {
        Dating::Column(col) => {
            let date = values::date(row.get(col)).map_err(|r| row.reject(col, r))?;
            (date, 1, "day")
        }
        Dating::Range(from, to) => (*from, (*to - *from).num_days() + 1, "range"),
    };
    for day in 0..days {
        let date = first + chrono::Days::new(day as u64);
        let cost = line.cost_original / days as f64;
        rows.push([
            ("spend_date", Value::Date(values::date32(date))),
            ("platform", Value::Text(line.platform.clone())),
            ("campaign", line.campaign.clone().into()),
            ("cost", Value::Float(cost * line.rate)),
            ("cost_original", Value::Float(cost)),
            ("currency", Value::Text(line.currency.clone())),
            ("impressions", spread_count(line.impressions, day, days)),
            ("clicks", spread_count(line.clicks, day, days)),
            ("date_precision", Value::Text(precision.into())),
            ("source_file", Value::Text(file.to_string())),
            ("source_line", Value::Int(row.line as i64)),
        ]);
    }
    Ok(())
}

/// Parses one spend export.
pub fn parse(src: &Source, cfg: &SourcesConfig, file: &str, text: &str) -> Result<Parsed, String> {
    let mut rows = RowCollector::new(schema::AD_SPEND.clone());
    let mut layout: Option<Result<Layout, String>> = None;
    let outcome = read_csv(text, is_header, |row| {
        let layout = layout.get_or_insert_with(|| Layout::of(row.headers(), row.preamble()));
        // A file-level problem (no cost column, no dates) stops the file after the loop.
        let Ok(cols) = layout else { return Ok(()) };
        let line = read_line(src, cfg, cols, row)?;
        push_rows(&mut rows, &line, &cols.dating, row, file)
    })?;
    if let Some(Err(message)) = layout {
        return Err(message);
    }
    Parsed::new(rows, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn every_range_line_form_of_spec_8() {
        assert_eq!(
            range_line("\"March 27, 2026 - April 23, 2026\""),
            Some((d(2026, 3, 27), d(2026, 4, 23)))
        );
        assert_eq!(
            range_line("27 January 2026 - 23 February 2026"),
            Some((d(2026, 1, 27), d(2026, 2, 23)))
        );
        assert_eq!(
            range_line("1 May 2026 - 8 May 2026"),
            Some((d(2026, 5, 1), d(2026, 5, 8)))
        );
        assert_eq!(
            range_line("Jan 5, 2026 - Feb 1, 2026"),
            Some((d(2026, 1, 5), d(2026, 2, 1)))
        );
        assert_eq!(range_line("All time"), None);
        assert_eq!(
            range_line("8 May 2026 - 1 May 2026"),
            None,
            "end before start"
        );
    }

    #[test]
    fn counts_spread_to_whole_days_that_add_up() {
        // 264 clicks over 28 days: 12 days of 10, 16 of 9.
        let parts: Vec<Value> = (0..28).map(|d| spread_count(Some(264), d, 28)).collect();
        let sum: i64 = parts
            .iter()
            .map(|v| if let Value::Int(x) = v { *x } else { 0 })
            .sum();
        assert_eq!(sum, 264);
        assert_eq!(parts[0], Value::Int(10));
        assert_eq!(parts[11], Value::Int(10));
        assert_eq!(parts[12], Value::Int(9));
    }
}
