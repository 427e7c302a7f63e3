-- version: 1
-- materialized: table
-- description: >
--   Match coverage per lead month and channel (SPEC section 6): the share of leads, pipeline and
--   revenue matched to web sessions, and leads by match method. Credited linearly, so a lead
--   counts once across the channels of its journey. Only leads are counted: lead-less
--   opportunities (pipeline_metrics' Unattributed rows) have no lead to match and are in
--   neither the numerators nor the denominators.
-- tests:
--   - not_null: [month, channel, leads, matched_leads]
--   - unique: [month, channel]
-- columns:
--   - {name: month, type: DATE, description: "the month (first day) of the lead's creation in the reporting time zone: a cohort"}
--   - {name: channel, type: VARCHAR, description: "the marketing channel (GA4's default channel grouping, or the spend platform's channel)"}
--   - {name: leads, type: DOUBLE, description: "leads credited (fractions: a lead's 1 is split over its touches)"}
--   - {name: matched_leads, type: DOUBLE, description: "credited leads whose touch is a GA session"}
--   - {name: lead_match_rate, type: DOUBLE, description: "matched leads / leads"}
--   - {name: pipeline, type: DOUBLE, description: "credited opportunity amount at any stage, in the reporting currency"}
--   - {name: pipeline_match_rate, type: DOUBLE, description: "share of pipeline on matched touches"}
--   - {name: revenue, type: DOUBLE, description: "credited won amount, in the reporting currency"}
--   - {name: revenue_match_rate, type: DOUBLE, description: "share of revenue on matched touches"}
--   - {name: leads_by_client_id, type: DOUBLE, description: "leads matched by GA client id"}
--   - {name: leads_by_gclid, type: DOUBLE, description: "leads matched by click id"}
--   - {name: leads_by_user_id, type: DOUBLE, description: "leads matched by hashed email (user_id)"}
--   - {name: leads_by_utm, type: DOUBLE, description: "leads with only a UTM fallback touch"}
--   - {name: leads_by_lead_source, type: DOUBLE, description: "leads with only a mapped LeadSource"}
--   - {name: leads_unmatched, type: DOUBLE, description: "leads with no match and no fallback source"}
SELECT
    month,
    channel,
    SUM(leads) AS leads,
    SUM(CASE WHEN session_key IS NOT NULL THEN leads ELSE 0.0 END) AS matched_leads,
    SUM(CASE WHEN session_key IS NOT NULL THEN leads ELSE 0.0 END) / NULLIF(SUM(leads), 0) AS lead_match_rate,
    SUM(pipeline) AS pipeline,
    SUM(CASE WHEN session_key IS NOT NULL THEN pipeline ELSE 0.0 END) / NULLIF(SUM(pipeline), 0) AS pipeline_match_rate,
    SUM(revenue) AS revenue,
    SUM(CASE WHEN session_key IS NOT NULL THEN revenue ELSE 0.0 END) / NULLIF(SUM(revenue), 0) AS revenue_match_rate,
    SUM(CASE WHEN match_method = 'client_id' THEN leads ELSE 0.0 END) AS leads_by_client_id,
    SUM(CASE WHEN match_method = 'gclid' THEN leads ELSE 0.0 END) AS leads_by_gclid,
    SUM(CASE WHEN match_method = 'user_id' THEN leads ELSE 0.0 END) AS leads_by_user_id,
    SUM(CASE WHEN match_method = 'utm' THEN leads ELSE 0.0 END) AS leads_by_utm,
    SUM(CASE WHEN match_method = 'lead_source' THEN leads ELSE 0.0 END) AS leads_by_lead_source,
    SUM(CASE WHEN match_method = 'none' THEN leads ELSE 0.0 END) AS leads_unmatched
FROM attribution_touchpoints
WHERE attribution_model = 'linear'
GROUP BY month, channel
