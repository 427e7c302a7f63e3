//! Executes one planned node (see [`super::plan`]): runs an assertion, registers a view, carries
//! a published version into the run, or builds a model into the run's staging folder and tests
//! it.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::dataframe::{DataFrame, DataFrameWriteOptions};

use super::model::{Layer, Materialization, Model};
use super::plan::Action;
use super::publish::{ModelVersion, PartitionType, Published};
use super::{audit, count_of, incremental, register_published, NodeResult, NodeStatus, Runner};
use crate::error::{Error, Result};

/// Row groups of a partitioned model hold at most this many rows. A partitioned write keeps
/// every partition's file open to the end, each with its unfinished row group in memory: at
/// 10M GA events `stg_ga_sessions`' 120 open files held 340 MB. The cap keeps that bound as the
/// data grows (16,384 rows of sessions are about 3 MB).
const PARTITION_ROW_GROUP_ROWS: usize = 16_384;

/// Under a memory limit, bytes of a partitioned model's file held in memory before they go to
/// disk. Each open file holds its finished row groups in a buffer of this size (DataFusion's
/// default, 10 MB, is more than a day's file of sessions), so with 1,200 files open at 100M
/// events `stg_ga_sessions` held its whole output in memory (docs/performance-issue13-s23.md).
const PARTITION_WRITE_BUFFER: usize = 256 << 10;

/// What executing a node needs besides its action.
pub struct StepContext<'a> {
    pub model: &'a Model,
    pub previous: &'a Published,
    /// The loaded and settings tables.
    pub sources: &'a BTreeSet<String>,
    /// The names of the incremental models.
    pub incremental: &'a BTreeSet<String>,
    /// The models this one reads, by name: each one's output key and this run's version.
    pub upstream: BTreeMap<String, (String, ModelVersion)>,
    pub full_refresh: bool,
}

/// What writing a model's output gives.
struct Written {
    rows: u64,
    schema_hash: String,
    partition_type: Option<PartitionType>,
}

impl Runner<'_> {
    /// Executes one node of run `run_id`; returns its result and the model's new version (built
    /// or carried) under its output key, for the run's [`Published`] record.
    pub(super) async fn execute(
        &self,
        step: &StepContext<'_>,
        action: &Action,
        run_id: &str,
    ) -> Result<(NodeResult, Option<(String, ModelVersion)>)> {
        let m = step.model;
        let mut node = NodeResult {
            name: m.name.clone(),
            file: m.file.display().to_string(),
            status: NodeStatus::Built,
            rows: None,
            seconds: 0.0,
            test_seconds: None,
            fingerprint: action.fingerprint().map(str::to_string),
            tests: Vec::new(),
            message: None,
        };
        let mut version = None;
        match action {
            Action::Assert => {
                let outcome = audit::run_assertion_file(&self.ctx, &m.name, &m.sql).await;
                node.status = if outcome.passed {
                    NodeStatus::Passed
                } else {
                    NodeStatus::Failed
                };
                node.message = outcome.message.clone();
                node.tests.push(outcome);
            }
            Action::View { .. } => match self.ctx.sql(&m.sql).await {
                Ok(df) => {
                    self.ctx.register_table(m.name.as_str(), df.into_view())?;
                    node.status = NodeStatus::View;
                }
                Err(e) => {
                    node.status = NodeStatus::Error;
                    node.message = Some(model_error(m, &e).to_string());
                }
            },
            Action::Reuse {
                published,
                selected,
                ..
            } => {
                node.status = if *selected {
                    NodeStatus::Skipped
                } else {
                    NodeStatus::NotSelected
                };
                node.rows = Some(published.rows);
                version = Some(self.reuse(step, published, run_id).await?);
            }
            Action::Build { .. } => {
                version = self.build_node(step, action, run_id, &mut node).await
            }
        }
        Ok((node, version))
    }

    /// Carries the published version into the run and registers it for its dependants.
    async fn reuse(
        &self,
        step: &StepContext<'_>,
        published: &ModelVersion,
        run_id: &str,
    ) -> Result<(String, ModelVersion)> {
        let key = step.model.output_dir();
        let dir = step.previous.dir_of(&key);
        register_published(&self.ctx, self.warehouse, &step.model.name, &dir, published).await?;
        let mut carried = published.clone();
        carried.run_id = run_id.to_string();
        Ok((key, carried))
    }

    /// Builds and tests a model; a failure is the node's status, not an error of the run.
    async fn build_node(
        &self,
        step: &StepContext<'_>,
        action: &Action,
        run_id: &str,
        node: &mut NodeResult,
    ) -> Option<(String, ModelVersion)> {
        let Action::Build {
            fingerprint,
            definition,
            inputs,
            published,
        } = action
        else {
            unreachable!("build_node runs Build actions");
        };
        let m = step.model;
        let key = m.output_dir();
        let dir = super::publish::model_dir(run_id, &key);
        let old = published.as_ref().map(|o| (o, step.previous.dir_of(&key)));
        match self.materialize(step, &dir, old, definition).await {
            Ok(mut version) => {
                version.run_id = run_id.to_string();
                version.built_by = run_id.to_string();
                version.fingerprint = fingerprint.clone();
                version.input_fingerprints = inputs.clone();
                node.rows = Some(version.rows);
                let tested = std::time::Instant::now();
                node.tests = match (&version.partitions_rebuilt, &m.header.partition_by) {
                    (Some(values), Some(column)) => {
                        let rebuilt = audit::Rebuilt { column, values };
                        audit::run_tests_rebuilt(&self.ctx, &m.name, &m.header.tests, &rebuilt)
                            .await
                    }
                    _ => audit::run_tests(&self.ctx, &m.name, &m.header.tests).await,
                };
                if !node.tests.is_empty() {
                    node.test_seconds = Some(tested.elapsed().as_secs_f64());
                }
                if node.tests.iter().any(|t| !t.passed) {
                    node.status = NodeStatus::Failed;
                }
                if let Some(days) = &version.partitions_rebuilt {
                    node.message =
                        Some(format!("incremental: rebuilt {} partition(s)", days.len()));
                }
                Some((key, version))
            }
            Err(e) => {
                node.status = NodeStatus::Error;
                node.message = Some(e.to_string());
                None
            }
        }
    }

    /// Builds a table or incremental model into `dir`; returns its version record (run ids and
    /// fingerprints are filled in by the caller).
    async fn materialize(
        &self,
        step: &StepContext<'_>,
        dir: &str,
        old: Option<(&ModelVersion, String)>,
        definition: &str,
    ) -> Result<ModelVersion> {
        let m = step.model;
        let input_files = incremental::input_files(self.warehouse, &m.reads).await?;
        let reusable = old.filter(|(o, _)| {
            m.header.materialized == Materialization::Incremental
                && !step.full_refresh
                && o.definition_fingerprint == definition
        });
        let mut rebuilt = None;
        let mut written = None;
        if m.header.materialized == Materialization::Incremental {
            let col = incremental::validate(m, step.sources, step.incremental)?;
            if let Some((old, old_dir)) = reusable {
                let added = incremental::appended(&old.input_files, &input_files);
                if let (Some(added), Some(upstream)) = (added, upstream_changes(step, old)) {
                    let days = incremental::changed_partitions(
                        &self.ctx,
                        self.warehouse,
                        m,
                        &col,
                        &added,
                        &upstream,
                    )
                    .await?;
                    let sql = incremental::restricted_sql(m, &col, &days);
                    let mut w = self.write(m, dir, Some(&sql)).await?;
                    incremental::carry_partitions(self.warehouse, &old_dir, dir, &col, &days)
                        .await?;
                    w.partition_type = w.partition_type.or(old.partition_type);
                    written = Some(w);
                    rebuilt = Some(days);
                }
            }
        }
        let written = match written {
            Some(w) => w,
            None => self.write(m, dir, None).await?,
        };
        let mut version = ModelVersion {
            model: m.name.clone(),
            version: m.header.version,
            run_id: String::new(),
            built_by: String::new(),
            fingerprint: String::new(),
            definition_fingerprint: definition.to_string(),
            input_fingerprints: BTreeMap::new(),
            input_files,
            partitions_rebuilt: rebuilt,
            rows: written.rows,
            schema_hash: written.schema_hash,
            partition_by: m.header.partition_by.clone(),
            partition_type: written.partition_type,
        };
        register_published(&self.ctx, self.warehouse, &m.name, dir, &version).await?;
        if version.partitions_rebuilt.is_some() {
            let sql = format!("SELECT COUNT(*) FROM \"{}\"", m.name);
            version.rows = count_of(&self.ctx.sql(&sql).await?.collect().await?);
        }
        Ok(version)
    }

    /// Writes the model's output (or, with `sql`, an incremental restriction of it) to `dir`.
    async fn write(&self, m: &Model, dir: &str, sql: Option<&str>) -> Result<Written> {
        let fail = |e: &dyn std::fmt::Display| model_error(m, e);
        let mut df = self
            .ctx
            .sql(sql.unwrap_or(&m.sql))
            .await
            .map_err(|e| fail(&e))?;
        let schema = df.schema().as_arrow().clone();
        let schema_hash = super::plan::hash_hex(&[&format!("{:?}", schema.fields())]);
        let mut options = DataFrameWriteOptions::new();
        let mut partition_type = None;
        let mut parquet = self.ctx.state().default_table_options().parquet.clone();
        let limited = self.memory_limited();
        if matches!(m.layer, Layer::Staging | Layer::Intermediate) {
            parquet.global.compression = Some(crate::warehouse::working_compression_setting());
            // Plain, not dictionary-encoded: the writer interns every value and the reader
            // decodes each page's indices, for files read once or twice. At 10M events the run
            // used about 2% less CPU, and at 1M peaked lower; but the readers' string views
            // then hold whole data pages, and at 10M it peaked 0.2-0.4 GB higher, so under a
            // memory limit they stay dictionary-encoded (docs/performance-issue13-s22.md).
            parquet.global.dictionary_enabled = Some(limited);
        }
        if let Some(col) = &m.header.partition_by {
            let field = schema
                .field_with_name(col)
                .map_err(|_| fail(&format!("partition_by column {col:?} is not in the output")))?;
            partition_type = Some(PartitionType::of(field.data_type()));
            options = options.with_partition_by(vec![col.clone()]);
            parquet.global.max_row_group_size = PARTITION_ROW_GROUP_ROWS;
            if limited {
                // Every file is open at once: under a memory limit, one writer per file (the
                // files already keep both cores busy; the parallel writer has tasks and
                // buffered batches per column) through small buffers. Without a limit the
                // defaults are kept: at 10M events they used 1-5 s less CPU.
                parquet.global.allow_single_file_parallelism = false;
                df = with_write_buffer(df, PARTITION_WRITE_BUFFER);
            }
        }
        let written = df
            .write_parquet(&self.warehouse.url_of(dir), options, Some(parquet))
            .await
            .map_err(|e| fail(&e))?;
        let rows = count_of(&written);
        if rows == 0 && sql.is_none() {
            self.write_empty(m, dir, &schema, partition_type).await?;
        }
        Ok(Written {
            rows,
            schema_hash,
            partition_type,
        })
    }

    /// An empty output still has a schema for its readers: one empty file (in a folder whose
    /// partition value reads back as the column's type; it holds no row).
    async fn write_empty(
        &self,
        m: &Model,
        dir: &str,
        schema: &datafusion::arrow::datatypes::Schema,
        partition_type: Option<PartitionType>,
    ) -> Result<()> {
        let value = match partition_type {
            Some(PartitionType::Int64) => "0",
            _ => "1970-01-01",
        };
        let (path, fields) = match &m.header.partition_by {
            Some(col) => (
                format!("{dir}/{col}={value}/empty.parquet"),
                schema
                    .fields()
                    .iter()
                    .filter(|f| f.name() != col)
                    .cloned()
                    .collect::<Vec<_>>(),
            ),
            None => (
                format!("{dir}/empty.parquet"),
                schema.fields().iter().cloned().collect(),
            ),
        };
        let file_schema = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
        let bytes = crate::warehouse::parquet_bytes(file_schema, &[])?;
        self.warehouse.put(&path, bytes).await
    }
}

/// How each upstream model changed since `built` read it; `None` when one cannot tell.
fn upstream_changes(
    step: &StepContext<'_>,
    built: &ModelVersion,
) -> Option<BTreeMap<String, incremental::UpstreamChange>> {
    let mut changes = BTreeMap::new();
    for (name, (key, now)) in &step.upstream {
        let before = (step.previous.models.get(key)).map(|b| (b, step.previous.dir_of(key)));
        let now_dir = super::publish::model_dir(&now.run_id, key);
        let change = incremental::upstream_change(name, built, before, (now, now_dir))?;
        changes.insert(name.clone(), change);
    }
    Some(changes)
}

fn model_error(m: &Model, e: &dyn std::fmt::Display) -> Error {
    Error::Model {
        model: m.name.clone(),
        file: m.file.clone(),
        message: e.to_string(),
    }
}

/// `df`, written through object-store buffers of `bytes` (the session's setting for its other
/// writes is left as it is).
fn with_write_buffer(df: DataFrame, bytes: usize) -> DataFrame {
    let (mut state, plan) = df.into_parts();
    state
        .config_mut()
        .options_mut()
        .execution
        .objectstore_writer_buffer_size = bytes;
    DataFrame::new(state, plan)
}

#[cfg(test)]
mod tests {
    use datafusion::prelude::SessionContext;

    use super::*;

    #[tokio::test]
    async fn a_write_buffer_is_the_dataframes_alone() {
        let ctx = SessionContext::new();
        let buffer = |options: &datafusion::config::ConfigOptions| {
            options.execution.objectstore_writer_buffer_size
        };
        let default = buffer(ctx.state().config().options());
        assert_eq!(default, 10 << 20, "DataFusion's default: 10 MB");
        let df = with_write_buffer(ctx.sql("SELECT 1 AS x").await.unwrap(), 256 << 10);
        let (state, _) = df.clone().into_parts();
        assert_eq!(buffer(state.config().options()), 256 << 10);
        assert_eq!(buffer(ctx.state().config().options()), default);
        let rows = df.collect().await.unwrap();
        assert_eq!(rows[0].num_rows(), 1, "the plan is unchanged");
    }
}
