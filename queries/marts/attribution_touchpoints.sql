-- version: 3
-- materialized: table
-- description: >
--   One row per (lead, touch, attribution model): the touch, its credit, and the share of every
--   funnel stage that credit carries (SPEC section 7), so anyone can see why a channel got its
--   number. Month is the lead's creation month, a column rather than a folder: hive partitions
--   by month had one task split every batch of 6M rows (10M events) into a file per month.
-- tests:
--   - not_null: [attribution_model, lead_id, touch_index, channel, campaign, credit, leads, pipeline, revenue]
--   - unique: [attribution_model, lead_id, touch_index]
--   - relationships: {column: attribution_model, to: cfg_attribution_models, field: attribution_model}
--   - assert: "SELECT attribution_model, lead_id FROM this GROUP BY attribution_model, lead_id HAVING ABS(SUM(credit) - 1.0) > 1e-9"
-- columns:
--   - {name: attribution_model, type: VARCHAR, description: "the attribution model that split each lead's credit (first_touch ... data_driven)"}
--   - {name: month, type: DATE, description: "the month (first day) of the lead's creation in the reporting time zone: a cohort"}
--   - {name: lead_id, type: VARCHAR, description: "the CRM lead (Salesforce Lead or HubSpot contact) id"}
--   - {name: opportunity_id, type: VARCHAR, description: "the opportunity the lead converted to, when it is in the extracts"}
--   - {name: touch_index, type: BIGINT, description: "the touch's place in the lead's journey (1 = first)"}
--   - {name: session_key, type: VARCHAR, description: "user_pseudo_id:ga_session_id of a GA session touch; NULL for a fallback touch"}
--   - {name: user_pseudo_id, type: VARCHAR, description: "the GA4 device/browser id of the session"}
--   - {name: ga_session_id, type: BIGINT, description: "the GA4 session id"}
--   - {name: touch_at, type: TIMESTAMP, description: "when the touch happened (session start, or the lead's creation for a fallback touch), UTC"}
--   - {name: source, type: VARCHAR, description: "traffic source of the touch"}
--   - {name: medium, type: VARCHAR, description: "traffic medium of the touch"}
--   - {name: campaign, type: VARCHAR, description: "the campaign, lower-cased and trimmed; (not set) when none"}
--   - {name: channel, type: VARCHAR, description: "the marketing channel (GA4's default channel grouping, or the spend platform's channel)"}
--   - {name: match_method, type: VARCHAR, description: "how the lead was matched to GA users: client_id, gclid, user_id, utm, lead_source or none"}
--   - {name: credit, type: DOUBLE, description: "the share of the lead this touch gets under the model (a lead's credits add up to 1)"}
--   - {name: leads, type: DOUBLE, description: "leads credited (fractions: a lead's 1 is split over its touches)"}
--   - {name: spam_leads, type: DOUBLE, description: "credited leads whose CRM status is a spam status"}
--   - {name: mqls, type: DOUBLE, description: "credited marketing-qualified leads"}
--   - {name: sqls, type: DOUBLE, description: "credited sales-qualified leads"}
--   - {name: opportunities, type: DOUBLE, description: "credited opportunities (k leads sharing one carry 1/k each)"}
--   - {name: won_deals, type: DOUBLE, description: "credited won deals"}
--   - {name: pipeline, type: DOUBLE, description: "credited opportunity amount at any stage, in the reporting currency"}
--   - {name: revenue, type: DOUBLE, description: "credited won amount, in the reporting currency"}
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
),
-- Each touch with its lead's facts: 0.9M rows, so the 6M credits are joined once.
lead_touches AS (
    SELECT t.*, l.lead_month, l.opportunity_id, l.is_spam, l.is_mql, l.is_sql,
           l.opportunity_share, l.won_share, l.pipeline, l.revenue
    FROM touches t
    JOIN int_leads l ON l.lead_id = t.lead_id
)
SELECT
    c.attribution_model,
    t.lead_month AS month,
    c.lead_id,
    t.opportunity_id,
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
    CASE WHEN t.is_spam THEN c.credit ELSE 0.0 END AS spam_leads,
    CASE WHEN t.is_mql THEN c.credit ELSE 0.0 END AS mqls,
    CASE WHEN t.is_sql THEN c.credit ELSE 0.0 END AS sqls,
    c.credit * t.opportunity_share AS opportunities,
    c.credit * t.won_share AS won_deals,
    c.credit * t.pipeline AS pipeline,
    c.credit * t.revenue AS revenue
FROM credits c
JOIN lead_touches t ON t.lead_id = c.lead_id AND t.touch_index = c.touch_index
