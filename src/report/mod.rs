//! `clearsight report --html FILE`: one self-contained HTML file (no network needed to open it)
//! over the published marts: channel table, CPL rank vs ROI rank, funnel per channel, monthly
//! spend vs attributed revenue, the same channels under every attribution model, match coverage
//! and KPI attainment. Charts are inline SVG. Every number cell carries its exact value in
//! `data-value`, so tests can compare the page with the mart.

mod html;
mod svg;

pub use html::escape;
mod views;

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

/// The parts of the page one attribution model and one myopia window decide.
pub struct View {
    pub model: String,
    pub window: String,
    /// Channel level of `myopia` (spend, leads, CPL, ranks, flag).
    pub channels: Table,
    /// Campaign level of `myopia`.
    pub campaigns: Table,
}

/// The parts of the page one attribution model decides.
pub struct ModelView {
    pub model: String,
    pub funnel: Table,
    /// month, spend, revenue.
    pub trend: Table,
}

/// Everything the report shows.
pub struct ReportData {
    /// The model and window shown first (the pickers switch between all of them).
    pub model: String,
    pub window: String,
    pub run_id: String,
    /// The reporting currency (`USD`, `EUR`, ...).
    pub currency: String,
    pub windows: Vec<String>,
    pub views: Vec<View>,
    pub model_views: Vec<ModelView>,
    pub models: Table,
    pub coverage: Table,
    pub kpis: Table,
    /// Per channel (first touch): median days lead -> SQL and lead -> won.
    pub maturity: Table,
    /// The median days from lead to won deal over every lead, and the last lead's day: the
    /// months whose leads are younger than that are still maturing.
    pub median_days_to_won: Option<f64>,
    pub last_lead_day: Option<String>,
}

/// The rows of `t` whose column `col` is `value`, without the columns in `drop`.
fn rows_where(t: &Table, filters: &[(&str, &str)], drop: &[&str]) -> Table {
    let keep: Vec<usize> = (0..t.columns.len())
        .filter(|&i| !drop.contains(&t.columns[i].as_str()))
        .collect();
    let idx: Vec<(usize, &str)> = filters.iter().map(|(c, v)| (t.col(c), *v)).collect();
    Table {
        columns: keep.iter().map(|&i| t.columns[i].clone()).collect(),
        rows: t
            .rows
            .iter()
            .filter(|r| idx.iter().all(|(i, v)| r[*i].text() == *v))
            .map(|r| keep.iter().map(|&i| r[i].clone()).collect())
            .collect(),
    }
}

const MYOPIA_SQL: &str =
    "SELECT attribution_model, \"window\", level, channel, campaign, spend, leads, cpl, sqls,
        cost_per_sql, cac, pipeline, revenue, roi, cpl_rank, roi_rank, myopia_flag
    FROM myopia ORDER BY attribution_model, \"window\", level, revenue DESC, channel, campaign";

const MATURITY_SQL: &str = "WITH first AS (
        SELECT t.channel, l.lead_id, l.created_at, l.sql_at, o.close_date, o.is_won
        FROM attribution_touchpoints t
        JOIN int_leads l ON l.lead_id = t.lead_id
        LEFT JOIN stg_opportunities o ON o.opportunity_id = l.opportunity_id
        WHERE t.attribution_model = 'first_touch' AND t.credit > 0)
    SELECT channel,
        MEDIAN((CAST(sql_at AS BIGINT) - CAST(created_at AS BIGINT)) / 86400000000.0) AS median_days_to_sql,
        MEDIAN(CASE WHEN is_won THEN CAST(close_date AS BIGINT) - CAST(CAST(created_at AS DATE) AS BIGINT) END) AS median_days_to_won
    FROM first GROUP BY channel ORDER BY channel";

/// Reads the report's data from the published marts: every attribution model and window.
pub async fn gather(
    ctx: &SessionContext,
    model: &str,
    window: &str,
    run_id: &str,
    currency: &str,
) -> Result<ReportData> {
    let myopia = table(ctx, MYOPIA_SQL).await?;
    let mut windows: Vec<String> = myopia.rows.iter().map(|r| r[1].text()).collect();
    windows.sort();
    windows.dedup();
    windows.sort_by_key(|w| w != "all");
    let mut views = Vec::new();
    for m in crate::ATTRIBUTION_MODELS {
        for w in &windows {
            let of = |level: &str| {
                rows_where(
                    &myopia,
                    &[("attribution_model", m), ("window", w), ("level", level)],
                    &["attribution_model", "window", "level"],
                )
            };
            let mut channels = of("channel");
            channels = rows_where(&channels, &[], &["campaign"]);
            views.push(View {
                model: m.to_string(),
                window: w.clone(),
                channels,
                campaigns: of("campaign"),
            });
        }
    }
    let funnel = table(ctx,
        "SELECT attribution_model, channel, SUM(leads) AS leads, SUM(mqls) AS mqls, SUM(sqls) AS sqls, SUM(opportunities) AS opportunities, SUM(won_deals) AS won_deals
         FROM pipeline_metrics GROUP BY attribution_model, channel HAVING SUM(leads) > 0 ORDER BY attribution_model, leads DESC, channel").await?;
    let trend = table(ctx,
        "SELECT attribution_model, CAST(month AS VARCHAR) AS month, SUM(spend) AS spend, SUM(revenue) AS revenue
         FROM pipeline_metrics GROUP BY attribution_model, month ORDER BY attribution_model, month").await?;
    let model_views = crate::ATTRIBUTION_MODELS
        .iter()
        .map(|m| ModelView {
            model: m.to_string(),
            funnel: rows_where(&funnel, &[("attribution_model", m)], &["attribution_model"]),
            trend: rows_where(&trend, &[("attribution_model", m)], &["attribution_model"]),
        })
        .collect();
    let overall = table(ctx,
        "SELECT MEDIAN(CASE WHEN o.is_won THEN CAST(o.close_date AS BIGINT) - CAST(CAST(l.created_at AS DATE) AS BIGINT) END) AS days,
                CAST(CAST(MAX(l.created_at) AS DATE) AS VARCHAR) AS last_day
         FROM int_leads l LEFT JOIN stg_opportunities o ON o.opportunity_id = l.opportunity_id").await?;
    Ok(ReportData {
        model: model.to_string(),
        window: window.to_string(),
        run_id: run_id.to_string(),
        currency: currency.to_string(),
        windows,
        views,
        model_views,
        models: table(ctx,
            "SELECT channel, attribution_model, SUM(revenue) AS revenue FROM pipeline_metrics
             GROUP BY channel, attribution_model ORDER BY channel, attribution_model").await?,
        coverage: table(ctx,
            "SELECT CAST(month AS VARCHAR) AS month, SUM(leads) AS leads, SUM(matched_leads) / NULLIF(SUM(leads), 0) AS lead_match_rate,
                    SUM(pipeline * COALESCE(pipeline_match_rate, 0)) / NULLIF(SUM(pipeline), 0) AS pipeline_match_rate,
                    SUM(revenue * COALESCE(revenue_match_rate, 0)) / NULLIF(SUM(revenue), 0) AS revenue_match_rate
             FROM match_coverage GROUP BY month ORDER BY month").await?,
        kpis: table(ctx,
            "SELECT CAST(month AS VARCHAR) AS month, metric, kind, better, target, actual, attainment, on_target FROM kpi_attainment ORDER BY month, kind, metric").await?,
        maturity: table(ctx, MATURITY_SQL).await?,
        median_days_to_won: overall.rows.first().and_then(|r| r[0].number()),
        last_lead_day: overall.rows.first().map(|r| r[1].text()).filter(|d| !d.is_empty()),
    })
}

/// The whole page.
pub fn render(data: &ReportData) -> String {
    html::page(data)
}
