-- version: 5
-- materialized: table
-- description: >
--   Every lead's journey (SPEC section 4): the sessions of its matched GA users that start in
--   [created_at - lookback, created_at], ordered by start, ga_session_id, user_pseudo_id. A lead
--   with no such session gets one fallback touch at its creation: from its UTM fields, else its
--   LeadSource through config, else channel Unattributed.
-- tests:
--   - not_null: [lead_id, touch_index, n_touches, touch_at, source, medium, campaign, channel, match_method]
--   - unique: [lead_id, touch_index]
--   - accepted_values: {column: match_method, values: [client_id, gclid, user_id, utm, lead_source, none]}
--   - relationships: {column: lead_id, to: stg_leads, field: lead_id}
--   - assert: "SELECT lead_id FROM this GROUP BY lead_id HAVING COUNT(*) <> MAX(n_touches)"
-- columns:
--   - {name: lead_id, type: VARCHAR, description: "the CRM lead (Salesforce Lead or HubSpot contact) id"}
--   - {name: touch_index, type: BIGINT, description: "the touch's place in the lead's journey (1 = first)"}
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
WITH window_sessions AS (
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
        TRUE AS in_window
    FROM int_lead_users u
    JOIN stg_leads l ON l.lead_id = u.lead_id
    JOIN int_sessions s ON s.user_pseudo_id = u.user_pseudo_id
    CROSS JOIN cfg_settings c
    WHERE s.session_start <= l.created_at
      AND s.session_start >= l.created_at - c.lookback
),
methods AS (
    SELECT DISTINCT lead_id, match_method FROM int_lead_users
),
-- Every lead with the touch it gets when its window has no session.
fallback AS (
    SELECT
        l.lead_id,
        l.created_at,
        l.lead_month,
        COALESCE(
            m.match_method,
            CASE
                WHEN l.utm_source IS NOT NULL THEN 'utm'
                WHEN ls.channel IS NOT NULL THEN 'lead_source'
                ELSE 'none'
            END
        ) AS match_method,
        COALESCE(l.utm_source, clean_text(l.lead_source), '(none)') AS source,
        CASE WHEN l.utm_source IS NOT NULL THEN COALESCE(l.utm_medium, '(none)') ELSE '(lead source)' END AS medium,
        CASE WHEN l.utm_source IS NOT NULL THEN COALESCE(l.utm_campaign, '(not set)') ELSE '(not set)' END AS campaign,
        CASE
            WHEN l.utm_source IS NOT NULL
                THEN channel_group(l.utm_source, COALESCE(l.utm_medium, '(none)'), COALESCE(l.utm_campaign, '(not set)'))
            ELSE COALESCE(ls.channel, 'Unattributed')
        END AS channel
    FROM stg_leads l
    LEFT JOIN methods m ON m.lead_id = l.lead_id
    LEFT JOIN cfg_lead_source_channels ls ON ls.lead_source = LOWER(TRIM(l.lead_source))
),
-- Each lead's window sessions, or its fallback touch when there are none (in_window NULL): one
-- LEFT JOIN, so the sessions are joined once (NOT EXISTS over window_sessions joins them again).
touches AS (
    SELECT
        f.lead_id,
        CASE WHEN w.in_window THEN w.match_method ELSE f.match_method END AS match_method,
        w.session_key,
        w.user_pseudo_id,
        w.ga_session_id,
        CASE WHEN w.in_window THEN w.touch_at ELSE f.created_at END AS touch_at,
        CASE WHEN w.in_window THEN w.source ELSE f.source END AS source,
        CASE WHEN w.in_window THEN w.medium ELSE f.medium END AS medium,
        CASE WHEN w.in_window THEN w.campaign ELSE f.campaign END AS campaign,
        CASE WHEN w.in_window THEN w.channel ELSE f.channel END AS channel,
        f.created_at,
        f.lead_month
    FROM fallback f
    LEFT JOIN window_sessions w ON w.lead_id = f.lead_id
)
SELECT
    t.lead_id,
    ROW_NUMBER() OVER (PARTITION BY t.lead_id ORDER BY t.touch_at, t.ga_session_id, t.user_pseudo_id) AS touch_index,
    -- The same window as touch_index's, over the whole lead: one window operator, not two
    -- (4.7 s of CPU at 10M events with the count a window of its own, 2.4 s like this).
    COUNT(*) OVER (
        PARTITION BY t.lead_id ORDER BY t.touch_at, t.ga_session_id, t.user_pseudo_id
        ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
    ) AS n_touches,
    t.session_key,
    t.user_pseudo_id,
    t.ga_session_id,
    t.touch_at,
    t.source,
    t.medium,
    t.campaign,
    t.channel,
    t.match_method,
    t.created_at,
    t.lead_month
FROM touches t
