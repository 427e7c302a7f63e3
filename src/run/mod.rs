//! `clearsight run`: executes the SQL models of `queries/` in dependency order with DataFusion,
//! tests each staged output, and publishes the whole run at once when every test passes.
//!
//! A run is planned first ([`plan`]: per node assert / view / reuse / build with its
//! fingerprint, no data touched), then executed node by node ([`execute`]).

pub mod audit;
pub mod check;
pub mod dag;
pub mod execute;
pub mod file_groups;
pub mod incremental;
pub mod lineage;
pub mod model;
pub mod plan;
pub mod publish;
pub mod results;
pub mod schedule;
pub mod settings;
pub mod tables;
pub mod unique;

pub use results::{NodeResult, NodeStatus, RunReport};

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use bytes::Bytes;
use datafusion::arrow::array::{Array, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::config::Project;
use crate::error::Result;
use crate::observe::{Event, Observer};
use crate::warehouse::Warehouse;
use plan::{hash_hex, PlanInputs};
use publish::{ModelVersion, Published};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// dbt-style selectors; empty selects every model.
    pub select: Vec<String>,
    /// Rebuild models whose fingerprint is unchanged.
    pub full_refresh: bool,
    /// How many models may build at once (each waits for the models it reads); `None`: the
    /// runner's [`Runner::jobs`].
    pub jobs: Option<usize>,
}

/// The default of [`RunOptions::jobs`]: one per core, or 1 under a memory limit, so that one
/// model at a time has the whole pool.
pub fn default_jobs(memory_limit: Option<usize>) -> usize {
    match memory_limit {
        Some(_) => 1,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// Fingerprints of the loaded tables (their file lists) and of the settings.
async fn source_fingerprints(
    project: &Project,
    warehouse: &Warehouse,
    sources: &BTreeSet<String>,
) -> Result<BTreeMap<String, String>> {
    let settings = settings::settings_fingerprint(project);
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
    out.insert(plan::SETTINGS.into(), settings);
    Ok(out)
}

/// Registers a published (or staged) model version as a table.
pub async fn register_published(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    name: &str,
    dir: &str,
    success: &ModelVersion,
) -> Result<()> {
    let partitions = match (&success.partition_by, &success.partition_type) {
        (Some(col), Some(t)) => vec![(col.clone(), t.data_type())],
        _ => vec![],
    };
    tables::register_parquet_dir(ctx, name, &warehouse.url_of(dir), None, partitions).await
}

/// The single count a `COUNT(*)` or a write returns (0 when there is none).
pub fn count_of(batches: &[RecordBatch]) -> u64 {
    batches
        .first()
        .filter(|b| b.num_columns() > 0 && b.num_rows() > 0)
        .and_then(|b| datafusion::arrow::compute::cast(b.column(0), &DataType::UInt64).ok())
        .and_then(|c| c.as_any().downcast_ref::<UInt64Array>().map(|a| a.value(0)))
        .unwrap_or(0)
}

/// A run's plan and what executing it reads.
#[derive(Clone, Copy)]
struct Planned<'p> {
    models: &'p [model::Model],
    steps: &'p [plan::Step],
    previous: &'p Published,
    sources: &'p BTreeSet<String>,
}

pub struct Runner<'a> {
    pub project: &'a Project,
    pub warehouse: &'a Warehouse,
    pub ctx: SessionContext,
    pub observer: &'a dyn Observer,
    /// Models built at once when [`RunOptions::jobs`] does not say ([`default_jobs`]).
    pub jobs: usize,
}

impl Runner<'_> {
    /// Whether the session's memory pool has a limit (`--memory-limit`).
    fn memory_limited(&self) -> bool {
        matches!(
            self.ctx.runtime_env().memory_pool.memory_limit(),
            datafusion::execution::memory_pool::MemoryLimit::Finite(_)
        )
    }

    async fn write_results(&self, report: &RunReport) -> Result<()> {
        let body = Bytes::from(serde_json::to_vec_pretty(report).expect("results serialise"));
        self.warehouse.put("run_results.json", body.clone()).await?;
        self.warehouse
            .put(&format!("_runs/{}/run_results.json", report.run_id), body)
            .await
    }

    /// Runs the selected models. Publishes only when every model built and every test passed.
    pub async fn run(&self, options: &RunOptions) -> Result<RunReport> {
        // Without a memory limit the allocator keeps freed memory longer while the models run.
        let _delay = (!self.memory_limited())
            .then(crate::engine::allocator::PurgeDelay::for_models)
            .flatten();
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
        sources.extend(settings::register_settings(&self.ctx, self.project, self.warehouse).await?);
        let order = dag::order(&models, &sources)?;
        let selected = dag::select(&models, &options.select)?;
        let previous = Published::read(self.warehouse).await?.unwrap_or_default();
        let fingerprints = source_fingerprints(self.project, self.warehouse, &sources).await?;
        let steps = plan::plan(&PlanInputs {
            models: &models,
            order: &order,
            selected: &selected,
            previous: &previous,
            sources: &fingerprints,
            full_refresh: options.full_refresh,
        })?;
        let mut next = Published {
            run_id: report.run_id.clone(),
            ..Published::default()
        };
        let planned = Planned {
            models: &models,
            steps: &steps,
            previous: &previous,
            sources: &sources,
        };
        self.execute_steps(&planned, options, &mut report, &mut next)
            .await?;
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

    /// Executes the plan's steps, up to `options.jobs` at once, each after the steps it reads
    /// ([`schedule`]); records each node in `report` and each model version in `next`. After an
    /// error no step starts; those running finish.
    async fn execute_steps(
        &self,
        planned: &Planned<'_>,
        options: &RunOptions,
        report: &mut RunReport,
        next: &mut Published,
    ) -> Result<()> {
        let Planned {
            models,
            steps,
            previous,
            sources,
        } = *planned;
        let run_id = next.run_id.clone();
        let incremental: BTreeSet<String> = models
            .iter()
            .filter(|m| m.header.materialized == model::Materialization::Incremental)
            .map(|m| m.name.clone())
            .collect();
        let incremental = &incremental;
        let execute = |i: usize, upstream: BTreeMap<String, (String, ModelVersion)>| {
            let step: &plan::Step = &steps[i];
            let context = execute::StepContext {
                model: &models[step.model],
                previous,
                sources,
                incremental,
                upstream,
                full_refresh: options.full_refresh,
            };
            let run_id = &run_id;
            async move {
                let t0 = Instant::now();
                let result = self.execute(&context, &step.action, run_id).await;
                (i, t0, result)
            }
        };
        let jobs = options.jobs.unwrap_or(self.jobs);
        let mut schedule = schedule::Schedule::new(steps, models, jobs);
        let mut running = futures::stream::FuturesUnordered::new();
        let mut stop = false;
        loop {
            if !stop {
                let ready = schedule.start_ready().into_iter();
                running.extend(ready.map(|i| execute(i, upstream_of(models, &steps[i], next))));
            }
            let Some((i, t0, result)) = running.next().await else {
                return Ok(());
            };
            schedule.finish(i);
            let (mut node, version) = result?;
            node.seconds = t0.elapsed().as_secs_f64();
            next.models.extend(version);
            self.observer.event(&Event::NodeFinished {
                step: report.nodes.len() + 1,
                total: steps.len(),
                node: &node,
            });
            stop |= matches!(node.status, NodeStatus::Error);
            report.nodes.push(node);
            self.write_results(report).await?;
        }
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

/// The models `step` reads, by name: each one's output key and this run's version (so far).
fn upstream_of(
    models: &[model::Model],
    step: &plan::Step,
    next: &Published,
) -> BTreeMap<String, (String, ModelVersion)> {
    let reads = &models[step.model].reads;
    models
        .iter()
        .filter(|m| reads.contains(&m.name))
        .filter_map(|m| {
            let key = m.output_dir();
            let version = next.models.get(&key)?.clone();
            Some((m.name.clone(), (key, version)))
        })
        .collect()
}
