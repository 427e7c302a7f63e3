//! `clearsight check`: every model planned, in DAG order, before any data is read: against the
//! loaded tables' canonical schemas, the settings tables and each upstream model's planned
//! schema; then each model's output compared with its column contract.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::model::{discover, Model};
use crate::config::Project;
use crate::error::Result;
use crate::warehouse::schema;

/// One model that does not check, with what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub model: String,
    pub file: String,
    pub message: String,
}

/// What `check` found: the models in graph order, the planned schema of every model that
/// planned, and the problems.
#[derive(Debug, Default)]
pub struct CheckReport {
    pub models: Vec<Model>,
    /// Indices into `models`, each after the models it reads.
    pub order: Vec<usize>,
    pub planned: Vec<(String, SchemaRef)>,
    pub problems: Vec<Problem>,
}

/// The contract's name of an Arrow type: the SQL type a BI user reads.
pub fn sql_type(t: &DataType) -> String {
    match t {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Float64 | DataType::Float32 => "DOUBLE".into(),
        DataType::Int64 | DataType::UInt64 => "BIGINT".into(),
        DataType::Int32 | DataType::Int16 | DataType::Int8 | DataType::UInt32 => "INT".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(..) => "TIMESTAMP".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p}, {s})"),
        other => other.to_string().to_uppercase(),
    }
}

/// The differences between a model's planned output and its contract (empty when it has none).
pub fn contract_differences(model: &Model, schema: &Schema) -> Vec<String> {
    let contract = &model.header.columns;
    if contract.is_empty() {
        return vec![];
    }
    let mut out = Vec::new();
    for c in contract {
        match schema.field_with_name(&c.name) {
            Err(_) => out.push(format!("missing column {}", c.name)),
            Ok(f) => {
                let got = sql_type(f.data_type());
                if !got.eq_ignore_ascii_case(c.data_type.trim()) {
                    out.push(format!(
                        "column {} is {got}, the contract says {}",
                        c.name, c.data_type
                    ));
                }
            }
        }
    }
    for f in schema.fields() {
        if !contract.iter().any(|c| &c.name == f.name()) {
            out.push(format!(
                "extra column {} ({})",
                f.name(),
                sql_type(f.data_type())
            ));
        }
    }
    out
}

fn empty_table(ctx: &SessionContext, name: &str, schema: SchemaRef) -> Result<()> {
    ctx.deregister_table(name)?;
    ctx.register_table(name, Arc::new(MemTable::try_new(schema, vec![vec![]])?))?;
    Ok(())
}

/// Plans every model of `project` on `ctx` (a fresh session: its tables are replaced by empty
/// ones). Reads no data; cycles and unknown tables are errors, as for `run`.
pub async fn check(project: &Project, ctx: &SessionContext) -> Result<CheckReport> {
    let models = discover(&project.queries_dir())?;
    let mut sources: BTreeSet<String> = schema::TABLES.iter().map(|t| t.to_string()).collect();
    for t in schema::TABLES {
        empty_table(ctx, t, schema::as_read(t))?;
    }
    for (name, batch) in super::settings::settings_tables(project)? {
        empty_table(ctx, name, batch.schema())?;
        sources.insert(name.to_string());
    }
    let order = super::dag::order(&models, &sources)?;
    let mut report = CheckReport::default();
    let mut failed: BTreeSet<String> = BTreeSet::new();
    for &i in &order {
        let m = &models[i];
        if m.is_test {
            continue;
        }
        let problem = |message: String| Problem {
            model: m.name.clone(),
            file: m.file.display().to_string(),
            message,
        };
        if let Some(up) = m.reads.iter().find(|r| failed.contains(*r)) {
            report.problems.push(problem(format!(
                "not checked: it reads {up}, which does not check"
            )));
            failed.insert(m.name.clone());
            continue;
        }
        match ctx.sql(m.statement()).await {
            Err(e) => {
                report.problems.push(problem(e.to_string()));
                failed.insert(m.name.clone());
            }
            Ok(df) => {
                let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
                let diffs = contract_differences(m, &schema);
                if !diffs.is_empty() {
                    report.problems.push(problem(format!(
                        "output differs from its contract: {}",
                        diffs.join("; ")
                    )));
                }
                empty_table(ctx, &m.name, schema.clone())?;
                report.planned.push((m.name.clone(), schema));
            }
        }
    }
    report.models = models;
    report.order = order;
    Ok(report)
}
