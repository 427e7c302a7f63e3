//! Clearsight's Rust functions, all registered by [`register_all`]: the one registry an engine
//! (a local session, a Ballista scheduler or executor) calls to run every model.

pub mod channel;
pub mod first_by;
pub mod kpi;
pub mod markov;
pub mod text;
pub mod time;
pub mod url;

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::execution::session_state::SessionState;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::{AggregateUDF, ColumnarValue, ScalarUDF};
use datafusion::prelude::SessionContext;

use channel::{ChannelFunction, ChannelRules, ChannelUdf};
use url::{UrlFunction, UrlUdf};

/// Every Clearsight function. `rules` drive `channel_group` and `referrer_medium`.
pub fn functions(rules: Arc<ChannelRules>) -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(UrlUdf::new(UrlFunction::Param))),
        Arc::new(ScalarUDF::from(UrlUdf::new(UrlFunction::Host))),
        Arc::new(ScalarUDF::from(ChannelUdf::new(
            ChannelFunction::ChannelGroup,
            rules.clone(),
        ))),
        Arc::new(ScalarUDF::from(ChannelUdf::new(
            ChannelFunction::ReferrerMedium,
            rules,
        ))),
        Arc::new(ScalarUDF::from(markov::MarkovRemovalEffects::default())),
        Arc::new(ScalarUDF::from(time::TimeUdf::new(
            time::TimeFunction::Month,
        ))),
        Arc::new(ScalarUDF::from(time::TimeUdf::new(
            time::TimeFunction::Midnight,
        ))),
        Arc::new(ScalarUDF::from(time::DaysBetween::default())),
        Arc::new(ScalarUDF::from(kpi::Kpi::default())),
        Arc::new(ScalarUDF::from(text::CleanText::default())),
    ]
}

/// Every Clearsight aggregate function.
pub fn aggregates() -> Vec<Arc<AggregateUDF>> {
    vec![
        Arc::new(AggregateUDF::from(first_by::FirstBy::default())),
        Arc::new(AggregateUDF::from(first_by::FirstBy::last())),
    ]
}

/// Registers every Clearsight function on `ctx`.
pub fn register_all(ctx: &SessionContext, rules: Arc<ChannelRules>) {
    for f in functions(rules) {
        ctx.register_udf(f.as_ref().clone());
    }
    for f in aggregates() {
        ctx.register_udaf(f.as_ref().clone());
    }
}

/// Registers every Clearsight function on a session state.
pub fn register_state(state: &mut SessionState, rules: Arc<ChannelRules>) -> Result<()> {
    for f in functions(rules) {
        state.register_udf(f)?;
    }
    for f in aggregates() {
        state.register_udaf(f)?;
    }
    Ok(())
}

/// An argument as a Utf8 array of `rows` rows.
pub(crate) fn strings(arg: &ColumnarValue, rows: usize) -> Result<ArrayRef> {
    let array = arg.to_array(rows)?;
    Ok(datafusion::arrow::compute::cast(&array, &DataType::Utf8)?)
}
