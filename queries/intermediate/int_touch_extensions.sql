-- version: 1
-- materialized: table
-- description: >
--   For w_shaped (SPEC section 6 and rulings): the sessions of a lead's matched GA users after
--   its creation up to its opportunity's creation, (created_at, opportunity created_at], numbered
--   after the lead's own journey.
-- tests:
--   - not_null: [lead_id, touch_index, touch_at, channel]
--   - unique: [lead_id, touch_index]
WITH extension AS (
    SELECT
        u.lead_id,
        u.match_method,
        s.user_pseudo_id,
        s.ga_session_id,
        s.session_start AS touch_at,
        s.source,
        s.medium,
        s.campaign,
        s.channel,
        l.created_at,
        l.lead_month
    FROM int_lead_users u
    JOIN stg_leads l ON l.lead_id = u.lead_id
    JOIN stg_sessions s ON s.user_pseudo_id = u.user_pseudo_id
    WHERE l.opportunity_created_at IS NOT NULL
      AND s.session_start > l.created_at
      AND s.session_start <= l.opportunity_created_at
),
journey_length AS (
    SELECT lead_id, MAX(n_touches) AS n_touches FROM int_touches GROUP BY lead_id
)
SELECT
    e.lead_id,
    j.n_touches + ROW_NUMBER() OVER (PARTITION BY e.lead_id ORDER BY e.touch_at, e.ga_session_id, e.user_pseudo_id) AS touch_index,
    j.n_touches,
    e.user_pseudo_id || ':' || CAST(e.ga_session_id AS VARCHAR) AS session_key,
    e.user_pseudo_id,
    e.ga_session_id,
    e.touch_at,
    e.source,
    e.medium,
    e.campaign,
    e.channel,
    e.match_method,
    e.created_at,
    e.lead_month
FROM extension e
JOIN journey_length j ON j.lead_id = e.lead_id
