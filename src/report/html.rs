//! The report page: sections, tables and number formatting.

use super::{svg, Cell, ReportData, Table};

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

pub fn money(v: f64) -> String {
    format!("${}", grouped(v, 0))
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
        "first_touch" | "last_touch" | "linear" | "time_decay" | "position_based" | "w_shaped"
        | "data_driven" => Format::Money,
        "leads" | "sqls" | "mqls" | "opportunities" | "won_deals" => Format::Count,
        "roi" | "target" | "actual" => Format::Ratio,
        "attainment" | "lead_match_rate" | "pipeline_match_rate" | "revenue_match_rate" => {
            Format::Percent
        }
        "cpl_rank" | "roi_rank" => Format::Rank,
        _ => Format::Text,
    }
}

fn cell(column: &str, value: &Cell) -> String {
    match value {
        Cell::Null => format!(r#"<td class="null" data-col="{column}">–</td>"#),
        Cell::Text(t) if t == "true" => {
            format!(r#"<td class="flag" data-col="{column}">⚠ myopia</td>"#)
        }
        Cell::Text(t) if t == "false" => format!(r#"<td data-col="{column}"></td>"#),
        Cell::Text(t) => format!(r#"<td data-col="{column}">{}</td>"#, escape(t)),
        Cell::Number(v) => {
            let shown = match format_for(column) {
                Format::Money => money(*v),
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

/// A table whose rows are keyed by their first column (`data-key`).
fn html_table(id: &str, t: &Table) -> String {
    let mut out = format!(r#"<table id="{id}"><thead><tr>"#);
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
            out += &cell(c, v);
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

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#222;max-width:1100px}\
h1{margin-bottom:0}.sub{color:#666;margin-top:.2rem}section{margin:2rem 0}table{border-collapse:collapse;font-size:14px}\
th,td{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}\
td.flag{color:#c0392b;font-weight:600}td.null{color:#aaa;text-align:right}.chart text{font-size:11px;fill:#333}\
.chart .note{fill:#c0392b}.charts{display:flex;gap:2rem;flex-wrap:wrap;align-items:flex-start}.models th{writing-mode:horizontal-tb}";

pub fn page(d: &ReportData) -> String {
    let c = &d.channels;
    let (name, cpl_rank, roi_rank, flag) = (
        c.col("channel"),
        c.col("cpl_rank"),
        c.col("roi_rank"),
        c.col("myopia_flag"),
    );
    let points: Vec<(String, usize, usize, bool)> = c
        .rows
        .iter()
        .filter_map(|r| {
            Some((
                r[name].text(),
                r[cpl_rank].number()? as usize,
                r[roi_rank].number()? as usize,
                r[flag].text() == "true",
            ))
        })
        .collect();
    let flagged: Vec<String> = points.iter().filter(|p| p.3).map(|p| p.0.clone()).collect();
    let months: Vec<(String, f64, f64)> = d
        .trend
        .rows
        .iter()
        .map(|r| {
            (
                r[0].text(),
                r[1].number().unwrap_or(0.0),
                r[2].number().unwrap_or(0.0),
            )
        })
        .collect();
    let funnel: Vec<(String, [f64; 5])> = d
        .funnel
        .rows
        .iter()
        .map(|r| {
            (
                r[0].text(),
                [1, 2, 3, 4, 5].map(|i| r[i].number().unwrap_or(0.0)),
            )
        })
        .collect();
    let headline = if flagged.is_empty() {
        "No channel is cheap by cost per lead and poor by ROI.".to_string()
    } else {
        format!("KPI myopia: <strong>{}</strong> — in the cheaper half by cost per lead, the worse half by ROI.", escape(&flagged.join(", ")))
    };
    format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Clearsight: channels by pipeline and revenue</title><style>{STYLE}</style></head><body>
<h1>Channels by pipeline and revenue</h1><p class="sub">Attribution model <b id="model">{model}</b> · run <code>{run}</code> · myopia window <b id="window">{window}</b></p>
<p id="headline">{headline}</p>
<section><h2>Channels</h2>{channels}</section>
<section class="charts"><div><h2>CPL rank vs ROI rank</h2>{ranks}</div><div><h2>Funnel per channel</h2>{funnel_svg}</div></section>
<section><h2>Spend vs attributed revenue by month</h2>{trend_svg}{trend}</section>
<section class="models"><h2>The same channels under every model (revenue)</h2>{models}</section>
<section><h2>Match coverage</h2><p class="sub">Share of leads, pipeline and revenue matched to web sessions.</p>{coverage}</section>
<section><h2>KPI attainment</h2>{kpis}</section>
<section><h2>Funnel numbers</h2>{funnel}</section>
</body></html>
"#,
        model = escape(&d.model),
        run = escape(&d.run_id),
        window = escape(&d.window),
        channels = html_table("channels", c),
        ranks = svg::rank_chart(&points),
        funnel_svg = svg::funnel_chart(&funnel),
        trend_svg = svg::trend_chart(&months),
        trend = html_table("trend", &d.trend),
        models = html_table("models", &model_comparison(&d.models)),
        coverage = html_table("coverage", &d.coverage),
        kpis = html_table("kpis", &d.kpis),
        funnel = html_table("funnel", &d.funnel),
    )
}
