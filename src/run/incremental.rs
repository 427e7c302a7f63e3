//! Incremental models (`materialized: incremental`, `partition_by: <day column>`): when only new
//! files were loaded since the last build, only the days those files touch are rebuilt; every
//! other day's folder is carried over from the published version.
//!
//! Which days? The model's SQL runs once over just the new files and the distinct values of its
//! partition column are the days to rebuild; those days are then rebuilt from all the files.
//! This holds for any model whose output rows for a day come from input rows of that day (a
//! daily aggregate). A removed or replaced input file, a changed SQL or setting, or
//! `--full-refresh` rebuilds every day. Incremental models read loaded tables and settings only.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider, TableProvider,
};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::datasource::MemTable;
use datafusion::execution::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use object_store::path::PathPart;

use super::model::Model;
use crate::error::{Error, Result};
use crate::warehouse::schema;
use crate::warehouse::Warehouse;

/// The files of every loaded table a model reads.
pub async fn input_files(
    warehouse: &Warehouse,
    reads: &BTreeSet<String>,
) -> Result<BTreeMap<String, Vec<String>>> {
    let mut out = BTreeMap::new();
    for table in reads
        .iter()
        .filter(|t| schema::TABLES.contains(&t.as_str()))
    {
        out.insert(
            table.clone(),
            warehouse.list(&format!("raw/{table}/")).await?,
        );
    }
    Ok(out)
}

/// The files added since `before`, or `None` when any file was removed (rebuild everything).
pub fn appended(
    before: &BTreeMap<String, Vec<String>>,
    now: &BTreeMap<String, Vec<String>>,
) -> Option<BTreeMap<String, Vec<String>>> {
    let mut added = BTreeMap::new();
    for (table, files) in now {
        let old: BTreeSet<&String> = before
            .get(table)
            .map(|f| f.iter().collect())
            .unwrap_or_default();
        if old.iter().any(|f| !files.contains(f)) {
            return None;
        }
        added.insert(
            table.clone(),
            files.iter().filter(|f| !old.contains(f)).cloned().collect(),
        );
    }
    Some(added)
}

/// Checks that an incremental model can be built incrementally.
pub fn validate(m: &Model, sources: &BTreeSet<String>) -> Result<String> {
    let col = m.header.partition_by.clone().ok_or_else(|| {
        Error::config(
            m.file.display().to_string(),
            "an incremental model needs `partition_by: <day column>`",
        )
    })?;
    if let Some(t) = m.reads.iter().find(|t| !sources.contains(*t)) {
        return Err(Error::config(
            m.file.display().to_string(),
            format!(
                "an incremental model reads loaded tables and settings only, not the model {t:?}"
            ),
        ));
    }
    Ok(col)
}

/// Partition values (as text) the model produces from just the `added` files.
pub async fn changed_partitions(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    m: &Model,
    col: &str,
    added: &BTreeMap<String, Vec<String>>,
) -> Result<Vec<String>> {
    let ctx = &new_files_session(ctx, warehouse, m, added).await?;
    let sql = format!(
        "SELECT DISTINCT CAST(\"{col}\" AS VARCHAR) AS day FROM ({}) AS new_rows WHERE \"{col}\" IS NOT NULL ORDER BY day",
        m.statement()
    );
    let batches = ctx.sql(&sql).await?.collect().await?;
    let mut days = Vec::new();
    for b in &batches {
        let c = datafusion::arrow::compute::cast(
            b.column(0),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )?;
        days.extend(
            datafusion::arrow::array::AsArray::as_string::<i32>(&c)
                .iter()
                .flatten()
                .map(str::to_string),
        );
    }
    Ok(days)
}

/// A session with `ctx`'s settings and functions whose own catalog holds the tables `m` reads,
/// each loaded one restricted to its `added` files. The shared catalog is never changed: it
/// used to be (the loaded tables swapped for their new files, then put back), and a model built
/// at the same time (`--jobs`) then read only the new files, or put the swapped table back.
async fn new_files_session(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    m: &Model,
    added: &BTreeMap<String, Vec<String>>,
) -> Result<SessionContext> {
    let state = ctx.state();
    let names = state.config().options().catalog.clone();
    let catalog = MemoryCatalogProvider::new();
    catalog.register_schema(&names.default_schema, Arc::new(MemorySchemaProvider::new()))?;
    let catalogs = MemoryCatalogProviderList::new();
    catalogs.register_catalog(names.default_catalog, Arc::new(catalog));
    let state = SessionStateBuilder::new_from_existing(state)
        .with_catalog_list(Arc::new(catalogs))
        .build();
    let session = SessionContext::new_with_state(state);
    for table in &m.reads {
        let provider: Arc<dyn TableProvider> = match added.get(table) {
            Some(files) if files.is_empty() => {
                Arc::new(MemTable::try_new(schema::for_table(table), vec![vec![]])?)
            }
            Some(files) => {
                let urls = files
                    .iter()
                    .map(|f| ListingTableUrl::parse(format!("{}/{f}", warehouse.url)))
                    .collect::<datafusion::error::Result<Vec<_>>>()?;
                let config = ListingTableConfig::new_with_multi_paths(urls)
                    .with_listing_options(ListingOptions::new(Arc::new(ParquetFormat::default())))
                    .with_schema(schema::for_table(table));
                Arc::new(ListingTable::try_new(config)?)
            }
            // A settings table; a name that is no table fails in the SQL, as in a full build.
            None => match ctx.table_provider(table.as_str()).await {
                Ok(provider) => provider,
                Err(_) => continue,
            },
        };
        session.register_table(table.as_str(), provider)?;
    }
    Ok(session)
}

/// The model's SQL restricted to `days` of its partition column.
pub fn restricted_sql(m: &Model, col: &str, days: &[String]) -> String {
    format!(
        "SELECT * FROM ({}) AS model_rows WHERE {}",
        m.statement(),
        partition_filter(col, days)
    )
}

/// A condition keeping the rows whose partition column `col` (as text) is one of `days`.
pub fn partition_filter(col: &str, days: &[String]) -> String {
    let list = if days.is_empty() {
        "NULL".to_string()
    } else {
        days.iter()
            .map(|d| format!("'{}'", d.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "CAST(\"{}\" AS VARCHAR) IN ({list})",
        col.replace('"', "\"\"")
    )
}

/// Copies the published partitions that were not rebuilt into the new run's folder.
pub async fn carry_partitions(
    warehouse: &Warehouse,
    from_dir: &str,
    to_dir: &str,
    col: &str,
    rebuilt: &[String],
) -> Result<()> {
    // Folder names as the writer made them: a value such as a file name with `#` or `%` in it
    // is percent-encoded in its path segment.
    let prefix = format!("{col}=");
    let rebuilt: Vec<String> = rebuilt
        .iter()
        .map(|d| PathPart::from(format!("{prefix}{d}")).as_ref().to_string())
        .collect();
    for path in warehouse.list(from_dir).await? {
        let rest = path
            .strip_prefix(from_dir)
            .unwrap_or(&path)
            .trim_start_matches('/');
        let segment = rest.split('/').find(|seg| seg.starts_with(&prefix));
        match segment {
            Some(seg) if !rebuilt.iter().any(|d| d == seg) => {
                let target = warehouse.listed_path(&format!("{to_dir}/{rest}"))?;
                object_store::ObjectStoreExt::copy(
                    &*warehouse.store,
                    &warehouse.listed_path(&path)?,
                    &target,
                )
                .await?;
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(tables: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        tables
            .iter()
            .map(|(t, f)| (t.to_string(), f.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn only_new_files_are_appended() {
        let before = files(&[("ga_events", &["raw/ga_events/a.parquet"])]);
        let now = files(&[(
            "ga_events",
            &["raw/ga_events/a.parquet", "raw/ga_events/b.parquet"],
        )]);
        assert_eq!(
            appended(&before, &now),
            Some(files(&[("ga_events", &["raw/ga_events/b.parquet"])]))
        );
        // Nothing new: an empty list, not a full rebuild.
        assert_eq!(appended(&now, &now), Some(files(&[("ga_events", &[])])));
    }

    #[test]
    fn a_removed_or_replaced_file_rebuilds_everything() {
        let before = files(&[(
            "ga_events",
            &["raw/ga_events/a.parquet", "raw/ga_events/b.parquet"],
        )]);
        let now = files(&[("ga_events", &["raw/ga_events/b.parquet"])]);
        assert_eq!(appended(&before, &now), None);
    }

    #[tokio::test]
    async fn restricted_sql_keeps_only_the_rebuilt_days() {
        let m = Model::parse(
            std::path::Path::new("queries/staging/daily.sql"),
            "-- version: 1\n-- materialized: incremental\n-- partition_by: day\n\
             SELECT * FROM (VALUES (DATE '2024-03-01', 1), (DATE '2024-03-02', 2), \
             (DATE '2024-03-03', 3)) AS t(day, n);"
                .to_string(),
            false,
        )
        .unwrap();
        let ctx = SessionContext::new();
        let days = ["2024-03-01".to_string(), "2024-03-03".to_string()];
        let sql = format!("SELECT SUM(n) FROM ({})", restricted_sql(&m, "day", &days));
        let number = |sql: String| {
            let ctx = ctx.clone();
            async move {
                let batches = ctx.sql(&sql).await.unwrap().collect().await.unwrap();
                let c = datafusion::arrow::compute::cast(
                    batches[0].column(0),
                    &datafusion::arrow::datatypes::DataType::Int64,
                )
                .unwrap();
                datafusion::arrow::array::AsArray::as_primitive::<
                    datafusion::arrow::datatypes::Int64Type,
                >(&c)
                .value(0)
            }
        };
        assert_eq!(number(sql).await, 1 + 3);
        // No day to rebuild selects nothing.
        let none = format!("SELECT COUNT(*) FROM ({})", restricted_sql(&m, "day", &[]));
        assert_eq!(number(none).await, 0);
    }

    #[tokio::test]
    async fn carried_partitions_skip_rebuilt_file_names_however_encoded() {
        // File partitions are named after export files; `#` and `%` are percent-encoded in
        // their folder names, as DataFusion's writer names them.
        let wh = Warehouse::open("memory://carry-test/wh").unwrap();
        let names = ["events_1.json", "events #2.json", "events_3%.json"];
        for name in names {
            let path = format!("old/source_file={name}/part-0.parquet");
            wh.put(&path, bytes::Bytes::from_static(b"x"))
                .await
                .unwrap();
        }
        let rebuilt = ["events #2.json".to_string()];
        carry_partitions(&wh, "old", "new", "source_file", &rebuilt)
            .await
            .unwrap();
        let carried = wh.list("new/").await.unwrap();
        assert_eq!(
            carried,
            vec![
                "new/source_file=events_1.json/part-0.parquet",
                "new/source_file=events_3%25.json/part-0.parquet",
            ]
        );
        assert_eq!(
            wh.list("old/").await.unwrap().len(),
            3,
            "the old run is untouched"
        );
    }
}
