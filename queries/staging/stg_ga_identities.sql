-- version: 2
-- materialized: incremental
-- partition_by: source_file
-- description: >
--   Keys a CRM lead can be matched on (SPEC section 4), as each export file gives them: the
--   gclids (the event's own, else its landing page's) and the user_ids (hashed emails, lower
--   case) of each GA user. Incremental by file, like stg_ga_sessions.
-- tests:
--   - not_null: [source_file, kind, match_key, user_pseudo_id]
--   - accepted_values: {column: kind, values: [gclid, user_id]}
WITH
-- The events that carry a key, read once (a CTE named in both halves of a UNION ALL is
-- computed twice: two scans of every event); each of their keys is then one row.
keyed_events AS (
    SELECT source_file, user_pseudo_id, gclid, user_id
    FROM (
        SELECT
            source_file,
            user_pseudo_id,
            TRIM(COALESCE(NULLIF(TRIM(gclid), ''), page_gclid)) AS gclid,
            LOWER(NULLIF(TRIM(user_id), '')) AS user_id
        FROM ga_events
    ) e
    WHERE gclid IS NOT NULL OR user_id IS NOT NULL
),
keys AS (
    SELECT e.source_file, k.kind, CASE k.kind WHEN 'gclid' THEN e.gclid ELSE e.user_id END AS match_key, e.user_pseudo_id
    FROM keyed_events e
    CROSS JOIN (VALUES ('gclid'), ('user_id')) AS k (kind)
)
SELECT DISTINCT source_file, kind, match_key, user_pseudo_id
FROM keys
WHERE match_key IS NOT NULL
