//! The `unique` test, first by hashes. `GROUP BY key HAVING COUNT(*) > 1` builds a hash table
//! of every key (4-6M string keys in the credits and the touchpoints mart at 10M events); most
//! keys are unique, and one 64-bit hash per row says so at a fraction of the cost: rows whose
//! key hashes differ have different keys, so when no two hashes are alike every key is
//! distinct. When two are (a duplicate, or two keys with one hash), the exact query counts.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::hash_utils::{create_hashes, RandomState};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::prelude::SessionContext;
use futures::StreamExt;

use crate::error::Result;

/// Whether every key (`list`, quoted column names) of `table` is proven distinct by the keys'
/// hashes. `false` means undecided: two rows hash alike, a key column has a type whose equal
/// values may differ in bytes (floats: 0.0 and -0.0, or nested values), or the memory pool
/// cannot hold two hashes per row.
pub async fn distinct_by_hash(ctx: &SessionContext, table: &str, list: &str) -> Result<bool> {
    let keys = ctx.sql(&format!("SELECT {list} FROM {table}")).await?;
    if !keys
        .schema()
        .fields()
        .iter()
        .all(|f| byte_exact(f.data_type()))
    {
        return Ok(false);
    }
    let reservation =
        MemoryConsumer::new("unique test hashes").register(&ctx.runtime_env().memory_pool);
    let state = RandomState::with_seed(0);
    let mut hashes: Vec<u64> = Vec::new();
    let mut batches = keys.execute_stream().await?;
    while let Some(batch) = batches.next().await {
        let batch = batch?;
        let start = hashes.len();
        // Twice the hashes: the partitioned copy below.
        if reservation
            .try_resize(16 * (start + batch.num_rows()))
            .is_err()
        {
            return Ok(false);
        }
        hashes.resize(start + batch.num_rows(), 0);
        create_hashes(batch.columns(), &state, &mut hashes[start..])?;
    }
    Ok(all_distinct(&hashes))
}

/// Types whose equal values are equal bytes, so equal keys hash alike.
fn byte_exact(t: &DataType) -> bool {
    match t {
        DataType::Dictionary(_, value) => byte_exact(value),
        t => {
            t.is_integer()
                || matches!(
                    t,
                    DataType::Boolean
                        | DataType::Utf8
                        | DataType::LargeUtf8
                        | DataType::Utf8View
                        | DataType::Date32
                        | DataType::Date64
                        | DataType::Timestamp(_, _)
                )
        }
    }
}

/// Whether no two hashes are alike: partitioned by their top 16 bits (two linear passes), then
/// each part (about 100 hashes at 6M rows) sorted in the cache.
fn all_distinct(hashes: &[u64]) -> bool {
    const BITS: u32 = 16;
    if hashes.len() < 1 << BITS {
        let mut sorted = hashes.to_vec();
        sorted.sort_unstable();
        return sorted.windows(2).all(|w| w[0] != w[1]);
    }
    let part = |h: u64| (h >> (64 - BITS)) as usize;
    let mut starts = vec![0usize; (1 << BITS) + 1];
    for &h in hashes {
        starts[part(h) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut next = starts.clone();
    let mut parted = vec![0u64; hashes.len()];
    for &h in hashes {
        parted[next[part(h)]] = h;
        next[part(h)] += 1;
    }
    starts.windows(2).all(|range| {
        let part = &mut parted[range[0]..range[1]];
        part.sort_unstable();
        part.windows(2).all(|w| w[0] != w[1])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` different values spread over the whole range (an odd multiplier is a bijection).
    fn spread(n: u64) -> Vec<u64> {
        (0..n)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect()
    }

    #[test]
    fn one_repeated_hash_among_many_is_found() {
        for n in [10, 200_000] {
            let mut hashes = spread(n);
            assert!(all_distinct(&hashes), "{n} different values");
            hashes[(n / 2) as usize] = hashes[(n / 3) as usize];
            assert!(!all_distinct(&hashes), "{n} values, one twice");
        }
        assert!(all_distinct(&[]));
    }

    async fn table_of(sql: &str) -> SessionContext {
        let ctx = SessionContext::new();
        ctx.sql(sql).await.unwrap().collect().await.unwrap();
        ctx
    }

    #[tokio::test]
    async fn equal_keys_null_ones_included_are_never_proven_distinct() {
        let ctx = table_of(
            "CREATE TABLE t AS SELECT * FROM (VALUES \
            (1, 'a'), (1, 'b'), (2, 'a'), (NULL, 'c'), (NULL, 'c')) AS t(id, name)",
        )
        .await;
        assert!(
            !distinct_by_hash(&ctx, "t", "id, name").await.unwrap(),
            "(NULL, c) twice"
        );
        assert!(!distinct_by_hash(&ctx, "t", "id").await.unwrap());
        let ctx = table_of("CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a'), (1, 'b'), (NULL, 'a')) AS t(id, name)").await;
        assert!(distinct_by_hash(&ctx, "t", "id, name").await.unwrap());
    }

    #[tokio::test]
    async fn float_keys_are_left_to_the_exact_query() {
        // 0.0 and -0.0 are different bytes; whether they are one key is the query's to say.
        let ctx = table_of("CREATE TABLE t AS SELECT * FROM (VALUES (0.0), (-0.0)) AS t(x)").await;
        assert!(!distinct_by_hash(&ctx, "t", "x").await.unwrap());
    }
}
