//! `first_by` and `last_by` without GROUP BY: one group.

use datafusion::arrow::array::ArrayRef;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{Accumulator, GroupsAccumulator};

use super::{FirstByGroups, Slot};

/// One group's best row.
pub(super) struct FirstByAccumulator(pub(super) FirstByGroups);

impl std::fmt::Debug for FirstByAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FirstByAccumulator")
    }
}

impl FirstByAccumulator {
    /// The group's slot (empty before any row).
    fn slot(&self) -> [Slot; 1] {
        [self.0.best.first().copied().unwrap_or_default()]
    }
}

impl Accumulator for FirstByAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; values[0].len()];
        GroupsAccumulator::update_batch(&mut self.0, values, &groups, None, 1)
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let groups = vec![0; states[0].len()];
        GroupsAccumulator::merge_batch(&mut self.0, states, &groups, 1)
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        (self.0.states(&self.slot()).iter())
            .map(|state| ScalarValue::try_from_array(state, 0))
            .collect()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        ScalarValue::try_from_array(&self.0.values(&self.slot())?, 0)
    }

    fn size(&self) -> usize {
        GroupsAccumulator::size(&self.0)
    }
}
