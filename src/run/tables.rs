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
    /// Named windows of consecutive months for `myopia` (SPEC section 8).
    #[serde(default)]
    pub myopia_windows: Vec<MyopiaWindow>,
    /// The ad platforms' conversion name of each stage (SPEC section 9).
    #[serde(default)]
    pub conversion_names: ConversionNames,
}

/// `conversion_names:` in `config/mart.yaml`, with SPEC section 9's defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConversionNames {
    pub sql: String,
    pub opportunity: String,
    pub won: String,
}

impl Default for ConversionNames {
    fn default() -> Self {
        ConversionNames {
            sql: "CRM SQL".into(),
            opportunity: "CRM Opportunity".into(),
            won: "CRM Closed Won".into(),
        }
    }
}

/// `{name: H1-2024, from: 2024-01, to: 2024-06}`: both months included.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MyopiaWindow {
    pub name: String,
    pub from: String,
    pub to: String,
}

/// Every targetable metric of `kpi_attainment`: name, KGI or KPI, and which way is better
/// (SPEC section 8: cost metrics and `spam_rate` are lower-is-better).
pub const METRICS: [(&str, &str, &str); 18] = [
    ("revenue", "KGI", "higher"),
    ("won_deals", "KGI", "higher"),
    ("pipeline", "KPI", "higher"),
    ("opportunities", "KPI", "higher"),
    ("sqls", "KPI", "higher"),
    ("mqls", "KPI", "higher"),
    ("leads", "KPI", "higher"),
    ("spend", "KPI", "higher"),
    ("cpl", "KPI", "lower"),
    ("cost_per_mql", "KPI", "lower"),
    ("cost_per_sql", "KPI", "lower"),
    ("cost_per_opportunity", "KPI", "lower"),
    ("cac", "KPI", "lower"),
    ("spam_rate", "KPI", "lower"),
    ("roas", "KPI", "higher"),
    ("roi", "KPI", "higher"),
    ("lead_to_sql_rate", "KPI", "higher"),
    ("win_rate", "KPI", "higher"),
];

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

/// A DATE column from days since 1970-01-01.
fn dates(values: impl Iterator<Item = Option<i32>>) -> ArrayRef {
    Arc::new(values.collect::<Date32Array>())
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

/// Own hosts normalised by the function that normalises referrer hosts (`url_host`:
/// lower-cased, a leading `www.` removed; SPEC 8), so `www.example.com` in config matches a
/// referrer from `example.com` or `www.example.com`.
fn own_hosts(hosts: &[String]) -> Vec<String> {
    let mut out: Vec<String> = hosts
        .iter()
        .filter_map(|h| crate::udf::url::host(h))
        .collect();
    out.sort();
    out.dedup();
    out
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
    let tables = settings_tables(project)?;
    write_settings(ctx, project, warehouse, tables).await
}

/// The `cfg_*` tables of the project's settings, in memory (validated: an unknown zone, metric
/// or window is a configuration error).
pub fn settings_tables(project: &Project) -> Result<Vec<(&'static str, RecordBatch)>> {
    let m: MartSettings = project.settings("mart.yaml")?;
    crate::udf::time::zone(&m.reporting_timezone)
        .map_err(|e| Error::config("config/mart.yaml", format!("reporting_timezone: {e}")))?;
    let t: Targets = project.settings("targets.yaml")?;
    let mut tables: Vec<(&'static str, RecordBatch)> = vec![
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
            mem_table(vec![("host", text(own_hosts(&m.own_hosts)))])?,
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
    tables.push(("cfg_targets", target_table(&t)?));
    tables.push(("cfg_metrics", metric_table()?));
    tables.push(("cfg_myopia_windows", window_table(&m.myopia_windows)?));
    let names = &m.conversion_names;
    tables.push((
        "cfg_conversion_names",
        mem_table(vec![
            (
                "stage",
                text(vec!["sql".into(), "opportunity".into(), "won".into()]),
            ),
            (
                "conversion_name",
                text(vec![
                    names.sql.clone(),
                    names.opportunity.clone(),
                    names.won.clone(),
                ]),
            ),
        ])?,
    ));
    Ok(tables)
}

/// One hash of the settings files (all of `config/` but `sources.yaml`): the models'
/// fingerprints and the `_config/<hash>/` folder both use it.
pub fn settings_fingerprint(project: &Project) -> String {
    let parts: Vec<&str> = project
        .config_files
        .iter()
        .filter(|(f, _)| *f != "sources.yaml")
        .flat_map(|(f, text)| [f.as_str(), text.as_str()])
        .collect();
    super::plan::hash_hex(&parts)
}

async fn write_settings(
    ctx: &SessionContext,
    project: &Project,
    warehouse: &Warehouse,
    tables: Vec<(&'static str, RecordBatch)>,
) -> Result<BTreeSet<String>> {
    let dir = format!("_config/{}", settings_fingerprint(project));
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

/// A `YYYY-MM` month of a settings file as its first day.
fn month_date(file: &str, what: &str, month: &str) -> Result<i32> {
    values::date(&format!("{month}-01"))
        .map(values::date32)
        .map_err(|_| Error::config(file, format!("{what}: {month:?} is not a month (YYYY-MM)")))
}

/// `cfg_targets`: metric, month (NULL for every month), target. An unknown metric is a
/// configuration error, not a target that silently matches nothing.
fn target_table(t: &Targets) -> Result<RecordBatch> {
    let file = "config/targets.yaml";
    let mut rows: Vec<(String, Option<i32>, f64)> = Vec::new();
    for target in &t.targets {
        if !METRICS.iter().any(|m| m.0 == target.metric) {
            let known: Vec<&str> = METRICS.iter().map(|m| m.0).collect();
            return Err(Error::config(
                file,
                format!(
                    "unknown metric {:?} (known: {})",
                    target.metric,
                    known.join(", ")
                ),
            ));
        }
        if let Some(v) = target.monthly {
            rows.push((target.metric.clone(), None, v));
        }
        for (month, v) in &target.months {
            let d = month_date(file, &target.metric, month)?;
            rows.push((target.metric.clone(), Some(d), *v));
        }
    }
    mem_table(vec![
        ("metric", text(rows.iter().map(|r| r.0.clone()).collect())),
        ("month", dates(rows.iter().map(|r| r.1))),
        (
            "target",
            Arc::new(Float64Array::from(
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            )),
        ),
    ])
}

/// `cfg_metrics`: every targetable metric, its kind and which way is better.
fn metric_table() -> Result<RecordBatch> {
    let column = |i: usize| {
        text(
            METRICS
                .iter()
                .map(|m| [m.0, m.1, m.2][i].to_string())
                .collect(),
        )
    };
    mem_table(vec![
        ("metric", column(0)),
        ("kind", column(1)),
        ("better", column(2)),
    ])
}

/// `cfg_myopia_windows`: name, from_month, to_month (first days, both included).
fn window_table(windows: &[MyopiaWindow]) -> Result<RecordBatch> {
    let file = "config/mart.yaml";
    let mut rows = Vec::new();
    for w in windows {
        let what = format!("myopia_windows {:?}", w.name);
        let (from, to) = (
            month_date(file, &what, &w.from)?,
            month_date(file, &what, &w.to)?,
        );
        if from > to {
            return Err(Error::config(
                file,
                format!("{what}: from {} is after to {}", w.from, w.to),
            ));
        }
        let reserved = w.name == "all" || month_date(file, &what, &w.name).is_ok();
        if reserved || w.name.trim().is_empty() {
            return Err(Error::config(
                file,
                format!("{what}: the name must not be empty, `all` or a month (those windows exist already)"),
            ));
        }
        rows.push((w.name.clone(), from, to));
    }
    mem_table(vec![
        ("name", text(rows.iter().map(|r| r.0.clone()).collect())),
        ("from_month", dates(rows.iter().map(|r| Some(r.1)))),
        ("to_month", dates(rows.iter().map(|r| Some(r.2)))),
    ])
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
