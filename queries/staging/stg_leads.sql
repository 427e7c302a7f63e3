-- version: 5
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
WITH latest AS (
    -- Each lead's latest version (last modified, then the later file, then the later line),
    -- picked by last_by (src/udf/first_by.rs) as one struct of the columns kept, rather than
    -- ROW_NUMBER() over the lead: DataFusion's window operator costs microseconds per lead
    -- partition (1.9 s of this model's 2.5 s at 0.6M leads, 10M events).
    SELECT
        lead_id,
        last_by(
            named_struct(
                'crm', crm,
                'created_at', created_at,
                'last_modified_at', last_modified_at,
                'mql_at', mql_at,
                'sql_at', sql_at,
                'email_sha256', email_sha256,
                'ga_client_id', ga_client_id,
                'gclid', gclid,
                'utm_source', utm_source,
                'utm_medium', utm_medium,
                'utm_campaign', utm_campaign,
                'lead_source', lead_source,
                'status', status,
                'opportunity_id', opportunity_id,
                'associated_deal_ids', associated_deal_ids
            ),
            last_modified_at, source_file, source_line
        ) AS v
    FROM crm_leads
    GROUP BY lead_id
),
versions AS (
    SELECT
        lead_id,
        v['crm'] AS crm,
        v['created_at'] AS created_at,
        v['last_modified_at'] AS last_modified_at,
        v['mql_at'] AS mql_at,
        v['sql_at'] AS sql_at,
        v['email_sha256'] AS email_sha256,
        v['ga_client_id'] AS ga_client_id,
        v['gclid'] AS gclid,
        v['utm_source'] AS utm_source,
        v['utm_medium'] AS utm_medium,
        v['utm_campaign'] AS utm_campaign,
        v['lead_source'] AS lead_source,
        v['status'] AS status,
        v['opportunity_id'] AS opportunity_id,
        v['associated_deal_ids'] AS associated_deal_ids
    FROM latest
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
