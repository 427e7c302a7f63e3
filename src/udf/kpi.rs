//! The mart's metrics (SPEC sections 7 and 8), the one place their formulas are written:
//! `kpi(metric, measures)` -> DOUBLE computes metric `metric` from a struct of summed measures
//! (`named_struct('spend', spend, 'leads', leads, ...)`), so `pipeline_metrics`, `myopia` and
//! `kpi_attainment` compute each ratio the same way at their own grain. A ratio whose
//! denominator is 0 or NULL is NULL.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, Float64Array, StructArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::strings;

/// How a metric is computed from the summed measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Formula {
    /// The measure itself.
    Total(&'static str),
    /// `over / per`.
    Ratio {
        over: &'static str,
        per: &'static str,
    },
    /// `(revenue - spend) / spend`.
    ReturnOnSpend,
}

impl Formula {
    /// The measures the formula reads.
    pub fn measures(self) -> Vec<&'static str> {
        match self {
            Formula::Total(m) => vec![m],
            Formula::Ratio { over, per } => vec![over, per],
            Formula::ReturnOnSpend => vec!["revenue", "spend"],
        }
    }

    /// The metric from `value(measure)`; None when a measure is NULL or a denominator is 0.
    pub fn compute(self, value: impl Fn(&str) -> Option<f64>) -> Option<f64> {
        let ratio = |over: Option<f64>, per: Option<f64>| match (over, per) {
            (Some(o), Some(p)) if p != 0.0 => Some(o / p),
            _ => None,
        };
        match self {
            Formula::Total(m) => value(m),
            Formula::Ratio { over, per } => ratio(value(over), value(per)),
            Formula::ReturnOnSpend => {
                let (revenue, spend) = (value("revenue"), value("spend"));
                ratio(revenue.zip(spend).map(|(r, s)| r - s), spend)
            }
        }
    }
}

/// A metric: its name, KGI or KPI, which way is better (SPEC 8: cost metrics and `spam_rate`
/// are lower-is-better), and its formula.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: &'static str,
    pub better: &'static str,
    pub formula: Formula,
}

const fn total(name: &'static str, kind: &'static str) -> Metric {
    Metric {
        name,
        kind,
        better: "higher",
        formula: Formula::Total(name),
    }
}

const fn ratio(
    name: &'static str,
    better: &'static str,
    over: &'static str,
    per: &'static str,
) -> Metric {
    Metric {
        name,
        kind: "KPI",
        better,
        formula: Formula::Ratio { over, per },
    }
}

/// Every metric, in the order `cfg_metrics` lists them.
pub const METRICS: [Metric; 18] = [
    total("revenue", "KGI"),
    total("won_deals", "KGI"),
    total("pipeline", "KPI"),
    total("opportunities", "KPI"),
    total("sqls", "KPI"),
    total("mqls", "KPI"),
    total("leads", "KPI"),
    total("spend", "KPI"),
    ratio("cpl", "lower", "spend", "leads"),
    ratio("cost_per_mql", "lower", "spend", "mqls"),
    ratio("cost_per_sql", "lower", "spend", "sqls"),
    ratio("cost_per_opportunity", "lower", "spend", "opportunities"),
    ratio("cac", "lower", "spend", "won_deals"),
    ratio("spam_rate", "lower", "spam_leads", "leads"),
    ratio("roas", "higher", "revenue", "spend"),
    Metric {
        name: "roi",
        kind: "KPI",
        better: "higher",
        formula: Formula::ReturnOnSpend,
    },
    ratio("lead_to_sql_rate", "higher", "sqls", "leads"),
    ratio("win_rate", "higher", "won_deals", "opportunities"),
];

/// The metric named `name`.
pub fn metric(name: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.name == name)
}

/// `kpi(metric, measures)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Kpi {
    signature: Signature,
}

impl Default for Kpi {
    fn default() -> Self {
        Kpi {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

/// The measures of a batch, each as Float64, by name.
struct Measures(Vec<(String, Float64Array)>);

impl Measures {
    fn of(measures: &StructArray) -> Result<Self> {
        let mut out = Vec::new();
        for (field, column) in measures.fields().iter().zip(measures.columns()) {
            let column = cast(column, &DataType::Float64)?;
            out.push((
                field.name().clone(),
                column.as_primitive::<Float64Type>().clone(),
            ));
        }
        Ok(Measures(out))
    }

    fn column(&self, name: &str) -> Option<&Float64Array> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }
}

/// The metric `name`, once the struct is known to hold every measure its formula reads.
fn checked_metric(name: &str, measures: &Measures) -> Result<&'static Metric> {
    let Some(metric) = metric(name) else {
        return exec_err!("kpi: unknown metric {name:?}");
    };
    if let Some(m) = (metric.formula.measures().into_iter()).find(|m| measures.column(m).is_none())
    {
        return exec_err!("kpi({:?}): the measures have no {m}", metric.name);
    }
    Ok(metric)
}

impl ScalarUDFImpl for Kpi {
    fn name(&self) -> &str {
        "kpi"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if !matches!(args.get(1), Some(DataType::Struct(_))) {
            return exec_err!(
                "kpi(metric, measures): measures must be a struct (named_struct(...))"
            );
        }
        Ok(DataType::Float64)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let names = strings(&args.args[0], n)?;
        let names = names.as_string::<i32>();
        let measures = args.args[1].to_array(n)?;
        let measures = Measures::of(measures.as_struct())?;
        // The metric is usually one literal for every row: look it up, and check the struct has
        // its measures, only when the name changes.
        let mut current: Option<(&str, &Metric)> = None;
        let mut out = Vec::with_capacity(n);
        for row in 0..n {
            if names.is_null(row) {
                out.push(None);
                continue;
            }
            let name = names.value(row);
            let metric = match current {
                Some((seen, m)) if seen == name => m,
                _ => {
                    let m = checked_metric(name, &measures)?;
                    current = Some((name, m));
                    m
                }
            };
            let value = |m: &str| {
                let c = measures.column(m).expect("checked with the metric");
                c.is_valid(row).then(|| c.value(row))
            };
            out.push(metric.formula.compute(value));
        }
        Ok(ColumnarValue::Array(Arc::new(Float64Array::from(out))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<'a>(values: &'a [(&'a str, f64)]) -> impl Fn(&str) -> Option<f64> + 'a {
        move |m| values.iter().find(|(n, _)| *n == m).map(|(_, v)| *v)
    }

    #[test]
    fn ratios_divide_and_are_null_without_a_denominator() {
        let cpl = metric("cpl").unwrap().formula;
        assert_eq!(
            cpl.compute(with(&[("spend", 300.0), ("leads", 4.0)])),
            Some(75.0)
        );
        assert_eq!(cpl.compute(with(&[("spend", 300.0), ("leads", 0.0)])), None);
        assert_eq!(cpl.compute(with(&[("spend", 300.0)])), None);
    }

    #[test]
    fn roi_is_net_revenue_per_spend() {
        let roi = metric("roi").unwrap().formula;
        // 500 revenue on 200 spend: (500 - 200) / 200 = 1.5.
        assert_eq!(
            roi.compute(with(&[("revenue", 500.0), ("spend", 200.0)])),
            Some(1.5)
        );
        assert_eq!(
            roi.compute(with(&[("revenue", 500.0), ("spend", 0.0)])),
            None
        );
        let roas = metric("roas").unwrap().formula;
        assert_eq!(
            roas.compute(with(&[("revenue", 500.0), ("spend", 200.0)])),
            Some(2.5)
        );
    }

    #[test]
    fn cost_metrics_and_spam_rate_are_lower_is_better() {
        let lower: Vec<&str> = METRICS
            .iter()
            .filter(|m| m.better == "lower")
            .map(|m| m.name)
            .collect();
        assert_eq!(
            lower,
            [
                "cpl",
                "cost_per_mql",
                "cost_per_sql",
                "cost_per_opportunity",
                "cac",
                "spam_rate"
            ]
        );
        assert_eq!(metric("revenue").unwrap().kind, "KGI");
        assert!(metric("clicks").is_none());
    }
}
