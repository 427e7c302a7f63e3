-- version: 2
-- materialized: table
-- description: >
--   Latest version of every lead (Salesforce Lead, HubSpot contact), with its funnel (SPEC
--   section 5): spam by configured status; MQL and SQL from their date fields or status rules;
--   the opportunity it converted to (Salesforce ConvertedOpportunityId, or of a HubSpot
--   contact's associated deals the earliest created, then the lowest id compared as a number),
--   only when that opportunity is in the extracts; k leads sharing one opportunity carry 1/k
--   each. Months are local calendar months in the reporting time zone.
-- tests:
--   - not_null: [lead_id, created_at, lead_month, is_spam, is_mql, is_sql, opportunity_share, won_share, pipeline, revenue]
--   - unique: [lead_id]
--   - relationships: {column: opportunity_id, to: stg_opportunities, field: opportunity_id}
WITH versions AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY lead_id
            ORDER BY last_modified_at DESC, source_file DESC, source_line DESC
        ) AS version_rank
    FROM crm_leads
),
latest AS (
    SELECT * FROM versions WHERE version_rank = 1
),
listed_deals AS (
    SELECT lead_id, UNNEST(string_to_array(associated_deal_ids, ';')) AS deal_id
    FROM latest
    WHERE associated_deal_ids IS NOT NULL
),
hubspot_deals AS (
    SELECT lead_id, TRIM(deal_id) AS deal_id FROM listed_deals
),
hubspot_choice AS (
    SELECT lead_id, opportunity_id
    FROM (
        SELECT
            h.lead_id,
            o.opportunity_id,
            ROW_NUMBER() OVER (
                PARTITION BY h.lead_id
                ORDER BY o.created_at, TRY_CAST(o.opportunity_id AS DECIMAL(38, 0)) NULLS LAST, o.opportunity_id
            ) AS pick
        FROM hubspot_deals h
        JOIN stg_opportunities o ON o.opportunity_id = h.deal_id
    ) ranked
    WHERE pick = 1
),
resolved AS (
    SELECT
        l.*,
        COALESCE(sf.opportunity_id, hs.opportunity_id) AS resolved_opportunity_id
    FROM latest l
    LEFT JOIN stg_opportunities sf ON sf.opportunity_id = TRIM(l.opportunity_id)
    LEFT JOIN hubspot_choice hs ON hs.lead_id = l.lead_id
),
sharing AS (
    SELECT resolved_opportunity_id, COUNT(*) AS leads_sharing
    FROM resolved
    WHERE resolved_opportunity_id IS NOT NULL
    GROUP BY resolved_opportunity_id
)
SELECT
    r.lead_id,
    r.crm,
    r.created_at,
    r.last_modified_at,
    r.sql_at,
    local_month(r.created_at, (SELECT reporting_timezone FROM cfg_settings)) AS lead_month,
    r.email_sha256,
    r.ga_client_id,
    NULLIF(TRIM(r.gclid), '') AS gclid,
    NULLIF(LOWER(TRIM(r.utm_source)), '') AS utm_source,
    NULLIF(LOWER(TRIM(r.utm_medium)), '') AS utm_medium,
    NULLIF(LOWER(TRIM(r.utm_campaign)), '') AS utm_campaign,
    r.lead_source,
    r.status,
    spam.status IS NOT NULL AS is_spam,
    r.mql_at IS NOT NULL OR mql.status IS NOT NULL AS is_mql,
    r.sql_at IS NOT NULL OR sqls.status IS NOT NULL AS is_sql,
    r.resolved_opportunity_id AS opportunity_id,
    o.created_at AS opportunity_created_at,
    COALESCE(s.leads_sharing, 0) AS leads_sharing,
    CASE WHEN o.opportunity_id IS NULL THEN 0.0 ELSE 1.0 / s.leads_sharing END AS opportunity_share,
    CASE WHEN o.is_won THEN 1.0 / s.leads_sharing ELSE 0.0 END AS won_share,
    CASE WHEN o.opportunity_id IS NULL THEN 0.0 ELSE o.pipeline_amount / s.leads_sharing END AS pipeline,
    CASE WHEN o.opportunity_id IS NULL THEN 0.0 ELSE o.won_amount / s.leads_sharing END AS revenue
FROM resolved r
LEFT JOIN stg_opportunities o ON o.opportunity_id = r.resolved_opportunity_id
LEFT JOIN sharing s ON s.resolved_opportunity_id = r.resolved_opportunity_id
LEFT JOIN cfg_spam_statuses spam ON spam.status = LOWER(TRIM(r.status))
LEFT JOIN (SELECT status FROM cfg_status_stages WHERE stage = 'mql') mql ON mql.status = LOWER(TRIM(r.status))
LEFT JOIN (SELECT status FROM cfg_status_stages WHERE stage = 'sql') sqls ON sqls.status = LOWER(TRIM(r.status))
