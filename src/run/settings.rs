//! The settings of `config/` as small `cfg_*` tables, so model SQL needs no templating: each
//! is validated here (an unknown zone, metric or window is a configuration error) and written
//! once per distinct settings as Parquet under `_config/<hash>/`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Array, Float64Array, Int64Array, IntervalDayTimeArray, RecordBatch, StringArray,
};
use arrow::datatypes::IntervalDayTime;
use arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::prelude::SessionContext;
use serde::{Deserialize, Serialize};

use super::tables::register_parquet_dir;
use crate::config::Project;
use crate::error::{Error, Result};
use crate::load::values;
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
        .filter_map(|h| crate::page_url::host(h))
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
    let mut tables = lead_tables(&m)?;
    tables.extend(channel_tables(&m)?);
    tables.extend([
        ("cfg_targets", target_table(&t)?),
        ("cfg_metrics", metric_table()?),
        ("cfg_myopia_windows", window_table(&m.myopia_windows)?),
        (
            "cfg_conversion_names",
            conversion_name_table(&m.conversion_names)?,
        ),
        ("cfg_attribution_models", attribution_model_table()?),
    ]);
    Ok(tables)
}

/// `cfg_settings`, `cfg_own_hosts`, and how a lead's CRM status reads (`cfg_spam_statuses`,
/// `cfg_status_stages`).
fn lead_tables(m: &MartSettings) -> Result<Vec<(&'static str, RecordBatch)>> {
    let stages: Vec<(String, &str)> = (lower(&m.mql_statuses).into_iter())
        .map(|s| (s, "mql"))
        .chain(lower(&m.sql_statuses).into_iter().map(|s| (s, "sql")))
        .collect();
    Ok(vec![
        (
            "cfg_settings",
            mem_table(vec![
                (
                    "lookback_days",
                    Arc::new(Int64Array::from(vec![m.lookback_days])),
                ),
                // The same window as an interval, for `created_at - c.lookback`.
                (
                    "lookback",
                    Arc::new(IntervalDayTimeArray::from(vec![IntervalDayTime::new(
                        lookback_days_i32(m)?,
                        0,
                    )])),
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
        (
            "cfg_status_stages",
            mem_table(vec![
                ("status", text(stages.iter().map(|s| s.0.clone()).collect())),
                (
                    "stage",
                    text(stages.iter().map(|s| s.1.to_string()).collect()),
                ),
            ])?,
        ),
    ])
}

/// `lookback_days` as an interval's day count (checked: 0 to 10 years).
fn lookback_days_i32(m: &MartSettings) -> Result<i32> {
    (0..=3660)
        .contains(&m.lookback_days)
        .then_some(m.lookback_days as i32)
        .ok_or_else(|| {
            Error::config(
                "config/mart.yaml",
                format!(
                    "lookback_days: {} is not between 0 and 3660",
                    m.lookback_days
                ),
            )
        })
}

/// A `key: channel` mapping of mart.yaml as a (key, channel) table, keys lower-cased.
fn channel_map(key: &str, map: &BTreeMap<String, String>) -> Result<RecordBatch> {
    mem_table(vec![
        (
            key,
            text(map.keys().map(|k| k.trim().to_lowercase()).collect()),
        ),
        ("channel", text(map.values().cloned().collect())),
    ])
}

/// How spend and CRM lead sources map to channels (SPEC 2).
fn channel_tables(m: &MartSettings) -> Result<Vec<(&'static str, RecordBatch)>> {
    let o = &m.campaign_channel_overrides;
    let lowered = |f: fn(&CampaignOverride) -> &String| {
        text(o.iter().map(|x| f(x).trim().to_lowercase()).collect())
    };
    Ok(vec![
        (
            "cfg_platform_channels",
            channel_map("platform", &m.platform_channels)?,
        ),
        (
            "cfg_campaign_overrides",
            mem_table(vec![
                ("platform", lowered(|x| &x.platform)),
                ("campaign_contains", lowered(|x| &x.campaign_contains)),
                (
                    "channel",
                    text(o.iter().map(|x| x.channel.clone()).collect()),
                ),
            ])?,
        ),
        (
            "cfg_lead_source_channels",
            channel_map("lead_source", &m.lead_source_channels)?,
        ),
    ])
}

/// `cfg_conversion_names`: the ad platforms' conversion action of each CRM stage (SPEC 9).
fn conversion_name_table(names: &ConversionNames) -> Result<RecordBatch> {
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
    ])
}

/// `cfg_attribution_models`: the attribution models of SPEC 6 ([`crate::ATTRIBUTION_MODELS`]),
/// with the order reports show them in. Models cross-join it rather than list the models.
fn attribution_model_table() -> Result<RecordBatch> {
    let models = crate::ATTRIBUTION_MODELS;
    mem_table(vec![
        (
            "attribution_model",
            text(models.iter().map(|m| m.to_string()).collect()),
        ),
        (
            "display_order",
            Arc::new(Int64Array::from_iter_values(1..=models.len() as i64)),
        ),
    ])
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
        if crate::udf::kpi::metric(&target.metric).is_none() {
            let known: Vec<&str> = crate::udf::kpi::METRICS.iter().map(|m| m.name).collect();
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
    let metrics = crate::udf::kpi::METRICS;
    let column = |f: fn(&crate::udf::kpi::Metric) -> &'static str| {
        text(metrics.iter().map(|m| f(m).to_string()).collect())
    };
    mem_table(vec![
        ("metric", column(|m| m.name)),
        ("kind", column(|m| m.kind)),
        ("better", column(|m| m.better)),
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
