//! `first_by` against hand-made batches and DataFusion's ordered FIRST_VALUE.

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
    for udaf in [FirstBy::default(), FirstBy::last()] {
        ctx.register_udaf(datafusion::logical_expr::AggregateUDF::from(udaf));
    }
    ctx
}

/// Owned (group, value, at, line) rows, the first `at` in one partition and the rest in another.
async fn session_split(data: &[(String, Option<String>, i64, i64)], at: usize) -> SessionContext {
    let rows_of: Vec<(&str, Option<&str>, i64, i64)> = data
        .iter()
        .map(|r| (r.0.as_str(), r.1.as_deref(), r.2, r.3))
        .collect();
    let (left, right) = rows_of.split_at(at);
    session(&[left, right]).await
}

/// DataFusion's own answer, which `first_by(v, at, line)` must agree with.
const ORDERED_FIRST_VALUE: &str =
    "SELECT g, FIRST_VALUE(v ORDER BY at, line) AS v FROM t GROUP BY g ORDER BY g";

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

/// `ours` and DataFusion's `theirs` give the same row for each of [`six_hundred_rows`]' 37 groups.
async fn same_per_group(ctx: &SessionContext, ours: &str, theirs: &str) {
    let ours = rows(ctx, ours).await;
    assert_eq!(ours.len(), 37);
    assert_eq!(ours, rows(ctx, theirs).await);
}

/// 600 rows over 37 groups in two partitions, times colliding, every (at, line) distinct (101
/// and 600 are coprime), a NULL value every 11th row.
async fn six_hundred_rows() -> SessionContext {
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
    session_split(&data, 250).await
}

#[tokio::test]
async fn agrees_with_ordered_first_value() {
    // DataFusion's own ordered FIRST_VALUE.
    let ctx = six_hundred_rows().await;
    let ours = "SELECT g, first_by(v, at, line) AS v FROM t GROUP BY g ORDER BY g";
    same_per_group(&ctx, ours, ORDERED_FIRST_VALUE).await;
    // Under a FILTER that is NULL where v is (only the kept rows' keys are encoded).
    let filtered = |agg: &str| {
        format!("SELECT g, {agg} FILTER (WHERE v > 'v5') AS v FROM t GROUP BY g ORDER BY g")
    };
    let (ours, theirs) = (
        filtered("first_by(v, at, line)"),
        filtered("FIRST_VALUE(v ORDER BY at, line)"),
    );
    same_per_group(&ctx, &ours, &theirs).await;
}

#[tokio::test]
async fn last_by_takes_the_latest_time_then_line_across_partitions() {
    let ctx = session(&[
        &[
            ("a", Some("early"), 10, 9),
            ("a", Some("tie-line-3"), 20, 3),
            ("b", Some("before-null"), 5, 1),
        ],
        &[
            ("a", Some("tie-line-7"), 20, 7),
            ("b", None, 6, 1),
            ("c", Some("only"), 1, 1),
        ],
    ])
    .await;
    let sql = "SELECT g, last_by(v, at, line) AS v FROM t GROUP BY g ORDER BY g";
    // a: at 20 twice, line 7 last; b: its latest row has no value, and that is the answer
    let got = rows(&ctx, sql).await;
    assert_eq!(
        got,
        [
            "| a | tie-line-7 |",
            "| b |            |",
            "| c | only       |"
        ]
    );
    let whole = rows(&ctx, "SELECT last_by(v, line, at) AS v FROM t").await;
    assert_eq!(whole, ["| early |"]);
}

#[tokio::test]
async fn last_by_agrees_with_first_value_ordered_descending() {
    let ctx = six_hundred_rows().await;
    same_per_group(
        &ctx,
        "SELECT g, last_by(v, at, line) AS v FROM t GROUP BY g ORDER BY g",
        "SELECT g, FIRST_VALUE(v ORDER BY at DESC, line DESC) AS v FROM t GROUP BY g ORDER BY g",
    )
    .await;
}

/// Regression (10M events: `stg_ga_sessions` 21 s): `size()`, asked after every batch, summed
/// every group's bytes, so an aggregate over millions of sessions was quadratic. It is now the
/// arena's and the slots' capacity, which holds every kept row, and emitting gives it back.
#[test]
fn size_covers_the_kept_rows_and_emitting_empties_the_arena() {
    let mut acc = utf8_by_int();
    let empty = GroupsAccumulator::size(&acc);
    acc.update_batch(&batch(&["a", "bb", "ccc"], &[5, 5, 5]), &[0, 1, 2], None, 3)
        .unwrap();
    // Each kept row holds at least its value's bytes.
    assert!(GroupsAccumulator::size(&acc) >= empty + 6);
    // An earlier row replaces group 1's value with a longer one; a later one leaves group 0.
    acc.update_batch(&batch(&["dddddddd", "x"], &[1, 9]), &[1, 0], None, 3)
        .unwrap();
    let first = acc.evaluate(EmitTo::First(1)).unwrap();
    assert_eq!(first.as_string::<i32>().value(0), "a");
    let rest = acc.evaluate(EmitTo::All).unwrap();
    assert_eq!(rest.as_string::<i32>().value(0), "dddddddd");
    assert_eq!(rest.as_string::<i32>().value(1), "ccc");
    assert!(acc.arena.is_empty() && acc.best.is_empty());
}

/// A group offered ever earlier rows keeps only the last: the replaced rows' bytes are
/// compacted away once they are half of an arena past `COMPACT_FROM`.
#[test]
fn replaced_rows_do_not_pile_up() {
    let mut acc = utf8_by_int();
    let long = "v".repeat(300);
    for at in (0..10_000).rev() {
        acc.update_batch(&batch(&[&format!("{long}{at}")], &[at]), &[0], None, 1)
            .unwrap();
    }
    // 10,000 rows of ~310 bytes were kept in turn, 3 MB; the arena holds at most ~1 MB more
    // than the live row.
    assert!(acc.arena.len() <= COMPACT_FROM + 400, "{}", acc.arena.len());
    let value = acc.evaluate(EmitTo::All).unwrap();
    assert_eq!(value.as_string::<i32>().value(0), format!("{long}0"));
}

/// (value, at) columns of a raw batch for [`utf8_by_int`].
fn batch(v: &[&str], at: &[i64]) -> Vec<ArrayRef> {
    vec![
        Arc::new(StringArray::from_iter_values(v.iter().copied())),
        Arc::new(Int64Array::from(at.to_vec())),
    ]
}

/// A `first_by` of a string by an integer key, with no groups yet.
fn utf8_by_int() -> FirstByGroups {
    FirstByGroups::of_types(vec![DataType::Int64, DataType::Utf8], false).unwrap()
}

/// Over sorted input an aggregate emits its finished groups after every batch. Emitting left
/// the open groups in a new vector of their own size, which the next batch grew again from fresh
/// pages: the kernel zeroing them was 43% of stg_ga_sessions at 10M events. The open groups must
/// keep the allocation, and their values.
#[test]
fn emitting_finished_groups_keeps_the_open_groups_allocation() {
    let mut acc = utf8_by_int();
    let groups: Vec<usize> = (0..1000).collect();
    let values: Vec<String> = groups.iter().map(|g| format!("v{g}")).collect();
    let batch: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(values.iter())),
        Arc::new(Int64Array::from_iter_values(
            groups.iter().map(|&g| g as i64),
        )),
    ];
    acc.update_batch(&batch, &groups, None, 1000).unwrap();
    let capacity = acc.best.capacity();
    let finished = acc.evaluate(EmitTo::First(999)).unwrap();
    assert_eq!(finished.len(), 999);
    assert_eq!(finished.as_string::<i32>().value(998), "v998");
    assert_eq!(
        acc.best.capacity(),
        capacity,
        "the open group kept the allocation"
    );
    let open = acc.evaluate(EmitTo::All).unwrap();
    assert_eq!(open.as_string::<i32>().value(0), "v999");
}

/// Rows with equal keys: the smallest value wins, whichever partition holds which.
#[tokio::test]
async fn equal_keys_give_the_smallest_value_in_any_partition_order() {
    let sql = "SELECT g, first_by(v, at, line) AS v FROM t GROUP BY g ORDER BY g";
    let one = session(&[&[("a", Some("y"), 1, 1)], &[("a", Some("x"), 1, 1)]]).await;
    let other = session(&[&[("a", Some("x"), 1, 1)], &[("a", Some("y"), 1, 1)]]).await;
    assert_eq!(rows(&one, sql).await, ["| a | x |"]);
    assert_eq!(rows(&other, sql).await, ["| a | x |"]);
}

/// The row format gives a dictionary's values back undictionaried: the result has the
/// declared type again.
#[tokio::test]
async fn a_dictionary_value_comes_back_as_a_dictionary() {
    let ctx = session(&[&[("a", Some("late"), 2, 1), ("a", Some("early"), 1, 1)]]).await;
    let v = "arrow_cast(v, 'Dictionary(Int32, Utf8)')";
    let sql = format!(
        "SELECT arrow_typeof(first_by({v}, at, line)) AS t, first_by({v}, at, line) AS v FROM t"
    );
    assert_eq!(
        rows(&ctx, &sql).await,
        ["| Dictionary(Int32, Utf8) | early |"]
    );
}

/// An aggregate over many groups stops aggregating partially and passes each row on as its own
/// partial state (`convert_to_state`): the final aggregate then merges rows' keys and values.
#[tokio::test]
async fn rows_passed_on_as_partial_states_give_the_same_answer() {
    let data: Vec<(String, Option<String>, i64, i64)> = (0..400i64)
        .map(|i| {
            let v = (i % 7 != 0).then(|| format!("v{}", (i * 7919) % 1000));
            (format!("g{}", i % 150), v, (i * 13) % 17, i)
        })
        .collect();
    let ctx = session_split(&data, 180).await;
    for set in [
        "SET datafusion.execution.skip_partial_aggregation_probe_rows_threshold = 1",
        "SET datafusion.execution.skip_partial_aggregation_probe_ratio_threshold = 0.0",
        "SET datafusion.execution.batch_size = 16",
    ] {
        ctx.sql(set).await.unwrap().collect().await.unwrap();
    }
    let query = |filter: &str| {
        format!("SELECT g, first_by(v, at, line) {filter} AS v FROM t GROUP BY g ORDER BY g")
    };
    let plan = rows(&ctx, &format!("EXPLAIN ANALYZE {}", query("")))
        .await
        .join("\n");
    assert!(
        plan.contains("skipped_aggregation_rows=") && !plan.contains("skipped_aggregation_rows=0,"),
        "the partial aggregate did not pass rows on: {plan}"
    );
    let ours = rows(&ctx, &query("")).await;
    let theirs = rows(&ctx, ORDERED_FIRST_VALUE).await;
    assert_eq!(ours.len(), 150);
    assert_eq!(ours, theirs);
    // Under a FILTER a row the filter drops has no state. g0's rows are lines 0 (at 0), 150
    // (at 1950 % 17 = 12) and 300 (at 3900 % 17 = 7, v 300 * 7919 % 1000 = 700); line 0 is
    // filtered out, so line 300 is the earliest.
    let filtered = rows(&ctx, &query("FILTER (WHERE line >= 150)")).await;
    assert_eq!(filtered.len(), 150);
    assert_eq!(filtered[0], "| g0   | v700 |");
    let unfiltered = rows(&ctx, &query("")).await;
    // Without the filter line 0 (at 0) is the earliest, and its v is NULL (0 % 7 = 0).
    assert_eq!(unfiltered[0], "| g0   |      |");
}

/// A batch's rows are compared by key and only a winner's value is encoded: a filtered-out row
/// never wins; a winner whose key ties the kept row's wins only with a smaller value; equal keys
/// within one batch are ordered by their values.
#[test]
fn by_key_winners_keep_the_tie_rule_and_the_filter() {
    let mut acc = utf8_by_int();
    let keep = BooleanArray::from(vec![Some(true), Some(false), None, Some(true)]);
    // Group 0: "b"@5 kept, "a"@1 filtered out; group 1: "z"@2 filtered out (NULL), "m"@3 kept.
    let first = batch(&["b", "a", "z", "m"], &[5, 1, 2, 3]);
    acc.update_batch(&first, &[0, 0, 1, 1], Some(&keep), 2)
        .unwrap();
    // Group 0: a larger key loses and an equal key with a smaller value wins (the batch's own
    // keys differ: only the winner's value is encoded), then an equal key with a larger value
    // loses.
    acc.update_batch(&batch(&["c", "a"], &[6, 5]), &[0, 0], None, 2)
        .unwrap();
    acc.update_batch(&batch(&["d"], &[5]), &[0], None, 2)
        .unwrap();
    // Group 1: two rows of the kept row's key in one batch; the kept "m" is the smallest value.
    acc.update_batch(&batch(&["q", "p"], &[3, 3]), &[1, 1], None, 2)
        .unwrap();
    let values = acc.evaluate(EmitTo::All).unwrap();
    let values = values.as_string::<i32>();
    assert_eq!((values.value(0), values.value(1)), ("a", "m"));
    // A group whose only rows are filtered out is NULL.
    let mut acc = utf8_by_int();
    let none = BooleanArray::from(vec![false, false]);
    acc.update_batch(&batch(&["x", "y"], &[1, 2]), &[0, 0], Some(&none), 1)
        .unwrap();
    assert!(acc.evaluate(EmitTo::All).unwrap().is_null(0));
}
