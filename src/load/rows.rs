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
/// not name is NULL.
pub struct RowCollector {
    schema: SchemaRef,
    /// Column positions by name (foldhash: the lookup is per cell of every row).
    index: HashMap<String, usize>,
    rows: Vec<Vec<Value>>,
}

impl RowCollector {
    pub fn new(schema: SchemaRef) -> Self {
        let index = (schema.fields().iter().enumerate())
            .map(|(i, f)| (f.name().clone(), i))
            .collect();
        RowCollector {
            schema,
            index,
            rows: Vec::new(),
        }
    }

    /// Adds a row from `(column, value)` cells.
    ///
    /// # Panics
    /// On a column the table does not have: a loader's mistake, caught by its tests.
    pub fn push(&mut self, cells: impl IntoIterator<Item = (&'static str, Value)>) {
        let mut row = vec![Value::Null; self.schema.fields().len()];
        for (column, value) in cells {
            let Some(&i) = self.index.get(column) else {
                panic!(
                    "the canonical table has no column {column:?}: {}",
                    self.schema
                );
            };
            row[i] = value;
        }
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
