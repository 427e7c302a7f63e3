-- version: 1
-- materialized: table
-- partition_by: month
-- description: >
--   One row per (lead, touch, attribution model): the touch, its credit, and the share of every
--   funnel stage that credit carries (SPEC section 7), so anyone can see why a channel got its
--   number. Month is the lead's creation month.
-- tests:
--   - not_null: [attribution_model, lead_id, touch_index, channel, campaign, credit, leads, pipeline, revenue]
--   - unique: [attribution_model, lead_id, touch_index]
--   - accepted_values: {column: attribution_model, values: [first_touch, last_touch, linear, time_decay, position_based, w_shaped, data_driven]}
--   - assert: "SELECT attribution_model, lead_id FROM this GROUP BY attribution_model, lead_id HAVING ABS(SUM(credit) - 1.0) > 1e-9"
WITH credits AS (
    SELECT lead_id, touch_index, attribution_model, credit FROM int_credits_rules
    UNION ALL
    SELECT lead_id, touch_index, attribution_model, credit FROM int_credits_w_shaped
    UNION ALL
    SELECT lead_id, touch_index, attribution_model, credit FROM int_credits_data_driven
),
touches AS (
    SELECT lead_id, touch_index, session_key, user_pseudo_id, ga_session_id, touch_at, source, medium, campaign, channel, match_method
    FROM int_touches
    UNION ALL
    SELECT lead_id, touch_index, session_key, user_pseudo_id, ga_session_id, touch_at, source, medium, campaign, channel, match_method
    FROM int_touch_extensions
)
SELECT
    c.attribution_model,
    l.lead_month AS month,
    c.lead_id,
    l.opportunity_id,
    t.touch_index,
    t.session_key,
    t.user_pseudo_id,
    t.ga_session_id,
    t.touch_at,
    t.source,
    t.medium,
    t.campaign,
    t.channel,
    t.match_method,
    c.credit,
    c.credit AS leads,
    CASE WHEN l.is_spam THEN c.credit ELSE 0.0 END AS spam_leads,
    CASE WHEN l.is_mql THEN c.credit ELSE 0.0 END AS mqls,
    CASE WHEN l.is_sql THEN c.credit ELSE 0.0 END AS sqls,
    c.credit * l.opportunity_share AS opportunities,
    c.credit * l.won_share AS won_deals,
    c.credit * l.pipeline AS pipeline,
    c.credit * l.revenue AS revenue
FROM credits c
JOIN touches t ON t.lead_id = c.lead_id AND t.touch_index = c.touch_index
JOIN stg_leads l ON l.lead_id = c.lead_id
