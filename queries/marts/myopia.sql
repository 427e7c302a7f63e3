-- version: 2
-- materialized: table
-- description: >
--   KPI myopia (SPEC sections 7 and 8): per window, attribution model, channel and campaign:
--   rank by CPL (cheapest first) and by ROI (best first), among rows with both; the flag marks
--   the better half by CPL (rank <= floor(n/2)) that is the worse half by ROI
--   (rank > n - floor(n/2)): the cheap leads that bring no money. Ties break by name.
--   Windows: `all` (every month pooled), each calendar month (`2024-03`), and the named windows
--   of consecutive months in config/mart.yaml (`myopia_windows`); each is ranked on its own.
-- tests:
--   - not_null: ["window", attribution_model, level, channel, campaign, myopia_flag]
--   - unique: ["window", attribution_model, level, channel, campaign]
--   - accepted_values: {column: level, values: [channel, campaign]}
-- columns:
--   - {name: window, type: VARCHAR, description: "the myopia window: all, a month (2024-03) or a named window of config/mart.yaml"}
--   - {name: attribution_model, type: VARCHAR, description: "the attribution model that split each lead's credit (first_touch ... data_driven)"}
--   - {name: level, type: VARCHAR, description: "channel or campaign"}
--   - {name: channel, type: VARCHAR, description: "the marketing channel (GA4's default channel grouping, or the spend platform's channel)"}
--   - {name: campaign, type: VARCHAR, description: "the campaign, lower-cased and trimmed; (not set) when none"}
--   - {name: spend, type: DOUBLE, description: "ad spend in the reporting currency"}
--   - {name: leads, type: DOUBLE, description: "leads credited (fractions: a lead's 1 is split over its touches)"}
--   - {name: sqls, type: DOUBLE, description: "credited sales-qualified leads"}
--   - {name: won_deals, type: DOUBLE, description: "credited won deals"}
--   - {name: pipeline, type: DOUBLE, description: "credited opportunity amount at any stage, in the reporting currency"}
--   - {name: revenue, type: DOUBLE, description: "credited won amount, in the reporting currency"}
--   - {name: cpl, type: DOUBLE, description: "cost per lead: spend / leads (NULL without leads)"}
--   - {name: cost_per_sql, type: DOUBLE, description: "spend / SQLs"}
--   - {name: cac, type: DOUBLE, description: "customer acquisition cost: spend / won deals"}
--   - {name: roi, type: DOUBLE, description: "(revenue - spend) / spend"}
--   - {name: cpl_rank, type: BIGINT, description: "rank by CPL within window, model and level (1 = cheapest); NULL when not ranked"}
--   - {name: roi_rank, type: BIGINT, description: "rank by ROI within window, model and level (1 = best)"}
--   - {name: ranked_rows, type: BIGINT, description: "how many rows were ranked in the window, model and level"}
--   - {name: myopia_flag, type: BOOLEAN, description: "true when cheap by CPL (better half) but poor by ROI (worse half): KPI myopia"}
WITH months AS (
    SELECT DISTINCT month FROM pipeline_metrics
),
windows AS (
    SELECT 'all' AS "window", month FROM months
    UNION ALL
    SELECT TO_CHAR(month, '%Y-%m') AS "window", month FROM months
    UNION ALL
    SELECT w.name AS "window", m.month
    FROM cfg_myopia_windows w
    JOIN months m ON m.month BETWEEN w.from_month AND w.to_month
),
-- Exact (decimal) sums, so ranks and numbers are identical on every run.
totals AS (
    SELECT w."window", p.attribution_model, 'channel' AS level, p.channel, '(all)' AS campaign,
           CAST(SUM(CAST(p.spend AS DECIMAL(38, 12))) AS DOUBLE) AS spend, CAST(SUM(CAST(p.leads AS DECIMAL(38, 12))) AS DOUBLE) AS leads, CAST(SUM(CAST(p.sqls AS DECIMAL(38, 12))) AS DOUBLE) AS sqls,
           CAST(SUM(CAST(p.won_deals AS DECIMAL(38, 12))) AS DOUBLE) AS won_deals, CAST(SUM(CAST(p.pipeline AS DECIMAL(38, 12))) AS DOUBLE) AS pipeline, CAST(SUM(CAST(p.revenue AS DECIMAL(38, 12))) AS DOUBLE) AS revenue
    FROM pipeline_metrics p
    JOIN windows w ON w.month = p.month
    GROUP BY w."window", p.attribution_model, p.channel
    UNION ALL
    SELECT w."window", p.attribution_model, 'campaign' AS level, p.channel, p.campaign,
           CAST(SUM(CAST(p.spend AS DECIMAL(38, 12))) AS DOUBLE) AS spend, CAST(SUM(CAST(p.leads AS DECIMAL(38, 12))) AS DOUBLE) AS leads, CAST(SUM(CAST(p.sqls AS DECIMAL(38, 12))) AS DOUBLE) AS sqls,
           CAST(SUM(CAST(p.won_deals AS DECIMAL(38, 12))) AS DOUBLE) AS won_deals, CAST(SUM(CAST(p.pipeline AS DECIMAL(38, 12))) AS DOUBLE) AS pipeline, CAST(SUM(CAST(p.revenue AS DECIMAL(38, 12))) AS DOUBLE) AS revenue
    FROM pipeline_metrics p
    JOIN windows w ON w.month = p.month
    GROUP BY w."window", p.attribution_model, p.channel, p.campaign
),
ratios AS (
    SELECT "window", attribution_model, level, channel, campaign,
           spend, leads, sqls, won_deals, pipeline, revenue,
           kpi('cpl', measures) AS cpl,
           kpi('cost_per_sql', measures) AS cost_per_sql,
           kpi('cac', measures) AS cac,
           kpi('roi', measures) AS roi
    FROM (
        SELECT *, named_struct('spend', spend, 'leads', leads, 'sqls', sqls, 'won_deals', won_deals,
                               'revenue', revenue) AS measures
        FROM totals
    ) t
),
ranked AS (
    SELECT "window", attribution_model, level, channel, campaign,
           COUNT(*) OVER (PARTITION BY "window", attribution_model, level) AS ranked_rows,
           ROW_NUMBER() OVER (PARTITION BY "window", attribution_model, level ORDER BY cpl ASC, channel, campaign) AS cpl_rank,
           ROW_NUMBER() OVER (PARTITION BY "window", attribution_model, level ORDER BY roi DESC, channel, campaign) AS roi_rank
    FROM ratios
    WHERE cpl IS NOT NULL AND roi IS NOT NULL
)
SELECT r."window", r.attribution_model, r.level, r.channel, r.campaign,
       r.spend, r.leads, r.sqls, r.won_deals, r.pipeline, r.revenue, r.cpl, r.cost_per_sql, r.cac, r.roi,
       k.cpl_rank, k.roi_rank, k.ranked_rows,
       COALESCE(k.cpl_rank <= FLOOR(k.ranked_rows / 2.0) AND k.roi_rank > k.ranked_rows - FLOOR(k.ranked_rows / 2.0), FALSE) AS myopia_flag
FROM ratios r
LEFT JOIN ranked k
  ON k."window" = r."window" AND k.attribution_model = r.attribution_model AND k.level = r.level
 AND k.channel = r.channel AND k.campaign = r.campaign
