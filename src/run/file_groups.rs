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
//! file's value of it from its statistics (minimum equal to maximum) and puts every file in the
//! partition that DataFusion's hash repartitioning would send that value to: the value's hash
//! with [`REPARTITION_RANDOM_STATE`], modulo the partitions. The scan then is what it declares,
//! hash-partitioned by that column, exactly as a `RepartitionExec` would have made it: a
//! partitioned join or a union on that column with another input hashed by DataFusion finds
//! each value in the same partition on both sides. (Session 24 balanced the partitions by
//! bytes instead and declared the same: a join on `source_file` lost half its rows.) The files
//! of one value (an export loaded twice) stay together. A partitioning on some of a grouping's
//! keys satisfies it (`subset_repartition_threshold`, set by the engine), so such an aggregate
//! runs once per partition, in the files' order.
//!
//! The scan is left as DataFusion plans it when a file's statistics do not give its value
//! (truncated, or an older file), when there are fewer values than partitions (a nightly's
//! one new file keeps both cores) or when the hashes leave one partition more than half again
//! its share of the bytes. A rule rather than a table provider: Ballista ships the plain
//! listing tables.

use std::sync::Arc;

use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::hash_utils::create_hashes;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::ScalarValue;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfig, FileScanConfigBuilder};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::repartition::REPARTITION_RANDOM_STATE;
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
                let output = exec.schema().index_of(key.name()).ok()?;
                let data_type = exec.schema().field(output).data_type().clone();
                grouped_by_value(scan, key, &data_type, partitions)
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

/// `config` with each file in the partition DataFusion's hash repartitioning sends its value
/// of the table's column `key` (of type `data_type` in the scan's output) to, declared
/// hash-partitioned by it; `None` when a file's value is unknown, the scan is already split,
/// there are fewer values than partitions or the partitions' bytes are too uneven.
fn grouped_by_value(
    config: &FileScanConfig,
    key: Column,
    data_type: &DataType,
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
    // By value, then path: a value's files side by side, each group in the files' order.
    files.sort_by(|(a, f), (b, g)| {
        a.partial_cmp(b)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| f.object_meta.location.cmp(&g.object_meta.location))
    });
    let mut values: Vec<&ScalarValue> = files.iter().map(|(v, _)| v).collect();
    values.dedup();
    if values.len() < partitions {
        return None;
    }
    let groups = by_hash(files, data_type, partitions)?;
    even_enough(&groups).then(|| {
        FileScanConfigBuilder::from(config.clone())
            .with_file_groups(groups)
            .with_output_partitioning(Some(Partitioning::Hash(vec![Arc::new(key)], partitions)))
            .build()
    })
}

/// The partition DataFusion's hash repartitioning into `partitions` sends `value` to, read as
/// `data_type`: its hash with the repartitioning's fixed seed, modulo `partitions` (what
/// `RepartitionExec` computes for every row).
fn hash_partition(value: &ScalarValue, data_type: &DataType, partitions: usize) -> Option<usize> {
    // The hash depends on the type (a short string view hashes its view, not its bytes).
    let array = cast(&value.to_array().ok()?, data_type).ok()?;
    let mut hashes = [0u64];
    create_hashes(
        [&array],
        REPARTITION_RANDOM_STATE.random_state(),
        &mut hashes,
    )
    .ok()?;
    usize::try_from(hashes[0] % partitions as u64).ok()
}

/// `files` in `partitions` groups by the hash partition of their value, in their order.
fn by_hash(
    files: Vec<(ScalarValue, PartitionedFile)>,
    data_type: &DataType,
    partitions: usize,
) -> Option<Vec<FileGroup>> {
    let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); partitions];
    for (value, file) in files {
        groups[hash_partition(&value, data_type, partitions)?].push(file);
    }
    Some(groups.into_iter().map(FileGroup::new).collect())
}

/// Whether no group holds more than half again its share of the bytes (2 partitions: 75%):
/// beyond that one core would scan most of the files while the other waits, where DataFusion's
/// split by bytes keeps both busy, at the cost of the repartition and the final aggregate.
fn even_enough(groups: &[FileGroup]) -> bool {
    let bytes = |g: &FileGroup| g.iter().map(|f| f.object_meta.size).sum::<u64>();
    let total: u64 = groups.iter().map(bytes).sum();
    let largest = groups.iter().map(bytes).max().unwrap_or(0);
    largest * 2 * groups.len() as u64 <= total * 3
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

    /// What DataFusion's `RepartitionExec` does with a column of `values` of `data_type`: the
    /// partition each value ends in.
    async fn repartitioned(values: &[String], data_type: &DataType, n: usize) -> Vec<usize> {
        use datafusion::datasource::memory::MemorySourceConfig;
        use datafusion::execution::TaskContext;
        use datafusion::physical_plan::repartition::RepartitionExec;
        use futures::TryStreamExt;
        let schema = Arc::new(Schema::new(vec![Field::new("v", data_type.clone(), false)]));
        let strings = arrow::array::StringArray::from_iter_values(values);
        let column = cast(&strings, data_type).unwrap();
        let batch = arrow::array::RecordBatch::try_new(schema.clone(), vec![column]).unwrap();
        let scan = MemorySourceConfig::try_new_exec(&[vec![batch]], schema, None).unwrap();
        let hash = Partitioning::Hash(vec![Arc::new(Column::new("v", 0))], n);
        let exec = RepartitionExec::try_new(scan, hash).unwrap();
        let mut found = vec![usize::MAX; values.len()];
        for partition in 0..n {
            let stream = exec.execute(partition, Arc::new(TaskContext::default()));
            let batches: Vec<_> = stream.unwrap().try_collect().await.unwrap();
            for batch in batches {
                let column = cast(batch.column(0), &DataType::Utf8).unwrap();
                for value in column
                    .as_any()
                    .downcast_ref::<arrow::array::StringArray>()
                    .unwrap()
                {
                    let at = values
                        .iter()
                        .position(|v| Some(v.as_str()) == value)
                        .unwrap();
                    found[at] = partition;
                }
            }
        }
        found
    }

    #[tokio::test]
    async fn each_file_goes_where_datafusions_repartitioning_sends_its_value() {
        // Short (inlined in a view) and long export file names, 2 and 3 partitions.
        let values: Vec<String> = (0..40)
            .map(|i| match i % 2 {
                0 => format!("d{i}.json"),
                _ => format!("ga4/2024/events_202401{i:02}.json.gz"),
            })
            .collect();
        for data_type in [DataType::Utf8, DataType::Utf8View, DataType::LargeUtf8] {
            for n in [2, 3] {
                let ours: Vec<usize> = values
                    .iter()
                    .map(|v| hash_partition(&text(v), &data_type, n).unwrap())
                    .collect();
                assert_eq!(
                    ours,
                    repartitioned(&values, &data_type, n).await,
                    "{data_type} {n}"
                );
                assert!(
                    (0..n).all(|p| ours.contains(&p)),
                    "40 values fill {n} partitions"
                );
            }
        }
    }

    #[test]
    fn a_values_files_stay_together_in_path_order() {
        let files = vec![
            of("1", 10, "a"),
            of("2", 10, "a"),
            of("3", 10, "b"),
            of("4", 10, "c"),
            of("5", 10, "c"),
        ];
        let groups = names(&by_hash(files, &DataType::Utf8View, 2).unwrap());
        assert_eq!(groups.concat().len(), 5, "{groups:?}");
        for pair in [["1", "2"], ["4", "5"]] {
            let group = groups.iter().find(|g| g.contains(&pair[0].to_string()));
            let group = group.unwrap();
            let at = group.iter().position(|f| f == pair[0]).unwrap();
            assert_eq!(
                group.get(at + 1).map(String::as_str),
                Some(pair[1]),
                "{groups:?}"
            );
        }
    }

    #[test]
    fn no_partition_may_hold_more_than_half_again_its_share_of_the_bytes() {
        let groups = |sizes: &[u64]| -> Vec<FileGroup> {
            let file = |(i, s): (usize, &u64)| of(&i.to_string(), *s, "a").1;
            sizes
                .iter()
                .map(|s| FileGroup::new(vec![file((0, s))]))
                .collect()
        };
        assert!(even_enough(&groups(&[75, 25])));
        assert!(!even_enough(&groups(&[76, 24])));
        assert!(even_enough(&groups(&[50, 25, 25])));
        assert!(!even_enough(&groups(&[51, 25, 24])));
    }
}
