-- version: 1
-- materialized: table
-- description: >
--   For w_shaped (SPEC section 6 and rulings): the sessions of a lead's matched GA users after
--   its creation up to its opportunity's creation, (created_at, opportunity created_at], numbered
--   after the lead's own journey.
-- tests:
--   - not_null: [lead_id, touch_index, touch_at, channel]
--   - unique: [lead_id, touch_index]
-- columns:
--   - {name: lead_id, type: VARCHAR, description: "the CRM lead (Salesforce Lead or HubSpot contact) id"}
--   - {name: touch_index, type: "DECIMAL(20, 0)", description: "the touch's place in the lead's journey (1 = first)"}
--   - {name: n_touches, type: BIGINT, description: "how many touches the journey has"}
--   - {name: session_key, type: VARCHAR, description: "user_pseudo_id:ga_session_id of a GA session touch; NULL for a fallback touch"}
--   - {name: user_pseudo_id, type: VARCHAR, description: "the GA4 device/browser id of the session"}
--   - {name: ga_session_id, type: BIGINT, description: "the GA4 session id"}
--   - {name: touch_at, type: TIMESTAMP, description: "when the touch happened (session start, or the lead's creation for a fallback touch), UTC"}
--   - {name: source, type: VARCHAR, description: "traffic source of the touch"}
--   - {name: medium, type: VARCHAR, description: "traffic medium of the touch"}
--   - {name: campaign, type: VARCHAR, description: "the campaign, lower-cased and trimmed; (not set) when none"}
--   - {name: channel, type: VARCHAR, description: "the marketing channel (GA4's default channel grouping, or the spend platform's channel)"}
--   - {name: match_method, type: VARCHAR, description: "how the lead was matched to GA users: client_id, gclid, user_id, utm, lead_source or none"}
--   - {name: created_at, type: TIMESTAMP, description: "the lead's creation, UTC"}
--   - {name: lead_month, type: DATE, description: "the month of the lead's creation in the reporting time zone"}
WITH extension AS (
    SELECT
        u.lead_id,
        u.match_method,
        s.session_key,
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
    JOIN int_leads l ON l.lead_id = u.lead_id
    JOIN int_sessions s ON s.user_pseudo_id = u.user_pseudo_id
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
    e.session_key,
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
