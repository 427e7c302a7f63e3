//! The tables models read besides other models: the loaded tables (`raw/<table>/`) and the
//! settings of `config/` as small `cfg_*` tables, so model SQL needs no templating.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use crate::config::Project;
use crate::error::{Error, Result};
use crate::load::{schema, values};
use crate::warehouse::Warehouse;

/// `config/mart.yaml`: the settings of SPEC sections 3 to 7.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MartSettings {
    pub own_hosts: Vec<String>,
    #[serde(default = "default_tz")]
    pub reporting_timezone: String,
    #[serde(default = "default_lookback")]
    pub lookback_days: i64,
    #[serde(default = "default_half_life")]
    pub half_life_days: f64,
    pub spam_statuses: Vec<String>,
    /// Statuses that mean MQL / SQL when the date field is empty (status rules).
    #[serde(default)]
    pub mql_statuses: Vec<String>,
    #[serde(default)]
    pub sql_statuses: Vec<String>,
    pub platform_channels: BTreeMap<String, String>,
    #[serde(default)]
    pub campaign_channel_overrides: Vec<CampaignOverride>,
    #[serde(default)]
    pub lead_source_channels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignOverride {
    pub platform: String,
    pub campaign_contains: String,
    pub channel: String,
}

fn default_tz() -> String {
    "UTC".into()
}
fn default_lookback() -> i64 {
    90
}
fn default_half_life() -> f64 {
    7.0
}

/// `config/targets.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    pub targets: Vec<Target>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub metric: String,
    /// The target of every month, unless `months` names one.
    #[serde(default)]
    pub monthly: Option<f64>,
    /// Targets of named months (`2024-03: 120000`).
    #[serde(default)]
    pub months: BTreeMap<String, f64>,
}

fn text(values: Vec<String>) -> ArrayRef {
    Arc::new(StringArray::from(values))
}

fn mem_table(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch> {
    let schema: SchemaRef = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    Ok(RecordBatch::try_new(
        schema,
        columns.into_iter().map(|(_, a)| a).collect(),
    )?)
}

fn lower(v: &[String]) -> Vec<String> {
    v.iter().map(|s| s.trim().to_lowercase()).collect()
}

/// Registers the `cfg_*` tables; returns their names. Each is a small Parquet file under
/// `_config/<hash of the settings>/` in the warehouse (written once per distinct settings), so a
/// distributed engine's executors can read it like any other table.
pub async fn register_settings(
    ctx: &SessionContext,
    project: &Project,
    warehouse: &Warehouse,
) -> Result<BTreeSet<String>> {
    let m: MartSettings = project.settings("mart.yaml")?;
    let t: Targets = project.settings("targets.yaml")?;
    let mut tables: Vec<(&str, RecordBatch)> = vec![
        (
            "cfg_settings",
            mem_table(vec![
                (
                    "lookback_days",
                    Arc::new(Int64Array::from(vec![m.lookback_days])),
                ),
                (
                    "half_life_days",
                    Arc::new(Float64Array::from(vec![m.half_life_days])),
                ),
                (
                    "reporting_timezone",
                    text(vec![m.reporting_timezone.clone()]),
                ),
            ])?,
        ),
        (
            "cfg_own_hosts",
            mem_table(vec![("host", text(lower(&m.own_hosts)))])?,
        ),
        (
            "cfg_spam_statuses",
            mem_table(vec![("status", text(lower(&m.spam_statuses)))])?,
        ),
    ];
    let stages: Vec<(String, String)> = lower(&m.mql_statuses)
        .into_iter()
        .map(|s| (s, "mql".to_string()))
        .chain(
            lower(&m.sql_statuses)
                .into_iter()
                .map(|s| (s, "sql".to_string())),
        )
        .collect();
    tables.push((
        "cfg_status_stages",
        mem_table(vec![
            ("status", text(stages.iter().map(|s| s.0.clone()).collect())),
            ("stage", text(stages.iter().map(|s| s.1.clone()).collect())),
        ])?,
    ));
    tables.push((
        "cfg_platform_channels",
        mem_table(vec![
            (
                "platform",
                text(
                    m.platform_channels
                        .keys()
                        .map(|k| k.trim().to_lowercase())
                        .collect(),
                ),
            ),
            (
                "channel",
                text(m.platform_channels.values().cloned().collect()),
            ),
        ])?,
    ));
    let o = &m.campaign_channel_overrides;
    tables.push((
        "cfg_campaign_overrides",
        mem_table(vec![
            (
                "platform",
                text(o.iter().map(|x| x.platform.trim().to_lowercase()).collect()),
            ),
            (
                "campaign_contains",
                text(
                    o.iter()
                        .map(|x| x.campaign_contains.trim().to_lowercase())
                        .collect(),
                ),
            ),
            (
                "channel",
                text(o.iter().map(|x| x.channel.clone()).collect()),
            ),
        ])?,
    ));
    tables.push((
        "cfg_lead_source_channels",
        mem_table(vec![
            (
                "lead_source",
                text(
                    m.lead_source_channels
                        .keys()
                        .map(|k| k.trim().to_lowercase())
                        .collect(),
                ),
            ),
            (
                "channel",
                text(m.lead_source_channels.values().cloned().collect()),
            ),
        ])?,
    ));
    let mut rows: Vec<(String, Option<i32>, f64)> = Vec::new();
    for target in &t.targets {
        if let Some(v) = target.monthly {
            rows.push((target.metric.clone(), None, v));
        }
        for (month, v) in &target.months {
            let d = values::date(&format!("{month}-01")).map_err(|e| {
                Error::config(
                    "config/targets.yaml",
                    format!("{}: month {month:?}: {e}", target.metric),
                )
            })?;
            rows.push((target.metric.clone(), Some(values::date32(d)), *v));
        }
    }
    tables.push((
        "cfg_targets",
        mem_table(vec![
            ("metric", text(rows.iter().map(|r| r.0.clone()).collect())),
            (
                "month",
                Arc::new(Date32Array::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
            ),
            (
                "target",
                Arc::new(Float64Array::from(
                    rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                )),
            ),
        ])?,
    ));
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    for (file, text) in project
        .config_files
        .iter()
        .filter(|(f, _)| *f != "sources.yaml")
    {
        hasher.update(file.as_bytes());
        hasher.update(text.as_bytes());
    }
    let dir = format!("_config/{:032x}", hasher.digest128());
    let mut names = BTreeSet::new();
    for (name, batch) in tables {
        let file = format!("{dir}/{name}/settings.parquet");
        if !warehouse.exists(&file).await? {
            let bytes =
                crate::warehouse::parquet_bytes(batch.schema(), std::slice::from_ref(&batch))?;
            warehouse.put(&file, bytes).await?;
        }
        register_parquet_dir(
            ctx,
            name,
            &warehouse.url_of(&format!("{dir}/{name}")),
            Some(batch.schema()),
            vec![],
        )
        .await?;
        names.insert(name.to_string());
    }
    Ok(names)
}

/// Registers a folder of Parquet files (possibly hive-partitioned) as a table. `schema` fixes
/// the schema (loaded tables, readable even when empty); `None` infers it.
pub async fn register_parquet_dir(
    ctx: &SessionContext,
    name: &str,
    url: &str,
    schema: Option<SchemaRef>,
    partition_cols: Vec<(String, DataType)>,
) -> Result<()> {
    let table_url = ListingTableUrl::parse(url)?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_cols);
    let state = ctx.state();
    let schema = match schema {
        Some(s) => s,
        None => options.infer_schema(&state, &table_url).await?,
    };
    let config = ListingTableConfig::new(table_url)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// Registers the loaded tables; returns their names.
pub async fn register_loaded(
    ctx: &SessionContext,
    warehouse: &Warehouse,
) -> Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for table in schema::TABLES {
        // A folder with no files yet reads as an empty table of the fixed schema (and, unlike an
        // in-memory table, can be shipped to Ballista executors).
        register_parquet_dir(
            ctx,
            table,
            &warehouse.url_of(&format!("raw/{table}/")),
            Some(schema::for_table(table)),
            vec![],
        )
        .await?;
        names.insert(table.to_string());
    }
    Ok(names)
}
