//! The one place a DataFusion `SessionContext` is built: memory pool, spill directory, object
//! stores and Clearsight's functions. Everything that runs SQL gets its context here, so the
//! same models can move to another engine or store by changing this file alone.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::error::Result;
use crate::udf::channel::ChannelRules;
use crate::warehouse::{store_root_url, Warehouse};

/// Resources for a session.
#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    /// Memory pool size in bytes; `None` means no limit.
    pub memory_limit: Option<usize>,
    /// Where spill files go; `None` means the OS temp folder.
    pub spill_dir: Option<PathBuf>,
    /// Partitions per query; `None` means one per core.
    pub target_partitions: Option<usize>,
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

/// A session over `warehouse`, with Clearsight's functions registered.
pub fn session(
    warehouse: &Warehouse,
    options: &EngineOptions,
    rules: Arc<ChannelRules>,
) -> Result<SessionContext> {
    let mut runtime = RuntimeEnvBuilder::new();
    if let Some(limit) = options.memory_limit {
        runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(limit)));
    }
    let disk = match &options.spill_dir {
        Some(dir) => {
            DiskManagerBuilder::default().with_mode(DiskManagerMode::Directories(vec![dir.clone()]))
        }
        None => DiskManagerBuilder::default().with_mode(DiskManagerMode::OsTmpDirectory),
    };
    let runtime = runtime.with_disk_manager_builder(disk).build_arc()?;
    runtime.register_object_store(&store_root_url(&warehouse.url)?, warehouse.store.clone());

    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_parquet_pruning(true)
        .set_bool("datafusion.execution.parquet.pushdown_filters", true)
        .set_str("datafusion.execution.time_zone", "UTC")
        .set_str("datafusion.execution.parquet.compression", "zstd(1)")
        .set_str("datafusion.execution.parquet.statistics_enabled", "page")
        .set_u64("datafusion.execution.parquet.max_row_group_size", 1_048_576);
    if let Some(p) = options.target_partitions {
        config = config.with_target_partitions(p.max(1));
    }
    let ctx = SessionContext::new_with_config_rt(config, runtime);
    crate::udf::register_all(&ctx, rules);
    Ok(ctx)
}
