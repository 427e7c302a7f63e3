//! `clearsight report --html FILE`: one self-contained HTML file (no network needed to open it)
//! over the published marts: channel table, CPL rank vs ROI rank, funnel per channel, monthly
//! spend vs attributed revenue, the same channels under every attribution model, match coverage
//! and KPI attainment. Charts are inline SVG. Every number cell carries its exact value in
//! `data-value`, so tests can compare the page with the mart.

mod html;
mod svg;

use datafusion::arrow::util::display::array_value_to_string;
use datafusion::prelude::SessionContext;

use crate::error::Result;

/// A cell of a report table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Number(f64),
    Text(String),
}

impl Cell {
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Number(v) => Some(*v),
            _ => None,
        }
    }
    pub fn text(&self) -> String {
        match self {
            Cell::Null => String::new(),
            Cell::Number(v) => v.to_string(),
            Cell::Text(t) => t.clone(),
        }
    }
}

/// The result of one query: column names and rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn col(&self, name: &str) -> usize {
        self.columns
            .iter()
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("report query has no column {name}"))
    }
}

pub async fn table(ctx: &SessionContext, sql: &str) -> Result<Table> {
    let df = ctx.sql(sql).await?;
    let columns: Vec<String> = df
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let batches = df.collect().await?;
    let mut rows = Vec::new();
    for b in &batches {
        for r in 0..b.num_rows() {
            let row = b
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(r) {
                        Cell::Null
                    } else if c.data_type().is_numeric() {
                        Cell::Number(
                            array_value_to_string(c, r)
                                .ok()
                                .and_then(|s| s.parse().ok())
                                .unwrap_or(f64::NAN),
                        )
                    } else {
                        Cell::Text(array_value_to_string(c, r).unwrap_or_default())
                    }
                })
                .collect();
            rows.push(row);
        }
    }
    Ok(Table { columns, rows })
}

/// Everything the report shows.
pub struct ReportData {
    pub model: String,
    /// The myopia window of the channel table (`all`, `2024-03`, a named window).
    pub window: String,
    pub run_id: String,
    pub channels: Table,
    pub funnel: Table,
    pub trend: Table,
    pub models: Table,
    pub coverage: Table,
    pub kpis: Table,
}

/// Reads the report's data from the published marts, for one attribution model.
pub async fn gather(
    ctx: &SessionContext,
    model: &str,
    window: &str,
    run_id: &str,
) -> Result<ReportData> {
    let w = window.replace('\'', "''");
    let m = model.replace('\'', "''");
    Ok(ReportData {
        model: model.to_string(),
        window: window.to_string(),
        run_id: run_id.to_string(),
        channels: table(ctx, &format!(
            "SELECT channel, spend, leads, sqls, cpl, cost_per_sql, cac, revenue, roi, cpl_rank, roi_rank, myopia_flag
             FROM myopia WHERE \"window\" = '{w}' AND attribution_model = '{m}' AND level = 'channel' ORDER BY revenue DESC, channel")).await?,
        funnel: table(ctx, &format!(
            "SELECT channel, SUM(leads) AS leads, SUM(mqls) AS mqls, SUM(sqls) AS sqls, SUM(opportunities) AS opportunities, SUM(won_deals) AS won_deals
             FROM pipeline_metrics WHERE attribution_model = '{m}' GROUP BY channel HAVING SUM(leads) > 0 ORDER BY leads DESC, channel")).await?,
        trend: table(ctx, &format!(
            "SELECT CAST(month AS VARCHAR) AS month, SUM(spend) AS spend, SUM(revenue) AS revenue
             FROM pipeline_metrics WHERE attribution_model = '{m}' GROUP BY month ORDER BY month")).await?,
        models: table(ctx,
            "SELECT channel, attribution_model, SUM(revenue) AS revenue FROM pipeline_metrics
             GROUP BY channel, attribution_model ORDER BY channel, attribution_model").await?,
        coverage: table(ctx,
            "SELECT CAST(month AS VARCHAR) AS month, SUM(leads) AS leads, SUM(matched_leads) / NULLIF(SUM(leads), 0) AS lead_match_rate,
                    SUM(pipeline * COALESCE(pipeline_match_rate, 0)) / NULLIF(SUM(pipeline), 0) AS pipeline_match_rate,
                    SUM(revenue * COALESCE(revenue_match_rate, 0)) / NULLIF(SUM(revenue), 0) AS revenue_match_rate
             FROM match_coverage GROUP BY month ORDER BY month").await?,
        kpis: table(ctx,
            "SELECT CAST(month AS VARCHAR) AS month, metric, kind, target, actual, attainment FROM kpi_attainment ORDER BY month, kind, metric").await?,
    })
}

/// The whole page.
pub fn render(data: &ReportData) -> String {
    html::page(data)
}
