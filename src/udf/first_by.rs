//! `first_by(value, key, ...)`: the value of the row with the smallest key (the key columns
//! compared as a tuple, ascending, NULL first), as `FIRST_VALUE(value ORDER BY key, ...)`
//! gives it, NULL values included; of rows with equal keys, the smallest value (so the answer
//! does not depend on which partition saw which row first). DataFusion's ordered `FIRST_VALUE`
//! keeps every group's ordering as a vector of `ScalarValue`s and compares them one by one;
//! here the (key..., value) rows of a batch are encoded once into byte-comparable rows (arrow's
//! `RowConverter`), a comparison is a `memcmp`, and a group keeps its best row's bytes in one
//! arena shared by all groups. The sessions models pick a session's campaign, source and
//! referrer with it (ordered by time, file and line).

use std::sync::Arc;

use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BinaryArray, BooleanArray,
};
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
        Ok(vec![Arc::new(Field::new(
            format!("{}[row]", args.name),
            DataType::Binary,
            true,
        ))])
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

/// Where a group's best row lies in [`FirstByGroups::arena`] (`len` 0: no row yet; an encoded
/// row is never empty, each field having at least its null byte).
#[derive(Clone, Copy, Default)]
struct Slot {
    start: usize,
    len: usize,
}

/// Per group, the best row seen, as the bytes of its (key..., value) row: `update_batch` takes
/// raw rows (value, keys...), `merge_batch` partial states (row bytes). The bytes of every
/// group live in one arena, so a group costs a [`Slot`] and its bytes, not two allocations and
/// a `ScalarValue` (at 1M events `int_sessions`' five `first_by` held 400 MB that way).
struct FirstByGroups {
    value_type: DataType,
    /// Encodes (key..., value): row bytes compare as the keys, then the value.
    rows: RowConverter,
    arena: Vec<u8>,
    best: Vec<Slot>,
    /// Bytes of `arena` no slot points to any more (rows replaced by better ones).
    garbage: usize,
    /// Per group, the row of the current batch that is its best so far ([`NONE`]: none).
    batch_best: Vec<usize>,
    /// The row of all NULLs: what a group without rows evaluates to.
    null_row: Vec<u8>,
}

const NONE: usize = usize::MAX;

/// Past this many bytes, an arena that is more than half garbage is compacted.
const COMPACT_FROM: usize = 1 << 20;

impl FirstByGroups {
    fn new(args: &AccumulatorArgs) -> Result<Self> {
        let mut types = args
            .exprs
            .iter()
            .skip(1)
            .map(|e| e.data_type(args.schema))
            .collect::<Result<Vec<_>>>()?;
        types.push(args.return_field.data_type().clone());
        Self::of_types(types)
    }

    /// `types`: the keys' types, then the value's.
    fn of_types(types: Vec<DataType>) -> Result<Self> {
        let nulls: Vec<ArrayRef> = types.iter().map(|t| new_null_array(t, 1)).collect();
        let value_type = types.last().cloned().unwrap_or(DataType::Null);
        let rows = RowConverter::new(types.into_iter().map(SortField::new).collect())?;
        let null_row = rows.convert_columns(&nulls)?.row(0).data().to_vec();
        Ok(FirstByGroups {
            value_type,
            rows,
            arena: Vec::new(),
            best: Vec::new(),
            garbage: 0,
            batch_best: Vec::new(),
            null_row,
        })
    }

    fn bytes(&self, slot: Slot) -> Option<&[u8]> {
        (slot.len > 0).then(|| &self.arena[slot.start..slot.start + slot.len])
    }

    /// Offers rows to their groups (`row(i)` the i-th row's bytes): in each group, the batch's
    /// best row replaces the kept one when its bytes are smaller.
    fn offer<'k>(
        &mut self,
        row: impl Fn(usize) -> Option<&'k [u8]>,
        group_indices: &[usize],
        total_groups: usize,
    ) {
        if self.best.len() < total_groups {
            self.best.resize(total_groups, Slot::default());
            self.batch_best.resize(total_groups, NONE);
        }
        // The best row of each group within this batch, compared against the kept one last.
        let mut touched = Vec::new();
        for (i, &group) in group_indices.iter().enumerate() {
            let Some(r) = row(i) else { continue };
            let current = self.batch_best[group];
            if current == NONE {
                touched.push(group);
            } else if row(current).is_some_and(|b| b <= r) {
                continue;
            }
            self.batch_best[group] = i;
        }
        for group in touched {
            let i = std::mem::replace(&mut self.batch_best[group], NONE);
            let r = row(i).expect("offered rows have bytes");
            let old = self.best[group];
            if self.bytes(old).is_some_and(|kept| kept <= r) {
                continue;
            }
            self.garbage += old.len;
            self.best[group] = Slot {
                start: self.arena.len(),
                len: r.len(),
            };
            self.arena.extend_from_slice(r);
        }
        if self.arena.len() > COMPACT_FROM && self.garbage * 2 > self.arena.len() {
            self.compact();
        }
    }

    /// Moves the kept rows to the front of the arena, in place (its allocation is kept), and
    /// drops the garbage.
    fn compact(&mut self) {
        let mut kept: Vec<usize> = (0..self.best.len())
            .filter(|&g| self.best[g].len > 0)
            .collect();
        kept.sort_unstable_by_key(|&g| self.best[g].start);
        let mut end = 0;
        for g in kept {
            let slot = &mut self.best[g];
            self.arena
                .copy_within(slot.start..slot.start + slot.len, end);
            slot.start = end;
            end += slot.len;
        }
        self.arena.truncate(end);
        self.garbage = 0;
    }

    /// The rows of the emitted groups, as a binary array (NULL: no row); the open groups keep
    /// their slots' allocation.
    fn take(&mut self, emit_to: EmitTo) -> BinaryArray {
        let n = match emit_to {
            EmitTo::All => self.best.len(),
            EmitTo::First(n) => n,
        };
        let taken: BinaryArray = self.best[..n].iter().map(|&s| self.bytes(s)).collect();
        // Not `EmitTo::take_needed`: it leaves the groups still open in a new vector of their
        // own size, and an aggregate over sorted input (which emits its finished groups after
        // every batch) then grew that vector again, from fresh pages, after every batch: 43% of
        // the samples of stg_ga_sessions at 10M were the kernel zeroing those pages. Draining
        // keeps the allocation.
        self.best.drain(..n);
        self.batch_best.truncate(self.best.len());
        if self.best.is_empty() {
            self.arena.clear();
            self.garbage = 0;
        } else {
            self.compact();
        }
        taken
    }

    /// The values of rows given as bytes (NULL: the value is NULL).
    fn values(&self, rows: &BinaryArray) -> Result<ArrayRef> {
        let parser = self.rows.parser();
        let rows = (0..rows.len()).map(|i| {
            let bytes = if rows.is_valid(i) {
                rows.value(i)
            } else {
                &self.null_row
            };
            parser.parse(bytes)
        });
        let columns = self.rows.convert_rows(rows)?;
        let value = columns.last().expect("the value is the last column");
        // The row format gives a dictionary's values back as the values' type.
        Ok(datafusion::arrow::compute::cast(value, &self.value_type)?)
    }
}

/// Raw rows (value, keys...) as the bytes of their (key..., value) rows.
fn encode(rows: &RowConverter, values: &[ArrayRef]) -> Result<Rows> {
    let mut columns: Vec<ArrayRef> = values[1..].to_vec();
    columns.push(values[0].clone());
    Ok(rows.convert_columns(&columns)?)
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
            let rows = encode(&self.rows, values)?;
            let row = |i: usize| Some(rows.row(i).data());
            self.offer(row, group_indices, total_num_groups);
            return Ok(());
        };
        // Only the rows the filter keeps are compared, so only they are encoded (in the
        // sessions models a filter keeps the few events that carry a campaign or a referrer).
        let kept = values
            .iter()
            .map(|c| datafusion::arrow::compute::filter(c, filter))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let rows = encode(&self.rows, &kept)?;
        // Row i of the batch is row at[i] of the encoded ones (NONE: filtered out).
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
        let row = |i: usize| (at[i] != NONE).then(|| rows.row(at[i]).data());
        self.offer(row, group_indices, total_num_groups);
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let rows: &BinaryArray = values[0].as_binary();
        let row = |i: usize| rows.is_valid(i).then(|| rows.value(i));
        self.offer(row, group_indices, total_num_groups);
        Ok(())
    }

    /// Raw rows as partial states: each row its own best (a filtered-out row has none).
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let rows = encode(&self.rows, values)?;
        let state: BinaryArray = (0..values[0].len())
            .map(|i| {
                let kept = opt_filter.is_none_or(|f| f.is_valid(i) && f.value(i));
                kept.then(|| rows.row(i).data())
            })
            .collect();
        Ok(vec![Arc::new(state)])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let rows = self.take(emit_to);
        self.values(&rows)
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![Arc::new(self.take(emit_to))])
    }

    fn size(&self) -> usize {
        self.arena.capacity()
            + self.best.capacity() * std::mem::size_of::<Slot>()
            + self.batch_best.capacity() * std::mem::size_of::<usize>()
    }
}

/// `first_by` without GROUP BY: one group.
struct FirstByAccumulator(FirstByGroups);

impl std::fmt::Debug for FirstByAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FirstByAccumulator")
    }
}

impl FirstByAccumulator {
    fn row(&self) -> Option<&[u8]> {
        self.0.best.first().and_then(|&s| self.0.bytes(s))
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
        Ok(vec![ScalarValue::Binary(self.row().map(<[u8]>::to_vec))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let rows: BinaryArray = std::iter::once(self.row()).collect();
        ScalarValue::try_from_array(&self.0.values(&rows)?, 0)
    }

    fn size(&self) -> usize {
        GroupsAccumulator::size(&self.0)
    }
}

#[cfg(test)]
mod tests;
