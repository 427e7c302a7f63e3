//! A model is one `.sql` file under `queries/` with a YAML header in its leading `--` comments:
//!
//! ```sql
//! -- version: 1
//! -- materialized: table          # table (default) | view | incremental
//! -- partition_by: month          # a DATE column; hive partitions by month or day
//! -- tests:
//! --   - not_null: [lead_id]
//! --   - unique: [lead_id]
//! --   - accepted_values: {column: match_method, values: [client_id, gclid]}
//! --   - relationships: {column: lead_id, to: stg_leads, field: lead_id}
//! --   - row_count: {min: 1}
//! --   - assert: "SELECT * FROM this WHERE leads < 0"   # fails when it returns rows
//! SELECT ...
//! ```
//!
//! Its name is the file stem. Its dependencies are the tables its SQL reads (DataFusion's
//! table-reference resolution; CTE names are not dependencies).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use datafusion::sql::parser::DFParser;
use datafusion::sql::resolve::resolve_table_references;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Materialization {
    #[default]
    Table,
    View,
    Incremental,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DataTest {
    NotNull(Vec<String>),
    Unique(Vec<String>),
    AcceptedValues {
        column: String,
        values: Vec<String>,
    },
    Relationships {
        column: String,
        to: String,
        field: String,
    },
    RowCount {
        #[serde(default)]
        min: Option<u64>,
        #[serde(default)]
        max: Option<u64>,
    },
    /// SQL returning the failing rows; `this` names the model's staged output.
    Assert(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub version: u32,
    #[serde(default)]
    pub materialized: Materialization,
    #[serde(default)]
    pub partition_by: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, with = "serde_yaml::with::singleton_map_recursive")]
    pub tests: Vec<DataTest>,
    /// The column contract: `check` and `run` fail a model whose output differs.
    #[serde(default)]
    pub columns: Vec<ColumnContract>,
}

/// One contracted output column: `{name: spend, type: DOUBLE, description: ..., not_null: true}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnContract {
    pub name: String,
    #[serde(rename = "type")]
    pub data_type: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Shorthand for a `not_null` test of this column.
    #[serde(default)]
    pub not_null: bool,
}

#[derive(Debug, Clone)]
pub struct Model {
    pub name: String,
    pub file: PathBuf,
    pub header: Header,
    /// The SQL body (header comments included; they are comments).
    pub sql: String,
    /// Tables the SQL reads, lower-cased.
    pub reads: BTreeSet<String>,
    /// A test file (`queries/tests/*.sql`): an assertion returning failing rows, not a model;
    /// its leading comments are free text.
    pub is_test: bool,
    /// The layer of its folder under `queries/`.
    pub layer: Layer,
}

/// A model's layer, from its folder (dbt's convention; what each may read is in
/// [`super::dag::check_layers`] and docs/rulings.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// `queries/staging/`: one source's rows cleaned; reads loaded tables and settings.
    Staging,
    /// `queries/intermediate/`: business logic; reads staging and intermediate models.
    Intermediate,
    /// `queries/marts/`: what BI tools read; reads any model, never a loaded table.
    Mart,
    /// Anywhere else (`queries/tests/`, a flat `queries/`): no rule.
    Unlayered,
}

impl Layer {
    /// The layer of a model file, from the folder holding it.
    pub fn of(file: &Path) -> Layer {
        let folder = file.parent().and_then(|p| p.file_name());
        match folder.and_then(|f| f.to_str()) {
            Some("staging") => Layer::Staging,
            Some("intermediate") => Layer::Intermediate,
            Some("marts") => Layer::Mart,
            _ => Layer::Unlayered,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Layer::Staging => "staging",
            Layer::Intermediate => "intermediate",
            Layer::Mart => "mart",
            Layer::Unlayered => "unlayered",
        }
    }
}

/// The leading `--` comment block, as YAML.
fn header_yaml(sql: &str) -> String {
    sql.lines()
        .take_while(|l| l.trim_start().starts_with("--") || l.trim().is_empty())
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Tables referenced by one SQL statement, lower-cased, CTEs excluded.
pub fn table_references(sql: &str, file: &Path) -> Result<BTreeSet<String>> {
    let mut statements = DFParser::parse_sql(sql).map_err(|e| Error::Model {
        model: stem(file),
        file: file.to_path_buf(),
        message: format!("SQL does not parse: {e}"),
    })?;
    if statements.len() != 1 {
        return Err(Error::Model {
            model: stem(file),
            file: file.to_path_buf(),
            message: format!(
                "a model is exactly one SQL statement, found {}",
                statements.len()
            ),
        });
    }
    let statement = statements.pop_front().expect("one statement");
    let (tables, _ctes) = resolve_table_references(&statement, true)?;
    Ok(tables.iter().map(|t| t.table().to_lowercase()).collect())
}

fn stem(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().to_lowercase())
        .unwrap_or_default()
}

impl Model {
    pub fn parse(file: &Path, sql: String, is_test: bool) -> Result<Model> {
        let name = stem(file);
        let yaml = header_yaml(&sql);
        let header: Header = if is_test {
            Header {
                version: 1,
                materialized: Materialization::View,
                partition_by: None,
                description: None,
                tests: Vec::new(),
                columns: Vec::new(),
            }
        } else {
            serde_yaml::from_str(&yaml).map_err(|e| {
                Error::config(
                    file.display().to_string(),
                    format!("bad model header (expected `-- version: N` and friends): {e}"),
                )
            })?
        };
        if let Some(p) = &header.partition_by {
            if p.trim().is_empty() {
                return Err(Error::config(
                    file.display().to_string(),
                    "partition_by names no column",
                ));
            }
        }
        let mut header = header;
        let contracted: Vec<String> = header
            .columns
            .iter()
            .filter(|c| c.not_null)
            .map(|c| c.name.clone())
            .collect();
        if !contracted.is_empty() {
            header.tests.push(DataTest::NotNull(contracted));
        }
        let reads = table_references(&sql, file)?;
        Ok(Model {
            name,
            file: file.to_path_buf(),
            header,
            sql,
            reads,
            is_test,
            layer: if is_test {
                Layer::Unlayered
            } else {
                Layer::of(file)
            },
        })
    }

    /// The SQL as one statement to wrap in a subquery (no trailing `;`).
    pub fn statement(&self) -> &str {
        self.sql.trim().trim_end_matches(';')
    }

    /// Where the published output lives, relative to `marts/`.
    pub fn output_dir(&self) -> String {
        format!("{}/v{}", self.name, self.header.version)
    }
}

/// Every model under `queries/` (any depth), and the test files under `queries/tests/`.
pub fn discover(queries: &Path) -> Result<Vec<Model>> {
    let mut files = Vec::new();
    collect_sql(queries, &mut files)?;
    files.sort();
    let mut models = Vec::new();
    for file in files {
        let sql = std::fs::read_to_string(&file)?;
        let is_test = file
            .parent()
            .and_then(|p| p.file_name())
            .is_some_and(|n| n == "tests");
        models.push(Model::parse(&file, sql, is_test)?);
    }
    let mut seen = BTreeSet::new();
    for m in &models {
        if !seen.insert(m.name.clone()) {
            return Err(Error::Graph(format!(
                "two files define model {:?} (file names must be unique under queries/)",
                m.name
            )));
        }
    }
    Ok(models)
}

fn collect_sql(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::config(
            dir.display().to_string(),
            format!("cannot list models: {e}"),
        )
    })?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_sql(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "sql") {
            out.push(path);
        }
    }
    Ok(())
}
