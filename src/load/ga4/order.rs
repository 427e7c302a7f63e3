//! The order of a file's `ga_events` rows: by session (user, then session id), then line.
//!
//! The keys are compared as integers: each user is replaced by its rank among the file's
//! users, so the sort compares `(rank, session, position)`, never strings. The rows are built
//! into columns in file order, then gathered in session order ([`by_session`]), each value
//! copied once more. (Sorting the decoded events first and building the columns in session
//! order saves that copy but costs more: the events' text is then read again from memory
//! instead of from the cache the decoder just filled; docs/performance.md, session 18.)

use arrow::array::{new_null_array, Array, AsArray, RecordBatch};
use arrow::compute::interleave;
use arrow::datatypes::Int64Type;
use foldhash::{HashMap, HashMapExt};

use super::BATCH_ROWS;

/// The positions (0-based, in file order) of a file's rows in session order: by user (as
/// bytes), then session, then position.
fn session_order<'s>(
    users: impl Iterator<Item = &'s str>,
    sessions: impl Iterator<Item = i64>,
) -> Vec<u32> {
    let mut keys: Vec<(u32, i64, u32)> = (user_ranks(users).into_iter().zip(sessions))
        .enumerate()
        .map(|(i, (rank, session))| (rank, session, i as u32))
        .collect();
    // The position is unique, so an unstable sort keeps lines in order.
    keys.sort_unstable();
    keys.into_iter().map(|(_, _, i)| i).collect()
}

/// Each row's user as its rank among the file's distinct users (in byte order), in file order.
fn user_ranks<'s>(users: impl Iterator<Item = &'s str>) -> Vec<u32> {
    let mut ids: HashMap<&str, u32> = HashMap::new();
    let row_ids: Vec<u32> = users
        .map(|user| {
            let next = ids.len() as u32;
            *ids.entry(user).or_insert(next)
        })
        .collect();
    let mut distinct: Vec<(&str, u32)> = ids.into_iter().collect();
    distinct.sort_unstable();
    let mut rank_of = vec![0u32; distinct.len()];
    for (rank, (_, id)) in distinct.into_iter().enumerate() {
        rank_of[id as usize] = rank as u32;
    }
    row_ids.into_iter().map(|id| rank_of[id as usize]).collect()
}

/// The batches of one file built in file order, in session order ([`session_order`]), in
/// batches of [`BATCH_ROWS`]: each output batch takes its rows straight from the input batches.
pub(super) fn by_session(batches: Vec<RecordBatch>) -> Vec<RecordBatch> {
    let column =
        |b: &RecordBatch, name: &str| b.column_by_name(name).expect("a key column").clone();
    let users: Vec<_> = batches
        .iter()
        .map(|b| column(b, "user_pseudo_id"))
        .collect();
    let sessions: Vec<_> = batches.iter().map(|b| column(b, "ga_session_id")).collect();
    // Both keys are required fields: a row without one was rejected.
    let order = session_order(
        users
            .iter()
            .flat_map(|u| u.as_string::<i32>().iter().map(Option::unwrap_or_default)),
        (sessions.iter()).flat_map(|s| s.as_primitive::<Int64Type>().values().iter().copied()),
    );
    // (batch, row) of each row of the file, in file order.
    let at: Vec<(usize, usize)> = (batches.iter().enumerate())
        .flat_map(|(b, batch)| (0..batch.num_rows()).map(move |r| (b, r)))
        .collect();
    let inputs: Vec<&RecordBatch> = batches.iter().collect();
    order
        .chunks(BATCH_ROWS)
        .map(|chunk| {
            let rows: Vec<(usize, usize)> = chunk.iter().map(|&i| at[i as usize]).collect();
            gather(&inputs, &rows)
        })
        .collect()
}

/// The `rows` (batch, row) of `inputs`, in order. A column null in every input (as
/// `manual_term` nearly always is) is made of nulls, not gathered value by value.
fn gather(inputs: &[&RecordBatch], rows: &[(usize, usize)]) -> RecordBatch {
    let schema = inputs[0].schema();
    let columns = (0..schema.fields().len())
        .map(|c| {
            let arrays: Vec<&dyn Array> = inputs.iter().map(|b| b.column(c).as_ref()).collect();
            if arrays.iter().all(|a| a.null_count() == a.len()) {
                return new_null_array(schema.field(c).data_type(), rows.len());
            }
            interleave(&arrays, rows).expect("rows in range")
        })
        .collect();
    RecordBatch::try_new(schema, columns).expect("the input batches' columns")
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use arrow::array::{Int64Array, StringArray};

    use super::super::{Flattener, Row};
    use super::*;

    /// A file of `events` (user, session, user_id) in line order, sealed every `per_batch`.
    fn flattened(events: &[(&str, i64, Option<&str>)], per_batch: usize) -> Vec<RecordBatch> {
        let mut flat = Flattener::new("events_1.json");
        for (i, &(user, session, user_id)) in events.iter().enumerate() {
            let row = Row {
                at: Some(1_704_412_800_000_000),
                session: Some(session),
                name: None,
                user: Some(Cow::Borrowed(user)),
                user_id: user_id.map(Cow::Borrowed),
                page_location: None,
                page_referrer: None,
                traffic: Default::default(),
            };
            flat.push(&row, i as u64 + 1);
            if (i + 1) % per_batch == 0 {
                flat.seal();
            }
        }
        flat.seal();
        flat.batches
    }

    fn texts(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
        let c = batch.column_by_name(name).unwrap();
        let c = c.as_any().downcast_ref::<StringArray>().unwrap();
        c.iter().map(|v| v.map(str::to_string)).collect()
    }

    fn ints(batch: &RecordBatch, name: &str) -> Vec<i64> {
        let c = batch.column_by_name(name).unwrap();
        let c = c.as_any().downcast_ref::<Int64Array>().unwrap();
        c.values().to_vec()
    }

    #[test]
    fn a_file_spread_over_batches_is_sorted_by_session_then_line() {
        // Users sort by their bytes ("a" < "a1" < "ab" < "b"), not by when they first appear;
        // a user's events keep their own columns (user_id) and stay in line order.
        let events = [
            ("b", 2, Some("B")),
            ("ab", 9, None),
            ("b", 1, None),
            ("a", 10, Some("A")),
            ("b", 2, None),
            ("ab", 9, Some("AB")),
            ("a1", 1, None),
            ("a", 10, None),
        ];
        let batches = flattened(&events, 3);
        assert_eq!(batches.len(), 3, "the rows come in three batches");
        let sorted = by_session(batches);
        let all = arrow::compute::concat_batches(&sorted[0].schema(), &sorted).unwrap();
        let users: Vec<String> = texts(&all, "user_pseudo_id")
            .into_iter()
            .flatten()
            .collect();
        assert_eq!(users, ["a", "a", "a1", "ab", "ab", "b", "b", "b"]);
        assert_eq!(ints(&all, "ga_session_id"), [10, 10, 1, 9, 9, 1, 2, 2]);
        assert_eq!(ints(&all, "source_line"), [4, 8, 7, 2, 6, 3, 1, 5]);
        let ids = texts(&all, "user_id");
        let ids: Vec<Option<&str>> = ids.iter().map(Option::as_deref).collect();
        let expected = [
            Some("A"),
            None,
            None,
            None,
            Some("AB"),
            None,
            Some("B"),
            None,
        ];
        assert_eq!(ids, expected);
        // A column with no value in any batch comes out as nulls of its type.
        assert_eq!(texts(&all, "page_location"), vec![None; 8]);
        assert!(by_session(Vec::new()).is_empty());
    }

    #[test]
    fn positions_sort_by_user_bytes_then_session_then_position() {
        let users = ["b", "a", "ab", "a", "b", "a1", "a"];
        let sessions = [1, 5, 2, 4, 1, 9, 4];
        let order = session_order(users.into_iter(), sessions.into_iter());
        assert_eq!(order, [3, 6, 1, 5, 2, 0, 4]);
        assert!(session_order(std::iter::empty(), std::iter::empty()).is_empty());
    }
}
