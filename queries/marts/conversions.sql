-- version: 1
-- materialized: table
-- description: >
--   The CRM's outcomes as offline conversions for the ad platforms (SPEC section 9), one row
--   per lead and stage, spam leads never: `sql` at sql_at (the lead's last modification when
--   only its status makes it an SQL), value 0; `opportunity` at the opportunity's creation,
--   value the lead's 1/k share of its amount; `won` at the opportunity's CloseDate at 00:00 in
--   the reporting time zone (or the lead's creation, if later), value the lead's share of the
--   won amount. gclid is the lead's CRM field, else the click id of the latest session of its
--   journey that carries one; email_sha256 the SHA-256 of the trimmed, lower-cased email.
--   `clearsight export conversions` writes these as Google Ads' and Meta's upload files.
-- tests:
--   - not_null: [lead_id, stage, conversion_name, converted_at, value]
--   - unique: [lead_id, stage]
--   - accepted_values: {column: stage, values: [sql, opportunity, won]}
--   - assert: "SELECT * FROM this WHERE value < 0"
-- columns:
--   - {name: lead_id, type: VARCHAR, description: "the CRM lead (Salesforce Lead or HubSpot contact) id"}
--   - {name: stage, type: VARCHAR, description: "the funnel stage converted: sql, opportunity or won"}
--   - {name: conversion_name, type: VARCHAR, description: "the ad platforms' conversion name of the stage (config/mart.yaml)"}
--   - {name: converted_at, type: TIMESTAMP, description: "when the stage was reached, UTC"}
--   - {name: value, type: DOUBLE, description: "the lead's share of the opportunity amount (0 for an SQL), in the reporting currency"}
--   - {name: gclid, type: VARCHAR, description: "the Google click id: the CRM field, else the latest gclid session of the journey"}
--   - {name: email_sha256, type: VARCHAR, description: "SHA-256 of the trimmed, lower-cased email"}
WITH journey_gclids AS (
    SELECT t.lead_id, s.gclid,
           ROW_NUMBER() OVER (PARTITION BY t.lead_id ORDER BY t.touch_index DESC) AS recency
    FROM int_touches t
    JOIN int_sessions s ON s.user_pseudo_id = t.user_pseudo_id AND s.ga_session_id = t.ga_session_id
    WHERE s.gclid IS NOT NULL
),
leads AS (
    SELECT l.lead_id, l.created_at, l.last_modified_at, l.sql_at, l.is_sql, l.opportunity_id,
           l.pipeline, l.revenue, l.email_sha256,
           COALESCE(l.gclid, j.gclid) AS gclid
    FROM int_leads l
    LEFT JOIN journey_gclids j ON j.lead_id = l.lead_id AND j.recency = 1
    WHERE NOT l.is_spam
),
stages AS (
    SELECT lead_id, 'sql' AS stage, COALESCE(sql_at, last_modified_at) AS converted_at, 0.0 AS value
    FROM leads
    WHERE is_sql
    UNION ALL
    SELECT l.lead_id, 'opportunity' AS stage, o.created_at AS converted_at, l.pipeline AS value
    FROM leads l
    JOIN stg_opportunities o ON o.opportunity_id = l.opportunity_id
    UNION ALL
    SELECT l.lead_id, 'won' AS stage,
           GREATEST(local_midnight(o.close_date, (SELECT reporting_timezone FROM cfg_settings)), l.created_at) AS converted_at,
           l.revenue AS value
    FROM leads l
    JOIN stg_opportunities o ON o.opportunity_id = l.opportunity_id
    WHERE o.is_won AND o.close_date IS NOT NULL
)
SELECT s.lead_id, s.stage, n.conversion_name, s.converted_at, s.value, l.gclid, l.email_sha256
FROM stages s
JOIN leads l ON l.lead_id = s.lead_id
JOIN cfg_conversion_names n ON n.stage = s.stage
