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
