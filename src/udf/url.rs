//! `url_param(url, key)` and `url_host(url)`: reading any URL column in SQL (query parameters
//! such as `gclid` and `utm_source`, referrer hosts) with [`crate::page_url`], the code the
//! loader uses for `ga_events`' traffic columns.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::strings;
use crate::page_url::{host, query_param};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UrlFunction {
    Param,
    Host,
}

/// `url_param(url, key)` / `url_host(url)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UrlUdf {
    function: UrlFunction,
    signature: Signature,
}

impl UrlUdf {
    pub fn new(function: UrlFunction) -> Self {
        let args = if function == UrlFunction::Param { 2 } else { 1 };
        UrlUdf {
            function,
            signature: Signature::any(args, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for UrlUdf {
    fn name(&self) -> &str {
        match self.function {
            UrlFunction::Param => "url_param",
            UrlFunction::Host => "url_host",
        }
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let n = args.number_rows;
        let cols: Vec<ArrayRef> = args
            .args
            .iter()
            .map(|a| strings(a, n))
            .collect::<Result<_>>()?;
        let urls = cols[0].as_string::<i32>();
        let mut out = StringBuilder::with_capacity(n, n * 8);
        for i in 0..n {
            let value = if urls.is_valid(i) {
                match self.function {
                    UrlFunction::Host => host(urls.value(i)),
                    UrlFunction::Param => {
                        let keys = cols[1].as_string::<i32>();
                        keys.is_valid(i)
                            .then(|| query_param(urls.value(i), keys.value(i)))
                            .flatten()
                    }
                }
            } else {
                None
            };
            out.append_option(value);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
