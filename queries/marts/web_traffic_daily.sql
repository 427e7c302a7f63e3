-- version: 1
-- materialized: incremental
-- partition_by: day
-- description: >
--   GA4 activity per UTC day: events, form submissions, active users and sessions. Incremental:
--   a nightly load of new export files rebuilds only the days they hold.
-- tests:
--   - not_null: [day, events, users, sessions]
--   - unique: [day]
SELECT
    CAST(event_at AS DATE) AS day,
    COUNT(*) AS events,
    SUM(CASE WHEN event_name = 'form_submit' THEN 1 ELSE 0 END) AS form_submits,
    COUNT(DISTINCT user_pseudo_id) AS users,
    COUNT(DISTINCT user_pseudo_id || ':' || CAST(ga_session_id AS VARCHAR)) AS sessions
FROM ga_events
GROUP BY CAST(event_at AS DATE)
