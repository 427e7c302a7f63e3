-- version: 1
-- materialized: table
-- description: >
--   Keys a CRM lead can be matched on, per GA user (SPEC section 4): session gclids and
--   hashed-email user_ids.
-- tests:
--   - not_null: [kind, match_key, user_pseudo_id]
--   - accepted_values: {column: kind, values: [gclid, user_id]}
SELECT DISTINCT kind, match_key, user_pseudo_id
FROM (
    SELECT 'gclid' AS kind, UNNEST(gclids) AS match_key, user_pseudo_id
    FROM stg_sessions
    WHERE gclids IS NOT NULL
    UNION ALL
    SELECT 'user_id' AS kind, UNNEST(user_ids) AS match_key, user_pseudo_id
    FROM stg_sessions
    WHERE user_ids IS NOT NULL
) keys
