-- version: 2
-- materialized: table
-- description: >
--   data_driven (SPEC section 6): one path per lead (spam and fallback touches included),
--   (start) -> its channels -> (conversion) with weight = its won share, (null) with 1 - share.
--   The removal effect of each channel is solved exactly by markov_removal_effects (Rust,
--   absorbing-chain algebra); with no won deal every effect is 0.
-- tests:
--   - not_null: [channel, removal_effect]
--   - unique: [channel]
--   - assert: "SELECT * FROM this WHERE removal_effect < 0 OR removal_effect > 1"
WITH steps AS (
    SELECT t.lead_id, t.touch_index, t.n_touches, t.channel, l.won_share
    FROM int_touches t
    JOIN int_leads l ON l.lead_id = t.lead_id
),
transitions AS (
    SELECT '(start)' AS from_state, channel AS to_state, 1.0 AS weight
    FROM steps WHERE touch_index = 1
    UNION ALL
    SELECT a.channel AS from_state, b.channel AS to_state, 1.0 AS weight
    FROM steps a
    JOIN steps b ON b.lead_id = a.lead_id AND b.touch_index = a.touch_index + 1
    UNION ALL
    SELECT channel AS from_state, '(conversion)' AS to_state, won_share AS weight
    FROM steps WHERE touch_index = n_touches AND won_share > 0
    UNION ALL
    SELECT channel AS from_state, '(null)' AS to_state, 1.0 - won_share AS weight
    FROM steps WHERE touch_index = n_touches AND won_share < 1
),
chain AS (
    -- An exact (decimal) sum: the same weights in any order give the same bits, so the
    -- removal effects are identical on every run.
    SELECT from_state, to_state, CAST(SUM(CAST(weight AS DECIMAL(38, 18))) AS DOUBLE) AS weight
    FROM transitions
    GROUP BY from_state, to_state
),
effects AS (
    SELECT UNNEST(markov_removal_effects(
        ARRAY_AGG(from_state ORDER BY from_state, to_state),
        ARRAY_AGG(to_state ORDER BY from_state, to_state),
        ARRAY_AGG(weight ORDER BY from_state, to_state)
    )) AS effect
    FROM chain
)
SELECT effect['channel'] AS channel, effect['removal_effect'] AS removal_effect
FROM effects
