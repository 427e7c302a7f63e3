//! `clearsight check` and `clearsight docs`: the models planned without data.

use super::output::say;
use super::Context;
use crate::error::{exit, Result};

/// `clearsight check`: plans every model, reads no data; exit 1 when a model does not check.
pub async fn check(ctx: &Context) -> Result<i32> {
    let report = crate::run::check::check(&ctx.project, &ctx.local_session()?).await?;
    if ctx.json {
        let models: Vec<serde_json::Value> = report
            .planned
            .iter()
            .map(|(name, schema)| {
                let columns: Vec<serde_json::Value> = schema
                    .fields()
                    .iter()
                    .map(|f| serde_json::json!({"name": f.name(), "type": crate::run::check::sql_type(f.data_type())}))
                    .collect();
                serde_json::json!({"model": name, "columns": columns})
            })
            .collect();
        let problems: Vec<serde_json::Value> = report
            .problems
            .iter()
            .map(|p| serde_json::json!({"model": p.model, "file": p.file, "message": p.message}))
            .collect();
        say!(
            "{}",
            serde_json::json!({"models": models, "problems": problems})
        );
    }
    for p in &report.problems {
        eprintln!("{}: {}: {}", p.file, p.model, p.message);
    }
    ctx.progress.line(&format!(
        "{} models planned, {} do not check",
        report.planned.len(),
        report.problems.len()
    ));
    Ok(if report.problems.is_empty() {
        exit::OK
    } else {
        exit::MODEL_FAILURE
    })
}

/// `run` and `build` check every model first and build nothing when one does not check.
pub async fn check_first(ctx: &Context) -> Result<()> {
    let report = crate::run::check::check(&ctx.project, &ctx.local_session()?).await?;
    match report.problems.first() {
        None => Ok(()),
        Some(first) => Err(crate::Error::Model {
            model: first.model.clone(),
            file: first.file.clone().into(),
            message: report
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.model, p.message))
                .collect::<Vec<_>>()
                .join("\n  "),
        }),
    }
}

/// `clearsight docs --html FILE`: the data dictionary.
pub async fn docs(ctx: &Context, html: &std::path::Path) -> Result<i32> {
    let page = crate::docs::page(&ctx.project, &ctx.local_session()?).await?;
    super::output::write_whole(html, page.as_bytes())?;
    ctx.progress
        .line(&format!("data dictionary written to {}", html.display()));
    Ok(exit::OK)
}
