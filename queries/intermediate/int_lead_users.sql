-- version: 1
-- materialized: table
-- description: >
--   Which GA users a lead is (SPEC section 4): by GA client id = user_pseudo_id, else by gclid =
--   a session's gclid, else by SHA-256 of the email = GA user_id. The first method that finds
--   any GA user is the only one used.
-- tests:
--   - not_null: [lead_id, match_method, user_pseudo_id]
--   - unique: [lead_id, user_pseudo_id]
--   - accepted_values: {column: match_method, values: [client_id, gclid, user_id]}
WITH ga_users AS (
    SELECT DISTINCT user_pseudo_id FROM int_sessions
),
candidates AS (
    SELECT l.lead_id, 1 AS preference, 'client_id' AS match_method, u.user_pseudo_id
    FROM stg_leads l
    JOIN ga_users u ON u.user_pseudo_id = l.ga_client_id
    UNION ALL
    SELECT l.lead_id, 2 AS preference, 'gclid' AS match_method, g.user_pseudo_id
    FROM stg_leads l
    JOIN int_ga_identities g ON g.kind = 'gclid' AND g.match_key = l.gclid
    UNION ALL
    SELECT l.lead_id, 3 AS preference, 'user_id' AS match_method, g.user_pseudo_id
    FROM stg_leads l
    JOIN int_ga_identities g ON g.kind = 'user_id' AND g.match_key = l.email_sha256
),
best AS (
    SELECT lead_id, MIN(preference) AS preference FROM candidates GROUP BY lead_id
)
SELECT DISTINCT c.lead_id, c.match_method, c.user_pseudo_id
FROM candidates c
JOIN best b ON b.lead_id = c.lead_id AND b.preference = c.preference
