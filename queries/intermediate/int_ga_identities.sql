-- version: 1
-- materialized: table
-- description: >
--   Keys a CRM lead can be matched on, per GA user (SPEC section 4): session gclids and
--   hashed-email user_ids.
-- tests:
--   - not_null: [kind, match_key, user_pseudo_id]
--   - accepted_values: {column: kind, values: [gclid, user_id]}
SELECT DISTINCT 'gclid' AS kind, TRIM(gclid) AS match_key, user_pseudo_id
FROM stg_ga_events
WHERE gclid IS NOT NULL
UNION ALL
SELECT DISTINCT 'user_id' AS kind, LOWER(user_id) AS match_key, user_pseudo_id
FROM stg_ga_events
WHERE user_id IS NOT NULL
