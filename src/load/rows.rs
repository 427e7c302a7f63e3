//! Row-level plumbing shared by the CSV loaders: a CSV reader that keeps line numbers, a typed
//! row collector, and the quarantine record that every rejected row becomes.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

/// A rejected row: where it was, which field, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub line: u64,
    pub field: String,
    pub reason: String,
    pub raw: String,
}

/// One typed cell of a canonical table.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Micros(i64),
    Date(i32),
}

impl From<Option<String>> for Value {
    fn from(v: Option<String>) -> Self {
        v.map_or(Value::Null, Value::Text)
    }
}

/// Typed rows, turned into one Arrow batch of the table's schema.
pub struct RowCollector {
    schema: SchemaRef,
    rows: Vec<Vec<Value>>,
}

impl RowCollector {
    pub fn new(schema: SchemaRef) -> Self {
        RowCollector {
            schema,
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<Value>) {
        debug_assert_eq!(row.len(), self.schema.fields().len());
        self.rows.push(row);
    }

    pub fn finish(self) -> arrow::error::Result<RecordBatch> {
        let n = self.rows.len();
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for (i, field) in self.schema.fields().iter().enumerate() {
            let cells = self.rows.iter().map(|r| &r[i]);
            let array: ArrayRef = match field.data_type() {
                DataType::Utf8 => {
                    let mut b = StringBuilder::with_capacity(n, n * 16);
                    cells.for_each(|v| match v {
                        Value::Text(s) => b.append_value(s),
                        _ => b.append_null(),
                    });
                    Arc::new(b.finish())
                }
                DataType::Int64 => {
                    let mut b = Int64Builder::with_capacity(n);
                    cells.for_each(|v| {
                        b.append_option(if let Value::Int(x) = v {
                            Some(*x)
                        } else {
                            None
                        })
                    });
                    Arc::new(b.finish())
                }
                DataType::Float64 => {
                    let mut b = Float64Builder::with_capacity(n);
                    cells.for_each(|v| {
                        b.append_option(if let Value::Float(x) = v {
                            Some(*x)
                        } else {
                            None
                        })
                    });
                    Arc::new(b.finish())
                }
                DataType::Boolean => {
                    let mut b = BooleanBuilder::with_capacity(n);
                    cells.for_each(|v| {
                        b.append_option(if let Value::Bool(x) = v {
                            Some(*x)
                        } else {
                            None
                        })
                    });
                    Arc::new(b.finish())
                }
                DataType::Date32 => {
                    let mut b = Date32Builder::with_capacity(n);
                    cells.for_each(|v| {
                        b.append_option(if let Value::Date(x) = v {
                            Some(*x)
                        } else {
                            None
                        })
                    });
                    Arc::new(b.finish())
                }
                DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                    let mut b = TimestampMicrosecondBuilder::with_capacity(n);
                    cells.for_each(|v| {
                        b.append_option(if let Value::Micros(x) = v {
                            Some(*x)
                        } else {
                            None
                        })
                    });
                    Arc::new(b.finish().with_timezone_opt(tz.clone()))
                }
                other => {
                    return Err(arrow::error::ArrowError::SchemaError(format!(
                        "unsupported canonical column type {other}"
                    )))
                }
            };
            columns.push(array);
        }
        RecordBatch::try_new(self.schema, columns)
    }
}

/// A CSV data line, with its header, for field lookups by (case-insensitive) column name.
pub struct CsvRow<'a> {
    pub line: u64,
    record: &'a csv::StringRecord,
    index: &'a HashMap<String, usize>,
    headers: &'a [String],
    preamble: &'a [String],
}

impl CsvRow<'_> {
    /// The header line's column names, as written.
    pub fn headers(&self) -> &[String] {
        self.headers
    }

    /// The lines before the header (a report's title, its date range), cells joined by `,`.
    pub fn preamble(&self) -> &[String] {
        self.preamble
    }

    /// The trimmed value of a column; `""` when the file has no such column.
    pub fn get(&self, column: &str) -> &str {
        self.index
            .get(&column.to_ascii_lowercase())
            .and_then(|&i| self.record.get(i))
            .map(str::trim)
            .unwrap_or("")
    }

    pub fn has(&self, column: &str) -> bool {
        self.index.contains_key(&column.to_ascii_lowercase())
    }

    /// A rejection of this row for `field`.
    pub fn reject(&self, field: &str, reason: impl Into<String>) -> Rejection {
        Rejection {
            line: self.line,
            field: field.to_string(),
            reason: reason.into(),
            raw: raw_line(self.record),
        }
    }
}

fn raw_line(record: &csv::StringRecord) -> String {
    record.iter().collect::<Vec<_>>().join(",")
}

/// What reading one CSV file gave: data rows read, and the rows rejected.
#[derive(Debug, Default)]
pub struct CsvOutcome {
    pub rows_read: u64,
    pub rejections: Vec<Rejection>,
    /// Empty for an export that holds no data and no header (a preamble alone).
    pub headers: Vec<String>,
    pub preamble: Vec<String>,
}

/// A report's summary line: `Total: …` in its first non-empty cell (Google Ads writes some
/// with empty leading cells), or a bare `Total`.
fn is_total_line(record: &csv::StringRecord) -> bool {
    record
        .iter()
        .map(str::trim)
        .find(|f| !f.is_empty())
        .is_some_and(|f| f == "Total" || f.starts_with("Total:"))
}

/// Meta's placeholder line of an empty export.
fn is_no_data_line(record: &csv::StringRecord) -> bool {
    let mut cells = record.iter().map(str::trim).filter(|f| !f.is_empty());
    let first = cells
        .next()
        .map(|f| f.trim_end_matches('.').to_ascii_lowercase());
    cells.next().is_none() && first.as_deref() == Some("no data available")
}

/// Reads CSV `text`. The header is the first line for which `is_header` holds (lines before it
/// are preamble); every later line is a data row handed to `on_row`, except blank lines,
/// report totals and Meta's `No data available.`. A line that repeats the header or has the
/// wrong field count is rejected here; `on_row` rejects on values. A file without a header
/// whose lines each hold at most one cell (LinkedIn's preamble of an empty export) is an empty
/// export: zero rows, no error.
pub fn read_csv(
    text: &str,
    is_header: impl Fn(&[String]) -> bool,
    mut on_row: impl FnMut(&CsvRow) -> Result<(), Rejection>,
) -> Result<CsvOutcome, String> {
    // Tab-separated when the first lines hold more tabs than commas (Excel-style downloads).
    let head = text.lines().take(10);
    let (tabs, commas) = head.fold((0, 0), |(t, c), l| {
        (t + l.matches('\t').count(), c + l.matches(',').count())
    });
    let delimiter = if tabs > commas { b'\t' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut out = CsvOutcome::default();
    let mut index: Option<HashMap<String, usize>> = None;
    let mut only_single_cells = true;
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if index.is_none() {
                    return Err(format!("line {line}: {e}"));
                }
                out.rows_read += 1;
                out.rejections.push(Rejection {
                    line,
                    field: String::new(),
                    reason: format!("unreadable CSV line: {e}"),
                    raw: String::new(),
                });
                continue;
            }
        }
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let Some(idx) = &index else {
            let fields: Vec<String> = record.iter().map(|f| f.trim().to_string()).collect();
            if is_header(&fields) {
                // A duplicated column name (Meta's second `Ad set name`) reads the first one.
                let mut first = HashMap::new();
                for (i, f) in fields.iter().enumerate() {
                    first.entry(f.to_ascii_lowercase()).or_insert(i);
                }
                index = Some(first);
                out.headers = fields;
            } else {
                only_single_cells &= fields.iter().filter(|f| !f.is_empty()).count() <= 1;
                out.preamble.push(fields.join(","));
            }
            continue;
        };
        if is_total_line(&record) || is_no_data_line(&record) {
            continue;
        }
        out.rows_read += 1;
        let row = CsvRow {
            line,
            record: &record,
            index: idx,
            headers: &out.headers,
            preamble: &out.preamble,
        };
        if record
            .iter()
            .map(str::trim)
            .eq(out.headers.iter().map(String::as_str))
        {
            out.rejections
                .push(row.reject("", "line repeats the header"));
        } else if record.len() != out.headers.len() {
            let reason = format!(
                "expected {} fields, found {}",
                out.headers.len(),
                record.len()
            );
            out.rejections.push(row.reject("", reason));
        } else if let Err(rejection) = on_row(&row) {
            out.rejections.push(rejection);
        }
    }
    if index.is_none() && !only_single_cells {
        return Err("no header line found".into());
    }
    Ok(out)
}
