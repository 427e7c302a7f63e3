-- version: 6
-- materialized: incremental
-- partition_by: source_file
-- description: >
--   GA4 sessions as each export file sees them (SPEC section 3's ingredients): one row per
--   (file, user_pseudo_id, ga_session_id) with the file's earliest event of the session, its
--   smallest gclid, and its earliest campaign, manual/UTM source and external referrer, each
--   with the time and line of the event it came from. The traffic fields are cleaned here
--   (clean_text: trimmed, lower-cased, NULL when blank; page_gclid, utm_* and referrer_host were
--   read out of the URLs by the loader; a referrer on one of our own hosts is no referrer). A
--   session that crosses midnight has a row in each day's file; int_sessions merges them,
--   exactly. Incremental by file: a nightly load of one new day reads only that day.
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
        clean_text(e.manual_source) AS manual_source,
        clean_text(e.manual_medium) AS manual_medium,
        clean_text(e.manual_campaign_name) AS manual_campaign,
        clean_text(e.utm_source) AS utm_source,
        clean_text(e.utm_medium) AS utm_medium,
        clean_text(e.utm_campaign) AS utm_campaign,
        CASE WHEN own.host IS NULL THEN e.referrer_host END AS external_referrer
    FROM ga_events e
    LEFT JOIN cfg_own_hosts own ON own.host = e.referrer_host
),
-- One row per file and session: its first event and smallest gclid (every event), and the
-- earliest campaign, manual/UTM source and external referrer, each from the (few) events that
-- carry one, events at the same instant in line order, with the time and line it came from.
-- first_by(value, key...) is FIRST_VALUE(value ORDER BY key...) with the keys compared as
-- bytes (src/udf/first_by.rs); under a FILTER it encodes only the kept rows' keys. Each rule's
-- fields come from the same event, so they are one first_by of a struct: its keys are encoded
-- and compared once, not once per field; the event's time and line are fields of it too. One
-- aggregate, no join: the loader writes each
-- file's events sorted by session and declares it (Parquet sorting_columns), so DataFusion
-- groups each session as it streams by (a "Sorted" aggregate, no hash table of every
-- session); over files loaded before that order it hashes, with the same result, and can
-- spill under --memory-limit.
per_file_session AS (
    SELECT
        source_file,
        user_pseudo_id,
        ga_session_id,
        MIN(event_at) AS first_event_at,
        MIN(gclid) AS gclid,
        first_by(named_struct('campaign', COALESCE(manual_campaign, utm_campaign), 'at', event_at, 'line', source_line), event_at, source_line)
            FILTER (WHERE COALESCE(manual_campaign, utm_campaign) IS NOT NULL) AS campaign,
        first_by(
            named_struct(
                'source', CASE WHEN manual_source IS NOT NULL THEN manual_source ELSE utm_source END,
                'medium', CASE WHEN manual_source IS NOT NULL THEN manual_medium ELSE utm_medium END,
                'campaign', CASE WHEN manual_source IS NOT NULL THEN manual_campaign ELSE utm_campaign END,
                'at', event_at,
                'line', source_line
            ),
            event_at, source_line
        ) FILTER (WHERE manual_source IS NOT NULL OR utm_source IS NOT NULL) AS tagged,
        first_by(named_struct('host', external_referrer, 'at', event_at, 'line', source_line), event_at, source_line)
            FILTER (WHERE external_referrer IS NOT NULL) AS referrer
    FROM events
    GROUP BY source_file, user_pseudo_id, ga_session_id
)
SELECT
    source_file,
    user_pseudo_id,
    ga_session_id,
    first_event_at,
    gclid,
    campaign['campaign'] AS campaign,
    campaign['at'] AS campaign_at,
    campaign['line'] AS campaign_line,
    tagged['source'] AS tagged_source,
    tagged['medium'] AS tagged_medium,
    tagged['campaign'] AS tagged_campaign,
    tagged['at'] AS tagged_at,
    tagged['line'] AS tagged_line,
    referrer['host'] AS referrer_host,
    referrer['at'] AS referrer_at,
    referrer['line'] AS referrer_line
FROM per_file_session
