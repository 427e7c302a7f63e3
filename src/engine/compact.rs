//! Join output compacted before anything counts it, under a memory limit.
//!
//! A join builds its output rows with `take` from the batches it buffered. A string column read
//! as `Utf8View` then keeps only views into the buffered side's string buffers: every output batch
//! of a join points into the whole build side. DataFusion counts a batch's memory by the buffers it
//! holds, so a sort or a join above it counts the whole build side once per batch (upstream
//! apache/datafusion#12136). At 10M GA events `int_touches`' sort asked for 500 MB for one batch
//! of 8,192 rows and failed under `--memory-limit 2G` instead of spilling.
//!
//! [`CompactJoinOutput`] puts a [`CompactViewsExec`] above every join whose output has view
//! columns. It copies the strings a batch's views use into buffers of its own (`gc`) when the
//! buffers it points into are mostly someone else's, so what is counted is what the batch holds.
//! The engine adds the rule only when a memory limit is set: without a pool nothing is counted,
//! and the copy would cost time for nothing.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{ByteViewType, DataType};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::joins::{
    CrossJoinExec, HashJoinExec, NestedLoopJoinExec, SortMergeJoinExec, SymmetricHashJoinExec,
};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::StreamExt;

/// Below this many bytes of string buffers a column is left as it is: copying costs more than
/// the memory it could free.
const MIN_BUFFER_BYTES: usize = 64 * 1024;

/// The physical optimizer rule: a [`CompactViewsExec`] above each join with view columns.
#[derive(Debug, Default)]
pub struct CompactJoinOutput;

impl PhysicalOptimizerRule for CompactJoinOutput {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            if is_join(&node) && has_view_columns(&node) {
                Ok(Transformed::yes(
                    Arc::new(CompactViewsExec::new(node)) as Arc<dyn ExecutionPlan>
                ))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "CompactJoinOutput"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

fn is_join(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.is::<HashJoinExec>()
        || plan.is::<NestedLoopJoinExec>()
        || plan.is::<CrossJoinExec>()
        || plan.is::<SortMergeJoinExec>()
        || plan.is::<SymmetricHashJoinExec>()
}

fn has_view_columns(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.schema()
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::Utf8View | DataType::BinaryView))
}

/// Passes its input's batches on with each view column's strings in buffers of its own, when the
/// buffers it pointed into were more than twice what it uses. Order, partitioning and schema are
/// its input's.
#[derive(Debug, Clone)]
pub struct CompactViewsExec {
    input: Arc<dyn ExecutionPlan>,
    metrics: ExecutionPlanMetricsSet,
}

impl CompactViewsExec {
    pub fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            input,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for CompactViewsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "CompactViewsExec")
    }
}

impl ExecutionPlan for CompactViewsExec {
    fn name(&self) -> &str {
        "CompactViewsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn replace_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
        _options: ReplaceChildrenOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::new(children.swap_remove(0))))
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let batches = self.input.execute(partition, context)?.map(move |batch| {
            let _timer = baseline.elapsed_compute().timer();
            let batch = compact_views(&batch?)?;
            baseline.record_output(batch.num_rows());
            Ok(batch)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.input.schema(),
            batches,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// `batch` with every sparse view column compacted; the same batch when none is.
pub fn compact_views(batch: &RecordBatch) -> Result<RecordBatch> {
    let mut changed = false;
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|column| {
            let compacted = match column.data_type() {
                DataType::Utf8View => compacted(column.as_string_view()),
                DataType::BinaryView => compacted(column.as_binary_view()),
                _ => None,
            };
            changed |= compacted.is_some();
            compacted.unwrap_or_else(|| column.clone())
        })
        .collect();
    if !changed {
        return Ok(batch.clone());
    }
    Ok(RecordBatch::try_new(batch.schema(), columns)?)
}

/// The array's used strings in a buffer of their own, when it points into more than twice
/// what it uses (and into more than [`MIN_BUFFER_BYTES`]).
fn compacted<T: ByteViewType + ?Sized>(
    array: &arrow::array::GenericByteViewArray<T>,
) -> Option<ArrayRef> {
    let held: usize = array.data_buffers().iter().map(|b| b.capacity()).sum();
    if held <= MIN_BUFFER_BYTES || held <= 2 * array.total_buffer_bytes_used() {
        return None;
    }
    Some(Arc::new(array.gc()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringViewArray};
    use arrow::datatypes::{Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::execution::session_state::SessionStateBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    const TOUCHES: i64 = 200_000;
    const LEADS: i64 = 400_000;

    /// 200,000 touches in one batch with a 100-byte name each (20 MB of strings), and 400,000
    /// leads. Every batch the join puts out points into the touches' 20 MB.
    fn session(rule: bool) -> SessionContext {
        let config = SessionConfig::new().with_target_partitions(1);
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(FairSpillPool::new(40 << 20)))
            .build_arc()
            .unwrap();
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features();
        if rule {
            state = state.with_physical_optimizer_rule(Arc::new(CompactJoinOutput));
        }
        let ctx = SessionContext::new_with_state(state.build());
        let names = (0..TOUCHES).map(|i| Some(format!("{i:0>100}")));
        let touches = table(
            &[("touch_id", 0..TOUCHES)],
            Some(("name", StringViewArray::from_iter(names))),
        );
        let leads = table(&[("lead_id", 0..LEADS), ("value", 0..LEADS)], None);
        ctx.register_table("touches", touches).unwrap();
        ctx.register_table("leads", leads).unwrap();
        ctx
    }

    fn table(
        ints: &[(&str, std::ops::Range<i64>)],
        names: Option<(&str, StringViewArray)>,
    ) -> Arc<MemTable> {
        let mut fields: Vec<Field> = ints
            .iter()
            .map(|(n, _)| Field::new(*n, DataType::Int64, false))
            .collect();
        let mut columns: Vec<ArrayRef> = ints
            .iter()
            .map(|(_, r)| Arc::new(Int64Array::from_iter_values(r.clone())) as ArrayRef)
            .collect();
        if let Some((name, array)) = names {
            fields.push(Field::new(name, DataType::Utf8View, false));
            columns.push(Arc::new(array));
        }
        let schema = Arc::new(Schema::new(fields));
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        Arc::new(MemTable::try_new(schema, vec![vec![batch]]).unwrap())
    }

    /// The touches' names and the leads' values, joined and sorted, with or without the rule.
    async fn sorted_join(rule: bool) -> Result<Vec<RecordBatch>> {
        let sql = "SELECT t.name, l.value FROM touches t JOIN leads l \
            ON l.lead_id = t.touch_id ORDER BY t.name DESC, l.value";
        session(rule).sql(sql).await?.collect().await
    }

    #[tokio::test]
    async fn a_sort_over_a_join_with_long_strings_runs_within_the_pool() {
        let rows = sorted_join(true)
            .await
            .expect("the sort runs within the pool");
        assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 200_000);
        let first = &rows[0];
        let name = first.column(0).as_string_view().value(0);
        assert_eq!(name, format!("{:0>100}", TOUCHES - 1));
        let value = first
            .column(1)
            .as_primitive::<arrow::datatypes::Int64Type>();
        assert_eq!(value.value(0), TOUCHES - 1);
    }

    /// Upstream apache/datafusion#12136: without the rule, each join output batch counts the
    /// whole 20 MB build side and the sort cannot take one. When this starts to pass, DataFusion
    /// counts shared buffers once and the rule can go.
    #[tokio::test]
    async fn without_the_rule_the_same_sort_fails() {
        let err = sorted_join(false).await;
        let err = err.expect_err("DataFusion still counts the build side once per batch");
        assert!(err.to_string().contains("Resources exhausted"), "{err}");
    }

    #[test]
    fn a_view_column_pointing_into_a_large_buffer_gets_its_own() {
        let names = StringViewArray::from_iter_values((0..10_000).map(|i| format!("{i:0>50}")));
        let few = arrow::compute::take(&names, &Int64Array::from(vec![3, 9_999]), None).unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "n",
            DataType::Utf8View,
            false,
        )]));
        let batch = RecordBatch::try_new(schema.clone(), vec![few]).unwrap();
        let held = datafusion::common::utils::memory::get_record_batch_memory_size;
        assert!(held(&batch) > 500_000, "take shares the 500 KB buffer");
        let compacted = compact_views(&batch).unwrap();
        assert!(held(&compacted) < 1_000, "{}", held(&compacted));
        let values: Vec<&str> = compacted
            .column(0)
            .as_string_view()
            .iter()
            .flatten()
            .collect();
        assert_eq!(values, [format!("{:0>50}", 3), format!("{:0>50}", 9_999)]);
        let small = RecordBatch::try_new(schema, vec![Arc::new(names)]).unwrap();
        let same = compact_views(&small).unwrap();
        assert!(
            same.column(0).to_data().buffers()[1].ptr_eq(&small.column(0).to_data().buffers()[1]),
            "a column using its buffer is left alone"
        );
    }
}
