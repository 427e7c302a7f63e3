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
        // Not `EmitTo::take_needed`: it leaves the groups still open in a new vector of their
        // own size, and an aggregate over sorted input (which emits its finished groups after
        // every batch) then grew that vector again, from fresh pages, after every batch: 43% of
        // the samples of stg_ga_sessions at 10M were the kernel zeroing those pages. Draining
        // keeps the allocation.
        let best: Vec<_> = match emit_to {
            EmitTo::All => std::mem::take(&mut self.best),
            EmitTo::First(n) => self.best.drain(..n).collect(),
        };
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
        let columns = values[1..]
            .iter()
            .map(|c| datafusion::arrow::compute::filter(c, filter))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let rows = key_rows(&self.keys, &columns)?;
        // Row i of the batch is row at[i] of the encoded keys (NONE: filtered out).
        let mut at = Vec::with_capacity(filter.len());
        let mut next = 0;
        for i in 0..filter.len() {
            if filter.is_valid(i) && filter.value(i) {
                at.push(next);
                next += 1;
            } else {
                at.push(NONE);
            }
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
mod tests;
