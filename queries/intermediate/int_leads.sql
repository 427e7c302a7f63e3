-- version: 1
-- materialized: table
-- description: >
--   Every lead of stg_leads with the opportunity it converted to (SPEC section 5): Salesforce's
--   ConvertedOpportunityId, or of a HubSpot contact's associated deals the earliest created,
--   then the lowest id compared as a number; only when that opportunity is in the extracts.
--   k leads sharing one opportunity carry 1/k of it each.
-- tests:
--   - not_null: [lead_id, created_at, lead_month, is_spam, is_mql, is_sql, opportunity_share, won_share, pipeline, revenue]
--   - unique: [lead_id]
--   - relationships: {column: opportunity_id, to: stg_opportunities, field: opportunity_id}
--   - relationships: {column: lead_id, to: stg_leads, field: lead_id}
WITH listed_deals AS (
    SELECT lead_id, UNNEST(string_to_array(associated_deal_ids, ';')) AS deal_id
    FROM stg_leads
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
    FROM stg_leads l
    LEFT JOIN stg_opportunities sf ON sf.opportunity_id = l.converted_opportunity_id
    LEFT JOIN hubspot_choice hs ON hs.lead_id = l.lead_id
),
sharing AS (
    SELECT resolved_opportunity_id, COUNT(*) AS leads_sharing
    FROM resolved
    WHERE resolved_opportunity_id IS NOT NULL
    GROUP BY resolved_opportunity_id
)
SELECT
    -- Every column of stg_leads but the CRM's own opportunity ids, replaced by the choice.
    r.* EXCLUDE (converted_opportunity_id, associated_deal_ids, resolved_opportunity_id),
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
