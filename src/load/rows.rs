//! Row-level plumbing shared by the loaders: the typed row collector (cells by column name)
//! and the quarantine record that every rejected row becomes. The CSV reader is in
//! [`super::csv_reader`].

use std::sync::Arc;

use foldhash::HashMap;

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

/// Typed rows of one canonical table, each cell addressed by its column name, turned into one
/// Arrow batch of the table's schema (from [`crate::warehouse::schema`]). A column a row does
/// not name is NULL. Each row goes straight into the columns' builders: the rows are not kept.
pub struct RowCollector {
    schema: SchemaRef,
    /// Column positions by name (foldhash: the lookup is per cell of every row).
    index: HashMap<String, usize>,
    /// The row being pushed, one cell per column (a column named twice keeps its last value).
    row: Vec<Value>,
    columns: Vec<Builder>,
}

impl RowCollector {
    pub fn new(schema: SchemaRef) -> Self {
        let index = (schema.fields().iter().enumerate())
            .map(|(i, f)| (f.name().clone(), i))
            .collect();
        RowCollector {
            index,
            row: vec![Value::Null; schema.fields().len()],
            columns: (schema.fields().iter())
                .map(|f| Builder::of(f.data_type()))
                .collect(),
            schema,
        }
    }

    /// Adds a row from `(column, value)` cells.
    ///
    /// # Panics
    /// On a column the table does not have: a loader's mistake, caught by its tests.
    pub fn push(&mut self, cells: impl IntoIterator<Item = (&'static str, Value)>) {
        for (column, value) in cells {
            let Some(&i) = self.index.get(column) else {
                panic!(
                    "the canonical table has no column {column:?}: {}",
                    self.schema
                );
            };
            self.row[i] = value;
        }
        for (builder, cell) in self.columns.iter_mut().zip(self.row.iter_mut()) {
            builder.append(&std::mem::replace(cell, Value::Null));
        }
    }

    pub fn finish(self) -> arrow::error::Result<RecordBatch> {
        let columns = (self.columns.into_iter())
            .map(Builder::finish)
            .collect::<arrow::error::Result<Vec<_>>>()?;
        RecordBatch::try_new(self.schema, columns)
    }
}

/// One column's builder, by the canonical table's type.
enum Builder {
    Text(StringBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Micros(TimestampMicrosecondBuilder, Option<Arc<str>>),
    /// A type no loader writes: an error when the batch is built.
    Unsupported(DataType),
}

impl Builder {
    fn of(data_type: &DataType) -> Builder {
        match data_type {
            DataType::Utf8 => Builder::Text(StringBuilder::new()),
            DataType::Int64 => Builder::Int(Int64Builder::new()),
            DataType::Float64 => Builder::Float(Float64Builder::new()),
            DataType::Boolean => Builder::Bool(BooleanBuilder::new()),
            DataType::Date32 => Builder::Date(Date32Builder::new()),
            DataType::Timestamp(TimeUnit::Microsecond, tz) => {
                Builder::Micros(TimestampMicrosecondBuilder::new(), tz.clone())
            }
            other => Builder::Unsupported(other.clone()),
        }
    }

    /// Appends `value`, or NULL when it is not of the column's type.
    fn append(&mut self, value: &Value) {
        match (self, value) {
            (Builder::Text(b), Value::Text(s)) => b.append_value(s),
            (Builder::Text(b), _) => b.append_null(),
            (Builder::Int(b), Value::Int(x)) => b.append_value(*x),
            (Builder::Int(b), _) => b.append_null(),
            (Builder::Float(b), Value::Float(x)) => b.append_value(*x),
            (Builder::Float(b), _) => b.append_null(),
            (Builder::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Builder::Bool(b), _) => b.append_null(),
            (Builder::Date(b), Value::Date(x)) => b.append_value(*x),
            (Builder::Date(b), _) => b.append_null(),
            (Builder::Micros(b, _), Value::Micros(x)) => b.append_value(*x),
            (Builder::Micros(b, _), _) => b.append_null(),
            (Builder::Unsupported(_), _) => {}
        }
    }

    fn finish(self) -> arrow::error::Result<ArrayRef> {
        Ok(match self {
            Builder::Text(mut b) => Arc::new(b.finish()),
            Builder::Int(mut b) => Arc::new(b.finish()),
            Builder::Float(mut b) => Arc::new(b.finish()),
            Builder::Bool(mut b) => Arc::new(b.finish()),
            Builder::Date(mut b) => Arc::new(b.finish()),
            Builder::Micros(mut b, tz) => Arc::new(b.finish().with_timezone_opt(tz)),
            Builder::Unsupported(other) => {
                return Err(arrow::error::ArrowError::SchemaError(format!(
                    "unsupported canonical column type {other}"
                )))
            }
        })
    }
}

/// One batch of `schema` from columns given by name, in any order.
pub fn batch_by_name(
    schema: &SchemaRef,
    columns: Vec<(&str, ArrayRef)>,
) -> arrow::error::Result<RecordBatch> {
    let mut by_name: HashMap<&str, ArrayRef> = columns.into_iter().collect();
    let ordered = (schema.fields().iter())
        .map(|f| {
            by_name.remove(f.name().as_str()).ok_or_else(|| {
                arrow::error::ArrowError::SchemaError(format!("no column {} given", f.name()))
            })
        })
        .collect::<arrow::error::Result<Vec<_>>>()?;
    if let Some(extra) = by_name.keys().next() {
        return Err(arrow::error::ArrowError::SchemaError(format!(
            "the table has no column {extra}"
        )));
    }
    RecordBatch::try_new(schema.clone(), ordered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray, Int64Array};
    use arrow::datatypes::{Field, Int64Type, Schema};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
        ]))
    }

    #[test]
    fn cells_land_in_their_named_columns_whatever_the_order() {
        let mut rows = RowCollector::new(schema());
        rows.push([("n", Value::Int(7)), ("id", Value::Text("a".into()))]);
        rows.push([("id", Value::Text("b".into()))]);
        let batch = rows.finish().unwrap();
        assert_eq!(batch.column(0).as_string::<i32>().value(1), "b");
        let n = batch.column(1).as_primitive::<Int64Type>();
        assert_eq!((n.value(0), n.is_null(1)), (7, true));
    }

    #[test]
    fn a_cell_named_twice_keeps_its_last_value_and_a_mistyped_cell_is_null() {
        let mut rows = RowCollector::new(schema());
        rows.push([
            ("id", Value::Text("a".into())),
            ("n", Value::Int(1)),
            ("n", Value::Int(2)),
        ]);
        rows.push([("id", Value::Text("b".into())), ("n", Value::Float(3.0))]);
        rows.push([("n", Value::Int(4)), ("id", Value::Text("c".into()))]);
        let batch = rows.finish().unwrap();
        let ids = batch.column(0).as_string::<i32>();
        assert_eq!((ids.value(0), ids.value(1), ids.value(2)), ("a", "b", "c"));
        let n = batch.column(1).as_primitive::<Int64Type>();
        assert_eq!((n.value(0), n.is_null(1), n.value(2)), (2, true, 4));
    }

    #[test]
    fn a_column_type_no_loader_writes_is_an_error_naming_it() {
        let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::UInt8, true)]));
        let mut rows = RowCollector::new(schema);
        rows.push([("x", Value::Int(1))]);
        let err = rows.finish().unwrap_err().to_string();
        assert!(
            err.contains("unsupported canonical column type UInt8"),
            "{err}"
        );
    }

    #[test]
    #[should_panic(expected = "no column \"nope\"")]
    fn an_unknown_column_is_a_loader_bug() {
        RowCollector::new(schema()).push([("nope", Value::Null)]);
    }

    #[test]
    fn batch_by_name_orders_columns_and_refuses_strays() {
        let id: ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["a"]));
        let n: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        let batch = batch_by_name(&schema(), vec![("n", n.clone()), ("id", id.clone())]).unwrap();
        assert_eq!(batch.schema().field(0).name(), "id");
        let stray = batch_by_name(&schema(), vec![("n", n.clone()), ("id", id), ("x", n)]);
        assert!(stray.unwrap_err().to_string().contains("no column x"));
    }
}
