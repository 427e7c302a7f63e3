-- version: 3
-- materialized: table
-- description: >
--   Latest version of every opportunity (Salesforce Opportunity, HubSpot deal): greatest
--   LastModifiedDate, then the later extract (file name), then the later line. Pipeline is the
--   amount at any stage (empty = 0); revenue is the amount of a won opportunity.
-- tests:
--   - not_null: [opportunity_id, created_at, pipeline_amount, won_amount]
--   - unique: [opportunity_id]
WITH latest AS (
    -- Ranked over the keys alone and joined back by (file, line), as in stg_leads: the window
    -- operator's cost grows with every column it carries.
    SELECT source_file, source_line
    FROM (
        SELECT
            source_file,
            source_line,
            ROW_NUMBER() OVER (
                PARTITION BY opportunity_id
                ORDER BY last_modified_at DESC, source_file DESC, source_line DESC
            ) AS version_rank
        FROM crm_opportunities
    ) ranked
    WHERE version_rank = 1
),
versions AS (
    SELECT c.*
    FROM crm_opportunities c
    JOIN latest l ON c.source_file = l.source_file AND c.source_line = l.source_line
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
