//! `url_param(url, key)` and `url_host(url)`: reading GA4's raw `page_location` and
//! `page_referrer` strings (query parameters such as `gclid` and `utm_source`, referrer hosts).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::strings;

/// Percent-decoding of a query value (`+` is a space).
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(hi), Some(lo)) => {
                        out.push((hi * 16 + lo) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded value of query parameter `key` (case-insensitive), if present and non-empty.
pub fn query_param(url: &str, key: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or("");
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k.eq_ignore_ascii_case(key) && !v.is_empty()).then(|| decode(v))
    })
}

/// The host of a URL, lower-cased, without a leading `www.`; `None` for an empty or host-less
/// string.
pub fn host(url: &str) -> Option<String> {
    let rest = url.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = authority.split(':').next().unwrap_or("").to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    (!host.is_empty()).then_some(host)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_query_parameters() {
        let url = "https://www.acme.com/demo?utm_source=LinkedIn&utm_campaign=q1%20abm+launch&gclid=Cj0#top";
        assert_eq!(query_param(url, "utm_source").unwrap(), "LinkedIn");
        assert_eq!(query_param(url, "utm_campaign").unwrap(), "q1 abm launch");
        assert_eq!(query_param(url, "gclid").unwrap(), "Cj0");
        assert_eq!(query_param(url, "utm_medium"), None);
        assert_eq!(query_param("https://acme.com/?gclid=", "gclid"), None);
    }

    #[test]
    fn hosts_drop_www_port_and_case() {
        assert_eq!(
            host("https://WWW.Google.co.uk:443/search?q=x").unwrap(),
            "google.co.uk"
        );
        assert_eq!(
            host("android-app://com.google.android.gm/").unwrap(),
            "com.google.android.gm"
        );
        assert_eq!(host(""), None);
    }
}
