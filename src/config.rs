//! Project configuration: `config/sources.yaml` (what to load, where the warehouse is) and
//! `config/mart.yaml`, `config/channel_rules.yaml`, `config/targets.yaml` (the settings the
//! SQL models read as `cfg_*` tables).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The kinds of raw extract the loader understands (SPEC section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    Ga4Json,
    Ga4Parquet,
    SalesforceLeads,
    SalesforceOpportunities,
    HubspotContacts,
    HubspotDeals,
    GoogleAds,
    MetaAds,
    LinkedinAds,
    GenericSpend,
}

impl SourceKind {
    /// The canonical warehouse table this kind of extract loads into.
    pub fn table(self) -> &'static str {
        match self {
            SourceKind::Ga4Json | SourceKind::Ga4Parquet => "ga_events",
            SourceKind::SalesforceLeads | SourceKind::HubspotContacts => "crm_leads",
            SourceKind::SalesforceOpportunities | SourceKind::HubspotDeals => "crm_opportunities",
            SourceKind::GoogleAds
            | SourceKind::MetaAds
            | SourceKind::LinkedinAds
            | SourceKind::GenericSpend => "ad_spend",
        }
    }
}

/// One configured source: a kind, a path or URL (a `*` in the file name matches many files)
/// and, for CRM extracts, the names of the custom fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub kind: SourceKind,
    pub path: String,
    #[serde(default)]
    pub fields: FieldMap,
    /// Spend platform name for exports that do not carry one (Google Ads, Meta, LinkedIn).
    #[serde(default)]
    pub platform: Option<String>,
    /// The text encoding when the file has no BOM (a WHATWG label such as `windows-1252`);
    /// without it, UTF-8 when the bytes are valid UTF-8, else Windows-1252.
    #[serde(default)]
    pub encoding: Option<String>,
    /// `"."` (default) or `","`: with `","`, `1.234,56` is 1234.56.
    #[serde(default)]
    pub decimal_separator: DecimalSeparator,
}

/// The decimal separator of a source's numbers (SPEC section 8, Numbers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DecimalSeparator {
    /// `1,234.56`: a comma separates thousands.
    #[default]
    #[serde(rename = ".")]
    Dot,
    /// `1.234,56` or `1 234,56`: a dot or a space separates thousands.
    #[serde(rename = ",")]
    Comma,
}

/// Custom CRM field names (SPEC section 2): which column holds what.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    pub ga_client_id: Option<String>,
    pub gclid: Option<String>,
    pub utm_source: Option<String>,
    pub utm_medium: Option<String>,
    pub utm_campaign: Option<String>,
    pub mql_date: Option<String>,
    pub sql_date: Option<String>,
    pub lead_source: Option<String>,
}

/// `engine:` in `config/sources.yaml`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// `local` (default) or `ballista`.
    pub kind: Option<String>,
    /// The Ballista scheduler, `df://HOST:PORT`.
    pub scheduler: Option<String>,
}

/// `config/sources.yaml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    /// A folder (relative to the project) or an object-store URL.
    #[serde(default = "default_warehouse")]
    pub warehouse: String,
    /// Where the models run (flags and `CLEARSIGHT_ENGINE` / `CLEARSIGHT_SCHEDULER` override it).
    #[serde(default)]
    pub engine: EngineConfig,
    #[serde(default = "default_currency")]
    pub reporting_currency: String,
    /// Units of reporting currency per unit of the named currency.
    #[serde(default)]
    pub currency_rates: BTreeMap<String, f64>,
    pub sources: Vec<Source>,
}

fn default_warehouse() -> String {
    "warehouse".into()
}
fn default_currency() -> String {
    "USD".into()
}

impl SourcesConfig {
    /// What serde cannot check: each named encoding exists.
    pub fn validate(&self, path: &Path) -> Result<()> {
        for source in &self.sources {
            if let Some(label) = &source.encoding {
                crate::load::text::named_encoding(label).map_err(|message| {
                    Error::config(
                        path.display().to_string(),
                        format!("source {}: {message}", source.path),
                    )
                })?;
            }
        }
        Ok(())
    }

    /// Reporting-currency units per unit of `currency`; `None` for an unknown currency.
    pub fn rate(&self, currency: &str) -> Option<f64> {
        let c = currency.trim().to_ascii_uppercase();
        if c.is_empty() || c == self.reporting_currency.to_ascii_uppercase() {
            return Some(1.0);
        }
        self.currency_rates
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(&c))
            .map(|(_, v)| *v)
    }
}

/// A loaded project: its folder and parsed configuration.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub sources: SourcesConfig,
    /// Raw text of every config file, by file name: the settings fingerprint and `cfg_*` tables.
    pub config_files: BTreeMap<String, String>,
}

impl Project {
    /// Reads `DIR/config/*.yaml`.
    pub fn open(dir: &Path) -> Result<Self> {
        let config_dir = dir.join("config");
        let sources_path = config_dir.join("sources.yaml");
        let sources: SourcesConfig = read_yaml(&sources_path)?;
        sources.validate(&sources_path)?;
        let mut config_files = BTreeMap::new();
        let entries = std::fs::read_dir(&config_dir).map_err(|e| {
            Error::config(
                config_dir.display().to_string(),
                format!("cannot list: {e}"),
            )
        })?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                config_files.insert(name, std::fs::read_to_string(&path)?);
            }
        }
        Ok(Project {
            dir: dir.to_path_buf(),
            sources,
            config_files,
        })
    }

    /// The warehouse location as a URL string (`file:///abs/path`, `s3://…`, `memory://…`).
    pub fn warehouse_url(&self) -> String {
        resolve_location(&self.dir, &self.sources.warehouse)
    }

    pub fn queries_dir(&self) -> PathBuf {
        self.dir.join("queries")
    }

    /// Parses one settings file of `config/`, by name.
    pub fn settings<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T> {
        let text = self
            .config_files
            .get(name)
            .ok_or_else(|| Error::config(format!("config/{name}"), "file is missing"))?;
        serde_yaml::from_str(text)
            .map_err(|e| Error::config(format!("config/{name}"), e.to_string()))
    }
}

/// A path relative to `base`, or a URL, as a URL string.
pub fn resolve_location(base: &Path, location: &str) -> String {
    if location.contains("://") {
        return location.trim_end_matches('/').to_string();
    }
    let p = Path::new(location);
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let abs = std::path::absolute(&abs).unwrap_or(abs);
    format!("file://{}", abs.display())
        .trim_end_matches('/')
        .to_string()
}

pub fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::config(path.display().to_string(), format!("cannot read: {e}")))?;
    serde_yaml::from_str(&text)
        .map_err(|e| Error::config(path.display().to_string(), e.to_string()))
}
