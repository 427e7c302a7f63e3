-- version: 2
-- materialized: table
-- description: >
--   Keys a CRM lead can be matched on, per GA user (SPEC section 4): session gclids and
--   hashed-email user_ids, over every export file (stg_ga_identities holds them per file).
-- tests:
--   - not_null: [kind, match_key, user_pseudo_id]
--   - accepted_values: {column: kind, values: [gclid, user_id]}
SELECT DISTINCT kind, match_key, user_pseudo_id
FROM stg_ga_identities
