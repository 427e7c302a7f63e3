-- version: 1
-- materialized: incremental
-- partition_by: source_file
-- description: >
--   Keys a CRM lead can be matched on (SPEC section 4), as each export file gives them: the
--   gclids (the event's own, else its landing page's) and the user_ids (hashed emails, lower
--   case) of each GA user. Incremental by file, like stg_ga_sessions.
-- tests:
--   - not_null: [source_file, kind, match_key, user_pseudo_id]
--   - accepted_values: {column: kind, values: [gclid, user_id]}
WITH keys AS (
    SELECT
        source_file,
        user_pseudo_id,
        TRIM(COALESCE(NULLIF(TRIM(gclid), ''), page_gclid)) AS gclid,
        LOWER(NULLIF(TRIM(user_id), '')) AS user_id
    FROM ga_events
)
SELECT DISTINCT source_file, 'gclid' AS kind, gclid AS match_key, user_pseudo_id
FROM keys
WHERE gclid IS NOT NULL
UNION ALL
SELECT DISTINCT source_file, 'user_id' AS kind, user_id AS match_key, user_pseudo_id
FROM keys
WHERE user_id IS NOT NULL
