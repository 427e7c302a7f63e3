-- version: 2
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
-- Each non-spam lead once, with its opportunity (LEFT JOIN: stg_opportunities is unique by id):
-- every stage below comes from this one pass, by a join with the stages' conversion names.
leads AS (
    SELECT l.lead_id, l.created_at, l.last_modified_at, l.sql_at, l.is_sql, l.pipeline, l.revenue,
           l.email_sha256, COALESCE(l.gclid, j.gclid) AS gclid,
           o.opportunity_id, o.created_at AS opportunity_created_at, o.is_won, o.close_date
    FROM int_leads l
    LEFT JOIN journey_gclids j ON j.lead_id = l.lead_id AND j.recency = 1
    LEFT JOIN stg_opportunities o ON o.opportunity_id = l.opportunity_id
    WHERE NOT l.is_spam
),
stages AS (
    SELECT l.*, n.stage, n.conversion_name
    FROM leads l
    JOIN cfg_conversion_names n ON CASE n.stage
        WHEN 'sql' THEN l.is_sql
        WHEN 'opportunity' THEN l.opportunity_id IS NOT NULL
        WHEN 'won' THEN l.is_won AND l.close_date IS NOT NULL
        ELSE FALSE
    END
)
SELECT
    lead_id,
    stage,
    conversion_name,
    CASE stage
        WHEN 'sql' THEN COALESCE(sql_at, last_modified_at)
        WHEN 'opportunity' THEN opportunity_created_at
        ELSE GREATEST(local_midnight(close_date, (SELECT reporting_timezone FROM cfg_settings)), created_at)
    END AS converted_at,
    CASE stage WHEN 'sql' THEN 0.0 WHEN 'opportunity' THEN pipeline ELSE revenue END AS value,
    gclid,
    email_sha256
FROM stages
