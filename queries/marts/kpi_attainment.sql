-- version: 1
-- materialized: table
-- description: >
--   Per month and metric (SPEC section 7): the target from config/targets.yaml (a month's own
--   target, else the monthly one), the actual, and actual / target. Month totals are the same
--   under every attribution model (each lead spreads exactly 1); they are read from linear.
-- tests:
--   - not_null: [month, metric, kind, target]
--   - unique: [month, metric]
WITH monthly AS (
    SELECT month,
           SUM(spend) AS spend, SUM(leads) AS leads, SUM(mqls) AS mqls, SUM(sqls) AS sqls,
           SUM(opportunities) AS opportunities, SUM(won_deals) AS won_deals,
           SUM(pipeline) AS pipeline, SUM(revenue) AS revenue
    FROM pipeline_metrics
    WHERE attribution_model = 'linear'
    GROUP BY month
),
actuals AS (
    SELECT month, 'revenue' AS metric, revenue AS actual FROM monthly
    UNION ALL SELECT month, 'won_deals', won_deals FROM monthly
    UNION ALL SELECT month, 'pipeline', pipeline FROM monthly
    UNION ALL SELECT month, 'opportunities', opportunities FROM monthly
    UNION ALL SELECT month, 'sqls', sqls FROM monthly
    UNION ALL SELECT month, 'mqls', mqls FROM monthly
    UNION ALL SELECT month, 'leads', leads FROM monthly
    UNION ALL SELECT month, 'spend', spend FROM monthly
    UNION ALL SELECT month, 'cpl', spend / NULLIF(leads, 0) FROM monthly
    UNION ALL SELECT month, 'cost_per_sql', spend / NULLIF(sqls, 0) FROM monthly
    UNION ALL SELECT month, 'cac', spend / NULLIF(won_deals, 0) FROM monthly
    UNION ALL SELECT month, 'roas', revenue / NULLIF(spend, 0) FROM monthly
    UNION ALL SELECT month, 'roi', (revenue - spend) / NULLIF(spend, 0) FROM monthly
    UNION ALL SELECT month, 'lead_to_sql_rate', sqls / NULLIF(leads, 0) FROM monthly
    UNION ALL SELECT month, 'win_rate', won_deals / NULLIF(opportunities, 0) FROM monthly
)
SELECT
    a.month,
    a.metric,
    CASE WHEN a.metric IN ('revenue', 'won_deals') THEN 'KGI' ELSE 'KPI' END AS kind,
    COALESCE(own.target, every.target) AS target,
    a.actual,
    a.actual / NULLIF(COALESCE(own.target, every.target), 0) AS attainment
FROM actuals a
LEFT JOIN cfg_targets own ON own.metric = a.metric AND own.month = a.month
LEFT JOIN cfg_targets every ON every.metric = a.metric AND every.month IS NULL
WHERE COALESCE(own.target, every.target) IS NOT NULL
