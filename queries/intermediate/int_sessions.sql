-- version: 9
-- materialized: incremental
-- partition_by: session_id_day
-- description: >
--   One row per GA session (user_pseudo_id, ga_session_id): its start and its traffic source by
--   the first rule that applies (SPEC section 3): gclid, then the earliest manual/UTM source,
--   then the earliest external referrer, else (direct) / (none). Channel by the rules in
--   config/channel_rules.yaml. Months are local calendar months of the reporting time zone;
--   gclid is the session's click id (the smallest, should it carry several). session_key
--   (user_pseudo_id:ga_session_id) is built here once; touches carry it. Events at the same
--   instant are taken in file order (export file name, then line). Built from stg_ga_sessions
--   (one row per session and export file), so a nightly build reads only the new day's events.
--   Incremental: a nightly build rebuilds the sessions of the days (session_id_day) that the
--   new export file's sessions belong to, the day before included for one that crossed midnight,
--   from every file they have rows in; the other days' folders are carried over.
-- tests:
--   - not_null: [user_pseudo_id, ga_session_id, session_start, session_month, source, medium, campaign, channel]
--   # The grain, (user_pseudo_id, ga_session_id), and session_key unique. session_id_day is a
--   # function of ga_session_id, so with it in the key the test says the same, and a nightly
--   # build tests only the days it rebuilt.
--   - unique: [session_id_day, user_pseudo_id, ga_session_id]
--   - unique: [session_id_day, session_key]
WITH
-- A session has a row for every export file it has events in (one, or two across midnight):
-- its start is the earliest, its gclid the smallest, and each traffic field the one of the
-- earliest event that carries it (by time, then file, then line): first_by(value, key...) is
-- FIRST_VALUE(value ORDER BY key...) with the keys compared as bytes (src/udf/first_by.rs),
-- FILTERed to the rows that carry one (NULL when none does); the tagged source, medium and
-- campaign come from one row, so they are one first_by of a struct (its keys encoded once).
-- One aggregate, no join: it can spill under --memory-limit, where a join's hash table cannot.
per_session AS (
    SELECT
        user_pseudo_id,
        ga_session_id,
        MIN(first_event_at) AS session_start,
        MIN(gclid) AS gclid,
        MIN(gclid) IS NOT NULL AS has_gclid,
        first_by(campaign, campaign_at, source_file, campaign_line)
            FILTER (WHERE campaign_at IS NOT NULL) AS gclid_campaign,
        first_by(
            named_struct('source', tagged_source, 'medium', tagged_medium, 'campaign', tagged_campaign),
            tagged_at, source_file, tagged_line
        ) FILTER (WHERE tagged_at IS NOT NULL) AS tagged,
        first_by(referrer_host, referrer_at, source_file, referrer_line)
            FILTER (WHERE referrer_at IS NOT NULL) AS referrer_host
    FROM stg_ga_sessions
    GROUP BY user_pseudo_id, ga_session_id
),
sourced AS (
    SELECT
        user_pseudo_id,
        ga_session_id,
        session_start,
        gclid,
        CASE
            WHEN has_gclid THEN 'google'
            WHEN tagged['source'] IS NOT NULL THEN tagged['source']
            WHEN referrer_host IS NOT NULL THEN referrer_host
            ELSE '(direct)'
        END AS source,
        CASE
            WHEN has_gclid THEN 'cpc'
            WHEN tagged['source'] IS NOT NULL THEN COALESCE(tagged['medium'], '(none)')
            WHEN referrer_host IS NOT NULL THEN referrer_medium(referrer_host)
            ELSE '(none)'
        END AS medium,
        CASE
            WHEN has_gclid THEN COALESCE(gclid_campaign, '(not set)')
            WHEN tagged['source'] IS NOT NULL THEN COALESCE(tagged['campaign'], '(not set)')
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
    channel_group(source, medium, campaign) AS channel,
    -- GA4 stamps a session's id with its start, in seconds: this is the UTC day number the
    -- session started on. A function of the key (not of its rows), so a nightly build's
    -- restriction to some days reaches stg_ga_sessions' scan through the aggregate.
    ga_session_id / 86400 AS session_id_day
FROM sourced
