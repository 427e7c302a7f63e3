//! GA4 BigQuery export (`events_*`) as newline-delimited JSON, a JSON array (the BigQuery
//! console's download) or Parquet, gzip-compressed or not, flattened into `ga_events`.
//! arrow-json decodes the nested export (INT64 as JSON strings included); what it cannot do
//! (line numbers, per-line quarantine, pulling `event_params` apart) is here.

mod json;

pub use json::parse_json;

use std::sync::{Arc, LazyLock};

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Builder, ListArray, RecordBatch, StringArray, StringBuilder,
    StructArray, TimestampMicrosecondBuilder,
};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, Fields, Int64Type, Schema, SchemaRef};

use super::rows::batch_by_name;
use super::rows::Rejection;
use super::Parsed;
use crate::warehouse::schema::GA_EVENTS;

/// The text columns of `ga_events` before the traffic fields, in the order a row fills them.
const TEXT_COLUMNS: [&str; 5] = [
    "event_name",
    "user_pseudo_id",
    "user_id",
    "page_location",
    "page_referrer",
];

/// The traffic-source columns of `ga_events`, named as the export's `collected_traffic_source`.
const TRAFFIC_FIELDS: [&str; 6] = [
    "manual_source",
    "manual_medium",
    "manual_campaign_name",
    "manual_term",
    "manual_content",
    "gclid",
];

/// The part of the BigQuery export schema Clearsight reads; other fields are ignored.
static EXPORT_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let value = Fields::from(vec![
        Field::new("string_value", DataType::Utf8, true),
        Field::new("int_value", DataType::Int64, true),
        Field::new("float_value", DataType::Float64, true),
        Field::new("double_value", DataType::Float64, true),
    ]);
    let param = Fields::from(vec![
        Field::new("key", DataType::Utf8, true),
        Field::new("value", DataType::Struct(value), true),
    ]);
    let traffic: Fields = TRAFFIC_FIELDS
        .iter()
        .map(|n| Field::new(*n, DataType::Utf8, true))
        .collect();
    Arc::new(Schema::new(vec![
        Field::new("event_timestamp", DataType::Int64, true),
        Field::new("event_name", DataType::Utf8, true),
        Field::new("user_pseudo_id", DataType::Utf8, true),
        Field::new("user_id", DataType::Utf8, true),
        Field::new(
            "event_params",
            DataType::List(Arc::new(Field::new("item", DataType::Struct(param), true))),
            true,
        ),
        Field::new("collected_traffic_source", DataType::Struct(traffic), true),
    ]))
});

fn decode(bytes: &[u8], rows: usize) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut decoder = arrow_json::ReaderBuilder::new(EXPORT_SCHEMA.clone())
        .with_batch_size(rows.max(1))
        .build_decoder()?;
    let mut rest = bytes;
    while !rest.is_empty() {
        let used = decoder.decode(rest)?;
        if used == 0 {
            break;
        }
        rest = &rest[used..];
    }
    Ok(decoder
        .flush()?
        .unwrap_or_else(|| RecordBatch::new_empty(EXPORT_SCHEMA.clone())))
}

/// Parses a Parquet export; a row's "line" is its 1-based row number.
pub fn parse_parquet(file: &str, bytes: bytes::Bytes) -> Result<Parsed, String> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.with_batch_size(65_536).build())
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let mut flat = Flattener::new(file);
    let mut rejections = Vec::new();
    let mut rows_read = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| format!("Parquet read failed: {e}"))?;
        let lines: Vec<u64> = (rows_read + 1..=rows_read + batch.num_rows() as u64).collect();
        rows_read += batch.num_rows() as u64;
        flat.push(&batch, &lines, &mut rejections);
    }
    flat.finish(rows_read, rejections)
}

/// Builds `ga_events` rows out of decoded export batches.
struct Flattener {
    file: String,
    event_at: TimestampMicrosecondBuilder,
    /// One builder per name of [`TEXT_COLUMNS`] then [`TRAFFIC_FIELDS`].
    text: Vec<StringBuilder>,
    session: Int64Builder,
    line: Int64Builder,
    batches: Vec<RecordBatch>,
    pending: usize,
}

fn string_column(batch: &StructArrayOrBatch, name: &str) -> Option<StringArray> {
    let col = batch.column(name)?;
    cast(col, &DataType::Utf8)
        .ok()
        .map(|a| a.as_string::<i32>().clone())
}

/// A record batch and a struct array are both "named columns".
enum StructArrayOrBatch<'a> {
    Batch(&'a RecordBatch),
    Struct(&'a StructArray),
}

impl StructArrayOrBatch<'_> {
    fn column(&self, name: &str) -> Option<&ArrayRef> {
        match self {
            StructArrayOrBatch::Batch(b) => b.column_by_name(name),
            StructArrayOrBatch::Struct(s) => s.column_by_name(name),
        }
    }
}

/// Param key -> (string value, int value) columns of a decoded `event_params` list.
struct Params {
    list: ListArray,
    keys: StringArray,
    strings: Option<StringArray>,
    ints: Option<arrow::array::Int64Array>,
}

impl Params {
    fn new(batch: &RecordBatch) -> Option<Params> {
        let column = batch.column_by_name("event_params")?;
        // BigQuery's Parquet may write large-list offsets; the values are the same.
        let column = match column.data_type() {
            DataType::LargeList(item) => cast(column, &DataType::List(item.clone())).ok()?,
            _ => column.clone(),
        };
        let list = column.as_list_opt::<i32>()?.clone();
        let items = list.values().as_struct_opt()?.clone();
        let holder = StructArrayOrBatch::Struct(&items);
        let keys = string_column(&holder, "key")?;
        let value = items.column_by_name("value")?.as_struct_opt()?.clone();
        let value = StructArrayOrBatch::Struct(&value);
        let strings = string_column(&value, "string_value");
        let ints = value
            .column("int_value")
            .and_then(|c| cast(c, &DataType::Int64).ok())
            .map(|c| c.as_primitive::<Int64Type>().clone());
        Some(Params {
            list,
            keys,
            strings,
            ints,
        })
    }

    fn find(&self, row: usize, key: &str) -> Option<usize> {
        if self.list.is_null(row) {
            return None;
        }
        let offsets = self.list.value_offsets();
        (offsets[row] as usize..offsets[row + 1] as usize)
            .find(|&i| self.keys.is_valid(i) && self.keys.value(i) == key)
    }

    fn string(&self, row: usize, key: &str) -> Option<String> {
        let i = self.find(row, key)?;
        if let Some(s) = self.strings.as_ref().filter(|s| s.is_valid(i)) {
            return Some(s.value(i).to_string());
        }
        self.ints
            .as_ref()
            .filter(|a| a.is_valid(i))
            .map(|a| a.value(i).to_string())
    }

    fn int(&self, row: usize, key: &str) -> Option<i64> {
        let i = self.find(row, key)?;
        if let Some(a) = self.ints.as_ref().filter(|a| a.is_valid(i)) {
            return Some(a.value(i));
        }
        self.strings
            .as_ref()
            .filter(|s| s.is_valid(i))
            .and_then(|s| s.value(i).trim().parse().ok())
    }
}

impl Flattener {
    fn new(file: &str) -> Self {
        Flattener {
            file: file.to_string(),
            event_at: TimestampMicrosecondBuilder::new(),
            text: (0..TEXT_COLUMNS.len() + TRAFFIC_FIELDS.len())
                .map(|_| StringBuilder::new())
                .collect(),
            session: Int64Builder::new(),
            line: Int64Builder::new(),
            batches: Vec::new(),
            pending: 0,
        }
    }

    fn push(&mut self, batch: &RecordBatch, lines: &[u64], rejections: &mut Vec<Rejection>) {
        let holder = StructArrayOrBatch::Batch(batch);
        let ts = holder
            .column("event_timestamp")
            .and_then(|c| cast(c, &DataType::Int64).ok())
            .map(|c| c.as_primitive::<Int64Type>().clone());
        let names = string_column(&holder, "event_name");
        let users = string_column(&holder, "user_pseudo_id");
        let user_ids = string_column(&holder, "user_id");
        let params = Params::new(batch);
        let traffic = batch
            .column_by_name("collected_traffic_source")
            .and_then(|c| c.as_struct_opt().cloned());
        let traffic_cols: Vec<Option<StringArray>> = TRAFFIC_FIELDS
            .iter()
            .map(|f| {
                traffic
                    .as_ref()
                    .and_then(|t| string_column(&StructArrayOrBatch::Struct(t), f))
            })
            .collect();
        let get = |a: &Option<StringArray>, i: usize| {
            a.as_ref()
                .filter(|a| a.is_valid(i))
                .map(|a| a.value(i).to_string())
        };
        for (row, &line) in lines.iter().enumerate().take(batch.num_rows()) {
            let reject = |field: &str| Rejection {
                line,
                field: field.to_string(),
                reason: format!("required field {field} is missing"),
                raw: String::new(),
            };
            let Some(user) = get(&users, row).filter(|u| !u.is_empty()) else {
                rejections.push(reject("user_pseudo_id"));
                continue;
            };
            let Some(at) = ts
                .as_ref()
                .filter(|a| a.is_valid(row))
                .map(|a| a.value(row))
            else {
                rejections.push(reject("event_timestamp"));
                continue;
            };
            let Some(session) = params.as_ref().and_then(|p| p.int(row, "ga_session_id")) else {
                rejections.push(reject("event_params.ga_session_id"));
                continue;
            };
            self.event_at.append_value(at);
            self.session.append_value(session);
            self.line.append_value(line as i64);
            let param = |k: &str| params.as_ref().and_then(|p| p.string(row, k));
            let mut values = vec![
                get(&names, row),
                Some(user),
                get(&user_ids, row),
                param("page_location"),
                param("page_referrer"),
            ];
            values.extend(traffic_cols.iter().map(|c| get(c, row)));
            for (b, v) in self.text.iter_mut().zip(values) {
                b.append_option(v.filter(|s| !s.is_empty()));
            }
            self.pending += 1;
        }
        if self.pending >= 65_536 {
            self.seal();
        }
    }

    fn seal(&mut self) {
        if self.pending == 0 {
            return;
        }
        let n = self.pending;
        let names = TEXT_COLUMNS.iter().chain(&TRAFFIC_FIELDS);
        let mut columns: Vec<(&str, ArrayRef)> = (names.zip(self.text.iter_mut()))
            .map(|(name, b)| (*name, Arc::new(b.finish()) as ArrayRef))
            .collect();
        columns.extend([
            (
                "event_at",
                Arc::new(self.event_at.finish().with_timezone("UTC")) as ArrayRef,
            ),
            ("ga_session_id", Arc::new(self.session.finish())),
            (
                "source_file",
                Arc::new(StringArray::from(vec![self.file.as_str(); n])),
            ),
            ("source_line", Arc::new(self.line.finish())),
        ]);
        self.batches
            .push(batch_by_name(&GA_EVENTS, columns).expect("ga_events columns match schema"));
        self.pending = 0;
    }

    fn finish(mut self, rows_read: u64, rejections: Vec<Rejection>) -> Result<Parsed, String> {
        self.seal();
        Ok(Parsed {
            batches: self.batches,
            rows_read,
            rejections,
        })
    }
}
