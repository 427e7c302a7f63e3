//! The memory pool under `--memory-limit`: DataFusion's fair spill pool, with a share kept for
//! the operators that cannot spill.
//!
//! In DataFusion's `FairSpillPool` the operators that can spill (sorts, aggregates) may take the
//! whole pool between them, and an operator that cannot (a Parquet writer's column buffers, a
//! hash join's table) then fails as soon as it asks for more, though a spill would have made
//! room. At 10M GA events under 400 MB, `int_sessions`' two aggregates held 375 MB and the
//! writer of their output failed on its next 1.3 MB. Here the spilling operators share only
//! what is left after [`HEADROOM_SHARE`] of the limit; the others may use the whole limit.
//!
//! A repartition's buffers are never refused, so a repartition never spills: in DataFusion 55 a
//! `RepartitionExec` that spills can wait forever for a batch it wrote to its other spill file
//! (apache/datafusion#24883, fixed upstream by #24891). At 10M GA events under 1 GB,
//! `attribution_touchpoints` stopped that way with every thread parked. What a repartition holds
//! is counted, so the operators that can spill make room for it.

use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    human_readable_size, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};
use std::sync::Mutex;

/// The part of the limit (1/4) that operators which can spill leave to those which cannot.
pub const HEADROOM_SHARE: usize = 4;

#[derive(Debug, Default)]
struct Used {
    /// Consumers that can spill, registered now.
    spillers: usize,
    spillable: usize,
    unspillable: usize,
}

impl Used {
    /// The total a consumer of `kind` counts in: a repartition counts as memory held.
    fn total_of(&mut self, kind: Kind) -> &mut usize {
        match kind {
            Kind::Spills => &mut self.spillable,
            Kind::Holds | Kind::Repartition => &mut self.unspillable,
        }
    }
}

/// A fair spill pool that keeps a quarter of its limit out of the spilling operators' reach.
#[derive(Debug)]
pub struct HeadroomPool {
    limit: usize,
    used: Mutex<Used>,
}

/// How the pool treats a consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Sorts, aggregates: share what the others leave, less the headroom.
    Spills,
    /// Hash tables, writers: anything up to the limit.
    Holds,
    /// A repartition's in-flight batches: always granted (see the module's documentation).
    Repartition,
}

fn kind(consumer: &MemoryConsumer) -> Kind {
    match (
        consumer.can_spill(),
        consumer.name().starts_with("RepartitionExec["),
    ) {
        (true, true) => Kind::Repartition,
        (true, false) => Kind::Spills,
        (false, _) => Kind::Holds,
    }
}

impl HeadroomPool {
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            used: Mutex::new(Used::default()),
        }
    }

    /// What one spilling consumer may hold: an equal part of the limit less the headroom and
    /// less what the others hold.
    fn spiller_share(&self, used: &Used) -> usize {
        let for_spillers = self.limit - self.limit / HEADROOM_SHARE;
        for_spillers.saturating_sub(used.unspillable) / used.spillers.max(1)
    }
}

impl std::fmt::Display for HeadroomPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}(limit: {})",
            self.name(),
            human_readable_size(self.limit)
        )
    }
}

impl MemoryPool for HeadroomPool {
    fn name(&self) -> &str {
        "fair with headroom"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        if kind(consumer) == Kind::Spills {
            self.used.lock().unwrap().spillers += 1;
        }
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        if kind(consumer) == Kind::Spills {
            let mut used = self.used.lock().unwrap();
            used.spillers = used.spillers.saturating_sub(1);
        }
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        *self
            .used
            .lock()
            .unwrap()
            .total_of(kind(reservation.consumer())) += additional;
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        let mut used = self.used.lock().unwrap();
        let total = used.total_of(kind(reservation.consumer()));
        *total = total.saturating_sub(shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let mut used = self.used.lock().unwrap();
        let kind = kind(reservation.consumer());
        let available = match kind {
            Kind::Spills => self.spiller_share(&used).saturating_sub(reservation.size()),
            Kind::Holds => self.limit.saturating_sub(used.unspillable + used.spillable),
            Kind::Repartition => usize::MAX,
        };
        if additional > available {
            return Err(DataFusionError::ResourcesExhausted(format!(
                "Failed to allocate additional {} for {} with {} already allocated for this \
                 reservation - {} remain available for it in the memory pool ({} limit{})",
                human_readable_size(additional),
                reservation.consumer().name(),
                human_readable_size(reservation.size()),
                human_readable_size(available),
                human_readable_size(self.limit),
                match kind {
                    Kind::Spills => ", less a quarter kept for operators that cannot spill",
                    _ => "",
                },
            )));
        }
        *used.total_of(kind) += additional;
        Ok(())
    }

    fn reserved(&self) -> usize {
        let used = self.used.lock().unwrap();
        used.spillable + used.unspillable
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn spiller(pool: &Arc<dyn MemoryPool>, name: &str) -> MemoryReservation {
        MemoryConsumer::new(name)
            .with_can_spill(true)
            .register(pool)
    }

    #[test]
    fn spilling_operators_leave_a_quarter_to_the_others() {
        let pool: Arc<dyn MemoryPool> = Arc::new(HeadroomPool::new(400));
        let sort = spiller(&pool, "sort");
        let aggregate = spiller(&pool, "agg");
        let writer = MemoryConsumer::new("writer").register(&pool);
        // Two spillers share 300: 150 each.
        sort.try_grow(150).unwrap();
        let err = sort.try_grow(1).unwrap_err().to_string();
        assert!(
            err.contains("Failed to allocate additional 1.0 B for sort"),
            "{err}"
        );
        aggregate.try_grow(150).unwrap();
        // The writer still has the 100 the spillers cannot take.
        writer.try_grow(100).unwrap();
        assert!(writer.try_grow(1).is_err());
        assert_eq!(pool.reserved(), 400);
        // What the writer holds comes out of the spillers' share: (300 - 100) / 2 each.
        aggregate.shrink(150);
        aggregate.try_grow(100).unwrap();
        assert!(aggregate.try_grow(1).is_err());
        drop(sort);
        // One spiller left: it may take 200 (300 less the writer's 100).
        aggregate.try_grow(50).unwrap();
        assert!(aggregate.try_grow(51).is_err());
        assert_eq!(pool.reserved(), 250);
    }

    #[test]
    fn a_repartition_is_never_refused_and_counts_against_the_spillers() {
        let pool: Arc<dyn MemoryPool> = Arc::new(HeadroomPool::new(400));
        let sort = spiller(&pool, "ExternalSorter[0]");
        let shuffle = spiller(&pool, "RepartitionExec[1]");
        shuffle.try_grow(500).unwrap();
        assert_eq!(pool.reserved(), 500);
        // Not a spiller: the sort's share is not halved by it, but what it holds is gone.
        assert!(sort.try_grow(1).is_err());
        shuffle.shrink(450);
        sort.try_grow(250).unwrap();
        assert!(sort.try_grow(1).is_err());
    }

    /// apache/datafusion#24883's query: under a 4 MB pool, a grouped `count(distinct)` on two
    /// partitions. With DataFusion's FairSpillPool 7 runs of 8 never returned (every thread
    /// parked). Here each run returns: with the right counts, or (about 1 run in 15, when the
    /// repartition holds the whole pool) with a clear "Resources exhausted".
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_query_whose_repartition_would_spill_returns() {
        use arrow::array::AsArray;
        use arrow::datatypes::Int64Type;
        use datafusion::execution::runtime_env::RuntimeEnvBuilder;
        use datafusion::prelude::{SessionConfig, SessionContext};
        let config = || {
            SessionConfig::new()
                .with_target_partitions(2)
                .with_batch_size(64)
        };
        let data = SessionContext::new_with_config(config());
        let create = "CREATE TABLE t AS SELECT v % 13 AS g, md5(CAST(v % 337 AS VARCHAR)) AS id \
            FROM generate_series(1, 40000) AS s(v)";
        data.sql(create).await.unwrap().collect().await.unwrap();
        let t = data.table_provider("t").await.unwrap();
        let mut answered = 0;
        for _ in 0..4 {
            let pool = Arc::new(HeadroomPool::new(4 << 20));
            let runtime = RuntimeEnvBuilder::new().with_memory_pool(pool);
            let ctx = SessionContext::new_with_config_rt(config(), runtime.build_arc().unwrap());
            ctx.register_table("t", t.clone()).unwrap();
            let sql = "SELECT g, count(DISTINCT id) AS n FROM t GROUP BY g";
            let run = ctx.sql(sql).await.unwrap().collect();
            let wait = std::time::Duration::from_secs(30);
            match tokio::time::timeout(wait, run).await.expect("returns") {
                Ok(rows) => {
                    // 13 and 337 are coprime and 40,000 > 13 * 337: every g meets every v % 337.
                    let counts: Vec<i64> = rows
                        .iter()
                        .flat_map(|b| b.column(1).as_primitive::<Int64Type>().values().to_vec())
                        .collect();
                    assert_eq!(counts, vec![337; 13]);
                    answered += 1;
                }
                Err(e) => assert!(e.to_string().contains("Resources exhausted"), "{e}"),
            }
        }
        assert!(answered > 0, "no run of four gave an answer");
    }
}
