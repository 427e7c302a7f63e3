//! `first_by(value, key, ...)`: the value of the row with the smallest key (the key columns
//! compared as a tuple, ascending, NULL first), as `FIRST_VALUE(value ORDER BY key, ...)`
//! gives it, NULL values included; of rows with equal keys, the smallest value (so the answer
//! does not depend on which partition saw which row first). DataFusion's ordered `FIRST_VALUE`
//! keeps every group's ordering as a vector of `ScalarValue`s and compares them one by one;
//! here a batch's keys are encoded once into byte-comparable rows (arrow's `RowConverter`), a
//! comparison is a `memcmp`, and only the values of the rows that win their group are encoded;
//! a group keeps its best row's bytes in one arena shared by all groups. The value has an
//! encoding of its own, so that emitting decodes the values and not the keys. The sessions
//! models pick a session's campaign, source and referrer with it (ordered by time, file, line).

use std::sync::Arc;

use datafusion::arrow::array::{
    new_null_array, Array, ArrayRef, AsArray, BinaryArray, BooleanArray, UInt32Array,
};
use datafusion::arrow::compute::{take, SortOptions};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

/// `first_by`, or with `last` set `last_by(value, key, ...)`: the value of the row with the
/// largest key (the keys descending, NULL last), as `LAST_VALUE(value ORDER BY key, ...)`;
/// of rows with equal keys, still the smallest value.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct FirstBy {
    signature: Signature,
    last: bool,
}

impl Default for FirstBy {
    fn default() -> Self {
        FirstBy {
            signature: Signature::variadic_any(Volatility::Immutable),
            last: false,
        }
    }
}

impl FirstBy {
    /// `last_by`.
    pub fn last() -> Self {
        FirstBy {
            last: true,
            ..Default::default()
        }
    }
}

impl AggregateUDFImpl for FirstBy {
    fn name(&self) -> &str {
        match self.last {
            false => "first_by",
            true => "last_by",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.len() < 2 {
            return exec_err!(
                "{}(value, key, ...) needs a value and at least one key",
                self.name()
            );
        }
        Ok(args[0].clone())
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        // A best row so far: its keys' and its value's bytes in arrow's row format.
        Ok(["key", "value"]
            .map(|part| {
                Arc::new(Field::new(
                    format!("{}[{part}]", args.name),
                    DataType::Binary,
                    true,
                ))
            })
            .to_vec())
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(single::FirstByAccumulator(FirstByGroups::new(
            &args, self.last,
        )?)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(
        &self,
        args: AccumulatorArgs,
    ) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(FirstByGroups::new(&args, self.last)?))
    }
}

/// Where a group's best row lies in [`FirstByGroups::arena`]: its key bytes, then its value
/// bytes (`len` 0: no row yet; an encoded row is never empty, each field having at least its
/// null byte).
#[derive(Clone, Copy, Default)]
struct Slot {
    start: usize,
    len: u32,
    key_len: u32,
}

/// A row as its encoded keys and its encoded value. Tuples of byte strings compare as the keys,
/// then the value.
type Row<'a> = (&'a [u8], &'a [u8]);

/// Per group, the best row seen, as the bytes of its keys and of its value: `update_batch`
/// takes raw rows (value, keys...), `merge_batch` partial states (the two byte strings). The
/// bytes of every group live in one arena, so a group costs a [`Slot`] and its bytes, not two
/// allocations and a `ScalarValue` (at 1M events `int_sessions`' five `first_by` held 400 MB
/// that way). The value is encoded on its own so that emitting decodes only it, not the keys.
struct FirstByGroups {
    value_type: DataType,
    /// Encodes the keys: the bytes compare as the keys (a tuple, ascending, NULL first).
    keys: RowConverter,
    /// Encodes the value.
    value: RowConverter,
    arena: Vec<u8>,
    best: Vec<Slot>,
    /// Bytes of `arena` no slot points to any more (rows replaced by better ones).
    garbage: usize,
    /// Per group, the row of the current batch that is its best so far ([`NONE`]: none).
    batch_best: Vec<usize>,
    /// The NULL value's bytes: what a group without rows evaluates to.
    null_value: Vec<u8>,
}

const NONE: usize = usize::MAX;

/// Past this many bytes, an arena that is more than half garbage is compacted.
const COMPACT_FROM: usize = 1 << 20;

impl FirstByGroups {
    /// `last`: the largest key wins ([`FirstBy::last`]).
    fn new(args: &AccumulatorArgs, last: bool) -> Result<Self> {
        let mut types = args
            .exprs
            .iter()
            .skip(1)
            .map(|e| e.data_type(args.schema))
            .collect::<Result<Vec<_>>>()?;
        types.push(args.return_field.data_type().clone());
        Self::of_types(types, last)
    }

    /// `types`: the keys' types, then the value's. `last`: the keys are encoded descending,
    /// NULL last, so that the smallest bytes are the largest key.
    fn of_types(mut types: Vec<DataType>, last: bool) -> Result<Self> {
        let value_type = types.pop().unwrap_or(DataType::Null);
        let order = SortOptions {
            descending: last,
            nulls_first: !last,
        };
        let keys = RowConverter::new(
            (types.into_iter())
                .map(|t| SortField::new_with_options(t, order))
                .collect(),
        )?;
        let value = RowConverter::new(vec![SortField::new(value_type.clone())])?;
        let null_value = value
            .convert_columns(&[new_null_array(&value_type, 1)])?
            .row(0)
            .data()
            .to_vec();
        Ok(FirstByGroups {
            value_type,
            keys,
            value,
            arena: Vec::new(),
            best: Vec::new(),
            garbage: 0,
            batch_best: Vec::new(),
            null_value,
        })
    }

    fn bytes(&self, slot: Slot) -> Option<Row<'_>> {
        (slot.len > 0).then(|| {
            let row = &self.arena[slot.start..slot.start + slot.len as usize];
            row.split_at(slot.key_len as usize)
        })
    }

    /// Offers rows to their groups (`row(i)` the i-th row's bytes): in each group, the batch's
    /// best row replaces the kept one when it is smaller.
    fn offer<'k>(
        &mut self,
        row: impl Fn(usize) -> Option<Row<'k>>,
        group_indices: &[usize],
        total_groups: usize,
    ) {
        // The best row of each group within this batch, compared against the kept one last.
        let present = |i: usize| row(i).is_some();
        let order = |i: usize, j: usize| row(i).cmp(&row(j));
        let (winners, _) = self.batch_winners(group_indices, present, order, total_groups);
        for (group, i) in winners {
            let (key, value) = row(i).expect("offered rows have bytes");
            self.keep_if_better(group, key, value);
        }
        self.compact_if_half_garbage();
    }

    /// Each group's smallest row of a batch by `order` (`groups[i]` the group of row i; rows not
    /// `present` are left out), as (group, row), and whether two rows of a group were equal (the
    /// first of them is the one given).
    fn batch_winners(
        &mut self,
        groups: &[usize],
        present: impl Fn(usize) -> bool,
        order: impl Fn(usize, usize) -> std::cmp::Ordering,
        total_groups: usize,
    ) -> (Vec<(usize, usize)>, bool) {
        self.grow(total_groups);
        let mut touched = Vec::new();
        let mut tie = false;
        for (i, &group) in groups.iter().enumerate() {
            if !present(i) {
                continue;
            }
            let current = self.batch_best[group];
            if current == NONE {
                touched.push(group);
                self.batch_best[group] = i;
                continue;
            }
            match order(i, current) {
                std::cmp::Ordering::Less => self.batch_best[group] = i,
                std::cmp::Ordering::Equal => tie = true,
                std::cmp::Ordering::Greater => {}
            }
        }
        let winners = touched
            .into_iter()
            .map(|g| (g, std::mem::replace(&mut self.batch_best[g], NONE)))
            .collect();
        (winners, tie)
    }

    /// Room for `total_groups` groups.
    fn grow(&mut self, total_groups: usize) {
        if self.best.len() < total_groups {
            self.best.resize(total_groups, Slot::default());
            self.batch_best.resize(total_groups, NONE);
        }
    }

    /// Makes (`key`, `value`) the group's row unless the kept one is not larger.
    fn keep_if_better(&mut self, group: usize, key: &[u8], value: &[u8]) {
        let old = self.best[group];
        if self.bytes(old).is_some_and(|kept| kept <= (key, value)) {
            return;
        }
        self.garbage += old.len as usize;
        self.best[group] = Slot {
            start: self.arena.len(),
            len: (key.len() + value.len()) as u32,
            key_len: key.len() as u32,
        };
        self.arena.extend_from_slice(key);
        self.arena.extend_from_slice(value);
    }

    fn compact_if_half_garbage(&mut self) {
        if self.arena.len() > COMPACT_FROM && self.garbage * 2 > self.arena.len() {
            self.compact();
        }
    }

    /// Of each group's rows in a batch (`keys` encoded, `groups[j]` the group of row j), the one
    /// with the smallest key, as (group, row); `None` when two rows of a group have equal keys,
    /// which only their values can order.
    fn best_by_key(
        &mut self,
        keys: &Rows,
        groups: &[usize],
        total_groups: usize,
    ) -> Option<Vec<(usize, usize)>> {
        let order = |i: usize, j: usize| keys.row(i).data().cmp(keys.row(j).data());
        let (winners, tie) = self.batch_winners(groups, |_| true, order, total_groups);
        (!tie).then_some(winners)
    }

    /// Keeps each batch winner (group, row of `keys`) that beats its group's kept row; only the
    /// values of winners whose key is not larger than the kept one are encoded. `position` maps
    /// a row of `keys` to its row of `value`.
    fn keep_winners(
        &mut self,
        value: &ArrayRef,
        winners: Vec<(usize, usize)>,
        keys: &Rows,
        position: impl Fn(usize) -> usize,
    ) -> Result<()> {
        let candidates: Vec<(usize, usize)> = (winners.into_iter())
            .filter(|&(g, j)| {
                (self.bytes(self.best[g])).is_none_or(|(kept, _)| keys.row(j).data() <= kept)
            })
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let rows =
            UInt32Array::from_iter_values(candidates.iter().map(|&(_, j)| position(j) as u32));
        let values = self
            .value
            .convert_columns(&[take(value.as_ref(), &rows, None)?])?;
        for (n, &(group, j)) in candidates.iter().enumerate() {
            self.keep_if_better(group, keys.row(j).data(), values.row(n).data());
        }
        self.compact_if_half_garbage();
        Ok(())
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
            let len = slot.len as usize;
            self.arena.copy_within(slot.start..slot.start + len, end);
            slot.start = end;
            end += len;
        }
        self.arena.truncate(end);
        self.garbage = 0;
    }

    /// `f` of the emitted groups' slots; then those groups are gone, and the open groups keep
    /// their slots' allocation.
    fn emit<T>(&mut self, emit_to: EmitTo, f: impl FnOnce(&Self, &[Slot]) -> T) -> T {
        let n = match emit_to {
            EmitTo::All => self.best.len(),
            EmitTo::First(n) => n,
        };
        let out = f(self, &self.best[..n]);
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
        out
    }

    /// The values of the rows in `slots` (an empty slot: NULL). Only the values are decoded.
    fn values(&self, slots: &[Slot]) -> Result<ArrayRef> {
        let parser = self.value.parser();
        let rows = slots.iter().map(|&s| {
            let bytes = self.bytes(s).map_or(self.null_value.as_slice(), |(_, v)| v);
            parser.parse(bytes)
        });
        let columns = self.value.convert_rows(rows)?;
        // The row format gives a dictionary's values back as the values' type.
        Ok(datafusion::arrow::compute::cast(
            &columns[0],
            &self.value_type,
        )?)
    }

    /// The partial states of the rows in `slots`: their keys' and their values' bytes.
    fn states(&self, slots: &[Slot]) -> Vec<ArrayRef> {
        let rows: Vec<Option<Row>> = slots.iter().map(|&s| self.bytes(s)).collect();
        let keys: BinaryArray = rows.iter().map(|r| r.map(|(k, _)| k)).collect();
        let values: BinaryArray = rows.iter().map(|r| r.map(|(_, v)| v)).collect();
        vec![Arc::new(keys), Arc::new(values)]
    }

    /// Raw rows (value, keys...) as their keys' and their value's bytes.
    fn encode(&self, values: &[ArrayRef]) -> Result<(Rows, Rows)> {
        Ok((
            self.keys.convert_columns(&values[1..])?,
            self.value.convert_columns(&values[..1])?,
        ))
    }
}

impl GroupsAccumulator for FirstByGroups {
    /// The keys of the rows the filter keeps are encoded and compared; the values only of the
    /// rows that win their group (in the sessions models a filter keeps the few events that
    /// carry a campaign or a referrer, and a session's first of them wins).
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        // The batch positions of the rows the filter keeps (None: every row).
        let kept: Option<UInt32Array> = opt_filter.map(|filter| {
            let filter = match filter.nulls() {
                Some(_) => datafusion::arrow::compute::prep_null_mask_filter(filter),
                None => filter.clone(),
            };
            filter.values().set_indices().map(|i| i as u32).collect()
        });
        let key_columns = match &kept {
            Some(rows) => (values[1..].iter())
                .map(|c| take(c.as_ref(), rows, None))
                .collect::<std::result::Result<Vec<_>, _>>()?,
            None => values[1..].to_vec(),
        };
        let keys = self.keys.convert_columns(&key_columns)?;
        let position = |j: usize| kept.as_ref().map_or(j, |rows| rows.value(j) as usize);
        let groups: Vec<usize> = (0..keys.num_rows())
            .map(|j| group_indices[position(j)])
            .collect();
        if let Some(winners) = self.best_by_key(&keys, &groups, total_num_groups) {
            return self.keep_winners(&values[0], winners, &keys, position);
        }
        // Equal keys in a group: the values decide, so every kept row's value is encoded.
        let value = match &kept {
            Some(rows) => take(values[0].as_ref(), rows, None)?,
            None => values[0].clone(),
        };
        let value = self.value.convert_columns(&[value])?;
        let row = |j: usize| Some((keys.row(j).data(), value.row(j).data()));
        self.offer(row, &groups, total_num_groups);
        Ok(())
    }

    fn merge_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        total_num_groups: usize,
    ) -> Result<()> {
        let (keys, value): (&BinaryArray, &BinaryArray) =
            (values[0].as_binary(), values[1].as_binary());
        let row = |i: usize| keys.is_valid(i).then(|| (keys.value(i), value.value(i)));
        self.offer(row, group_indices, total_num_groups);
        Ok(())
    }

    /// Raw rows as partial states: each row its own best (a filtered-out row has none).
    fn convert_to_state(
        &self,
        values: &[ArrayRef],
        opt_filter: Option<&BooleanArray>,
    ) -> Result<Vec<ArrayRef>> {
        let (keys, value) = self.encode(values)?;
        let kept = |i: usize| opt_filter.is_none_or(|f| f.is_valid(i) && f.value(i));
        let n = values[0].len();
        let keys: BinaryArray = (0..n)
            .map(|i| kept(i).then(|| keys.row(i).data()))
            .collect();
        let value: BinaryArray = (0..n)
            .map(|i| kept(i).then(|| value.row(i).data()))
            .collect();
        Ok(vec![Arc::new(keys), Arc::new(value)])
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        self.emit(emit_to, |groups, slots| groups.values(slots))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(self.emit(emit_to, |groups, slots| groups.states(slots)))
    }

    fn size(&self) -> usize {
        self.arena.capacity()
            + self.best.capacity() * std::mem::size_of::<Slot>()
            + self.batch_best.capacity() * std::mem::size_of::<usize>()
    }
}

mod single;

#[cfg(test)]
mod tests;
