-- version: 2
-- materialized: table
-- description: >
--   Which GA users a lead is (SPEC section 4): by GA client id = user_pseudo_id, else by gclid =
--   a session's gclid, else by SHA-256 of the email = GA user_id. The first method that finds
--   any GA user is the only one used.
-- tests:
--   - not_null: [lead_id, match_method, user_pseudo_id]
--   - unique: [lead_id, user_pseudo_id]
--   - accepted_values: {column: match_method, values: [client_id, gclid, user_id]}
WITH candidates AS (
    SELECT l.lead_id, 1 AS preference, 'client_id' AS match_method, l.ga_client_id AS user_pseudo_id
    FROM stg_leads l
    WHERE EXISTS (SELECT 1 FROM int_sessions s WHERE s.user_pseudo_id = l.ga_client_id)
    UNION ALL
    SELECT l.lead_id, 2 AS preference, 'gclid' AS match_method, g.user_pseudo_id
    FROM stg_leads l
    JOIN int_ga_identities g ON g.kind = 'gclid' AND g.match_key = l.gclid
    UNION ALL
    SELECT l.lead_id, 3 AS preference, 'user_id' AS match_method, g.user_pseudo_id
    FROM stg_leads l
    JOIN int_ga_identities g ON g.kind = 'user_id' AND g.match_key = l.email_sha256
),
-- Each candidate with its lead's best preference: one pass over the candidates (joining them
-- to their own GROUP BY would compute every candidate, and every GA user, twice).
ranked AS (
    SELECT c.*, MIN(c.preference) OVER (PARTITION BY c.lead_id) AS best_preference
    FROM candidates c
)
SELECT DISTINCT lead_id, match_method, user_pseudo_id
FROM ranked
WHERE preference = best_preference
