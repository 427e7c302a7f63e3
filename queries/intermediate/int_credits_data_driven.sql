-- version: 2
-- materialized: table
-- description: >
--   data_driven credit (SPEC section 6): each lead's 1 is split over the distinct channels of
--   its journey in proportion to their removal effects, then equally over that channel's
--   touches; when every effect of the journey is 0 the split is linear.
-- tests:
--   - not_null: [lead_id, touch_index, credit]
--   - unique: [lead_id, touch_index]
--   - assert: "SELECT lead_id FROM this GROUP BY lead_id HAVING ABS(SUM(credit) - 1.0) > 1e-9"
-- columns:
--   - {name: lead_id, type: VARCHAR, description: "the CRM lead (Salesforce Lead or HubSpot contact) id"}
--   - {name: touch_index, type: BIGINT, description: "the touch's place in the lead's journey (1 = first)"}
--   - {name: attribution_model, type: VARCHAR, description: "the attribution model that split each lead's credit (first_touch ... data_driven)"}
--   - {name: credit, type: DOUBLE, description: "the share of the lead this touch gets under the model (a lead's credits add up to 1)"}
WITH lead_channels AS (
    SELECT lead_id, channel, COUNT(*) AS channel_touches
    FROM int_touches
    GROUP BY lead_id, channel
),
scored AS (
    SELECT
        lc.lead_id,
        lc.channel,
        lc.channel_touches,
        COALESCE(e.removal_effect, 0.0) AS removal_effect,
        -- Summed in channel order, so the total has the same bits on every run.
        SUM(COALESCE(e.removal_effect, 0.0)) OVER (
            PARTITION BY lc.lead_id ORDER BY lc.channel
            ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING
        ) AS effect_total
    FROM lead_channels lc
    LEFT JOIN int_markov_removal_effects e ON e.channel = lc.channel
)
SELECT
    t.lead_id,
    t.touch_index,
    'data_driven' AS attribution_model,
    CASE
        WHEN s.effect_total > 0 THEN s.removal_effect / s.effect_total / s.channel_touches
        ELSE 1.0 / t.n_touches
    END AS credit
FROM int_touches t
JOIN scored s ON s.lead_id = t.lead_id AND s.channel = t.channel
