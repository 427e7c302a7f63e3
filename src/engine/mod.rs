//! The one place a DataFusion session is built: memory pool, spill directory, object stores and
//! Clearsight's functions. Everything that runs SQL gets its session from an [`Engine`], locally
//! or, with the `ballista` feature, through a Ballista scheduler whose scheduler and executors
//! build their sessions with this same [`Engine`] (see [`crate::cluster`]).

pub mod allocator;
pub mod compact;
pub mod pool;

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::TrackConsumersPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::config::Project;
use crate::error::{Error, Result};
use crate::run::file_groups::GroupScansByFile;
use crate::run::publish::Published;
use crate::udf::channel::ChannelRules;
use crate::warehouse::{store_root_url, Warehouse};

/// Where the models run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EngineKind {
    /// DataFusion in this process (the default).
    #[default]
    Local,
    /// A Ballista cluster, through its scheduler at `df://HOST:PORT`.
    Ballista { scheduler: String },
}

/// Resources for a session.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Memory pool size in bytes; `None` means no limit.
    pub memory_limit: Option<usize>,
    /// Where spill files go; `None` means the OS temp folder.
    pub spill_dir: Option<PathBuf>,
    /// Partitions per query; `None` means one per core.
    pub target_partitions: Option<usize>,
    /// Local DataFusion or a Ballista cluster.
    pub kind: EngineKind,
}

/// Turns transparent huge pages off for this process (Linux; elsewhere nothing). With them
/// the kernel zeroes 2 MB at the first touch of any part of a page mimalloc takes: 15% of the
/// 10M models' profile was `clear_page_erms` under `do_huge_pmd_anonymous_page`. Without them a
/// 1M build took 6.0-6.1 s instead of 6.5-6.8 s, and the 10M models 35.8-37.0 s instead of
/// 38.2-40.2 s (docs/performance-issue13-s10-11.md).
pub fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process; it touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Parses `4G`, `512M`, `1.5GB`, `100000` into bytes.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim().to_ascii_uppercase();
    let t = t.trim_end_matches('B');
    let (num, mult) = match t.chars().last() {
        Some('K') => (&t[..t.len() - 1], 1usize << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| *v > 0.0)
        .map(|v| (v * mult as f64) as usize)
        .ok_or_else(|| format!("not a size: {text:?} (use e.g. 4G, 512M)"))
}

/// Builds sessions over one warehouse with Clearsight's functions: for the client, and for a
/// Ballista scheduler's and executors' per-job sessions.
#[derive(Clone)]
pub struct Engine {
    pub warehouse: Warehouse,
    pub options: EngineOptions,
    pub rules: Arc<ChannelRules>,
}

/// Whether scans are grouped by export file ([`GroupScansByFile`]): yes, unless
/// `CLEARSIGHT_SCANS_BY_FILE` is `off`; a value other than `on` or `off` is a usage error
/// naming the variable.
fn scans_by_file() -> Result<bool> {
    const VARIABLE: &str = "CLEARSIGHT_SCANS_BY_FILE";
    match std::env::var(VARIABLE).as_deref() {
        Err(_) | Ok("on") => Ok(true),
        Ok("off") => Ok(false),
        Ok(other) => Err(Error::Config {
            file: format!("environment ({VARIABLE})"),
            message: format!("{other:?} is neither on nor off"),
        }),
    }
}

impl Engine {
    /// The session settings every engine uses (Ballista adds its own on top): DataFusion's
    /// defaults, then any `DATAFUSION_*` environment variable (as datafusion-cli reads them,
    /// e.g. `DATAFUSION_EXECUTION_BATCH_SIZE=32768`), then Clearsight's own, which win.
    pub fn config(&self) -> Result<SessionConfig> {
        crate::warehouse::check_compression_settings()?;
        let config = SessionConfig::from_env().map_err(|e| Error::Config {
            file: "environment (DATAFUSION_* variables)".into(),
            message: e.to_string(),
        })?;
        let mut config = config
            .with_information_schema(true)
            .with_parquet_pruning(true)
            .set_bool("datafusion.execution.parquet.pushdown_filters", true)
            .set_str("datafusion.execution.time_zone", "UTC")
            .set_str(
                "datafusion.execution.parquet.compression",
                &crate::warehouse::compression_setting(),
            )
            .set_str("datafusion.execution.parquet.statistics_enabled", "page")
            .set_u64("datafusion.execution.parquet.max_row_group_size", 1_048_576)
            // Files declaring an order (GA4 events, by session) are packed into partitions in
            // that order, so the order holds across a partition's files.
            .set_bool("datafusion.execution.split_file_groups_by_statistics", true)
            // An input hash-partitioned on some of a grouping's keys satisfies it from 2
            // partitions (DataFusion's default: 4): the GA4 events' scans are partitioned by
            // export file (`run::file_groups`), and `int_lead_users` groups a join's output by
            // the join key and one more column, with one aggregate instead of two.
            .set_u64("datafusion.optimizer.subset_repartition_threshold", 2);
        if let Some(p) = self.options.target_partitions {
            config = config.with_target_partitions(p.max(1));
        }
        Ok(config)
    }

    /// Memory pool, spill directory and the warehouse's object store.
    pub fn runtime(&self) -> Result<Arc<RuntimeEnv>> {
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(limit) = self.options.memory_limit {
            // A failure names the ten biggest holders, not just the one that asked last.
            let pool = TrackConsumersPool::new(
                pool::HeadroomPool::new(limit),
                NonZeroUsize::new(10).unwrap(),
            );
            runtime = runtime.with_memory_pool(Arc::new(pool));
        }
        let disk = match &self.options.spill_dir {
            Some(dir) => DiskManagerBuilder::default()
                .with_mode(DiskManagerMode::Directories(vec![dir.clone()])),
            None => DiskManagerBuilder::default().with_mode(DiskManagerMode::OsTmpDirectory),
        };
        let runtime = runtime.with_disk_manager_builder(disk).build_arc()?;
        runtime.register_object_store(
            &store_root_url(&self.warehouse.url)?,
            self.warehouse.store.clone(),
        );
        Ok(runtime)
    }

    /// A session state with `config` and `runtime`, and Clearsight's functions registered.
    /// Scans are regrouped by export file ([`GroupScansByFile`]) before DataFusion plans their
    /// distribution, unless `CLEARSIGHT_SCANS_BY_FILE=off` (to measure what the rule saves).
    pub fn state(&self, config: SessionConfig, runtime: Arc<RuntimeEnv>) -> Result<SessionState> {
        let mut rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> = Vec::new();
        if scans_by_file()? {
            rules.push(Arc::new(GroupScansByFile));
        }
        rules.extend(PhysicalOptimizer::new().rules);
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_physical_optimizer_rules(rules)
            .build();
        crate::udf::register_state(&mut state, self.rules.clone())?;
        Ok(state)
    }

    /// A session for running models: local, or connected to the configured Ballista scheduler.
    pub async fn session(&self) -> Result<SessionContext> {
        match &self.options.kind {
            EngineKind::Local => self.local_session(),
            EngineKind::Ballista { scheduler } => self.remote(scheduler).await,
        }
    }

    /// A session in this process, whatever the configured engine (for reading results). Under
    /// a memory limit its plans compact join output before anything counts it
    /// ([`compact::CompactJoinOutput`]).
    pub fn local_session(&self) -> Result<SessionContext> {
        let mut state = self.state(self.config()?, self.runtime()?)?;
        if self.options.memory_limit.is_some() {
            state = SessionStateBuilder::new_from_existing(state)
                .with_physical_optimizer_rule(Arc::new(compact::CompactJoinOutput))
                .build();
        }
        Ok(SessionContext::new_with_state(state))
    }

    /// A session for reading: the loaded tables, the settings tables and the latest version of
    /// every model the live run published, by their names (what `query`, `report`, `export` and
    /// `serve` read).
    pub async fn query_session(&self, project: &Project) -> Result<SessionContext> {
        let published = Published::read(&self.warehouse).await?;
        self.published_session(project, published.as_ref()).await
    }

    /// [`Engine::query_session`] over the run `published` describes (None: nothing published).
    pub async fn published_session(
        &self,
        project: &Project,
        published: Option<&Published>,
    ) -> Result<SessionContext> {
        let session = self.local_session()?;
        crate::run::tables::register_loaded(&session, &self.warehouse).await?;
        crate::run::settings::register_settings(&session, project, &self.warehouse).await?;
        if let Some(published) = published {
            for (name, key, s) in published.latest_versions() {
                let dir = published.dir_of(key);
                crate::run::register_published(&session, &self.warehouse, name, &dir, s).await?;
            }
        }
        Ok(session)
    }

    #[cfg(feature = "ballista")]
    async fn remote(&self, scheduler: &str) -> Result<SessionContext> {
        crate::cluster::connect(self, scheduler).await
    }

    #[cfg(not(feature = "ballista"))]
    async fn remote(&self, scheduler: &str) -> Result<SessionContext> {
        Err(Error::Usage(format!(
            "--engine ballista (scheduler {scheduler}) needs a clearsight built with the \
             `ballista` feature (it is on by default; this binary was built without it)"
        )))
    }
}

/// Checks a scheduler address is `df://HOST:PORT` (the `--scheduler` flag's parser).
pub fn parse_scheduler(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url)
        .map_err(|e| format!("--scheduler {url:?}: {e} (expected df://HOST:PORT)"))?;
    if parsed.scheme() != "df" || parsed.host_str().is_none() {
        return Err(format!("--scheduler {url:?}: expected df://HOST:PORT"));
    }
    Ok(url.to_string())
}

/// Parses `--engine` and `--scheduler` (flag, environment or config) into an [`EngineKind`].
pub fn engine_kind(engine: Option<&str>, scheduler: Option<&str>) -> Result<EngineKind> {
    match (engine.unwrap_or("local"), scheduler) {
        ("local", _) => Ok(EngineKind::Local),
        ("ballista", Some(url)) => Ok(EngineKind::Ballista {
            scheduler: parse_scheduler(url).map_err(Error::Usage)?,
        }),
        ("ballista", None) => Err(Error::Usage(
            "--engine ballista needs --scheduler df://HOST:PORT (or CLEARSIGHT_SCHEDULER, or \
             engine.scheduler in config/sources.yaml)"
                .into(),
        )),
        (other, _) => Err(Error::Usage(format!(
            "--engine {other:?}: expected local or ballista"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn transparent_huge_pages_are_off_after_the_call() {
        no_transparent_huge_pages();
        // SAFETY: PR_GET_THP_DISABLE only reads the flag.
        let disabled = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        assert_eq!(disabled, 1);
    }

    #[test]
    fn sizes_read_as_binary_units() {
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("1.5GB"), Ok(3 << 29));
        assert_eq!(parse_size(" 100000 "), Ok(100_000));
        assert_eq!(parse_size("2K"), Ok(2048));
    }

    #[test]
    fn sizes_that_are_not_sizes_are_refused() {
        for bad in ["", "G", "-1G", "0", "four gigs", "4X"] {
            let e = parse_size(bad).unwrap_err();
            assert!(e.contains("not a size"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn engine_is_local_unless_ballista_with_a_scheduler() {
        assert_eq!(engine_kind(None, None).unwrap(), EngineKind::Local);
        assert_eq!(
            engine_kind(Some("local"), Some("df://h:1")).unwrap(),
            EngineKind::Local
        );
        assert_eq!(
            engine_kind(Some("ballista"), Some("df://10.0.0.5:50050")).unwrap(),
            EngineKind::Ballista {
                scheduler: "df://10.0.0.5:50050".into()
            }
        );
        let no_scheduler = engine_kind(Some("ballista"), None).unwrap_err();
        assert!(no_scheduler.to_string().contains("needs --scheduler"));
        assert!(engine_kind(Some("spark"), None).is_err());
    }

    #[test]
    fn scheduler_must_be_a_df_url() {
        assert_eq!(
            parse_scheduler("df://sched:50050").as_deref(),
            Ok("df://sched:50050")
        );
        assert!(parse_scheduler("http://sched:50050").is_err());
        assert!(parse_scheduler("sched:50050").is_err());
        assert!(parse_scheduler("not a url").is_err());
    }
}
