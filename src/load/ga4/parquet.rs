//! A GA4 export as Parquet (BigQuery's own export, or another tool's): columns read by name,
//! `event_params` a list (or large list) of `{key, value{string_value, int_value}}`.

use std::borrow::Cow;

use arrow::array::StructArray;
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, ListArray, RecordBatch, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};

use super::{Flattener, Row, TRAFFIC_FIELDS};
use crate::load::Parsed;

/// Parses a Parquet export; a row's "line" is its 1-based row number.
pub fn parse_parquet(file: &str, bytes: bytes::Bytes) -> Result<Parsed, String> {
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.with_batch_size(65_536).build())
        .map_err(|e| format!("not a readable Parquet file: {e}"))?;
    let mut flat = Flattener::new(file);
    let mut rows_read = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| format!("Parquet read failed: {e}"))?;
        let columns = Columns::new(&batch);
        for row in 0..batch.num_rows() {
            rows_read += 1;
            flat.push(&columns.row(row), rows_read);
        }
    }
    Ok(flat.finish(rows_read))
}

/// A record batch and a struct array are both "named columns".
enum Named<'a> {
    Batch(&'a RecordBatch),
    Struct(&'a StructArray),
}

impl Named<'_> {
    fn column(&self, name: &str) -> Option<&ArrayRef> {
        match self {
            Named::Batch(b) => b.column_by_name(name),
            Named::Struct(s) => s.column_by_name(name),
        }
    }

    fn strings(&self, name: &str) -> Option<StringArray> {
        let col = self.column(name)?;
        cast(col, &DataType::Utf8)
            .ok()
            .map(|a| a.as_string::<i32>().clone())
    }

    fn ints(&self, name: &str) -> Option<Int64Array> {
        let col = self.column(name)?;
        cast(col, &DataType::Int64)
            .ok()
            .map(|c| c.as_primitive::<Int64Type>().clone())
    }
}

fn text(a: &Option<StringArray>, i: usize) -> Option<Cow<'_, str>> {
    a.as_ref()
        .filter(|a| a.is_valid(i))
        .map(|a| Cow::Borrowed(a.value(i)))
}

fn int(a: &Option<Int64Array>, i: usize) -> Option<i64> {
    a.as_ref().filter(|a| a.is_valid(i)).map(|a| a.value(i))
}

/// Param key -> (string value, int value) columns of an `event_params` list.
struct Params {
    list: ListArray,
    keys: StringArray,
    strings: Option<StringArray>,
    ints: Option<Int64Array>,
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
        let keys = Named::Struct(&items).strings("key")?;
        let value = items.column_by_name("value")?.as_struct_opt()?.clone();
        let value = Named::Struct(&value);
        Some(Params {
            strings: value.strings("string_value"),
            ints: value.ints("int_value"),
            list,
            keys,
        })
    }

    /// The first param of `row` with this key.
    fn find(&self, row: usize, key: &str) -> Option<usize> {
        if self.list.is_null(row) {
            return None;
        }
        let offsets = self.list.value_offsets();
        (offsets[row] as usize..offsets[row + 1] as usize)
            .find(|&i| self.keys.is_valid(i) && self.keys.value(i) == key)
    }

    /// The string value, else the integer as text.
    fn text(&self, row: usize, key: &str) -> Option<Cow<'_, str>> {
        let i = self.find(row, key)?;
        text(&self.strings, i).or_else(|| int(&self.ints, i).map(|v| Cow::Owned(v.to_string())))
    }

    /// The integer value, else the string value read as one.
    fn int(&self, row: usize, key: &str) -> Option<i64> {
        let i = self.find(row, key)?;
        int(&self.ints, i).or_else(|| text(&self.strings, i)?.trim().parse().ok())
    }
}

/// The columns of one batch that a [`Row`] is made of.
struct Columns {
    at: Option<Int64Array>,
    name: Option<StringArray>,
    user: Option<StringArray>,
    user_id: Option<StringArray>,
    params: Option<Params>,
    traffic: Vec<Option<StringArray>>,
}

impl Columns {
    fn new(batch: &RecordBatch) -> Columns {
        let named = Named::Batch(batch);
        let traffic = batch
            .column_by_name("collected_traffic_source")
            .and_then(|c| c.as_struct_opt().cloned());
        Columns {
            at: named.ints("event_timestamp"),
            name: named.strings("event_name"),
            user: named.strings("user_pseudo_id"),
            user_id: named.strings("user_id"),
            params: Params::new(batch),
            traffic: TRAFFIC_FIELDS
                .iter()
                .map(|f| traffic.as_ref().and_then(|t| Named::Struct(t).strings(f)))
                .collect(),
        }
    }

    fn row(&self, i: usize) -> Row<'_> {
        let params = self.params.as_ref();
        Row {
            at: int(&self.at, i),
            session: params.and_then(|p| p.int(i, "ga_session_id")),
            name: text(&self.name, i),
            user: text(&self.user, i),
            user_id: text(&self.user_id, i),
            page_location: params.and_then(|p| p.text(i, "page_location")),
            page_referrer: params.and_then(|p| p.text(i, "page_referrer")),
            traffic: std::array::from_fn(|f| text(&self.traffic[f], i)),
        }
    }
}
