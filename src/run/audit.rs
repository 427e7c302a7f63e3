//! Data tests on a staged model output (the "audit" of write-audit-publish). Each test is a
//! query counting failing rows; a test fails when that count is not zero.

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::prelude::SessionContext;
use serde::Serialize;

use super::model::DataTest;
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct TestOutcome {
    pub name: String,
    pub failing_rows: u64,
    pub passed: bool,
    pub message: Option<String>,
}

fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quoted column names, comma-separated.
fn column_list(cols: &[String]) -> String {
    cols.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", ")
}

fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// The query counting failing rows of a test on `table`, and the test's display name.
fn failing_rows_sql(table: &str, test: &DataTest) -> Vec<(String, String)> {
    let t = ident(table);
    match test {
        DataTest::NotNull(cols) => cols
            .iter()
            .map(|c| (format!("not_null({c})"), format!("SELECT COUNT(*) FROM {t} WHERE {} IS NULL", ident(c))))
            .collect(),
        DataTest::Unique(cols) => {
            let list = column_list(cols);
            vec![(
                format!("unique({})", cols.join(", ")),
                format!("SELECT COUNT(*) FROM (SELECT {list} FROM {t} GROUP BY {list} HAVING COUNT(*) > 1) d"),
            )]
        }
        DataTest::AcceptedValues { column, values } => {
            let list = values.iter().map(|v| literal(v)).collect::<Vec<_>>().join(", ");
            vec![(
                format!("accepted_values({column})"),
                format!("SELECT COUNT(*) FROM {t} WHERE {c} IS NOT NULL AND CAST({c} AS VARCHAR) NOT IN ({list})", c = ident(column)),
            )]
        }
        DataTest::Relationships { column, to, field } => vec![(
            format!("relationships({column} -> {to}.{field})"),
            format!(
                "SELECT COUNT(*) FROM {t} c WHERE c.{col} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {to} p WHERE p.{f} = c.{col})",
                col = ident(column),
                to = ident(to),
                f = ident(field)
            ),
        )],
        DataTest::RowCount { min, max } => {
            let mut cond = Vec::new();
            if let Some(min) = min {
                cond.push(format!("n < {min}"));
            }
            if let Some(max) = max {
                cond.push(format!("n > {max}"));
            }
            let cond = if cond.is_empty() { "false".to_string() } else { cond.join(" OR ") };
            vec![(
                format!("row_count(min {min:?}, max {max:?})"),
                format!("SELECT CASE WHEN {cond} THEN n ELSE 0 END FROM (SELECT COUNT(*) AS n FROM {t}) c"),
            )]
        }
        DataTest::Assert(sql) => vec![(
            format!("assert: {}", sql.split_whitespace().collect::<Vec<_>>().join(" ")),
            format!("SELECT COUNT(*) FROM ({}) failing", sql.replace("{{this}}", &t)),
        )],
    }
}

/// The counts in the first row of a query's result, one per column (NULL counts as 0).
async fn first_row_counts(ctx: &SessionContext, sql: &str) -> Result<Vec<u64>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let Some(batch) = batches.iter().find(|b| b.num_rows() > 0) else {
        return Ok(vec![0; batches.first().map_or(1, |b| b.num_columns())]);
    };
    let mut out = Vec::with_capacity(batch.num_columns());
    for column in batch.columns() {
        let column = datafusion::arrow::compute::cast(
            column,
            &datafusion::arrow::datatypes::DataType::Int64,
        )?;
        let values = column.as_primitive::<Int64Type>();
        out.push(if values.is_null(0) {
            0
        } else {
            values.value(0).max(0) as u64
        });
    }
    Ok(out)
}

async fn count(ctx: &SessionContext, sql: &str) -> Result<u64> {
    Ok(first_row_counts(ctx, sql).await?[0])
}

/// Runs a model's header tests against the registered table `table`. `this` in an assertion's
/// SQL is the model's staged output.
pub async fn run_tests(ctx: &SessionContext, table: &str, tests: &[DataTest]) -> Vec<TestOutcome> {
    // Every not_null column in one scan; on an error each column is checked on its own below,
    // so the message names the column.
    let not_null: Vec<&String> = tests
        .iter()
        .filter_map(|t| match t {
            DataTest::NotNull(cols) => Some(cols.iter()),
            _ => None,
        })
        .flatten()
        .collect();
    let mut outcomes = Vec::new();
    let mut batched = false;
    if not_null.len() > 1 {
        if let Ok(counts) = null_counts(ctx, table, &not_null).await {
            outcomes.extend(not_null.iter().zip(counts).map(|(c, n)| TestOutcome {
                name: format!("not_null({c})"),
                failing_rows: n,
                passed: n == 0,
                message: None,
            }));
            batched = true;
        }
    }
    for test in tests
        .iter()
        .filter(|t| !(batched && matches!(t, DataTest::NotNull(_))))
    {
        for (name, sql) in failing_rows_sql(table, test) {
            if let DataTest::Unique(cols) = test {
                if proven_unique(ctx, table, cols).await {
                    outcomes.push(TestOutcome {
                        name,
                        failing_rows: 0,
                        passed: true,
                        message: None,
                    });
                    continue;
                }
            }
            let sql = if matches!(test, DataTest::Assert(_)) {
                with_this(&sql, table)
            } else {
                sql
            };
            outcomes.push(match count(ctx, &sql).await {
                Ok(n) => TestOutcome {
                    name,
                    failing_rows: n,
                    passed: n == 0,
                    message: None,
                },
                Err(e) => TestOutcome {
                    name,
                    failing_rows: 0,
                    passed: false,
                    message: Some(e.to_string()),
                },
            });
        }
    }
    outcomes
}

/// Whether the keys `cols` of `table` are distinct by their hashes ([`super::unique`]); if not
/// proven (or on an error), the exact query decides.
async fn proven_unique(ctx: &SessionContext, table: &str, cols: &[String]) -> bool {
    super::unique::distinct_by_hash(ctx, &ident(table), &column_list(cols))
        .await
        .unwrap_or(false)
}

/// The partitions an incremental build rebuilt: the partition column and its values as text.
pub struct Rebuilt<'a> {
    pub column: &'a str,
    pub values: &'a [String],
}

/// Whether a test's verdict on a partition depends on that partition's rows only: a test of
/// each row (not_null, accepted_values), or a uniqueness that includes the partition column.
/// A relationship is not: its parent may have changed under a carried partition.
fn partition_local(test: &DataTest, column: &str) -> bool {
    match test {
        DataTest::NotNull(_) | DataTest::AcceptedValues { .. } => true,
        DataTest::Unique(cols) => cols.iter().any(|c| c == column),
        _ => false,
    }
}

/// A model's tests after an incremental build: the partition-local ones over the rebuilt
/// partitions only (the carried partitions passed them when they were built, and are the same
/// files), the others over the whole output. A nightly build then tests one day, not the
/// history.
pub async fn run_tests_rebuilt(
    ctx: &SessionContext,
    table: &str,
    tests: &[DataTest],
    rebuilt: &Rebuilt<'_>,
) -> Vec<TestOutcome> {
    let (local, global): (Vec<DataTest>, Vec<DataTest>) = tests
        .iter()
        .cloned()
        .partition(|t| partition_local(t, rebuilt.column));
    if local.is_empty() {
        return run_tests(ctx, table, tests).await;
    }
    let sql = format!(
        "SELECT * FROM {} WHERE {}",
        ident(table),
        super::incremental::partition_filter(rebuilt.column, rebuilt.values)
    );
    let view = format!("{table}__rebuilt");
    let registered = match ctx.sql(&sql).await {
        Ok(rows) => ctx.register_table(&view, rows.into_view()).is_ok(),
        Err(_) => false,
    };
    if !registered {
        return run_tests(ctx, table, tests).await;
    }
    let mut outcomes = run_tests(ctx, &view, &local).await;
    let _ = ctx.deregister_table(&view);
    outcomes.extend(run_tests(ctx, table, &global).await);
    outcomes
}

/// NULL counts of several columns in one scan.
async fn null_counts(ctx: &SessionContext, table: &str, columns: &[&String]) -> Result<Vec<u64>> {
    let sums: Vec<String> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            format!(
                "SUM(CASE WHEN {} IS NULL THEN 1 ELSE 0 END) AS n{i}",
                ident(c)
            )
        })
        .collect();
    let sql = format!("SELECT {} FROM {}", sums.join(", "), ident(table));
    first_row_counts(ctx, &sql).await
}

/// Replaces the table name `this` in an assertion with the model's table, via a CTE.
fn with_this(sql: &str, table: &str) -> String {
    format!("WITH this AS (SELECT * FROM {}) {sql}", ident(table))
}

/// A test file: SQL returning failing rows.
pub async fn run_assertion_file(ctx: &SessionContext, name: &str, sql: &str) -> TestOutcome {
    let counted = format!(
        "SELECT COUNT(*) FROM ({}) failing",
        sql.trim().trim_end_matches(';')
    );
    match count(ctx, &counted).await {
        Ok(n) => TestOutcome {
            name: name.to_string(),
            failing_rows: n,
            passed: n == 0,
            message: None,
        },
        Err(e) => TestOutcome {
            name: name.to_string(),
            failing_rows: 0,
            passed: false,
            message: Some(e.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `people`: 5 rows; id 2 twice, one NULL name, one status outside the list, one team
    /// without a match in `teams`.
    async fn world() -> SessionContext {
        let ctx = SessionContext::new();
        let sql = "CREATE TABLE people AS SELECT * FROM (VALUES \
            (1, 'ann', 'open', 10), (2, 'bob', 'open', 10), (2, 'bo', 'won', 20), \
            (3, NULL, 'lost', 30), (4, 'dan', 'spam', NULL)) AS t(id, name, status, team)";
        ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let teams = "CREATE TABLE teams AS SELECT * FROM (VALUES (10), (20)) AS t(team_id)";
        ctx.sql(teams).await.unwrap().collect().await.unwrap();
        ctx
    }

    fn yaml(test: &str) -> DataTest {
        serde_yaml::with::singleton_map_recursive::deserialize(serde_yaml::Deserializer::from_str(
            test,
        ))
        .unwrap()
    }

    async fn outcomes(test: &str) -> Vec<(String, u64, bool)> {
        let ctx = world().await;
        let out = run_tests(&ctx, "people", &[yaml(test)]).await;
        out.into_iter()
            .map(|o| (o.name, o.failing_rows, o.passed))
            .collect()
    }

    #[tokio::test]
    async fn not_null_counts_each_columns_nulls() {
        assert_eq!(
            outcomes("not_null: [id, name, team]").await,
            [
                ("not_null(id)".into(), 0, true),
                ("not_null(name)".into(), 1, false),
                ("not_null(team)".into(), 1, false)
            ]
        );
    }

    #[tokio::test]
    async fn unique_counts_duplicated_keys_once() {
        assert_eq!(
            outcomes("unique: [id]").await,
            [("unique(id)".into(), 1, false)]
        );
        assert_eq!(
            outcomes("unique: [id, name]").await,
            [("unique(id, name)".into(), 0, true)]
        );
    }

    #[tokio::test]
    async fn accepted_values_and_relationships_count_strays() {
        let accepted = "accepted_values: {column: status, values: [open, won, lost]}";
        assert_eq!(outcomes(accepted).await[0].1, 1, "spam is not accepted");
        let rel = "relationships: {column: team, to: teams, field: team_id}";
        // Team 30 has no row in teams; the NULL team is not checked.
        assert_eq!(outcomes(rel).await[0].1, 1);
    }

    #[tokio::test]
    async fn row_count_and_assert() {
        assert!(outcomes("row_count: {min: 5, max: 5}").await[0].2);
        assert_eq!(outcomes("row_count: {min: 6}").await[0].1, 5);
        let assert = "assert: \"SELECT id FROM this GROUP BY id HAVING COUNT(*) > 1\"";
        assert_eq!(outcomes(assert).await[0].1, 1, "id 2 twice");
    }

    #[tokio::test]
    async fn after_an_incremental_build_row_tests_see_the_rebuilt_partitions_only() {
        // Team 10 rebuilt, 20, 30 and the NULL team carried: only team 10's rows are tested by
        // the tests of rows and of keys with the partition column; unique(id) and row_count
        // still see every row.
        let ctx = world().await;
        let tests = [
            yaml("not_null: [name]"),
            yaml("accepted_values: {column: status, values: [open, won, lost]}"),
            yaml("unique: [id]"),
            yaml("unique: [team, id]"),
            yaml("row_count: {min: 5, max: 5}"),
        ];
        let values = ["10".to_string()];
        let rebuilt = Rebuilt {
            column: "team",
            values: &values,
        };
        let mut out: Vec<(String, u64)> = run_tests_rebuilt(&ctx, "people", &tests, &rebuilt)
            .await
            .into_iter()
            .map(|o| (o.name, o.failing_rows))
            .collect();
        out.sort();
        let expected = [
            ("accepted_values(status)", 0),
            ("not_null(name)", 0),
            ("row_count(min Some(5), max Some(5))", 0),
            ("unique(id)", 1),
            ("unique(team, id)", 0),
        ];
        assert_eq!(out, expected.map(|(n, k)| (n.to_string(), k)));
        // Team 30 rebuilt: its NULL name fails, and the view is gone afterwards.
        let values = ["30".to_string()];
        let rebuilt = Rebuilt {
            column: "team",
            values: &values,
        };
        let out = run_tests_rebuilt(&ctx, "people", &tests[..1], &rebuilt).await;
        assert_eq!((out[0].failing_rows, out[0].passed), (1, false));
        assert!(ctx.table_provider("people__rebuilt").await.is_err());
    }
}
