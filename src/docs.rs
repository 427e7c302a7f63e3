//! `clearsight docs --html FILE`: the models' data dictionary as one self-contained page: the
//! DAG as SVG, and per model its description, contracted columns (types, descriptions, the
//! columns each is computed from, with links to the models on the way) and its tests.

use std::collections::{BTreeMap, BTreeSet};

use datafusion::prelude::SessionContext;

use crate::config::Project;
use crate::error::Result;
use crate::report::escape;
use crate::run::lineage::{project_lineage, ColumnLineage, Lineage};
use crate::run::model::Model;

/// Depth of each model: 0 for one that reads only loaded and settings tables.
fn depths(models: &[Model]) -> BTreeMap<String, usize> {
    let names: BTreeSet<&str> = models
        .iter()
        .filter(|m| !m.is_test)
        .map(|m| m.name.as_str())
        .collect();
    let mut depth: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..models.len() {
        for m in models.iter().filter(|m| !m.is_test) {
            let d = m
                .reads
                .iter()
                .filter(|r| names.contains(r.as_str()))
                .map(|r| depth.get(r).copied().unwrap_or(0) + 1)
                .max()
                .unwrap_or(0);
            depth.insert(m.name.clone(), d);
        }
    }
    depth
}

fn dag_svg(models: &[Model]) -> String {
    let depth = depths(models);
    let mut at: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut per_layer: BTreeMap<usize, usize> = BTreeMap::new();
    for (name, d) in &depth {
        let row = per_layer.entry(*d).or_default();
        at.insert(
            name.clone(),
            (20.0 + *d as f64 * 200.0, 20.0 + *row as f64 * 34.0),
        );
        *row += 1;
    }
    let h = 40.0 + per_layer.values().max().copied().unwrap_or(1) as f64 * 34.0;
    let w = 40.0 + (depth.values().max().copied().unwrap_or(0) + 1) as f64 * 200.0;
    let mut out = format!(
        r#"<svg id="dag" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="model graph">"#
    );
    for m in models.iter().filter(|m| !m.is_test) {
        for r in &m.reads {
            if let (Some(a), Some(b)) = (at.get(r), at.get(&m.name)) {
                out += &format!(
                    r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#bbb"/>"##,
                    a.0 + 170.0,
                    a.1 + 11.0,
                    b.0,
                    b.1 + 11.0
                );
            }
        }
    }
    for (name, (x, y)) in &at {
        out += &format!(
            r##"<a href="#model-{n}"><rect x="{x}" y="{y}" width="170" height="22" rx="4" fill="#eef4fb" stroke="#2c7fb8"/><text x="{}" y="{}" font-size="11">{n}</text></a>"##,
            x + 6.0,
            y + 15.0,
            n = escape(name)
        );
    }
    out + "</svg>"
}

fn sources_of(l: Option<&ColumnLineage>, lineage: &Lineage) -> (String, String) {
    let Some(l) = l else {
        return (String::new(), String::new());
    };
    let loaded: Vec<String> = l
        .computed_from
        .iter()
        .filter(|(t, _)| !lineage.contains_key(t))
        .map(|(t, c)| format!("{t}.{c}"))
        .collect();
    let via: BTreeSet<&str> = l
        .computed_from
        .iter()
        .filter(|(t, _)| lineage.contains_key(t))
        .map(|(t, _)| t.as_str())
        .collect();
    let links: Vec<String> = via
        .iter()
        .map(|m| format!(r##"<a href="#model-{m}">{m}</a>"##, m = escape(m)))
        .collect();
    (escape(&loaded.join(", ")), links.join(" "))
}

fn model_section(m: &Model, lineage: &Lineage) -> String {
    let cols = lineage.get(&m.name);
    let mut rows = String::new();
    let contracted: Vec<(String, String, String)> = if m.header.columns.is_empty() {
        cols.map(|c| {
            c.iter()
                .map(|(n, _)| (n.clone(), String::new(), String::new()))
                .collect()
        })
        .unwrap_or_default()
    } else {
        m.header
            .columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.data_type.clone(),
                    c.description.clone().unwrap_or_default(),
                )
            })
            .collect()
    };
    for (name, ty, desc) in &contracted {
        let l = cols
            .and_then(|c| c.iter().find(|x| &x.0 == name))
            .map(|x| &x.1);
        let (from, via) = sources_of(l, lineage);
        rows += &format!(
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"from\">{from}</td><td>{via}</td></tr>",
            escape(name), escape(ty), escape(desc)
        );
    }
    let tests: Vec<String> = m
        .header
        .tests
        .iter()
        .map(|t| escape(&format!("{t:?}")))
        .collect();
    format!(
        r#"<section id="model-{n}"><h2>{n}</h2><p class="sub">{file} · version {v} · {mat:?}</p><p>{desc}</p>
<table><thead><tr><th>column</th><th>type</th><th>description</th><th>computed from (loaded and settings columns)</th><th>through models</th></tr></thead><tbody>{rows}</tbody></table>
<p class="sub">Tests: {tests}</p></section>"#,
        n = escape(&m.name),
        file = escape(
            &m.file
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        ),
        v = m.header.version,
        mat = m.header.materialized,
        desc = escape(m.header.description.as_deref().unwrap_or("")),
        tests = if tests.is_empty() {
            "none".into()
        } else {
            tests.join("; ")
        },
    )
}

/// The page for `project`, planned on `ctx` (no data read).
pub async fn page(project: &Project, ctx: &SessionContext) -> Result<String> {
    let (models, lineage) = project_lineage(project, ctx).await?;
    let marts_first = |m: &&Model| {
        (
            !m.file.to_string_lossy().contains("/marts/"),
            m.name.clone(),
        )
    };
    let mut shown: Vec<&Model> = models.iter().filter(|m| !m.is_test).collect();
    shown.sort_by_key(marts_first);
    let sections: String = shown.iter().map(|m| model_section(m, &lineage)).collect();
    Ok(format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Clearsight models: data dictionary</title><style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1300px}}table{{border-collapse:collapse;font-size:13px}}
th,td{{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}}.sub{{color:#666}}td.from{{font-size:11px;color:#555;max-width:420px}}
</style></head><body><h1>Models and their columns</h1><p class="sub">Marts first; every column with its contract and its lineage from the logical plans.</p>
{dag}{sections}</body></html>
"#,
        dag = dag_svg(&models)
    ))
}
