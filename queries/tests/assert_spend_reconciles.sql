-- A data test file: it fails when it returns rows. Under every model, a month's spend in the
-- mart is the spend extracts' total for that month (SPEC section 7's third invariant).
WITH extract AS (
    SELECT CAST(DATE_TRUNC('month', CAST(spend_date AS TIMESTAMP)) AS DATE) AS month, SUM(cost) AS spend
    FROM ad_spend
    GROUP BY 1
),
mart AS (
    SELECT month, attribution_model, SUM(spend) AS spend
    FROM pipeline_metrics
    GROUP BY month, attribution_model
)
SELECT e.month, m.attribution_model, e.spend, m.spend
FROM extract e
LEFT JOIN mart m ON m.month = e.month
WHERE m.spend IS NULL OR ABS(m.spend - e.spend) > 1e-6
