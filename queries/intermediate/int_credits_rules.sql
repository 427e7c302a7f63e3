-- version: 2
-- materialized: table
-- description: >
--   Rule-based attribution (SPEC section 6): first_touch, last_touch (last non-direct touch,
--   else the last), linear, time_decay (2^(-(T - t)/half_life) in fractional days, normalised)
--   and position_based (1; 0.5/0.5; 0.4 first, 0.4 last, 0.2 shared by the middle).
-- tests:
--   - not_null: [lead_id, touch_index, attribution_model, credit]
--   - unique: [lead_id, touch_index, attribution_model]
--   - assert: "SELECT lead_id, attribution_model FROM this GROUP BY lead_id, attribution_model HAVING ABS(SUM(credit) - 1.0) > 1e-9"
-- columns:
--   - {name: lead_id, type: VARCHAR, description: "the CRM lead (Salesforce Lead or HubSpot contact) id"}
--   - {name: touch_index, type: BIGINT, description: "the touch's place in the lead's journey (1 = first)"}
--   - {name: attribution_model, type: VARCHAR, description: "the attribution model that split each lead's credit (first_touch ... data_driven)"}
--   - {name: credit, type: DOUBLE, description: "the share of the lead this touch gets under the model (a lead's credits add up to 1)"}
WITH touches AS (
    SELECT
        t.*,
        POWER(2.0, -days_between(t.touch_at, t.created_at) / c.half_life_days) AS decay_weight
    FROM int_touches t
    CROSS JOIN cfg_settings c
),
-- Each lead's last non-direct touch and total decay weight: aggregates joined back, in the two
-- rules that need them, not windows over the lead (DataFusion's window operators cost a few
-- microseconds per lead partition: 1-2 s each over 0.9M touches of 0.6M leads).
last_non_direct AS (
    SELECT lead_id, MAX(CASE WHEN source <> '(direct)' THEN touch_index END) AS touch_index
    FROM int_touches
    GROUP BY lead_id
),
decay_total AS (
    SELECT lead_id, SUM(decay_weight) AS weight FROM touches GROUP BY lead_id
)
SELECT lead_id, touch_index, 'first_touch' AS attribution_model,
       CASE WHEN touch_index = 1 THEN 1.0 ELSE 0.0 END AS credit
FROM int_touches
UNION ALL
SELECT t.lead_id, t.touch_index, 'last_touch' AS attribution_model,
       CASE WHEN t.touch_index = COALESCE(l.touch_index, t.n_touches) THEN 1.0 ELSE 0.0 END AS credit
FROM int_touches t
JOIN last_non_direct l ON l.lead_id = t.lead_id
UNION ALL
SELECT lead_id, touch_index, 'linear' AS attribution_model, 1.0 / n_touches AS credit
FROM int_touches
UNION ALL
SELECT t.lead_id, t.touch_index, 'time_decay' AS attribution_model, t.decay_weight / d.weight AS credit
FROM touches t
JOIN decay_total d ON d.lead_id = t.lead_id
UNION ALL
SELECT lead_id, touch_index, 'position_based' AS attribution_model,
       CASE
           WHEN n_touches = 1 THEN 1.0
           WHEN n_touches = 2 THEN 0.5
           WHEN touch_index = 1 OR touch_index = n_touches THEN 0.4
           ELSE 0.2 / (n_touches - 2)
       END AS credit
FROM int_touches
