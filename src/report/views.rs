//! The parts of the report that the model and window pickers switch: one `view` per
//! (attribution model, myopia window) and one `model-view` per model, all in the page; the
//! script shows the chosen ones (and sorts tables by a click on a header).

use super::html::{escape, html_table};
use super::{svg, Cell, ModelView, ReportData, Table, View};

/// (name, CPL rank, ROI rank, flagged) of every ranked row; `name_cols` make the name.
fn rank_points(t: &Table, name_cols: &[&str]) -> Vec<(String, usize, usize, bool)> {
    let (cpl, roi, flag) = (t.col("cpl_rank"), t.col("roi_rank"), t.col("myopia_flag"));
    let names: Vec<usize> = name_cols.iter().map(|c| t.col(c)).collect();
    t.rows
        .iter()
        .filter_map(|r| {
            let name = names
                .iter()
                .map(|&i| r[i].text())
                .collect::<Vec<_>>()
                .join(" / ");
            Some((
                name,
                r[cpl].number()? as usize,
                r[roi].number()? as usize,
                r[flag].text() == "true",
            ))
        })
        .collect()
}

fn headline(points: &[(String, usize, usize, bool)], what: &str) -> String {
    let flagged: Vec<&str> = points
        .iter()
        .filter(|p| p.3)
        .map(|p| p.0.as_str())
        .collect();
    if flagged.is_empty() {
        format!("No {what} is cheap by cost per lead and poor by ROI.")
    } else {
        format!(
            "KPI myopia: <strong>{}</strong> — in the cheaper half by cost per lead, the worse half by ROI.",
            escape(&flagged.join(", "))
        )
    }
}

/// The campaign tables, one per channel.
fn campaign_tables(campaigns: &Table, sign: &str) -> String {
    let ch = campaigns.col("channel");
    let mut channels: Vec<String> = campaigns.rows.iter().map(|r| r[ch].text()).collect();
    channels.sort();
    channels.dedup();
    let cols = [
        "campaign",
        "spend",
        "leads",
        "cpl",
        "sqls",
        "cost_per_sql",
        "pipeline",
        "revenue",
        "roi",
        "myopia_flag",
    ];
    let idx: Vec<usize> = cols.iter().map(|c| campaigns.col(c)).collect();
    channels
        .iter()
        .map(|c| {
            let t = Table {
                columns: cols.iter().map(|s| s.to_string()).collect(),
                rows: campaigns
                    .rows
                    .iter()
                    .filter(|r| r[ch].text() == *c)
                    .map(|r| idx.iter().map(|&i| r[i].clone()).collect())
                    .collect(),
            };
            format!(
                r#"<div class="campaigns" data-channel="{c}"><h3>{c}</h3>{}</div>"#,
                html_table("campaigns", &t, sign),
                c = escape(c)
            )
        })
        .collect()
}

/// What one model and window decide: channel table, quadrants, campaign tables.
pub fn view(v: &View, _d: &ReportData, sign: &str) -> String {
    let channel_points = rank_points(&v.channels, &["channel"]);
    let campaign_points = rank_points(&v.campaigns, &["channel", "campaign"]);
    format!(
        r#"<div class="view" data-model="{m}" data-window="{w}">
<p class="headline">{headline}</p>
<section><h2>Channels · {m} · window {w}</h2>{channels}</section>
<section class="charts"><div><h2>Channels: CPL rank vs ROI rank</h2>{channel_chart}</div><div><h2>Campaigns: CPL rank vs ROI rank</h2>{campaign_chart}</div></section>
<section><h2>Campaigns by channel</h2>{campaigns}</section>
</div>"#,
        m = escape(&v.model),
        w = escape(&v.window),
        headline = headline(&channel_points, "channel"),
        channels = html_table("channels", &v.channels, sign),
        channel_chart = svg::rank_chart("rank-chart", &channel_points),
        campaign_chart = svg::rank_chart("campaign-rank-chart", &campaign_points),
        campaigns = campaign_tables(&v.campaigns, sign),
    )
}

/// Whether leads of `month` (YYYY-MM-DD, its first day) are younger, at the last lead's day,
/// than the median lead-to-won time: their revenue will still grow.
fn is_maturing(month: &str, d: &ReportData) -> bool {
    let parse = |s: &str| chrono::NaiveDate::parse_from_str(&s[..10.min(s.len())], "%Y-%m-%d").ok();
    let (Some(days), Some(last)) = (
        d.median_days_to_won,
        d.last_lead_day.as_deref().and_then(parse),
    ) else {
        return false;
    };
    let Some(first) = parse(month) else {
        return false;
    };
    let end = first
        .checked_add_months(chrono::Months::new(1))
        .unwrap_or(first);
    ((last - end).num_days() as f64) < days
}

/// The sentence under the cohort section.
pub fn maturing_note(d: &ReportData) -> String {
    match d.median_days_to_won {
        Some(days) => format!(
            "Leads take {days:.0} days to a won deal (median): months whose leads are younger than that at the last lead ({}) are marked maturing, and dashed in the charts; their revenue will grow.",
            escape(d.last_lead_day.as_deref().unwrap_or("-"))
        ),
        None => "No won deal yet: every month is still maturing.".to_string(),
    }
}

/// What one model decides: the monthly spend and revenue charts (two scales), funnel.
pub fn model_view(v: &ModelView, d: &ReportData, sign: &str) -> String {
    let (month, spend, revenue) = (
        v.trend.col("month"),
        v.trend.col("spend"),
        v.trend.col("revenue"),
    );
    let series = |col: usize| -> Vec<(String, f64, bool)> {
        v.trend
            .rows
            .iter()
            .map(|r| {
                (
                    r[month].text(),
                    r[col].number().unwrap_or(0.0),
                    is_maturing(&r[month].text(), d),
                )
            })
            .collect()
    };
    let mut trend = v.trend.clone();
    trend.columns.push("cohort".into());
    for r in &mut trend.rows {
        let maturing = is_maturing(&r[month].text(), d);
        r.push(Cell::Text(
            if maturing { "maturing" } else { "mature" }.into(),
        ));
    }
    let funnel: Vec<(String, [f64; 5])> = v
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
    format!(
        r#"<div class="model-view" data-model="{m}">
<section><h2>Spend and attributed revenue by month · {m}</h2><div class="charts">{spend_chart}{revenue_chart}</div>{trend}</section>
<section><h2>Funnel per channel · {m}</h2>{funnel_chart}{funnel}</section>
</div>"#,
        m = escape(&v.model),
        spend_chart = svg::month_chart("spend-chart", "spend", "#7f8c8d", &series(spend), sign),
        revenue_chart = svg::month_chart(
            "revenue-chart",
            "attributed revenue",
            "#27ae60",
            &series(revenue),
            sign
        ),
        trend = html_table("trend", &trend, sign),
        funnel_chart = svg::funnel_chart(&funnel),
        funnel = html_table("funnel", &v.funnel, sign),
    )
}

/// The page's script: the pickers (also read from `#model=…&window=…`) and sortable tables.
pub const SCRIPT: &str = r#"
(function () {
  var model = document.getElementById('model-picker');
  var win = document.getElementById('window-picker');
  var hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get('model')) model.value = hash.get('model');
  if (hash.get('window')) win.value = hash.get('window');
  function show() {
    document.querySelectorAll('.view').forEach(function (v) {
      v.classList.toggle('active', v.dataset.model === model.value && v.dataset.window === win.value);
    });
    document.querySelectorAll('.model-view').forEach(function (v) {
      v.classList.toggle('active', v.dataset.model === model.value);
    });
    document.body.dataset.model = model.value;
    document.body.dataset.window = win.value;
  }
  model.addEventListener('change', show);
  win.addEventListener('change', show);
  document.querySelectorAll('table.sortable th').forEach(function (th, _) {
    th.addEventListener('click', function () {
      var table = th.closest('table'), body = table.tBodies[0];
      var col = Array.prototype.indexOf.call(th.parentNode.children, th);
      var up = th.dataset.order !== 'asc';
      th.dataset.order = up ? 'asc' : 'desc';
      var key = function (tr) {
        var td = tr.children[col];
        var v = td.dataset.value;
        return v === undefined ? td.textContent : parseFloat(v);
      };
      Array.prototype.slice.call(body.rows)
        .sort(function (a, b) {
          var x = key(a), y = key(b);
          var c = (typeof x === 'number' && typeof y === 'number') ? x - y : String(x).localeCompare(String(y));
          return up ? c : -c;
        })
        .forEach(function (tr) { body.appendChild(tr); });
    });
  });
  show();
})();
"#;
