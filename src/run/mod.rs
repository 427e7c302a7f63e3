//! `clearsight run`: executes the SQL models of `queries/` in dependency order with DataFusion,
//! tests each staged output, and publishes the whole run at once when every test passes.

pub mod audit;
pub mod check;
pub mod dag;
pub mod incremental;
pub mod lineage;
pub mod model;
pub mod publish;
pub mod results;
pub mod tables;

pub use results::{NodeResult, NodeStatus, RunReport};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use bytes::Bytes;
use datafusion::arrow::datatypes::DataType;
use datafusion::dataframe::DataFrameWriteOptions;
use datafusion::prelude::SessionContext;

use crate::config::Project;
use crate::error::{Error, Result};
use crate::progress::Progress;
use crate::warehouse::Warehouse;
use model::{Materialization, Model};
use publish::{Published, Success};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// dbt-style selectors; empty selects every model.
    pub select: Vec<String>,
    /// Rebuild models whose fingerprint is unchanged.
    pub full_refresh: bool,
}

fn hash_hex(parts: &[&str]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    format!("{:032x}", h.digest128())
}

/// Fingerprints of the loaded tables (their file lists) and of the settings.
async fn source_fingerprints(
    project: &Project,
    warehouse: &Warehouse,
    sources: &BTreeSet<String>,
) -> Result<BTreeMap<String, String>> {
    let settings: Vec<&str> = project
        .config_files
        .iter()
        .filter(|(k, _)| *k != "sources.yaml")
        .flat_map(|(k, v)| [k.as_str(), v.as_str()])
        .collect();
    let settings = hash_hex(&settings);
    let mut out = BTreeMap::new();
    for s in sources {
        let fp = if s.starts_with("cfg_") {
            settings.clone()
        } else {
            let files = warehouse.list(&format!("raw/{s}/")).await?;
            hash_hex(&files.iter().map(String::as_str).collect::<Vec<_>>())
        };
        out.insert(s.clone(), fp);
    }
    out.insert("(settings)".into(), settings);
    Ok(out)
}

fn partition_type(name: &str) -> DataType {
    match name {
        "Date32" => DataType::Date32,
        "Int64" => DataType::Int64,
        _ => DataType::Utf8,
    }
}

/// Registers a published (or staged) model version as a table.
pub async fn register_published(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    name: &str,
    dir: &str,
    success: &Success,
) -> Result<()> {
    let partitions = match (&success.partition_by, &success.partition_type) {
        (Some(col), Some(t)) => vec![(col.clone(), partition_type(t))],
        _ => vec![],
    };
    tables::register_parquet_dir(ctx, name, &warehouse.url_of(dir), None, partitions).await
}

pub struct Runner<'a> {
    pub project: &'a Project,
    pub warehouse: &'a Warehouse,
    pub ctx: SessionContext,
    pub progress: Progress,
}

impl Runner<'_> {
    async fn write_results(&self, report: &RunReport) -> Result<()> {
        let body = Bytes::from(serde_json::to_vec_pretty(report).expect("results serialise"));
        self.warehouse.put("run_results.json", body.clone()).await?;
        self.warehouse
            .put(&format!("_runs/{}/run_results.json", report.run_id), body)
            .await
    }

    /// Builds one table model into the run's staging folder.
    /// With `sql`, the given restriction of the model's SQL is written instead (incremental).
    async fn build(
        &self,
        m: &Model,
        dir: &str,
        sql: Option<&str>,
    ) -> Result<(u64, String, Option<String>)> {
        let fail = |e: &dyn std::fmt::Display| Error::Model {
            model: m.name.clone(),
            file: m.file.clone(),
            message: e.to_string(),
        };
        let df = self
            .ctx
            .sql(sql.unwrap_or(&m.sql))
            .await
            .map_err(|e| fail(&e))?;
        let schema = df.schema().as_arrow().clone();
        let schema_hash = hash_hex(&[&format!("{:?}", schema.fields())]);
        let mut write = DataFrameWriteOptions::new();
        let mut ptype = None;
        if let Some(col) = &m.header.partition_by {
            let field = schema
                .field_with_name(col)
                .map_err(|_| fail(&format!("partition_by column {col:?} is not in the output")))?;
            ptype = Some(match field.data_type() {
                DataType::Date32 => "Date32".to_string(),
                DataType::Int64 => "Int64".to_string(),
                _ => "Utf8".to_string(),
            });
            write = write.with_partition_by(vec![col.clone()]);
        }
        let written = df
            .write_parquet(&self.warehouse.url_of(dir), write, None)
            .await
            .map_err(|e| fail(&e))?;
        let rows = written
            .first()
            .and_then(|b| datafusion::arrow::compute::cast(b.column(0), &DataType::UInt64).ok())
            .map(|c| {
                c.as_any()
                    .downcast_ref::<datafusion::arrow::array::UInt64Array>()
                    .map_or(0, |a| a.value(0))
            })
            .unwrap_or(0);
        if rows == 0 && sql.is_none() {
            // An empty output still has a schema for its readers: one empty file.
            let (path, fields) = match &m.header.partition_by {
                Some(col) => (
                    format!("{dir}/{col}=1970-01-01/empty.parquet"),
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
            let file_schema =
                std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
            let bytes = crate::warehouse::parquet_bytes(file_schema, &[])?;
            self.warehouse.put(&path, bytes).await?;
        }
        Ok((rows, schema_hash, ptype))
    }

    /// Builds a table or incremental model into `dir`; returns its success record (run ids and
    /// fingerprints are filled in by the caller).
    async fn materialize(
        &self,
        m: &Model,
        dir: &str,
        old: Option<(&Success, String)>,
        definition: &str,
        sources: &BTreeSet<String>,
        full_refresh: bool,
    ) -> Result<Success> {
        let input_files = incremental::input_files(self.warehouse, &m.reads).await?;
        let mut rebuilt = None;
        let mut built = None;
        if m.header.materialized == Materialization::Incremental {
            let col = incremental::validate(m, sources)?;
            let reusable =
                old.filter(|(o, _)| !full_refresh && o.definition_fingerprint == definition);
            if let Some((old, old_dir)) = reusable {
                if let Some(added) = incremental::appended(&old.input_files, &input_files) {
                    let days =
                        incremental::changed_partitions(&self.ctx, self.warehouse, m, &col, &added)
                            .await?;
                    let sql = incremental::restricted_sql(m, &col, &days);
                    let (_, schema_hash, ptype) = self.build(m, dir, Some(&sql)).await?;
                    incremental::carry_partitions(self.warehouse, &old_dir, dir, &col, &days)
                        .await?;
                    built = Some((0, schema_hash, ptype.or(old.partition_type.clone())));
                    rebuilt = Some(days);
                }
            }
        }
        let (rows, schema_hash, partition_type) = match built {
            Some(b) => b,
            None => self.build(m, dir, None).await?,
        };
        let mut success = Success {
            model: m.name.clone(),
            version: m.header.version,
            run_id: String::new(),
            built_by: String::new(),
            fingerprint: String::new(),
            definition_fingerprint: definition.to_string(),
            input_fingerprints: BTreeMap::new(),
            input_files,
            partitions_rebuilt: rebuilt,
            rows,
            schema_hash,
            partition_by: m.header.partition_by.clone(),
            partition_type,
        };
        register_published(&self.ctx, self.warehouse, &m.name, dir, &success).await?;
        if success.partitions_rebuilt.is_some() {
            let counted = self
                .ctx
                .sql(&format!("SELECT COUNT(*) FROM \"{}\"", m.name))
                .await?
                .collect()
                .await?;
            success.rows = counted
                .first()
                .and_then(|b| datafusion::arrow::compute::cast(b.column(0), &DataType::UInt64).ok())
                .and_then(|c| {
                    c.as_any()
                        .downcast_ref::<datafusion::arrow::array::UInt64Array>()
                        .map(|a| a.value(0))
                })
                .unwrap_or(0);
        }
        Ok(success)
    }

    /// Runs the selected models. Publishes only when every model built and every test passed.
    pub async fn run(&self, options: &RunOptions) -> Result<RunReport> {
        let started = Instant::now();
        let mut report = RunReport {
            run_id: publish::new_run_id(),
            started_at: chrono::Utc::now().to_rfc3339(),
            finished: false,
            published: false,
            nodes: Vec::new(),
            seconds: 0.0,
        };
        let models = model::discover(&self.project.queries_dir())?;
        let mut sources = tables::register_loaded(&self.ctx, self.warehouse).await?;
        sources.extend(tables::register_settings(&self.ctx, self.project, self.warehouse).await?);
        let order = dag::order(&models, &sources)?;
        let selected = dag::select(&models, &options.select)?;
        let previous = Published::read(self.warehouse).await?.unwrap_or_default();
        let mut fingerprints = source_fingerprints(self.project, self.warehouse, &sources).await?;
        let mut next = Published {
            run_id: report.run_id.clone(),
            ..Published::default()
        };
        let total = order.len();
        for (step, &i) in order.iter().enumerate() {
            let m = &models[i];
            let t0 = Instant::now();
            let mut node = NodeResult {
                name: m.name.clone(),
                file: m.file.display().to_string(),
                status: NodeStatus::Built,
                rows: None,
                seconds: 0.0,
                fingerprint: None,
                tests: Vec::new(),
                message: None,
            };
            if m.is_test {
                if !selected.contains(&i) {
                    continue;
                }
                let outcome = audit::run_assertion_file(&self.ctx, &m.name, &m.sql).await;
                node.status = if outcome.passed {
                    NodeStatus::Passed
                } else {
                    NodeStatus::Failed
                };
                node.message = outcome.message.clone();
                node.tests.push(outcome);
            } else {
                let key = m.output_dir();
                let mut inputs: Vec<String> = m
                    .reads
                    .iter()
                    .map(|t| format!("{t}={}", fingerprints.get(t).cloned().unwrap_or_default()))
                    .collect();
                inputs.sort();
                let header = serde_yaml::to_string(&m.header).unwrap_or_default();
                let mut parts = vec![
                    m.sql.as_str(),
                    header.as_str(),
                    fingerprints["(settings)"].as_str(),
                ];
                parts.extend(inputs.iter().map(String::as_str));
                let fp = hash_hex(&parts);
                node.fingerprint = Some(fp.clone());
                fingerprints.insert(m.name.clone(), fp.clone());
                let old = previous.models.get(&key);
                if m.header.materialized == Materialization::View {
                    let df = self.ctx.sql(&m.sql).await.map_err(|e| Error::Model {
                        model: m.name.clone(),
                        file: m.file.clone(),
                        message: e.to_string(),
                    });
                    match df {
                        Ok(df) => {
                            self.ctx.register_table(m.name.as_str(), df.into_view())?;
                            node.status = NodeStatus::View;
                        }
                        Err(e) => {
                            node.status = NodeStatus::Error;
                            node.message = Some(e.to_string());
                        }
                    }
                } else if !selected.contains(&i)
                    || (!options.full_refresh && old.is_some_and(|o| o.fingerprint == fp))
                {
                    let Some(old) = old else {
                        return Err(Error::Usage(format!(
                            "model {} is needed but not selected and was never published; select it too (e.g. --select +{})",
                            m.name, m.name
                        )));
                    };
                    node.status = if selected.contains(&i) {
                        NodeStatus::Skipped
                    } else {
                        NodeStatus::NotSelected
                    };
                    if !selected.contains(&i) {
                        fingerprints.insert(m.name.clone(), old.fingerprint.clone());
                    }
                    node.rows = Some(old.rows);
                    register_published(
                        &self.ctx,
                        self.warehouse,
                        &m.name,
                        &previous.dir_of(&key),
                        old,
                    )
                    .await?;
                    let mut carried = old.clone();
                    carried.run_id = report.run_id.clone();
                    next.models.insert(key, carried);
                } else {
                    let dir = format!("_runs/{}/marts/{key}", report.run_id);
                    let definition = hash_hex(&[
                        m.sql.as_str(),
                        header.as_str(),
                        fingerprints["(settings)"].as_str(),
                    ]);
                    let old_dir = old.map(|o| (o, previous.dir_of(&key)));
                    match self
                        .materialize(
                            m,
                            &dir,
                            old_dir,
                            &definition,
                            &sources,
                            options.full_refresh,
                        )
                        .await
                    {
                        Ok(mut success) => {
                            success.run_id = report.run_id.clone();
                            success.built_by = report.run_id.clone();
                            success.fingerprint = fp;
                            success.input_fingerprints = m
                                .reads
                                .iter()
                                .map(|t| {
                                    (t.clone(), fingerprints.get(t).cloned().unwrap_or_default())
                                })
                                .collect();
                            node.rows = Some(success.rows);
                            node.tests =
                                audit::run_tests(&self.ctx, &m.name, &m.header.tests).await;
                            if node.tests.iter().any(|t| !t.passed) {
                                node.status = NodeStatus::Failed;
                            }
                            if let Some(days) = &success.partitions_rebuilt {
                                node.message = Some(format!(
                                    "incremental: rebuilt {} partition(s)",
                                    days.len()
                                ));
                            }
                            next.models.insert(key, success);
                        }
                        Err(e) => {
                            node.status = NodeStatus::Error;
                            node.message = Some(e.to_string());
                        }
                    }
                }
            }
            node.seconds = t0.elapsed().as_secs_f64();
            self.progress.node(step + 1, total, &node);
            let stop = matches!(node.status, NodeStatus::Error);
            report.nodes.push(node);
            self.write_results(&report).await?;
            if stop {
                break;
            }
        }
        report.finished = true;
        if report.failures() == 0 {
            self.finish_publish(&previous, &mut next).await?;
            report.published = true;
        } else {
            self.warehouse
                .delete_prefix(&format!("_runs/{}/marts/", report.run_id))
                .await?;
        }
        report.seconds = started.elapsed().as_secs_f64();
        self.write_results(&report).await?;
        Ok(report)
    }

    /// Carries unchanged and older model versions into the run, writes each `_SUCCESS.json`,
    /// then publishes.
    async fn finish_publish(&self, previous: &Published, next: &mut Published) -> Result<()> {
        for (key, old) in &previous.models {
            if !next.models.contains_key(key) {
                let mut kept = old.clone();
                kept.run_id = next.run_id.clone();
                next.models.insert(key.clone(), kept);
            }
        }
        for (key, success) in next.models.iter() {
            let dir = next.dir_of(key);
            if success.built_by != next.run_id {
                publish::carry_over(self.warehouse, &previous.dir_of(key), &dir).await?;
            }
            let body = serde_json::to_vec_pretty(success).expect("success serialises");
            self.warehouse
                .put(&format!("{dir}/_SUCCESS.json"), Bytes::from(body))
                .await?;
        }
        next.published_at = chrono::Utc::now().to_rfc3339();
        // Failpoint for tests: die like a killed build after every file is written but before
        // the pointer, the one write that makes a run visible.
        if std::env::var_os("CLEARSIGHT_FAILPOINT_BEFORE_PUBLISH").is_some() {
            std::process::abort();
        }
        publish::publish(self.warehouse, next).await?;
        let keep = [next.run_id.as_str(), previous.run_id.as_str()];
        publish::collect_garbage(self.warehouse, &keep).await
    }
}
