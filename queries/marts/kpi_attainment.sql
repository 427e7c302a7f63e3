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
measured AS (
    SELECT month,
           named_struct('spend', spend, 'leads', leads, 'spam_leads', spam_leads, 'mqls', mqls,
                        'sqls', sqls, 'opportunities', opportunities, 'won_deals', won_deals,
                        'pipeline', pipeline, 'revenue', revenue) AS measures
    FROM monthly
),
-- Every metric of cfg_metrics, by the one formula kpi() holds for it.
actuals AS (
    SELECT s.month, m.metric, kpi(m.metric, s.measures) AS actual
    FROM measured s
    CROSS JOIN cfg_metrics m
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
