-- version: 1
-- materialized: table
-- description: >
--   Ad spend per month, channel and campaign (SPEC section 7): platform -> channel from config,
--   with campaign-name overrides; the campaign is kept when any session or fallback touch, in
--   any month, carries it in that channel, else the spend stays on the channel as (not set).
-- tests:
--   - not_null: [spend_month, channel, campaign, spend]
WITH overridden AS (
    SELECT a.source_file, a.source_line, MIN(o.channel) AS channel
    FROM ad_spend a
    JOIN cfg_campaign_overrides o
      ON o.platform = LOWER(TRIM(a.platform))
     AND STRPOS(LOWER(TRIM(a.campaign)), o.campaign_contains) > 0
    GROUP BY a.source_file, a.source_line
),
mapped AS (
    SELECT
        CAST(DATE_TRUNC('month', CAST(a.spend_date AS TIMESTAMP)) AS DATE) AS spend_month,
        COALESCE(ov.channel, p.channel, 'Unassigned') AS channel,
        COALESCE(NULLIF(LOWER(TRIM(a.campaign)), ''), '(not set)') AS campaign,
        a.cost
    FROM ad_spend a
    LEFT JOIN overridden ov ON ov.source_file = a.source_file AND ov.source_line = a.source_line
    LEFT JOIN cfg_platform_channels p ON p.platform = LOWER(TRIM(a.platform))
),
touched_campaigns AS (
    SELECT channel, campaign FROM stg_sessions
    UNION
    SELECT channel, campaign FROM int_touches WHERE session_key IS NULL
)
SELECT
    m.spend_month,
    m.channel,
    CASE WHEN t.campaign IS NULL THEN '(not set)' ELSE m.campaign END AS campaign,
    CAST(SUM(CAST(m.cost AS DECIMAL(38, 12))) AS DOUBLE) AS spend
FROM mapped m
LEFT JOIN touched_campaigns t ON t.channel = m.channel AND t.campaign = m.campaign
GROUP BY 1, 2, 3
