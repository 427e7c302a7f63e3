//! `first_by(value, key, ...)`: the value of the row with the smallest key (the key columns
//! compared as a tuple, ascending, NULL first), as `FIRST_VALUE(value ORDER BY key, ...)`
//! gives it, NULL values included. DataFusion's ordered `FIRST_VALUE` keeps every group's
//! ordering as a vector of `ScalarValue`s and compares them one by one; here the keys of a batch
//! are encoded once into byte-comparable rows (arrow's `RowConverter`) and a group keeps the
//! bytes of its best key, so a comparison is a `memcmp`. The sessions models pick a session's
//! campaign, source and referrer with it (ordered by time, file and line).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BinaryArray, BooleanArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FirstBy {
    signature: Signature,
}

impl Default for FirstBy {
    fn default() -> Self {
        FirstBy {
            signature: Signature::variadic_any(Volatility::Immutable),
        }
    }
}

impl AggregateUDFImpl for FirstBy {
    fn name(&self) -> &str {
        "first_by"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.len() < 2 {
            return exec_err!("first_by(value, key, ...) needs a value and at least one key");
        }
        Ok(args[0].clone())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(
                format!("{}[value]", args.name),
                args.return_field.data_type().clone(),
                true,
            )),
            Arc::new(Field::new(
                format!("{}[key]", args.name),
                DataType::Binary,
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(FirstByAccumulator(FirstByGroups::new(&args)?)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(FirstByGroups::new(&args)?))
    }
}

/// A group's best row so far: its key as row bytes, and its value.
struct Best {
    key: Vec<u8>,
    value: ScalarValue,
}

impl Best {
    /// Heap bytes held beyond the `Option<Best>` slot itself.
    fn bytes(&self) -> usize {
        self.key.capacity() + self.value.size()
    }
}

/// Per group, the best row seen: `update_batch` takes raw rows (value, keys...), `merge_batch`
/// partial states (value, key bytes).
struct FirstByGroups {
    value_type: DataType,
    keys: RowConverter,
    best: Vec<Option<Best>>,
    /// Per group, the row of the current batch that is its best so far ([`NONE`]: none).
    batch_best: Vec<usize>,
    /// Sum of [`Best::bytes`] over `best`, kept as rows come and go: `size()` is asked after
    /// every batch, and summing over every group there made an aggregate quadratic.
    held: usize,
}

const NONE: usize = usize::MAX;

impl FirstByGroups {
    fn new(args: &AccumulatorArgs) -> Result<Self> {
        let fields = args
            .exprs
            .iter()
            .skip(1)
            .map(|e| Ok(SortField::new(e.data_type(args.schema)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(FirstByGroups {
            value_type: args.return_field.data_type().clone(),
            keys: RowConverter::new(fields)?,
            best: Vec::new(),
            batch_best: Vec::new(),
            held: 0,
        })
    }

    /// Offers rows to their groups (`key(i)` the i-th row's key bytes): in each group, the
    /// batch's best row replaces the kept one when its key is smaller.
    fn offer<'k>(
        &mut self,
        values: &ArrayRef,
        key: impl Fn(usize) -> Option<&'k [u8]>,
        group_indices: &[usize],
        filter: Option<&BooleanArray>,
        total_groups: usize,
    ) -> Result<()> {
        if self.best.len() < total_groups {
            self.best.resize_with(total_groups, || None);
            self.batch_best.resize(total_groups, NONE);
        }
        // The best row of each group within this batch, compared against the kept one last.
        let mut touched = Vec::new();
        for (row, &group) in group_indices.iter().enumerate() {
            if filter.is_some_and(|f| !f.is_valid(row) || !f.value(row)) {
                continue;
            }
            let Some(k) = key(row) else { continue };
            let current = self.batch_best[group];
            if current == NONE {
                touched.push(group);
            } else if key(current).is_some_and(|b| b <= k) {
                continue;
            }
            self.batch_best[group] = row;
        }
        for group in touched {
            let row = std::mem::replace(&mut self.batch_best[group], NONE);
            let k = key(row).expect("offered rows have keys");
            if self.best[group]
                .as_ref()
                .is_some_and(|kept| kept.key.as_slice() <= k)
            {
                continue;
            }
            let new = Best {
                key: k.to_vec(),
                value: ScalarValue::try_from_array(values, row)?,
            };
            self.held += new.bytes();
            if let Some(old) = self.best[group].replace(new) {
                self.held -= old.bytes();
            }
        }
        Ok(())
    }

    fn take(&mut self, emit_to: EmitTo) -> Vec<Option<Best>> {
        let best = emit_to.take_needed(&mut self.best);
        self.batch_best.truncate(self.best.len());
        self.held -= best.iter().flatten().map(Best::bytes).sum::<usize>();
        best
    }

    fn values(&self, best: &[Option<Best>]) -> Result<ArrayRef> {
        if best.is_empty() {
            return Ok(datafusion::arrow::array::new_empty_array(&self.value_type));
        }
        let null = ScalarValue::try_from(&self.value_type)?;
        ScalarValue::iter_to_array(
            best.iter()
                .map(|b| b.as_ref().map_or_else(|| null.clone(), |b| b.value.clone())),
        )
    }
}

/// The key bytes of each raw row.
fn key_rows(keys: &RowConverter, columns: &[ArrayRef]) -> Result<Rows> {
    Ok(keys.convert_columns(columns)?)
}

impl GroupsAccumulator for FirstByGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        let Some(filter) = opt_filter else {
            let rows = key_rows(&self.keys, &values[1..])?;
            let key = |i: usize| Some(rows.row(i).data());
            return self.offer(&values[0], key, group_indices, None, total_num_groups);
        };
        // Only the rows the filter keeps are compared, so only their keys are encoded (in the
        // sessions models a filter keeps the few events that carry a campaign or a referrer).
        let kept = |i: usize| filter.is_valid(i) && filter.value(i);
        let columns = values[1..]
            .iter()
            .map(|c| datafusion::arrow::compute::filter(c, filter))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let rows = key_rows(&self.keys, &columns)?;
        let mut at = Vec::with_capacity(filter.len());
        let mut next = 0;
        for i in 0..filter.len() {
            at.push(if kept(i) { next } else { NONE });
            next += usize::from(kept(i));
        }
        let key = |i: usize| (at[i] != NONE).then(|| rows.row(at[i]).data());
        self.offer(&values[0], key, group_indices, opt_filter, total_num_groups)
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let keys: &BinaryArray = values[1].as_binary();
        let key = |i: usize| keys.is_valid(i).then(|| keys.value(i));
        self.offer(&values[0], key, group_indices, None, total_num_groups)
    }

    /// Raw rows as partial states: each row its own best (a filtered-out row has no key).
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let rows = key_rows(&self.keys, &values[1..])?;
        let keys: BinaryArray = (0..values[0].len())
            .map(|i| {
                let kept = opt_filter.is_none_or(|f| f.is_valid(i) && f.value(i));
                kept.then(|| rows.row(i).data())
            })
            .collect();
        Ok(vec![values[0].clone(), Arc::new(keys)])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let best = self.take(emit_to);
        self.values(&best)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let best = self.take(emit_to);
        let keys: BinaryArray = best
            .iter()
            .map(|b| b.as_ref().map(|b| b.key.as_slice()))
            .collect();
        Ok(vec![self.values(&best)?, Arc::new(keys)])
    }

    fn size(&self) -> usize {
        self.best.capacity() * std::mem::size_of::<Option<Best>>()
            + self.batch_best.capacity() * std::mem::size_of::<usize>()
            + self.held
    }
}

/// `first_by` without GROUP BY: one group.
struct FirstByAccumulator(FirstByGroups);

impl std::fmt::Debug for FirstByAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FirstByAccumulator")
    }
}

impl Accumulator for FirstByAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; values[0].len()];
        GroupsAccumulator::update_batch(&mut self.0, values, &groups, None, 1)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; states[0].len()];
        GroupsAccumulator::merge_batch(&mut self.0, states, &groups, 1)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let best = self.0.best.first().and_then(|b| b.as_ref());
        Ok(vec![
            match best {
                Some(b) => b.value.clone(),
                None => ScalarValue::try_from(&self.0.value_type)?,
            },
            ScalarValue::Binary(best.map(|b| b.key.clone())),
        ])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        match self.0.best.first().and_then(|b| b.as_ref()) {
            Some(b) => Ok(b.value.clone()),
            None => ScalarValue::try_from(&self.0.value_type),
        }
    }

    fn size(&self) -> usize {
        GroupsAccumulator::size(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
    use datafusion::arrow::datatypes::Schema;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    use super::*;

    /// (group, value, at, line) rows in two partitions, so partial states are merged too.
    async fn session(parts: &[&[(&str, Option<&str>, i64, i64)]]) -> SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Utf8, false),
            Field::new("v", DataType::Utf8, true),
            Field::new("at", DataType::Int64, false),
            Field::new("line", DataType::Int64, false),
        ]));
        let batch = |rows: &[(&str, Option<&str>, i64, i64)]| {
            let col = |f: fn(&(&str, Option<&str>, i64, i64)) -> i64| {
                Arc::new(Int64Array::from_iter_values(rows.iter().map(f))) as ArrayRef
            };
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
                    Arc::new(rows.iter().map(|r| r.1).collect::<StringArray>()),
                    col(|r| r.2),
                    col(|r| r.3),
                ],
            )
            .unwrap()
        };
        let partitions = parts.iter().map(|p| vec![batch(p)]).collect();
        let ctx = SessionContext::new();
        ctx.register_table(
            "t",
            Arc::new(MemTable::try_new(schema.clone(), partitions).unwrap()),
        )
        .unwrap();
        ctx.register_udaf(datafusion::logical_expr::AggregateUDF::from(
            FirstBy::default(),
        ));
        ctx
    }

    async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap();
        text.to_string()
            .lines()
            .skip(3)
            .filter(|l| !l.starts_with('+'))
            .map(String::from)
            .collect()
    }

    #[tokio::test]
    async fn earliest_time_then_line_wins_across_partitions() {
        let ctx = session(&[
            &[
                ("a", Some("late"), 20, 1),
                ("a", Some("tie-line-7"), 10, 7),
                ("b", None, 5, 1),
            ],
            &[
                ("a", Some("tie-line-3"), 10, 3),
                ("b", Some("after-null"), 6, 1),
                ("c", Some("only"), 1, 1),
            ],
        ])
        .await;
        let got = rows(
            &ctx,
            "SELECT g, first_by(v, at, line) AS v FROM t GROUP BY g ORDER BY g",
        )
        .await;
        // a: at 10 twice, line 3 first; b: its earliest row has no value, and that is the answer
        assert_eq!(
            got,
            [
                "| a | tie-line-3 |",
                "| b |            |",
                "| c | only       |"
            ]
        );
    }

    #[tokio::test]
    async fn filter_skips_rows_and_a_group_without_rows_is_null() {
        let ctx = session(&[
            &[("a", Some("x"), 1, 1), ("a", Some("y"), 2, 1)],
            &[("b", Some("z"), 1, 1)],
        ])
        .await;
        let sql = "SELECT g, first_by(v, at, line) FILTER (WHERE v <> 'x' AND v <> 'z') AS v \
                   FROM t GROUP BY g ORDER BY g";
        assert_eq!(rows(&ctx, sql).await, ["| a | y |", "| b |   |"]);
        let whole = rows(&ctx, "SELECT first_by(v, line, at) AS v FROM t").await;
        assert_eq!(whole, ["| x |"]);
    }

    #[tokio::test]
    async fn agrees_with_ordered_first_value() {
        // 600 rows over 37 groups with colliding times: DataFusion's own ordered FIRST_VALUE.
        let data: Vec<(String, Option<String>, i64, i64)> = (0..600i64)
            .map(|i| {
                let v = (i % 11 != 0).then(|| format!("v{}", (i * 7919) % 1000));
                (
                    format!("g{}", (i * 31) % 37),
                    v,
                    (i * 13) % 17,
                    (i * 101) % 600,
                )
            })
            .collect();
        let rows_of: Vec<(&str, Option<&str>, i64, i64)> = data
            .iter()
            .map(|r| (r.0.as_str(), r.1.as_deref(), r.2, r.3))
            .collect();
        let (left, right) = rows_of.split_at(250);
        let ctx = session(&[left, right]).await;
        let ours = rows(
            &ctx,
            "SELECT g, first_by(v, at, line) AS v FROM t GROUP BY g ORDER BY g",
        )
        .await;
        let theirs = rows(
            &ctx,
            "SELECT g, FIRST_VALUE(v ORDER BY at, line) AS v FROM t GROUP BY g ORDER BY g",
        )
        .await;
        assert_eq!(ours.len(), 37);
        assert_eq!(ours, theirs);
        // Under a FILTER that is NULL where v is (only the kept rows' keys are encoded).
        let filtered = |agg: &str| {
            format!("SELECT g, {agg} FILTER (WHERE v > 'v5') AS v FROM t GROUP BY g ORDER BY g")
        };
        let ours = rows(&ctx, &filtered("first_by(v, at, line)")).await;
        let theirs = rows(&ctx, &filtered("FIRST_VALUE(v ORDER BY at, line)")).await;
        assert_eq!(ours.len(), 37);
        assert_eq!(ours, theirs);
    }

    /// Regression (10M events: `stg_ga_sessions` 21 s): `size()`, asked after every batch, summed
    /// every group's bytes, so an aggregate over millions of sessions was quadratic. The running
    /// count must stay the sum over the kept rows through replacements and partial emits.
    #[test]
    fn size_is_counted_as_rows_come_and_go() {
        let keys = RowConverter::new(vec![SortField::new(DataType::Int64)]).unwrap();
        let mut acc = FirstByGroups {
            value_type: DataType::Utf8,
            keys,
            best: Vec::new(),
            batch_best: Vec::new(),
            held: 0,
        };
        let recount = |a: &FirstByGroups| {
            let kept = a.best.iter().flatten();
            kept.map(|b| b.key.capacity() + b.value.size())
                .sum::<usize>()
        };
        let batch = |v: &[&str], at: &[i64]| -> Vec<ArrayRef> {
            vec![
                Arc::new(StringArray::from_iter_values(v.iter().copied())),
                Arc::new(Int64Array::from(at.to_vec())),
            ]
        };
        acc.update_batch(&batch(&["a", "bb", "ccc"], &[5, 5, 5]), &[0, 1, 2], None, 3)
            .unwrap();
        assert!(acc.held > 0);
        assert_eq!(acc.held, recount(&acc));
        // An earlier row replaces group 1's value with a longer one; a later one leaves group 0.
        acc.update_batch(&batch(&["dddddddd", "x"], &[1, 9]), &[1, 0], None, 3)
            .unwrap();
        assert_eq!(acc.held, recount(&acc));
        let first = acc.evaluate(EmitTo::First(1)).unwrap();
        assert_eq!(first.as_string::<i32>().value(0), "a");
        assert_eq!(acc.held, recount(&acc));
        let rest = acc.evaluate(EmitTo::All).unwrap();
        assert_eq!(rest.as_string::<i32>().value(0), "dddddddd");
        assert_eq!(rest.as_string::<i32>().value(1), "ccc");
        assert_eq!(acc.held, 0);
    }
}
