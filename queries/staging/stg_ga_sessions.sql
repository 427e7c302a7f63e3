-- version: 2
-- materialized: incremental
-- partition_by: source_file
-- description: >
--   GA4 sessions as each export file sees them (SPEC section 3's ingredients): one row per
--   (file, user_pseudo_id, ga_session_id) with the file's earliest event of the session, its
--   smallest gclid, and its earliest campaign, manual/UTM source and external referrer, each
--   with the time and line of the event it came from. The traffic fields are cleaned here
--   (trimmed, lower-cased; page_gclid, utm_* and referrer_host were read out of the URLs by the
--   loader; a referrer on one of our own hosts is no referrer). A session that crosses
--   midnight has a row in each day's file; int_sessions merges them, exactly. Incremental by
--   file: a nightly load of one new day reads only that day.
-- tests:
--   - not_null: [source_file, user_pseudo_id, ga_session_id, first_event_at]
--   - unique: [source_file, user_pseudo_id, ga_session_id]
WITH events AS (
    SELECT
        e.source_file,
        e.source_line,
        e.user_pseudo_id,
        e.ga_session_id,
        e.event_at,
        COALESCE(NULLIF(TRIM(e.gclid), ''), e.page_gclid) AS gclid,
        NULLIF(LOWER(TRIM(e.manual_source)), '') AS manual_source,
        NULLIF(LOWER(TRIM(e.manual_medium)), '') AS manual_medium,
        NULLIF(LOWER(TRIM(e.manual_campaign_name)), '') AS manual_campaign,
        NULLIF(LOWER(TRIM(e.utm_source)), '') AS utm_source,
        NULLIF(LOWER(TRIM(e.utm_medium)), '') AS utm_medium,
        NULLIF(LOWER(TRIM(e.utm_campaign)), '') AS utm_campaign,
        CASE WHEN own.host IS NULL THEN e.referrer_host END AS external_referrer
    FROM ga_events e
    LEFT JOIN cfg_own_hosts own ON own.host = e.referrer_host
),
-- Every event: the session's first event and gclid in this file.
sessions AS (
    SELECT source_file, user_pseudo_id, ga_session_id,
           MIN(event_at) AS first_event_at, MIN(gclid) AS gclid
    FROM events
    GROUP BY source_file, user_pseudo_id, ga_session_id
),
-- The (few) events that carry a campaign, a source or a referrer: the earliest of each kind,
-- events at the same instant in line order, with where it came from. first_by(value, key...)
-- is FIRST_VALUE(value ORDER BY key...) with the keys compared as bytes (src/udf/first_by.rs).
tagged AS (
    SELECT
        source_file,
        user_pseudo_id,
        ga_session_id,
        first_by(COALESCE(manual_campaign, utm_campaign), event_at, source_line)
            FILTER (WHERE COALESCE(manual_campaign, utm_campaign) IS NOT NULL) AS campaign,
        MIN(event_at) FILTER (WHERE COALESCE(manual_campaign, utm_campaign) IS NOT NULL) AS campaign_at,
        first_by(source_line, event_at, source_line)
            FILTER (WHERE COALESCE(manual_campaign, utm_campaign) IS NOT NULL) AS campaign_line,
        first_by(CASE WHEN manual_source IS NOT NULL THEN manual_source ELSE utm_source END, event_at, source_line)
            FILTER (WHERE manual_source IS NOT NULL OR utm_source IS NOT NULL) AS tagged_source,
        first_by(CASE WHEN manual_source IS NOT NULL THEN manual_medium ELSE utm_medium END, event_at, source_line)
            FILTER (WHERE manual_source IS NOT NULL OR utm_source IS NOT NULL) AS tagged_medium,
        first_by(CASE WHEN manual_source IS NOT NULL THEN manual_campaign ELSE utm_campaign END, event_at, source_line)
            FILTER (WHERE manual_source IS NOT NULL OR utm_source IS NOT NULL) AS tagged_campaign,
        MIN(event_at) FILTER (WHERE manual_source IS NOT NULL OR utm_source IS NOT NULL) AS tagged_at,
        first_by(source_line, event_at, source_line)
            FILTER (WHERE manual_source IS NOT NULL OR utm_source IS NOT NULL) AS tagged_line,
        first_by(external_referrer, event_at, source_line)
            FILTER (WHERE external_referrer IS NOT NULL) AS referrer_host,
        MIN(event_at) FILTER (WHERE external_referrer IS NOT NULL) AS referrer_at,
        first_by(source_line, event_at, source_line)
            FILTER (WHERE external_referrer IS NOT NULL) AS referrer_line
    FROM events
    WHERE manual_campaign IS NOT NULL OR utm_campaign IS NOT NULL OR manual_source IS NOT NULL
       OR utm_source IS NOT NULL OR external_referrer IS NOT NULL
    GROUP BY source_file, user_pseudo_id, ga_session_id
)
SELECT
    s.source_file,
    s.user_pseudo_id,
    s.ga_session_id,
    s.first_event_at,
    s.gclid,
    t.campaign,
    t.campaign_at,
    t.campaign_line,
    t.tagged_source,
    t.tagged_medium,
    t.tagged_campaign,
    t.tagged_at,
    t.tagged_line,
    t.referrer_host,
    t.referrer_at,
    t.referrer_line
FROM sessions s
LEFT JOIN tagged t
    ON t.source_file = s.source_file AND t.user_pseudo_id = s.user_pseudo_id
   AND t.ga_session_id = s.ga_session_id
