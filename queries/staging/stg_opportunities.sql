-- version: 2
-- materialized: table
-- description: >
--   Latest version of every opportunity (Salesforce Opportunity, HubSpot deal): greatest
--   LastModifiedDate, then the later extract (file name), then the later line. Pipeline is the
--   amount at any stage (empty = 0); revenue is the amount of a won opportunity.
-- tests:
--   - not_null: [opportunity_id, created_at, pipeline_amount, won_amount]
--   - unique: [opportunity_id]
WITH versions AS (
    SELECT
        *,
        ROW_NUMBER() OVER (
            PARTITION BY opportunity_id
            ORDER BY last_modified_at DESC, source_file DESC, source_line DESC
        ) AS version_rank
    FROM crm_opportunities
)
SELECT
    opportunity_id,
    crm,
    created_at,
    local_month(created_at, (SELECT reporting_timezone FROM cfg_settings)) AS created_month,
    close_date,
    stage,
    is_closed,
    is_won,
    amount,
    COALESCE(amount, 0.0) AS pipeline_amount,
    CASE WHEN is_won THEN COALESCE(amount, 0.0) ELSE 0.0 END AS won_amount
FROM versions
WHERE version_rank = 1
