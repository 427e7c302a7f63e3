-- version: 3
-- materialized: table
-- description: >
--   Ad spend per month, channel and campaign as the platforms name it (SPEC section 7):
--   platform -> channel from config, with campaign-name overrides; the campaign lower-cased
--   and trimmed, (not set) when empty. Whether a campaign keeps its name in the mart is
--   int_spend's decision. spend is an exact DECIMAL(38, 12) sum.
-- tests:
--   - not_null: [spend_month, channel, campaign, spend]
--   - unique: [spend_month, channel, campaign]
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
        COALESCE(clean_text(a.campaign), '(not set)') AS campaign,
        a.cost
    FROM ad_spend a
    LEFT JOIN overridden ov ON ov.source_file = a.source_file AND ov.source_line = a.source_line
    LEFT JOIN cfg_platform_channels p ON p.platform = LOWER(TRIM(a.platform))
)
-- An exact (decimal) sum, kept decimal so int_spend's sums of it are exact too.
SELECT spend_month, channel, campaign, SUM(CAST(cost AS DECIMAL(38, 12))) AS spend
FROM mapped
GROUP BY spend_month, channel, campaign
