-- version: 1
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
        MAX(CASE WHEN t.source <> '(direct)' THEN t.touch_index END) OVER (PARTITION BY t.lead_id) AS last_non_direct,
        POWER(2.0, -days_between(t.touch_at, t.created_at) / c.half_life_days) AS decay_weight
    FROM int_touches t
    CROSS JOIN cfg_settings c
),
weighted AS (
    SELECT *, SUM(decay_weight) OVER (PARTITION BY lead_id) AS decay_total FROM touches
)
SELECT lead_id, touch_index, 'first_touch' AS attribution_model,
       CASE WHEN touch_index = 1 THEN 1.0 ELSE 0.0 END AS credit
FROM weighted
UNION ALL
SELECT lead_id, touch_index, 'last_touch' AS attribution_model,
       CASE WHEN touch_index = COALESCE(last_non_direct, n_touches) THEN 1.0 ELSE 0.0 END AS credit
FROM weighted
UNION ALL
SELECT lead_id, touch_index, 'linear' AS attribution_model, 1.0 / n_touches AS credit
FROM weighted
UNION ALL
SELECT lead_id, touch_index, 'time_decay' AS attribution_model, decay_weight / decay_total AS credit
FROM weighted
UNION ALL
SELECT lead_id, touch_index, 'position_based' AS attribution_model,
       CASE
           WHEN n_touches = 1 THEN 1.0
           WHEN n_touches = 2 THEN 0.5
           WHEN touch_index = 1 OR touch_index = n_touches THEN 0.4
           ELSE 0.2 / (n_touches - 2)
       END AS credit
FROM weighted
