//! The report page: sections, tables and number formatting.

use super::{Cell, ReportData, Table};

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn grouped(v: f64, decimals: usize) -> String {
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    let sign = if v < 0.0 { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{out}")
    } else {
        format!("{sign}{out}.{frac}")
    }
}

/// The sign written before amounts of the reporting currency (its code otherwise).
pub fn currency_sign(code: &str) -> String {
    match code.to_ascii_uppercase().as_str() {
        "USD" | "AUD" | "CAD" | "NZD" => "$".into(),
        "EUR" => "€".into(),
        "GBP" => "£".into(),
        "JPY" => "¥".into(),
        "INR" => "₹".into(),
        other => format!("{other} "),
    }
}

pub fn money(v: f64, sign: &str) -> String {
    let minus = if v < 0.0 { "-" } else { "" };
    format!("{minus}{sign}{}", grouped(v.abs(), 0))
}
pub fn count(v: f64) -> String {
    grouped(v, 1)
}

/// How a column is shown.
#[derive(Clone, Copy)]
enum Format {
    Text,
    Money,
    Count,
    Ratio,
    Percent,
    Rank,
}

fn format_for(column: &str) -> Format {
    match column {
        "spend" | "revenue" | "cpl" | "cost_per_sql" | "cac" | "pipeline" => Format::Money,
        "median_days_to_sql" | "median_days_to_won" => Format::Count,
        model if crate::ATTRIBUTION_MODELS.contains(&model) => Format::Money,
        "leads" | "sqls" | "mqls" | "opportunities" | "won_deals" => Format::Count,
        "roi" | "target" | "actual" => Format::Ratio,
        "attainment" | "lead_match_rate" | "pipeline_match_rate" | "revenue_match_rate" => {
            Format::Percent
        }
        "cpl_rank" | "roi_rank" => Format::Rank,
        _ => Format::Text,
    }
}

fn cell(column: &str, value: &Cell, sign: &str) -> String {
    match value {
        Cell::Null => format!(r#"<td class="null" data-col="{column}">–</td>"#),
        Cell::Text(t) if t == "true" && column == "myopia_flag" => {
            format!(r#"<td class="flag" data-col="{column}">⚠ myopia</td>"#)
        }
        Cell::Text(t) if t == "false" && column == "myopia_flag" => {
            format!(r#"<td data-col="{column}"></td>"#)
        }
        Cell::Text(t) if t == "maturing" => {
            format!(r#"<td class="maturing" data-col="{column}">maturing</td>"#)
        }
        Cell::Text(t) => format!(r#"<td data-col="{column}">{}</td>"#, escape(t)),
        Cell::Number(v) => {
            let shown = match format_for(column) {
                Format::Money => money(*v, sign),
                Format::Count => count(*v),
                Format::Ratio => grouped(*v, 2),
                Format::Percent => format!("{:.1}%", v * 100.0),
                Format::Rank => format!("{v:.0}"),
                Format::Text => v.to_string(),
            };
            format!(r#"<td class="num" data-col="{column}" data-value="{v}">{shown}</td>"#)
        }
    }
}

/// A table whose rows are keyed by their leading text columns (`data-key`); a click on a
/// header sorts it (the page's script).
pub fn html_table(class: &str, t: &Table, sign: &str) -> String {
    let mut out = format!(r#"<table class="{class} sortable"><thead><tr>"#);
    for c in &t.columns {
        out += &format!("<th>{}</th>", escape(&c.replace('_', " ")));
    }
    out += "</tr></thead><tbody>";
    for row in &t.rows {
        let key = row
            .iter()
            .take_while(|c| matches!(c, Cell::Text(_)))
            .map(Cell::text)
            .collect::<Vec<_>>()
            .join("|");
        out += &format!(r#"<tr data-key="{}">"#, escape(&key));
        for (c, v) in t.columns.iter().zip(row) {
            out += &cell(c, v, sign);
        }
        out += "</tr>";
    }
    out + "</tbody></table>"
}

/// Revenue per channel (rows) under each attribution model (columns).
fn model_comparison(t: &Table) -> Table {
    let (ch, model, rev) = (
        t.col("channel"),
        t.col("attribution_model"),
        t.col("revenue"),
    );
    let models = crate::ATTRIBUTION_MODELS;
    let mut channels: Vec<String> = t.rows.iter().map(|r| r[ch].text()).collect();
    channels.dedup();
    let mut out = Table {
        columns: std::iter::once("channel".to_string())
            .chain(models.iter().map(|m| m.to_string()))
            .collect(),
        rows: vec![],
    };
    for c in channels {
        let mut row = vec![Cell::Text(c.clone())];
        for m in models {
            let v = t
                .rows
                .iter()
                .find(|r| r[ch].text() == c && r[model].text() == m)
                .map_or(Cell::Null, |r| r[rev].clone());
            row.push(v);
        }
        out.rows.push(row);
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1200px}\
h1{margin-bottom:0}.sub{color:#666;margin-top:.2rem}section{margin:2rem 0}table{border-collapse:collapse;font-size:14px}\
th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}th{cursor:pointer}td.num{text-align:right;font-variant-numeric:tabular-nums}\
td.flag{color:#c0392b;font-weight:600}td.null{color:#aaa;text-align:right}.chart text{font-size:11px;fill:#333}\
.chart .note{fill:#c0392b}.charts{display:flex;gap:2rem;flex-wrap:wrap;align-items:flex-start}\
.view,.model-view{display:none}.view.active,.model-view.active{display:block}.pickers{margin:1rem 0;display:flex;gap:2rem}\
td.maturing{color:#e67e22}";

pub fn page(d: &ReportData) -> String {
    let sign = currency_sign(&d.currency);
    let options = |values: &[String], chosen: &str| -> String {
        values
            .iter()
            .map(|v| {
                let selected = if v == chosen { " selected" } else { "" };
                format!(
                    r#"<option value="{v}"{selected}>{v}</option>"#,
                    v = escape(v)
                )
            })
            .collect()
    };
    let models: Vec<String> = crate::ATTRIBUTION_MODELS
        .iter()
        .map(|m| m.to_string())
        .collect();
    let views: String = d
        .views
        .iter()
        .map(|v| super::views::view(v, d, &sign))
        .collect();
    let model_views: String = d
        .model_views
        .iter()
        .map(|v| super::views::model_view(v, d, &sign))
        .collect();
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Clearsight: channels by pipeline and revenue</title><style>{STYLE}</style></head><body>
<h1>Channels by pipeline and revenue</h1><p class="sub">run <code>{run}</code> · money in {currency}</p>
<div class="pickers"><label>Attribution model <select id="model-picker">{model_options}</select></label>
<label>Myopia window <select id="window-picker">{window_options}</select></label></div>
{views}{model_views}
<section class="models"><h2>The same channels under every model (revenue)</h2>{comparison}</section>
<section><h2>Cohort maturity</h2><p class="sub">Median days from lead to SQL and to a won deal, by first-touch channel. {maturing}</p>{maturity}</section>
<section><h2>Match coverage</h2><p class="sub">Share of leads, pipeline and revenue matched to web sessions.</p>{coverage}</section>
<section><h2>KPI attainment</h2>{kpis}</section>
<script>{script}</script>
</body></html>
"#,
        run = escape(&d.run_id),
        currency = escape(&d.currency),
        model_options = options(&models, &d.model),
        window_options = options(&d.windows, &d.window),
        comparison = html_table("models", &model_comparison(&d.models), &sign),
        maturity = html_table("maturity", &d.maturity, &sign),
        maturing = super::views::maturing_note(d),
        coverage = html_table("coverage", &d.coverage, &sign),
        kpis = html_table("kpis", &d.kpis, &sign),
        script = super::views::SCRIPT,
    )
}
