-- A data test file: it fails when it returns rows. Every attribution model spreads exactly the
-- leads created in a month over that month's rows (SPEC section 7's first invariant).
WITH created AS (
    SELECT lead_month AS month, CAST(COUNT(*) AS DOUBLE) AS leads
    FROM int_leads
    GROUP BY lead_month
),
credited AS (
    SELECT month, attribution_model, SUM(leads) AS leads
    FROM pipeline_metrics
    GROUP BY month, attribution_model
)
SELECT c.month, c.attribution_model, c.leads AS mart_leads, COALESCE(l.leads, 0) AS created_leads
FROM credited c
LEFT JOIN created l ON l.month = c.month
WHERE ABS(c.leads - COALESCE(l.leads, 0)) > 1e-6
