//! GA4 BigQuery export (`events_*`) as newline-delimited JSON, a JSON array (the BigQuery
//! console's download) or Parquet, gzip-compressed or not, flattened into `ga_events`.
//! Each event becomes a [`Row`] (JSON through sonic-rs in [`event`], Parquet by column name
//! in [`parquet`]); the [`Flattener`] checks the required fields, reads the campaign
//! parameters and referrer host out of the URLs once, and builds the `ga_events` batches.

mod event;
mod json;
mod order;
mod parquet;

pub use json::{hashes_while_parsing, parse_json, parse_json_hashed};
pub use parquet::parse_parquet;

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int64Builder, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondBuilder,
};

use super::rows::batch_by_name;
use super::rows::Rejection;
use super::Parsed;
use crate::page_url::{host_of, CampaignParams};
use crate::warehouse::schema::GA_EVENTS;
use crate::warehouse::Layout;

/// The traffic-source columns of `ga_events`, named as the export's `collected_traffic_source`.
const TRAFFIC_FIELDS: [&str; 6] = [
    "manual_source",
    "manual_medium",
    "manual_campaign_name",
    "manual_term",
    "manual_content",
    "gclid",
];

/// The event's own text columns of `ga_events`.
const EVENT_COLUMNS: [&str; 5] = [
    "event_name",
    "user_pseudo_id",
    "user_id",
    "page_location",
    "page_referrer",
];
/// What the URLs say, read by [`crate::page_url`].
const URL_COLUMNS: [&str; 5] = [
    "page_gclid",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "referrer_host",
];

/// Every text column of `ga_events`, in the order [`Flattener::push`] fills them.
fn text_columns() -> impl Iterator<Item = &'static str> {
    EVENT_COLUMNS
        .into_iter()
        .chain(TRAFFIC_FIELDS)
        .chain(URL_COLUMNS)
}

/// Rows per `ga_events` batch.
const BATCH_ROWS: usize = 65_536;

/// One export event, as either format gives it; strings borrowed where they can be.
struct Row<'a> {
    at: Option<i64>,
    session: Option<i64>,
    name: Option<Cow<'a, str>>,
    user: Option<Cow<'a, str>>,
    user_id: Option<Cow<'a, str>>,
    page_location: Option<Cow<'a, str>>,
    page_referrer: Option<Cow<'a, str>>,
    /// In the order of [`TRAFFIC_FIELDS`].
    traffic: [Option<Cow<'a, str>>; 6],
}

/// An empty string is a missing value.
fn present<'s>(value: &'s Option<Cow<'_, str>>) -> Option<&'s str> {
    value.as_deref().filter(|s| !s.is_empty())
}

/// Builds `ga_events` rows (and the rejected ones) out of export events.
struct Flattener {
    file: String,
    event_at: TimestampMicrosecondBuilder,
    /// One builder per name of [`text_columns`].
    text: Vec<StringBuilder>,
    session: Int64Builder,
    line: Int64Builder,
    batches: Vec<RecordBatch>,
    rejections: Vec<Rejection>,
    pending: usize,
}

impl Flattener {
    fn new(file: &str) -> Self {
        Flattener {
            file: file.to_string(),
            event_at: TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS),
            text: text_columns()
                .map(|_| StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 8))
                .collect(),
            session: Int64Builder::with_capacity(BATCH_ROWS),
            line: Int64Builder::with_capacity(BATCH_ROWS),
            batches: Vec::new(),
            rejections: Vec::new(),
            pending: 0,
        }
    }

    /// A record the decoder could not read at all.
    fn reject(&mut self, line: u64, reason: String, raw: &[u8]) {
        self.rejections.push(Rejection {
            line,
            field: String::new(),
            reason,
            raw: String::from_utf8_lossy(&raw[..raw.len().min(2000)]).into_owned(),
        });
    }

    fn missing(&mut self, line: u64, field: &str) {
        self.rejections.push(Rejection {
            line,
            field: field.to_string(),
            reason: format!("required field {field} is missing"),
            raw: String::new(),
        });
    }

    /// Adds one event (or its rejection, when a required field is missing).
    fn push(&mut self, row: &Row<'_>, line: u64) {
        let Some(user) = present(&row.user) else {
            return self.missing(line, "user_pseudo_id");
        };
        let Some(at) = row.at else {
            return self.missing(line, "event_timestamp");
        };
        let Some(session) = row.session else {
            return self.missing(line, "event_params.ga_session_id");
        };
        self.event_at.append_value(at);
        self.session.append_value(session);
        self.line.append_value(line as i64);
        let location = present(&row.page_location);
        let referrer = present(&row.page_referrer);
        let campaign = location.map(CampaignParams::of).unwrap_or_default();
        let referrer_host = referrer.and_then(host_of);
        let mut text = self.text.iter_mut();
        let mut put = |value: Option<&str>| {
            text.next()
                .expect("a builder per column")
                .append_option(value)
        };
        for value in [
            present(&row.name),
            Some(user),
            present(&row.user_id),
            location,
            referrer,
        ] {
            put(value);
        }
        for value in &row.traffic {
            put(present(value));
        }
        for value in [
            &campaign.gclid,
            &campaign.utm_source,
            &campaign.utm_medium,
            &campaign.utm_campaign,
            &referrer_host,
        ] {
            put(value.as_deref());
        }
        self.pending += 1;
        if self.pending >= BATCH_ROWS {
            self.seal();
        }
    }

    fn seal(&mut self) {
        if self.pending == 0 {
            return;
        }
        let n = self.pending;
        // A finished builder starts again from nothing: each is sized as the batch before, so
        // the next batch's values are not copied over and over as its buffers grow.
        let mut columns: Vec<(&str, ArrayRef)> = (text_columns().zip(self.text.iter_mut()))
            .map(|(name, b)| {
                let values = b.finish();
                *b = StringBuilder::with_capacity(BATCH_ROWS, values.value_data().len());
                (name, Arc::new(values) as ArrayRef)
            })
            .collect();
        let [session, line] = [&mut self.session, &mut self.line].map(|b| {
            let values = b.finish();
            *b = Int64Builder::with_capacity(BATCH_ROWS);
            values
        });
        let event_at = self.event_at.finish().with_timezone("UTC");
        self.event_at = TimestampMicrosecondBuilder::with_capacity(BATCH_ROWS);
        columns.extend([
            ("event_at", Arc::new(event_at) as ArrayRef),
            ("ga_session_id", Arc::new(session)),
            (
                "source_file",
                Arc::new(StringArray::from(vec![self.file.as_str(); n])),
            ),
            ("source_line", Arc::new(line)),
        ]);
        self.batches
            .push(batch_by_name(&GA_EVENTS, columns).expect("ga_events columns match schema"));
        self.pending = 0;
    }

    fn finish(mut self, rows_read: u64) -> Parsed {
        self.seal();
        Parsed {
            batches: order::by_session(self.batches),
            rows_read,
            rejections: self.rejections,
            layout: Layout {
                sorted_by: &SORTED_BY,
                distinct: &DISTINCT,
                summarized: Some(&SUMMARIZED),
            },
        }
    }
}

/// The order of a file's `ga_events` rows, written into the Parquet file as its
/// `sorting_columns`: by session (`source_file` is one value per file), then line. DataFusion
/// reads that order back, so `stg_ga_sessions` groups each file's sessions as they stream by
/// instead of hashing every event.
const SORTED_BY: [&str; 4] = [
    "source_file",
    "user_pseudo_id",
    "ga_session_id",
    "source_line",
];

/// The columns of `ga_events` with statistics: the order's keys ([`SORTED_BY`]: DataFusion
/// orders a scan's files by them) and the event's time. No model filters a file by the other
/// (text) columns, and their statistics cost a comparison per value as the file is written.
const SUMMARIZED: [&str; 5] = [
    "source_file",
    "user_pseudo_id",
    "ga_session_id",
    "source_line",
    "event_at",
];

/// The columns of `ga_events` whose values are (nearly) all distinct within a file: the line,
/// and the event's time in microseconds. Written without a dictionary.
const DISTINCT: [&str; 2] = ["source_line", "event_at"];
