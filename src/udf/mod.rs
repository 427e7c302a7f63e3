//! Clearsight's Rust functions, all registered by [`register_all`]: the one registry an engine
//! (a local session today, a Ballista executor tomorrow) calls to run every model.

pub mod channel;
pub mod markov;
pub mod url;

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF};
use datafusion::prelude::SessionContext;

use channel::{ChannelFunction, ChannelRules, ChannelUdf};
use url::{UrlFunction, UrlUdf};

/// Registers every Clearsight function on `ctx`. `rules` drive `channel_group` and
/// `referrer_medium`.
pub fn register_all(ctx: &SessionContext, rules: Arc<ChannelRules>) {
    ctx.register_udf(ScalarUDF::from(UrlUdf::new(UrlFunction::Param)));
    ctx.register_udf(ScalarUDF::from(UrlUdf::new(UrlFunction::Host)));
    ctx.register_udf(ScalarUDF::from(ChannelUdf::new(
        ChannelFunction::ChannelGroup,
        rules.clone(),
    )));
    ctx.register_udf(ScalarUDF::from(ChannelUdf::new(
        ChannelFunction::ReferrerMedium,
        rules,
    )));
    ctx.register_udf(ScalarUDF::from(markov::MarkovRemovalEffects::default()));
}

/// An argument as a Utf8 array of `rows` rows.
pub(crate) fn strings(arg: &ColumnarValue, rows: usize) -> Result<ArrayRef> {
    let array = arg.to_array(rows)?;
    Ok(datafusion::arrow::compute::cast(&array, &DataType::Utf8)?)
}
