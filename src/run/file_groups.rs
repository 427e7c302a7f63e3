//! Scans of files laid out by export file keep each file's rows in one partition, and say so.
//!
//! Every Parquet file of `ga_events` holds the events of one export file, sorted by
//! `source_file` first (one value per file; the loader declares the order). DataFusion cannot
//! know that the value is constant per file, so a model that groups by `source_file` first
//! (`stg_ga_sessions`, `stg_ga_identities`) aggregated each partition, hashed the partial groups
//! across partitions and aggregated them again, although no group ever spans two partitions.
//!
//! [`GroupScansByFile`], a physical optimizer rule that runs before DataFusion's own, finds
//! each Parquet scan whose files declare an order led by a column the query reads, reads each
//! file's value of it from its statistics (minimum equal to maximum), puts all the files of a
//! value in the same partition (an export loaded twice, a re-download, included), balances the
//! partitions by bytes and declares the scan hash-partitioned by that column. A partitioning
//! on some of a grouping's keys satisfies it (`subset_repartition_threshold`, set by the
//! engine), so such an aggregate runs once per partition, in the files' order. When a file's
//! statistics do not give its value (truncated, or an older file), the scan is left as it was.
//! A rule rather than a table provider: Ballista ships the plain listing tables.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::ScalarValue;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::{ExecutionPlan, Partitioning};

/// See the module's documentation.
#[derive(Debug, Default)]
pub struct GroupScansByFile;

impl PhysicalOptimizerRule for GroupScansByFile {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let partitions = config.execution.target_partitions;
        plan.transform_up(|node| {
            let grouped = node.downcast_ref::<DataSourceExec>().and_then(|exec| {
                let scan = exec.data_source().downcast_ref::<FileScanConfig>()?;
                let key = leading_key(scan)?;
                // Grouped by a column the query does not read, the files would only lose
                // the scan's own balancing (a big file split between partitions).
                exec.schema().index_of(key.name()).ok()?;
                grouped_by_value(scan, key, partitions)
            });
            Ok(match grouped {
                Some(scan) => Transformed::yes(DataSourceExec::from_data_source(scan) as _),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "GroupScansByFile"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The column that leads the files' declared order (in the table's schema), if any.
fn leading_key(scan: &FileScanConfig) -> Option<Column> {
    let first = scan.output_ordering.first()?.first();
    first.expr.downcast_ref::<Column>().cloned()
}

/// `config` with its files regrouped by their value of the table's column `index`, declared
/// hash-partitioned by it; `None` when a file's value is unknown, the scan is already split, or
/// there are fewer values than partitions (a nightly's one new file keeps both cores).
fn grouped_by_value(
    config: &FileScanConfig,
    key: Column,
    partitions: usize,
) -> Option<FileScanConfig> {
    if config.output_partitioning.is_some() || partitions < 2 {
        return None;
    }
    let index = key.index();
    let mut files: Vec<(ScalarValue, PartitionedFile)> = Vec::new();
    for file in config.file_groups.iter().flat_map(FileGroup::iter) {
        files.push((file_value(file, index)?, file.clone()));
    }
    let mut values: Vec<&ScalarValue> = files.iter().map(|(v, _)| v).collect();
    values.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    values.dedup();
    if values.len() < partitions {
        return None;
    }
    // By value, then path: a value's files side by side, the groups in the files' order.
    files.sort_by(|(a, f), (b, g)| {
        a.partial_cmp(b)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| f.object_meta.location.cmp(&g.object_meta.location))
    });
    let groups = balanced(files, partitions);
    let count = groups.len();
    Some(
        FileScanConfigBuilder::from(config.clone())
            .with_file_groups(groups)
            .with_output_partitioning(Some(Partitioning::Hash(vec![Arc::new(key)], count)))
            .build(),
    )
}

/// A file's single value of column `index`, from its statistics: only when it has no range
/// (a whole file) and its exact minimum and maximum are the same non-null value.
fn file_value(file: &PartitionedFile, index: usize) -> Option<ScalarValue> {
    if file.range.is_some() {
        return None;
    }
    let column = file.statistics.as_ref()?.column_statistics.get(index)?;
    let (Precision::Exact(min), Precision::Exact(max)) = (&column.min_value, &column.max_value)
    else {
        return None;
    };
    (min == max && !min.is_null()).then(|| min.clone())
}

/// `files` (sorted by value) cut into `partitions` groups of about equal bytes, a value's
/// files never split; trailing groups left empty when there are fewer values than groups.
fn balanced(files: Vec<(ScalarValue, PartitionedFile)>, partitions: usize) -> Vec<FileGroup> {
    let total: u64 = files.iter().map(|(_, f)| f.object_meta.size).sum();
    let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); partitions];
    let (mut group, mut bytes) = (0, 0u64);
    let mut last: Option<ScalarValue> = None;
    for (value, file) in files {
        let new_value = last.as_ref() != Some(&value);
        // Move on once this group holds its share of the bytes, at a change of value.
        let share = total * (group as u64 + 1) / partitions as u64;
        if new_value && bytes >= share && group + 1 < partitions && !groups[group].is_empty() {
            group += 1;
        }
        bytes += file.object_meta.size;
        groups[group].push(file);
        last = Some(value);
    }
    groups.into_iter().map(FileGroup::new).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::{ColumnStatistics, Statistics};

    fn text(s: &str) -> ScalarValue {
        ScalarValue::Utf8(Some(s.to_string()))
    }

    /// A file of `bytes` bytes whose `source_file` statistics are `min` and `max`.
    fn file(
        name: &str,
        bytes: u64,
        min: Precision<ScalarValue>,
        max: Precision<ScalarValue>,
    ) -> PartitionedFile {
        let schema = Schema::new(vec![Field::new("source_file", DataType::Utf8, false)]);
        let mut stats = Statistics::new_unknown(&schema);
        stats.column_statistics[0] = ColumnStatistics {
            min_value: min,
            max_value: max,
            ..ColumnStatistics::new_unknown()
        };
        PartitionedFile::new(name, bytes).with_statistics(Arc::new(stats))
    }

    fn of(name: &str, bytes: u64, value: &str) -> (ScalarValue, PartitionedFile) {
        (
            text(value),
            file(
                name,
                bytes,
                Precision::Exact(text(value)),
                Precision::Exact(text(value)),
            ),
        )
    }

    fn names(groups: &[FileGroup]) -> Vec<Vec<String>> {
        groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|f| f.object_meta.location.to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_files_value_is_read_only_from_exact_equal_bounds() {
        let exact = |s| Precision::Exact(text(s));
        assert_eq!(
            file_value(&file("f", 1, exact("a"), exact("a")), 0),
            Some(text("a"))
        );
        assert_eq!(file_value(&file("f", 1, exact("a"), exact("b")), 0), None);
        let truncated = file(
            "f",
            1,
            Precision::Inexact(text("a")),
            Precision::Inexact(text("a")),
        );
        assert_eq!(file_value(&truncated, 0), None);
        assert_eq!(
            file_value(&file("f", 1, Precision::Absent, exact("a")), 0),
            None
        );
        let null = Precision::Exact(ScalarValue::Utf8(None));
        assert_eq!(file_value(&file("f", 1, null.clone(), null), 0), None);
        let mut part = file("f", 10, exact("a"), exact("a"));
        part.range = Some(datafusion::datasource::listing::FileRange { start: 0, end: 5 });
        assert_eq!(file_value(&part, 0), None);
    }

    #[test]
    fn groups_hold_about_equal_bytes_and_never_split_a_source_file() {
        // 40 bytes over 2 groups: the first is full (20) when b starts.
        let files = vec![
            of("1", 10, "a"),
            of("2", 10, "a"),
            of("3", 10, "b"),
            of("4", 10, "c"),
        ];
        assert_eq!(names(&balanced(files, 2)), [vec!["1", "2"], vec!["3", "4"]]);
        // The first group is full before a's second file: it stays with the first.
        let files = vec![
            of("1", 30, "a"),
            of("2", 10, "a"),
            of("3", 5, "b"),
            of("4", 5, "c"),
        ];
        assert_eq!(names(&balanced(files, 2)), [vec!["1", "2"], vec!["3", "4"]]);
        // One big file, then small ones: each still starts the next group.
        let files = vec![of("1", 100, "a"), of("2", 1, "b"), of("3", 1, "c")];
        assert_eq!(
            names(&balanced(files, 3)),
            [vec!["1"], vec!["2"], vec!["3"]]
        );
    }

    #[test]
    fn fewer_source_files_than_groups_leave_the_last_groups_empty() {
        let files = vec![of("1", 10, "a"), of("2", 10, "a")];
        let groups = balanced(files, 3);
        assert_eq!(names(&groups), [vec!["1", "2"], vec![], vec![]]);
    }
}
