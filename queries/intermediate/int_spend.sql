-- version: 1
-- materialized: table
-- description: >
--   Ad spend per month, channel and campaign as the mart shows it (SPEC section 7): the
--   platform's campaign is kept when any session or fallback touch, in any month, carries it in
--   that channel, else the spend stays on the channel as (not set).
-- tests:
--   - not_null: [spend_month, channel, campaign, spend]
--   - unique: [spend_month, channel, campaign]
WITH touched_campaigns AS (
    SELECT channel, campaign FROM int_sessions
    UNION
    SELECT channel, campaign FROM int_touches WHERE session_key IS NULL
)
SELECT
    s.spend_month,
    s.channel,
    CASE WHEN t.campaign IS NULL THEN '(not set)' ELSE s.campaign END AS campaign,
    CAST(SUM(s.spend) AS DOUBLE) AS spend
FROM stg_spend s
LEFT JOIN touched_campaigns t ON t.channel = s.channel AND t.campaign = s.campaign
GROUP BY 1, 2, 3
