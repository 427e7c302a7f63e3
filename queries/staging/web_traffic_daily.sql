-- version: 2
-- materialized: incremental
-- partition_by: day
-- description: >
--   GA4 activity per UTC day: events, form submissions, active users and sessions. Incremental:
--   a nightly load of new export files rebuilds only the days they hold.
-- tests:
--   - not_null: [day, events, users, sessions]
--   - unique: [day]
-- columns:
--   - {name: day, type: DATE, description: "the UTC day of the events"}
--   - {name: events, type: BIGINT, description: "GA4 events"}
--   - {name: form_submits, type: BIGINT, description: "form-submit events"}
--   - {name: users, type: BIGINT, description: "distinct GA users"}
--   - {name: sessions, type: BIGINT, description: "GA4 sessions that started in the month (the same under every model)"}
WITH
-- Distinct users and sessions by grouping, not COUNT(DISTINCT): a day's distinct set is one
-- group's state, which cannot spill (at 100M events it asked for 1.6 GB at once); these
-- aggregates can. A session counts when both its user and its id are known, as the user:session
-- key of a COUNT(DISTINCT) would.
per_session AS (
    SELECT
        CAST(event_at AS DATE) AS day,
        user_pseudo_id,
        ga_session_id,
        COUNT(*) AS events,
        SUM(CASE WHEN event_name = 'form_submit' THEN 1 ELSE 0 END) AS form_submits
    FROM ga_events
    GROUP BY CAST(event_at AS DATE), user_pseudo_id, ga_session_id
),
per_user AS (
    SELECT
        day,
        user_pseudo_id,
        SUM(events) AS events,
        SUM(form_submits) AS form_submits,
        COUNT(ga_session_id) AS sessions
    FROM per_session
    GROUP BY day, user_pseudo_id
)
SELECT
    day,
    CAST(SUM(events) AS BIGINT) AS events,
    CAST(SUM(form_submits) AS BIGINT) AS form_submits,
    COUNT(user_pseudo_id) AS users,
    CAST(COALESCE(SUM(CASE WHEN user_pseudo_id IS NOT NULL THEN sessions END), 0) AS BIGINT) AS sessions
FROM per_user
GROUP BY day
