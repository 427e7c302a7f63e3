-- version: 2
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
WITH linear AS (
    -- Decimal sums, as in pipeline_metrics: exact, so the same credits added in any order give
    -- the same bits on every run (a sum of doubles depends on the order its partitions merge).
    -- Each credit is cast to 12 decimals: three thirds add up to 0.999999999999.
    SELECT
        month,
        channel,
        match_method,
        session_key IS NOT NULL AS matched,
        CAST(leads AS DECIMAL(38, 12)) AS leads,
        CAST(pipeline AS DECIMAL(38, 12)) AS pipeline,
        CAST(revenue AS DECIMAL(38, 12)) AS revenue
    FROM attribution_touchpoints
    WHERE attribution_model = 'linear'
),
sums AS (
    SELECT
        month,
        channel,
        CAST(SUM(leads) AS DOUBLE) AS leads,
        CAST(SUM(CASE WHEN matched THEN leads ELSE 0 END) AS DOUBLE) AS matched_leads,
        CAST(SUM(pipeline) AS DOUBLE) AS pipeline,
        CAST(SUM(CASE WHEN matched THEN pipeline ELSE 0 END) AS DOUBLE) AS matched_pipeline,
        CAST(SUM(revenue) AS DOUBLE) AS revenue,
        CAST(SUM(CASE WHEN matched THEN revenue ELSE 0 END) AS DOUBLE) AS matched_revenue,
        CAST(SUM(CASE WHEN match_method = 'client_id' THEN leads ELSE 0 END) AS DOUBLE) AS leads_by_client_id,
        CAST(SUM(CASE WHEN match_method = 'gclid' THEN leads ELSE 0 END) AS DOUBLE) AS leads_by_gclid,
        CAST(SUM(CASE WHEN match_method = 'user_id' THEN leads ELSE 0 END) AS DOUBLE) AS leads_by_user_id,
        CAST(SUM(CASE WHEN match_method = 'utm' THEN leads ELSE 0 END) AS DOUBLE) AS leads_by_utm,
        CAST(SUM(CASE WHEN match_method = 'lead_source' THEN leads ELSE 0 END) AS DOUBLE) AS leads_by_lead_source,
        CAST(SUM(CASE WHEN match_method = 'none' THEN leads ELSE 0 END) AS DOUBLE) AS leads_unmatched
    FROM linear
    GROUP BY month, channel
)
SELECT
    month,
    channel,
    leads,
    matched_leads,
    matched_leads / NULLIF(leads, 0) AS lead_match_rate,
    pipeline,
    matched_pipeline / NULLIF(pipeline, 0) AS pipeline_match_rate,
    revenue,
    matched_revenue / NULLIF(revenue, 0) AS revenue_match_rate,
    leads_by_client_id,
    leads_by_gclid,
    leads_by_user_id,
    leads_by_utm,
    leads_by_lead_source,
    leads_unmatched
FROM sums
