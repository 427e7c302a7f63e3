-- version: 1
-- materialized: table
-- description: >
--   w_shaped (SPEC section 6 and rulings): over the journey extended to the opportunity's
--   creation, the first touch, the lead-creation touch (last at or before the lead's creation)
--   and the opportunity-creation touch (last at or before the opportunity's creation) get 0.3
--   each, adding up when one touch is several; the other touches share 0.1, or with none the
--   0.1 goes equally to the distinct milestone touches. Leads without an opportunity, or with no
--   touch at or before its creation, take position_based.
-- tests:
--   - not_null: [lead_id, touch_index, credit]
--   - unique: [lead_id, touch_index]
--   - assert: "SELECT lead_id FROM this GROUP BY lead_id HAVING ABS(SUM(credit) - 1.0) > 1e-9"
-- columns:
--   - {name: lead_id, type: VARCHAR, description: "the CRM lead (Salesforce Lead or HubSpot contact) id"}
--   - {name: touch_index, type: BIGINT, description: "the touch's place in the lead's journey (1 = first)"}
--   - {name: attribution_model, type: VARCHAR, description: "the attribution model that split each lead's credit (first_touch ... data_driven)"}
--   - {name: credit, type: DOUBLE, description: "the share of the lead this touch gets under the model (a lead's credits add up to 1)"}
WITH extended AS (
    SELECT lead_id, touch_index, touch_at FROM int_touches
    UNION ALL
    SELECT lead_id, touch_index, touch_at FROM int_touch_extensions
),
milestones AS (
    SELECT
        e.lead_id,
        MAX(CASE WHEN e.touch_at <= l.created_at THEN e.touch_index END) AS lead_touch,
        MAX(CASE WHEN e.touch_at <= l.opportunity_created_at THEN e.touch_index END) AS opportunity_touch,
        COUNT(*) AS n_extended
    FROM extended e
    JOIN int_leads l ON l.lead_id = e.lead_id
    WHERE l.opportunity_created_at IS NOT NULL
    GROUP BY e.lead_id
),
shaped AS (
    SELECT
        e.lead_id,
        e.touch_index,
        m.n_extended,
        CASE WHEN e.touch_index = 1 THEN 1 ELSE 0 END
          + CASE WHEN e.touch_index = m.lead_touch THEN 1 ELSE 0 END
          + CASE WHEN e.touch_index = m.opportunity_touch THEN 1 ELSE 0 END AS roles,
        1 + CASE WHEN m.lead_touch <> 1 THEN 1 ELSE 0 END
          + CASE WHEN m.opportunity_touch <> 1 AND m.opportunity_touch <> m.lead_touch THEN 1 ELSE 0 END AS milestone_touches
    FROM extended e
    JOIN milestones m ON m.lead_id = e.lead_id
    WHERE m.opportunity_touch IS NOT NULL
)
SELECT
    lead_id,
    touch_index,
    'w_shaped' AS attribution_model,
    0.3 * roles + CASE
        WHEN n_extended > milestone_touches THEN CASE WHEN roles = 0 THEN 0.1 / (n_extended - milestone_touches) ELSE 0.0 END
        ELSE CASE WHEN roles > 0 THEN 0.1 / milestone_touches ELSE 0.0 END
    END AS credit
FROM shaped
UNION ALL
SELECT r.lead_id, r.touch_index, 'w_shaped' AS attribution_model, r.credit
FROM int_credits_rules r
WHERE r.attribution_model = 'position_based'
  AND NOT EXISTS (
      SELECT 1 FROM milestones m WHERE m.lead_id = r.lead_id AND m.opportunity_touch IS NOT NULL
  )
