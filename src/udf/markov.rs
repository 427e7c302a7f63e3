//! Exact removal effects of a first-order Markov chain over the journeys (SPEC section 6,
//! `data_driven`): `start -> channels -> conversion | null`, solved with absorbing-chain algebra
//! (a linear system per removed channel), so the same input gives the same numbers every run.
//!
//! SQL use: `markov_removal_effects(array_agg(from_state), array_agg(to_state), array_agg(weight))`
//! returns a list of `{channel, removal_effect}`. States `(start)`, `(conversion)` and `(null)`
//! are the chain's start and absorbing states; every other state is a channel.

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, ListBuilder, StringBuilder, StructBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Fields, Float64Type};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

pub const START: &str = "(start)";
pub const CONVERSION: &str = "(conversion)";
pub const NULL: &str = "(null)";

/// Removal effect per channel for weighted transitions `(from, to, weight)`.
/// RE_c = 1 - P(conversion | c removed) / P(conversion); all 0 when P(conversion) is 0.
pub fn removal_effects(transitions: &[(String, String, f64)]) -> BTreeMap<String, f64> {
    // Transient states: start first, then channels in name order.
    let mut channels: Vec<&str> = transitions
        .iter()
        .flat_map(|(f, t, _)| [f.as_str(), t.as_str()])
        .filter(|s| ![START, CONVERSION, NULL].contains(s))
        .collect();
    channels.sort_unstable();
    channels.dedup();
    let index = |s: &str| -> Option<usize> {
        if s == START {
            Some(0)
        } else {
            channels.binary_search(&s).ok().map(|i| i + 1)
        }
    };
    let n = channels.len() + 1;
    let mut out_weight = vec![0.0; n];
    let mut q = vec![vec![0.0; n]; n]; // transient -> transient weights
    let mut r = vec![0.0; n]; // transient -> conversion weights
    for (from, to, w) in transitions {
        let (Some(i), w) = (index(from), *w) else {
            continue;
        };
        if !(w > 0.0) {
            continue;
        }
        out_weight[i] += w;
        match index(to) {
            Some(j) => q[i][j] += w,
            None if to == CONVERSION => r[i] += w,
            None => {}
        }
    }
    for i in 0..n {
        if out_weight[i] > 0.0 {
            q[i].iter_mut().for_each(|v| *v /= out_weight[i]);
            r[i] /= out_weight[i];
        }
    }
    let base = absorption(&q, &r, None);
    channels
        .iter()
        .enumerate()
        .map(|(k, c)| {
            let effect = if base > 0.0 {
                (1.0 - absorption(&q, &r, Some(k + 1)) / base).clamp(0.0, 1.0)
            } else {
                0.0
            };
            (c.to_string(), effect)
        })
        .collect()
}

/// P(conversion) from the start state: solves (I - Q) x = r by Gaussian elimination with
/// partial pivoting; a removed state is absorbing with x = 0.
fn absorption(q: &[Vec<f64>], r: &[f64], removed: Option<usize>) -> f64 {
    let n = r.len();
    let mut a: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let mut row: Vec<f64> = (0..n)
                .map(|j| if i == j { 1.0 } else { 0.0 } - q[i][j])
                .collect();
            row.push(r[i]);
            if Some(i) == removed {
                row = (0..=n).map(|j| if j == i { 1.0 } else { 0.0 }).collect();
            }
            row
        })
        .collect();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .expect("non-empty range");
        if a[pivot][col].abs() < 1e-300 {
            continue;
        }
        a.swap(col, pivot);
        for row in 0..n {
            if row != col && a[row][col] != 0.0 {
                let factor = a[row][col] / a[col][col];
                for k in col..=n {
                    a[row][k] -= factor * a[col][k];
                }
            }
        }
    }
    if a[0][0].abs() < 1e-300 {
        0.0
    } else {
        a[0][n] / a[0][0]
    }
}

fn effect_fields() -> Fields {
    Fields::from(vec![
        Field::new("channel", DataType::Utf8, false),
        Field::new("removal_effect", DataType::Float64, false),
    ])
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MarkovRemovalEffects {
    signature: Signature,
}

impl Default for MarkovRemovalEffects {
    fn default() -> Self {
        MarkovRemovalEffects {
            signature: Signature::any(3, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for MarkovRemovalEffects {
    fn name(&self) -> &str {
        "markov_removal_effects"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(Arc::new(Field::new(
            "item",
            DataType::Struct(effect_fields()),
            true,
        ))))
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let arrays: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| a.to_array(n))
            .collect::<Result<_>>()?;
        let (Some(from), Some(to), Some(weight)) = (
            arrays[0].as_list_opt::<i32>(),
            arrays[1].as_list_opt::<i32>(),
            arrays[2].as_list_opt::<i32>(),
        ) else {
            return exec_err!(
                "markov_removal_effects expects three lists (array_agg of from, to, weight)"
            );
        };
        let mut builder = ListBuilder::new(StructBuilder::from_fields(effect_fields(), 16));
        for row in 0..n {
            if from.is_null(row) || to.is_null(row) || weight.is_null(row) {
                builder.append(true);
                continue;
            }
            let (f, t) = (from.value(row), to.value(row));
            let w = datafusion::arrow::compute::cast(&weight.value(row), &DataType::Float64)?;
            let (f, t, w) = (
                datafusion::arrow::compute::cast(&f, &DataType::Utf8)?,
                datafusion::arrow::compute::cast(&t, &DataType::Utf8)?,
                w.as_primitive::<Float64Type>().clone(),
            );
            let (f, t) = (f.as_string::<i32>(), t.as_string::<i32>());
            let transitions: Vec<(String, String, f64)> = (0..f.len())
                .filter(|&i| f.is_valid(i) && t.is_valid(i) && w.is_valid(i))
                .map(|i| (f.value(i).to_string(), t.value(i).to_string(), w.value(i)))
                .collect();
            let items = builder.values();
            for (channel, effect) in removal_effects(&transitions) {
                items
                    .field_builder::<StringBuilder>(0)
                    .expect("channel")
                    .append_value(channel);
                items
                    .field_builder::<Float64Builder>(1)
                    .expect("effect")
                    .append_value(effect);
                items.append(true);
            }
            builder.append(true);
        }
        Ok(ColumnarValue::Array(Arc::new(builder.finish())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(f: &str, to: &str, w: f64) -> (String, String, f64) {
        (f.into(), to.into(), w)
    }

    /// Paths: A>B converts, A fails, B fails.
    /// P(conv) = 2/3 * 1/2 * 1/2 + 1/3 * 1/2 = 1/3; without A: 1/6 (RE 0.5); without B: 0 (RE 1).
    #[test]
    fn hand_solved_three_path_chain() {
        let transitions = vec![
            t(START, "A", 2.0),
            t(START, "B", 1.0),
            t("A", "B", 1.0),
            t("A", NULL, 1.0),
            t("B", CONVERSION, 1.0),
            t("B", NULL, 1.0),
        ];
        let re = removal_effects(&transitions);
        assert!((re["A"] - 0.5).abs() < 1e-12, "{re:?}");
        assert!((re["B"] - 1.0).abs() < 1e-12, "{re:?}");
    }

    #[test]
    fn no_conversion_means_zero_effects() {
        let re = removal_effects(&[t(START, "A", 1.0), t("A", NULL, 1.0)]);
        assert_eq!(re["A"], 0.0);
    }
}
