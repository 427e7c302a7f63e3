-- version: 3
-- materialized: table
-- description: >
--   One row per GA session (user_pseudo_id, ga_session_id): its start and its traffic source by
--   the first rule that applies (SPEC section 3): gclid, then the earliest manual/UTM source,
--   then the earliest external referrer, else (direct) / (none). Channel by the rules in
--   config/channel_rules.yaml. Months are local calendar months of the reporting time zone;
--   gclid is the session's click id (the smallest, should it carry several). session_key
--   (user_pseudo_id:ga_session_id) is built here once; touches carry it.
-- tests:
--   - not_null: [user_pseudo_id, ga_session_id, session_start, session_month, source, medium, campaign, channel]
--   - unique: [user_pseudo_id, ga_session_id]
--   - unique: [session_key]
WITH file_order AS (
    SELECT source_file, ROW_NUMBER() OVER (ORDER BY source_file) AS file_rank
    FROM (SELECT DISTINCT source_file FROM stg_ga_events) files
),
events AS (
    SELECT e.*, f.file_rank * 4294967296 + e.source_line AS event_seq
    FROM stg_ga_events e
    JOIN file_order f ON f.source_file = e.source_file
),
-- Start and gclid of every session: cheap aggregates over all events.
sessions AS (
    SELECT
        user_pseudo_id,
        ga_session_id,
        MIN(event_at) AS session_start,
        MIN(gclid) AS gclid
    FROM stg_ga_events
    GROUP BY user_pseudo_id, ga_session_id
),
-- The earliest campaign, manual/UTM source and external referrer of a session: ordered
-- aggregates, so only over the (few) events that carry one. Sessions without any get NULLs
-- from the LEFT JOIN below, as the FILTERed aggregates would give.
tagged AS (
    SELECT
        user_pseudo_id,
        ga_session_id,
        FIRST_VALUE(COALESCE(manual_campaign, utm_campaign) ORDER BY event_at, event_seq)
            FILTER (WHERE COALESCE(manual_campaign, utm_campaign) IS NOT NULL) AS gclid_campaign,
        FIRST_VALUE(CASE WHEN manual_source IS NOT NULL THEN manual_source ELSE utm_source END ORDER BY event_at, event_seq)
            FILTER (WHERE manual_source IS NOT NULL OR utm_source IS NOT NULL) AS tagged_source,
        FIRST_VALUE(CASE WHEN manual_source IS NOT NULL THEN manual_medium ELSE utm_medium END ORDER BY event_at, event_seq)
            FILTER (WHERE manual_source IS NOT NULL OR utm_source IS NOT NULL) AS tagged_medium,
        FIRST_VALUE(CASE WHEN manual_source IS NOT NULL THEN manual_campaign ELSE utm_campaign END ORDER BY event_at, event_seq)
            FILTER (WHERE manual_source IS NOT NULL OR utm_source IS NOT NULL) AS tagged_campaign,
        FIRST_VALUE(external_referrer ORDER BY event_at, event_seq)
            FILTER (WHERE external_referrer IS NOT NULL) AS referrer_host
    FROM events
    WHERE manual_campaign IS NOT NULL OR utm_campaign IS NOT NULL OR manual_source IS NOT NULL
       OR utm_source IS NOT NULL OR external_referrer IS NOT NULL
    GROUP BY user_pseudo_id, ga_session_id
),
per_session AS (
    SELECT s.user_pseudo_id, s.ga_session_id, s.session_start, s.gclid, s.gclid IS NOT NULL AS has_gclid,
           t.gclid_campaign, t.tagged_source, t.tagged_medium, t.tagged_campaign, t.referrer_host
    FROM sessions s
    LEFT JOIN tagged t ON t.user_pseudo_id = s.user_pseudo_id AND t.ga_session_id = s.ga_session_id
),
sourced AS (
    SELECT
        user_pseudo_id,
        ga_session_id,
        session_start,
        gclid,
        CASE
            WHEN has_gclid THEN 'google'
            WHEN tagged_source IS NOT NULL THEN tagged_source
            WHEN referrer_host IS NOT NULL THEN referrer_host
            ELSE '(direct)'
        END AS source,
        CASE
            WHEN has_gclid THEN 'cpc'
            WHEN tagged_source IS NOT NULL THEN COALESCE(tagged_medium, '(none)')
            WHEN referrer_host IS NOT NULL THEN referrer_medium(referrer_host)
            ELSE '(none)'
        END AS medium,
        CASE
            WHEN has_gclid THEN COALESCE(gclid_campaign, '(not set)')
            WHEN tagged_source IS NOT NULL THEN COALESCE(tagged_campaign, '(not set)')
            ELSE '(not set)'
        END AS campaign
    FROM per_session
)
SELECT
    user_pseudo_id,
    ga_session_id,
    user_pseudo_id || ':' || CAST(ga_session_id AS VARCHAR) AS session_key,
    session_start,
    local_month(session_start, (SELECT reporting_timezone FROM cfg_settings)) AS session_month,
    gclid,
    source,
    medium,
    campaign,
    channel_group(source, medium, campaign) AS channel
FROM sourced
