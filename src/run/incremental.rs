//! Incremental models (`materialized: incremental`, `partition_by: <day column>`): when only new
//! files were loaded since the last build, only the days those files touch are rebuilt; every
//! other day's folder is carried over from the published version.
//!
//! Which days? The model's SQL runs once over just the new files and the distinct values of its
//! partition column are the days to rebuild; those days are then rebuilt from all the files.
//! This holds for any model whose output rows for a day come from input rows of that day (a
//! daily aggregate). A removed or replaced input file, a changed SQL or setting, or
//! `--full-refresh` rebuilds every day.
//!
//! An incremental model may also read incremental models (`int_sessions` reads
//! `stg_ga_sessions`). Their "new rows" are the partitions they rebuilt in this run, as they are
//! now and as they were (a row that left such a partition changes the model too). The model's
//! partitions must then be a function of keys it groups by, so that the days found hold every
//! row a changed key contributes to, and the restriction reaches the upstream scan.

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
use super::publish::ModelVersion;
use super::tables::register_parquet_dir;
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

/// Checks that an incremental model can be built incrementally: it reads loaded tables,
/// settings and `incremental` models only.
pub fn validate(
    m: &Model,
    sources: &BTreeSet<String>,
    incremental: &BTreeSet<String>,
) -> Result<String> {
    let col = m.header.partition_by.clone().ok_or_else(|| {
        Error::config(
            m.file.display().to_string(),
            "an incremental model needs `partition_by: <day column>`",
        )
    })?;
    let readable = |t: &String| sources.contains(t) || incremental.contains(t);
    if let Some(t) = m.reads.iter().find(|t| !readable(t)) {
        return Err(Error::config(
            m.file.display().to_string(),
            format!(
                "an incremental model reads loaded tables, settings and incremental models only, not the model {t:?}"
            ),
        ));
    }
    Ok(col)
}

/// How an incremental model read by another changed since that one was last built.
pub enum UpstreamChange {
    /// The same files.
    Unchanged,
    /// Rebuilt in these partitions only: their rows were in `before_dir`, are in `now_dir`.
    Partitions {
        version: Box<ModelVersion>,
        values: Vec<String>,
        before_dir: String,
        now_dir: String,
    },
}

/// How upstream model `name` changed since `built` (the reader's published version) read it:
/// `before` and `now` are its published and current versions with their folders. `None` when
/// it cannot tell (built in full, or `built` read another version): rebuild everything.
pub fn upstream_change(
    name: &str,
    built: &ModelVersion,
    before: Option<(&ModelVersion, String)>,
    now: (&ModelVersion, String),
) -> Option<UpstreamChange> {
    let (before, before_dir) = before?;
    if built.input_fingerprints.get(name) != Some(&before.fingerprint) {
        return None;
    }
    let (now, now_dir) = now;
    if now.built_by == before.built_by && now.fingerprint == before.fingerprint {
        return Some(UpstreamChange::Unchanged);
    }
    Some(UpstreamChange::Partitions {
        values: now.partitions_rebuilt.clone()?,
        version: Box::new(now.clone()),
        before_dir,
        now_dir,
    })
}

/// Partition values (as text) the model produces from just the `added` files.
pub async fn changed_partitions(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    m: &Model,
    col: &str,
    added: &BTreeMap<String, Vec<String>>,
    upstream: &BTreeMap<String, UpstreamChange>,
) -> Result<Vec<String>> {
    let ctx = &new_files_session(ctx, warehouse, m, added, upstream).await?;
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
/// each loaded one restricted to its `added` files, each upstream model to its changed rows.
/// The shared catalog is never changed: it used to be (the loaded tables swapped for their new
/// files, then put back), and a model built at the same time (`--jobs`) then read only the new
/// files, or put the swapped table back.
async fn new_files_session(
    ctx: &SessionContext,
    warehouse: &Warehouse,
    m: &Model,
    added: &BTreeMap<String, Vec<String>>,
    upstream: &BTreeMap<String, UpstreamChange>,
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
        if let Some(change) = upstream.get(table) {
            register_changed_rows(ctx, &session, warehouse, table, change).await?;
            continue;
        }
        let provider: Arc<dyn TableProvider> = match added.get(table) {
            Some(files) if files.is_empty() => {
                Arc::new(MemTable::try_new(schema::as_read(table), vec![vec![]])?)
            }
            Some(files) => {
                let urls = files
                    .iter()
                    .map(|f| ListingTableUrl::parse(format!("{}/{f}", warehouse.url)))
                    .collect::<datafusion::error::Result<Vec<_>>>()?;
                let config = ListingTableConfig::new_with_multi_paths(urls)
                    .with_listing_options(ListingOptions::new(Arc::new(ParquetFormat::default())))
                    .with_schema(schema::as_read(table));
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

/// Registers in `session`, as `name`, the rows of an upstream model that changed: none, or its
/// rebuilt partitions as they were and as they are.
async fn register_changed_rows(
    ctx: &SessionContext,
    session: &SessionContext,
    warehouse: &Warehouse,
    name: &str,
    change: &UpstreamChange,
) -> Result<()> {
    let UpstreamChange::Partitions {
        version,
        values,
        before_dir,
        now_dir,
    } = change
    else {
        let schema = ctx.table_provider(name).await?.schema();
        session.register_table(name, Arc::new(MemTable::try_new(schema, vec![vec![]])?))?;
        return Ok(());
    };
    let (Some(col), Some(t)) = (&version.partition_by, &version.partition_type) else {
        return Err(Error::Usage(format!(
            "the incremental model {name} has no partition column"
        )));
    };
    let partitions = vec![(col.clone(), t.data_type())];
    let filter = partition_filter(col, values);
    let mut parts = Vec::new();
    for (side, dir) in [("now", now_dir), ("before", before_dir)] {
        if warehouse.list(&format!("{dir}/")).await?.is_empty() {
            continue;
        }
        let alias = format!("{name}__{side}");
        register_parquet_dir(
            session,
            &alias,
            &warehouse.url_of(dir),
            None,
            partitions.clone(),
        )
        .await?;
        parts.push(format!("SELECT * FROM \"{alias}\" WHERE {filter}"));
    }
    let sql = match parts.is_empty() {
        true => return Err(Error::Usage(format!("no files of the model {name}"))),
        false => parts.join(" UNION ALL "),
    };
    session.register_table(name, session.sql(&sql).await?.into_view())?;
    Ok(())
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

    /// A version of `stg` built by `run`, with `fingerprint`, rebuilding `days` (None: all).
    fn version(run: &str, fingerprint: &str, days: Option<&[&str]>) -> ModelVersion {
        serde_json::from_value(serde_json::json!({
            "model": "stg", "version": 1, "run_id": run, "built_by": run,
            "fingerprint": fingerprint, "input_fingerprints": {}, "rows": 1,
            "schema_hash": "s", "partition_by": "day", "partition_type": "Date32",
            "partitions_rebuilt": days,
        }))
        .unwrap()
    }

    #[test]
    fn an_upstream_change_is_known_only_against_the_version_the_reader_read() {
        let mut reader = version("r1", "reader", None);
        reader.input_fingerprints.insert("stg".into(), "f1".into());
        let before = version("r1", "f1", None);
        let at = |v: &ModelVersion| (v.clone(), format!("_runs/{}/marts/stg/v1", v.run_id));
        let change_for =
            |reader: &ModelVersion, before: Option<&ModelVersion>, now: &ModelVersion| {
                let before = before.map(at);
                let before = before.as_ref().map(|(v, d)| (v, d.clone()));
                let (now, dir) = at(now);
                upstream_change("stg", reader, before, (&now, dir))
            };
        let change =
            |before: Option<&ModelVersion>, now: &ModelVersion| change_for(&reader, before, now);
        // Carried over unchanged: no new rows.
        let mut carried = before.clone();
        carried.run_id = "r2".into();
        assert!(matches!(
            change(Some(&before), &carried),
            Some(UpstreamChange::Unchanged)
        ));
        // Rebuilt in one day: that day, before (r1's folder) and now (r2's).
        let rebuilt = version("r2", "f2", Some(&["2024-03-09"]));
        let Some(UpstreamChange::Partitions {
            values,
            before_dir,
            now_dir,
            ..
        }) = change(Some(&before), &rebuilt)
        else {
            panic!("one day rebuilt");
        };
        assert_eq!(values, ["2024-03-09"]);
        assert_eq!(
            (before_dir.as_str(), now_dir.as_str()),
            ("_runs/r1/marts/stg/v1", "_runs/r2/marts/stg/v1")
        );
        // Rebuilt in full, never published before, or the reader read another version: unknown.
        assert!(change(Some(&before), &version("r2", "f2", None)).is_none());
        assert!(change(None, &rebuilt).is_none());
        let mut other = reader.clone();
        other.input_fingerprints.insert("stg".into(), "f0".into());
        assert!(change_for(&other, Some(&before), &rebuilt).is_none());
    }
}
