-- version: 1
-- materialized: table
-- partition_by: month
-- description: >
--   The pipeline-metrics mart (SPEC section 7): one row per (month, channel, campaign,
--   attribution model). Month is the lead's creation month (a cohort); sessions count by
--   session start month; spend by its date. Rows are the union of keys from credits, sessions,
--   spend and lead-less opportunities (under every model, channel Unattributed, campaign
--   (not set)). A ratio with a zero denominator is NULL.
-- tests:
--   - not_null: [month, channel, campaign, attribution_model, spend, sessions, leads, pipeline, revenue]
--   - unique: [month, channel, campaign, attribution_model]
--   - relationships: {column: attribution_model, to: cfg_attribution_models, field: attribution_model}
--   - row_count: {min: 1}
-- columns:
--   - {name: month, type: DATE, description: "the month (first day) of the lead's creation in the reporting time zone: a cohort"}
--   - {name: channel, type: VARCHAR, description: "the marketing channel (GA4's default channel grouping, or the spend platform's channel)"}
--   - {name: campaign, type: VARCHAR, description: "the campaign, lower-cased and trimmed; (not set) when none"}
--   - {name: attribution_model, type: VARCHAR, description: "the attribution model that split each lead's credit (first_touch ... data_driven)"}
--   - {name: spend, type: DOUBLE, description: "ad spend in the reporting currency"}
--   - {name: sessions, type: BIGINT, description: "GA4 sessions that started in the month (the same under every model)"}
--   - {name: leads, type: DOUBLE, description: "leads credited (fractions: a lead's 1 is split over its touches)"}
--   - {name: spam_leads, type: DOUBLE, description: "credited leads whose CRM status is a spam status"}
--   - {name: mqls, type: DOUBLE, description: "credited marketing-qualified leads"}
--   - {name: sqls, type: DOUBLE, description: "credited sales-qualified leads"}
--   - {name: opportunities, type: DOUBLE, description: "credited opportunities (k leads sharing one carry 1/k each)"}
--   - {name: won_deals, type: DOUBLE, description: "credited won deals"}
--   - {name: pipeline, type: DOUBLE, description: "credited opportunity amount at any stage, in the reporting currency"}
--   - {name: revenue, type: DOUBLE, description: "credited won amount, in the reporting currency"}
--   - {name: cpl, type: DOUBLE, description: "cost per lead: spend / leads (NULL without leads)"}
--   - {name: cost_per_mql, type: DOUBLE, description: "spend / MQLs"}
--   - {name: cost_per_sql, type: DOUBLE, description: "spend / SQLs"}
--   - {name: cost_per_opportunity, type: DOUBLE, description: "spend / opportunities"}
--   - {name: cac, type: DOUBLE, description: "customer acquisition cost: spend / won deals"}
--   - {name: roas, type: DOUBLE, description: "return on ad spend: revenue / spend"}
--   - {name: roi, type: DOUBLE, description: "(revenue - spend) / spend"}
--   - {name: spam_rate, type: DOUBLE, description: "spam leads / leads"}
--   - {name: lead_to_sql_rate, type: DOUBLE, description: "SQLs / leads"}
--   - {name: win_rate, type: DOUBLE, description: "won deals / opportunities"}
WITH credited AS (
    -- Exact (decimal) sums: the same credits in any order give the same bits on every run.
    SELECT month, channel, campaign, attribution_model,
           CAST(SUM(CAST(leads AS DECIMAL(38, 12))) AS DOUBLE) AS leads,
           CAST(SUM(CAST(spam_leads AS DECIMAL(38, 12))) AS DOUBLE) AS spam_leads,
           CAST(SUM(CAST(mqls AS DECIMAL(38, 12))) AS DOUBLE) AS mqls,
           CAST(SUM(CAST(sqls AS DECIMAL(38, 12))) AS DOUBLE) AS sqls,
           CAST(SUM(CAST(opportunities AS DECIMAL(38, 12))) AS DOUBLE) AS opportunities,
           CAST(SUM(CAST(won_deals AS DECIMAL(38, 12))) AS DOUBLE) AS won_deals,
           CAST(SUM(CAST(pipeline AS DECIMAL(38, 12))) AS DOUBLE) AS pipeline,
           CAST(SUM(CAST(revenue AS DECIMAL(38, 12))) AS DOUBLE) AS revenue
    FROM attribution_touchpoints
    WHERE credit <> 0
    GROUP BY month, channel, campaign, attribution_model
),
sessions AS (
    SELECT session_month AS month, channel, campaign, COUNT(*) AS sessions
    FROM int_sessions
    GROUP BY session_month, channel, campaign
),
spend AS (
    SELECT spend_month AS month, channel, campaign, CAST(SUM(CAST(spend AS DECIMAL(38, 12))) AS DOUBLE) AS spend
    FROM int_spend
    GROUP BY spend_month, channel, campaign
),
leadless_opportunities AS (
    SELECT o.created_month AS month, 'Unattributed' AS channel, '(not set)' AS campaign,
           CAST(COUNT(*) AS DOUBLE) AS opportunities,
           SUM(CASE WHEN o.is_won THEN 1.0 ELSE 0.0 END) AS won_deals,
           CAST(SUM(CAST(o.pipeline_amount AS DECIMAL(38, 12))) AS DOUBLE) AS pipeline,
           CAST(SUM(CAST(o.won_amount AS DECIMAL(38, 12))) AS DOUBLE) AS revenue
    FROM stg_opportunities o
    WHERE NOT EXISTS (SELECT 1 FROM int_leads l WHERE l.opportunity_id = o.opportunity_id)
    GROUP BY o.created_month
),
facts AS (
    SELECT month, channel, campaign, attribution_model, 0.0 AS spend, 0 AS sessions,
           leads, spam_leads, mqls, sqls, opportunities, won_deals, pipeline, revenue
    FROM credited
    UNION ALL
    SELECT s.month, s.channel, s.campaign, m.attribution_model, 0.0 AS spend, s.sessions,
           0.0 AS leads, 0.0 AS spam_leads, 0.0 AS mqls, 0.0 AS sqls, 0.0 AS opportunities,
           0.0 AS won_deals, 0.0 AS pipeline, 0.0 AS revenue
    FROM sessions s CROSS JOIN cfg_attribution_models m
    UNION ALL
    SELECT s.month, s.channel, s.campaign, m.attribution_model, s.spend, 0 AS sessions,
           0.0 AS leads, 0.0 AS spam_leads, 0.0 AS mqls, 0.0 AS sqls, 0.0 AS opportunities,
           0.0 AS won_deals, 0.0 AS pipeline, 0.0 AS revenue
    FROM spend s CROSS JOIN cfg_attribution_models m
    UNION ALL
    SELECT o.month, o.channel, o.campaign, m.attribution_model, 0.0 AS spend, 0 AS sessions,
           0.0 AS leads, 0.0 AS spam_leads, 0.0 AS mqls, 0.0 AS sqls, o.opportunities,
           o.won_deals, o.pipeline, o.revenue
    FROM leadless_opportunities o CROSS JOIN cfg_attribution_models m
),
totals AS (
    SELECT month, channel, campaign, attribution_model,
           SUM(spend) AS spend, CAST(SUM(sessions) AS BIGINT) AS sessions,
           SUM(leads) AS leads, SUM(spam_leads) AS spam_leads, SUM(mqls) AS mqls, SUM(sqls) AS sqls,
           SUM(opportunities) AS opportunities, SUM(won_deals) AS won_deals,
           SUM(pipeline) AS pipeline, SUM(revenue) AS revenue
    FROM facts
    GROUP BY month, channel, campaign, attribution_model
)
SELECT
    month, channel, campaign, attribution_model,
    spend, sessions, leads, spam_leads, mqls, sqls, opportunities, won_deals, pipeline, revenue,
    kpi('cpl', measures) AS cpl,
    kpi('cost_per_mql', measures) AS cost_per_mql,
    kpi('cost_per_sql', measures) AS cost_per_sql,
    kpi('cost_per_opportunity', measures) AS cost_per_opportunity,
    kpi('cac', measures) AS cac,
    kpi('roas', measures) AS roas,
    kpi('roi', measures) AS roi,
    kpi('spam_rate', measures) AS spam_rate,
    kpi('lead_to_sql_rate', measures) AS lead_to_sql_rate,
    kpi('win_rate', measures) AS win_rate
FROM (
    SELECT *,
           named_struct('spend', spend, 'leads', leads, 'spam_leads', spam_leads, 'mqls', mqls,
                        'sqls', sqls, 'opportunities', opportunities, 'won_deals', won_deals,
                        'pipeline', pipeline, 'revenue', revenue) AS measures
    FROM totals
) t
