-- version: 1
-- materialized: table
-- description: >
--   KPI myopia (SPEC section 7): per attribution model, per channel and per campaign, over every
--   month: rank by CPL (cheapest first) and by ROI (best first), among rows with both; the flag
--   marks the better half by CPL (rank <= floor(n/2)) that is the worse half by ROI
--   (rank > n - floor(n/2)): the cheap leads that bring no money. Ties break by name.
-- tests:
--   - not_null: [attribution_model, level, channel, campaign, myopia_flag]
--   - unique: [attribution_model, level, channel, campaign]
--   - accepted_values: {column: level, values: [channel, campaign]}
WITH totals AS (
    SELECT attribution_model, 'channel' AS level, channel, '(all)' AS campaign,
           SUM(spend) AS spend, SUM(leads) AS leads, SUM(sqls) AS sqls, SUM(won_deals) AS won_deals,
           SUM(pipeline) AS pipeline, SUM(revenue) AS revenue
    FROM pipeline_metrics
    GROUP BY attribution_model, channel
    UNION ALL
    SELECT attribution_model, 'campaign', channel, campaign,
           SUM(spend), SUM(leads), SUM(sqls), SUM(won_deals), SUM(pipeline), SUM(revenue)
    FROM pipeline_metrics
    GROUP BY attribution_model, channel, campaign
),
ratios AS (
    SELECT *,
           spend / NULLIF(leads, 0) AS cpl,
           spend / NULLIF(sqls, 0) AS cost_per_sql,
           spend / NULLIF(won_deals, 0) AS cac,
           (revenue - spend) / NULLIF(spend, 0) AS roi
    FROM totals
),
ranked AS (
    SELECT *,
           COUNT(*) OVER (PARTITION BY attribution_model, level) AS ranked_rows,
           ROW_NUMBER() OVER (PARTITION BY attribution_model, level ORDER BY cpl ASC, channel, campaign) AS cpl_rank,
           ROW_NUMBER() OVER (PARTITION BY attribution_model, level ORDER BY roi DESC, channel, campaign) AS roi_rank
    FROM ratios
    WHERE cpl IS NOT NULL AND roi IS NOT NULL
)
SELECT r.attribution_model, r.level, r.channel, r.campaign, 'all months' AS window,
       r.spend, r.leads, r.sqls, r.won_deals, r.pipeline, r.revenue, r.cpl, r.cost_per_sql, r.cac, r.roi,
       k.cpl_rank, k.roi_rank, k.ranked_rows,
       COALESCE(k.cpl_rank <= FLOOR(k.ranked_rows / 2.0) AND k.roi_rank > k.ranked_rows - FLOOR(k.ranked_rows / 2.0), FALSE) AS myopia_flag
FROM ratios r
LEFT JOIN ranked k
  ON k.attribution_model = r.attribution_model AND k.level = r.level
 AND k.channel = r.channel AND k.campaign = r.campaign
