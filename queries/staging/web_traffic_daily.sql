-- version: 1
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
SELECT
    CAST(event_at AS DATE) AS day,
    COUNT(*) AS events,
    SUM(CASE WHEN event_name = 'form_submit' THEN 1 ELSE 0 END) AS form_submits,
    COUNT(DISTINCT user_pseudo_id) AS users,
    COUNT(DISTINCT user_pseudo_id || ':' || CAST(ga_session_id AS VARCHAR)) AS sessions
FROM ga_events
GROUP BY CAST(event_at AS DATE)
