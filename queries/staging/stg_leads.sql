-- version: 4
-- materialized: table
-- description: >
--   Latest version of every lead (Salesforce Lead, HubSpot contact), with its funnel flags
--   (SPEC section 5): spam by configured status; MQL and SQL from their date fields or status
--   rules. The opportunity ids are the CRM's own (Salesforce ConvertedOpportunityId, HubSpot's
--   associated deals); which opportunity a lead has is int_leads' choice. Months are local
--   calendar months in the reporting time zone.
-- tests:
--   - not_null: [lead_id, created_at, lead_month, is_spam, is_mql, is_sql]
--   - unique: [lead_id]
-- columns:
--   - {name: lead_id, type: VARCHAR, description: "the CRM lead (Salesforce Lead or HubSpot contact) id"}
--   - {name: crm, type: VARCHAR, description: "salesforce or hubspot"}
--   - {name: created_at, type: TIMESTAMP, description: "the lead's creation, UTC"}
--   - {name: last_modified_at, type: TIMESTAMP, description: "the lead version's last modification, UTC"}
--   - {name: sql_at, type: TIMESTAMP, description: "when the lead became sales-qualified (its SQL date field), UTC"}
--   - {name: lead_month, type: DATE, description: "the month of the lead's creation in the reporting time zone"}
--   - {name: email_sha256, type: VARCHAR, description: "SHA-256 of the lead's normalised e-mail"}
--   - {name: ga_client_id, type: VARCHAR, description: "the GA4 client id the form captured (user_pseudo_id)"}
--   - {name: gclid, type: VARCHAR, description: "the Google Ads click id the form captured"}
--   - {name: utm_source, type: VARCHAR, description: "the lead's UTM source, lower-cased"}
--   - {name: utm_medium, type: VARCHAR, description: "the lead's UTM medium, lower-cased"}
--   - {name: utm_campaign, type: VARCHAR, description: "the lead's UTM campaign, lower-cased"}
--   - {name: lead_source, type: VARCHAR, description: "the CRM's lead source field, as written"}
--   - {name: status, type: VARCHAR, description: "the CRM lead status, as written"}
--   - {name: is_spam, type: BOOLEAN, description: "the status is a configured spam status"}
--   - {name: is_mql, type: BOOLEAN, description: "marketing-qualified: an MQL date or an MQL status"}
--   - {name: is_sql, type: BOOLEAN, description: "sales-qualified: an SQL date or an SQL status"}
--   - {name: converted_opportunity_id, type: VARCHAR, description: "Salesforce's ConvertedOpportunityId, trimmed"}
--   - {name: associated_deal_ids, type: VARCHAR, description: "HubSpot's associated deal ids, ;-separated"}
WITH versions AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY lead_id
            ORDER BY last_modified_at DESC, source_file DESC, source_line DESC
        ) AS version_rank
    FROM crm_leads
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
    clean_text(r.utm_source) AS utm_source,
    clean_text(r.utm_medium) AS utm_medium,
    clean_text(r.utm_campaign) AS utm_campaign,
    r.lead_source,
    r.status,
    spam.status IS NOT NULL AS is_spam,
    r.mql_at IS NOT NULL OR mql.status IS NOT NULL AS is_mql,
    r.sql_at IS NOT NULL OR sqls.status IS NOT NULL AS is_sql,
    TRIM(r.opportunity_id) AS converted_opportunity_id,
    r.associated_deal_ids
FROM versions r
LEFT JOIN cfg_spam_statuses spam ON spam.status = LOWER(TRIM(r.status))
LEFT JOIN (SELECT status FROM cfg_status_stages WHERE stage = 'mql') mql ON mql.status = LOWER(TRIM(r.status))
LEFT JOIN (SELECT status FROM cfg_status_stages WHERE stage = 'sql') sqls ON sqls.status = LOWER(TRIM(r.status))
WHERE r.version_rank = 1
