-- version: 2
-- materialized: table
-- description: >
--   Per month and metric (SPEC sections 7 and 8): the target from config/targets.yaml (a
--   month's own target, else the monthly one), the actual, attainment = actual / target, which
--   way is better (`lower` for cpl, cost_per_mql, cost_per_sql, cost_per_opportunity, cac and
--   spam_rate; `higher` otherwise) and on_target (actual >= target when higher is better,
--   actual <= target when lower is). Month totals are the same under every attribution model
--   (each lead spreads exactly 1); they are read from linear.
-- tests:
--   - not_null: [month, metric, kind, better, target]
--   - unique: [month, metric]
--   - accepted_values: {column: better, values: [higher, lower]}
-- columns:
--   - {name: month, type: DATE, description: "the month (first day) of the lead's creation in the reporting time zone: a cohort"}
--   - {name: metric, type: VARCHAR, description: "the targeted metric (revenue, won_deals, cpl, ...)"}
--   - {name: kind, type: VARCHAR, description: "KGI (revenue, won deals) or KPI"}
--   - {name: better, type: VARCHAR, description: "higher or lower: which way the metric is good"}
--   - {name: target, type: DOUBLE, description: "the month's target from config/targets.yaml"}
--   - {name: actual, type: DOUBLE, description: "the month's actual value"}
--   - {name: attainment, type: DOUBLE, description: "actual / target"}
--   - {name: on_target, type: BOOLEAN, description: "actual at or better than target in the metric's direction"}
WITH monthly AS (
    SELECT month,
           CAST(SUM(CAST(spend AS DECIMAL(38, 12))) AS DOUBLE) AS spend, CAST(SUM(CAST(leads AS DECIMAL(38, 12))) AS DOUBLE) AS leads, CAST(SUM(CAST(spam_leads AS DECIMAL(38, 12))) AS DOUBLE) AS spam_leads,
           CAST(SUM(CAST(mqls AS DECIMAL(38, 12))) AS DOUBLE) AS mqls, CAST(SUM(CAST(sqls AS DECIMAL(38, 12))) AS DOUBLE) AS sqls,
           CAST(SUM(CAST(opportunities AS DECIMAL(38, 12))) AS DOUBLE) AS opportunities, CAST(SUM(CAST(won_deals AS DECIMAL(38, 12))) AS DOUBLE) AS won_deals,
           CAST(SUM(CAST(pipeline AS DECIMAL(38, 12))) AS DOUBLE) AS pipeline, CAST(SUM(CAST(revenue AS DECIMAL(38, 12))) AS DOUBLE) AS revenue
    FROM pipeline_metrics
    WHERE attribution_model = 'linear'
    GROUP BY month
),
actuals AS (
    SELECT month, 'revenue' AS metric, revenue AS actual FROM monthly
    UNION ALL SELECT month, 'won_deals' AS metric, won_deals AS actual FROM monthly
    UNION ALL SELECT month, 'pipeline' AS metric, pipeline AS actual FROM monthly
    UNION ALL SELECT month, 'opportunities' AS metric, opportunities AS actual FROM monthly
    UNION ALL SELECT month, 'sqls' AS metric, sqls AS actual FROM monthly
    UNION ALL SELECT month, 'mqls' AS metric, mqls AS actual FROM monthly
    UNION ALL SELECT month, 'leads' AS metric, leads AS actual FROM monthly
    UNION ALL SELECT month, 'spend' AS metric, spend AS actual FROM monthly
    UNION ALL SELECT month, 'cpl' AS metric, spend / NULLIF(leads, 0) AS actual FROM monthly
    UNION ALL SELECT month, 'cost_per_mql' AS metric, spend / NULLIF(mqls, 0) AS actual FROM monthly
    UNION ALL SELECT month, 'cost_per_sql' AS metric, spend / NULLIF(sqls, 0) AS actual FROM monthly
    UNION ALL SELECT month, 'cost_per_opportunity' AS metric, spend / NULLIF(opportunities, 0) AS actual FROM monthly
    UNION ALL SELECT month, 'cac' AS metric, spend / NULLIF(won_deals, 0) AS actual FROM monthly
    UNION ALL SELECT month, 'spam_rate' AS metric, spam_leads / NULLIF(leads, 0) AS actual FROM monthly
    UNION ALL SELECT month, 'roas' AS metric, revenue / NULLIF(spend, 0) AS actual FROM monthly
    UNION ALL SELECT month, 'roi' AS metric, (revenue - spend) / NULLIF(spend, 0) AS actual FROM monthly
    UNION ALL SELECT month, 'lead_to_sql_rate' AS metric, sqls / NULLIF(leads, 0) AS actual FROM monthly
    UNION ALL SELECT month, 'win_rate' AS metric, won_deals / NULLIF(opportunities, 0) AS actual FROM monthly
),
targeted AS (
    SELECT a.month, a.metric, m.kind, m.better,
           COALESCE(own.target, every.target) AS target,
           a.actual
    FROM actuals a
    JOIN cfg_metrics m ON m.metric = a.metric
    LEFT JOIN cfg_targets own ON own.metric = a.metric AND own.month = a.month
    LEFT JOIN cfg_targets every ON every.metric = a.metric AND every.month IS NULL
)
SELECT
    month, metric, kind, better, target, actual,
    actual / NULLIF(target, 0) AS attainment,
    CASE WHEN better = 'lower' THEN actual <= target ELSE actual >= target END AS on_target
FROM targeted
WHERE target IS NOT NULL
