//! What GA4's raw URLs say: query parameters of `page_location` (`gclid`, `utm_*`) and the host
//! of `page_referrer`. The loader reads them once per event into `ga_events`' traffic columns;
//! the `url_param` / `url_host` SQL functions call the same code, so both agree.

use std::borrow::Cow;

/// Percent-decoding of a query value (`+` is a space); the value itself when it has neither.
fn decode(value: &str) -> Cow<'_, str> {
    if !value.contains(['+', '%']) {
        return Cow::Borrowed(value);
    }
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
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// The `key=value` pairs of a URL's query string (before any `#fragment`).
fn query_pairs(url: &str) -> impl Iterator<Item = (&str, &str)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let query = query.split('#').next().unwrap_or("");
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// The decoded value of query parameter `key` (case-insensitive): the first pair with a
/// non-empty value.
pub fn query_param(url: &str, key: &str) -> Option<String> {
    query_pairs(url).find_map(|(k, v)| {
        (k.eq_ignore_ascii_case(key) && !v.is_empty()).then(|| decode(v).into_owned())
    })
}

/// The campaign parameters of a landing page, read in one pass over its query string; each is
/// what [`query_param`] gives for its key, borrowed from the URL unless it was encoded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CampaignParams<'a> {
    pub gclid: Option<Cow<'a, str>>,
    pub utm_source: Option<Cow<'a, str>>,
    pub utm_medium: Option<Cow<'a, str>>,
    pub utm_campaign: Option<Cow<'a, str>>,
}

impl<'a> CampaignParams<'a> {
    pub fn of(url: &'a str) -> CampaignParams<'a> {
        let mut params = CampaignParams::default();
        if !url.contains('?') {
            return params;
        }
        for (k, v) in query_pairs(url).filter(|(_, v)| !v.is_empty()) {
            let slot = if k.eq_ignore_ascii_case("gclid") {
                &mut params.gclid
            } else if k.eq_ignore_ascii_case("utm_source") {
                &mut params.utm_source
            } else if k.eq_ignore_ascii_case("utm_medium") {
                &mut params.utm_medium
            } else if k.eq_ignore_ascii_case("utm_campaign") {
                &mut params.utm_campaign
            } else {
                continue;
            };
            if slot.is_none() {
                *slot = Some(decode(v));
            }
        }
        params
    }
}

/// The host of a URL, lower-cased, without a leading `www.`; `None` for an empty or host-less
/// string.
pub fn host(url: &str) -> Option<String> {
    host_of(url).map(Cow::into_owned)
}

/// [`host`], borrowed from the URL when it is already lower-case (as nearly every one is).
pub fn host_of(url: &str) -> Option<Cow<'_, str>> {
    let rest = url.trim();
    let rest = rest.split_once("://").map_or(rest, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = authority.split(':').next().unwrap_or("");
    let host = match host
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_uppercase())
    {
        true => Cow::Borrowed(host),
        false => Cow::Owned(host.to_lowercase()),
    };
    let host = match host {
        Cow::Borrowed(h) => Cow::Borrowed(h.strip_prefix("www.").unwrap_or(h)),
        Cow::Owned(h) => match h.strip_prefix("www.") {
            Some(rest) => Cow::Owned(rest.to_string()),
            None => Cow::Owned(h),
        },
    };
    (!host.is_empty()).then_some(host)
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
    fn campaign_params_agree_with_query_param() {
        // First non-empty value wins, keys ignore case, the fragment is not the query.
        let url = "https://acme.com/p?UTM_SOURCE=&utm_source=Google&utm_source=bing&GCLID=a%2Bb\
                   &utm_medium=cpc&x=1#utm_campaign=no";
        let p = CampaignParams::of(url);
        assert_eq!(
            p,
            CampaignParams {
                gclid: Some("a+b".into()),
                utm_source: Some("Google".into()),
                utm_medium: Some("cpc".into()),
                utm_campaign: None,
            }
        );
        for (key, got) in [
            ("gclid", &p.gclid),
            ("utm_source", &p.utm_source),
            ("utm_medium", &p.utm_medium),
            ("utm_campaign", &p.utm_campaign),
        ] {
            assert_eq!(query_param(url, key).as_deref(), got.as_deref(), "{key}");
        }
        assert_eq!(
            CampaignParams::of("https://acme.com/pricing"),
            CampaignParams::default()
        );
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
        assert_eq!(host("https://www.MÜNCHEN.de/").unwrap(), "münchen.de");
        // A host already lower-case is the URL's own text, nothing copied.
        let borrowed = host_of("https://www.acme.com/?utm_source=x");
        assert!(
            matches!(borrowed, Some(Cow::Borrowed("acme.com"))),
            "{borrowed:?}"
        );
        let decoded = CampaignParams::of("https://acme.com/?utm_source=mail&utm_campaign=q1+abm");
        assert!(matches!(decoded.utm_source, Some(Cow::Borrowed("mail"))));
        assert_eq!(decoded.utm_campaign.as_deref(), Some("q1 abm"));
    }
}
