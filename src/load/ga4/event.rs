//! One GA4 export event as serde reads it: only the fields the models use. sonic-rs skips the
//! rest (`device`, `geo`, `items`, `user_properties`, …) without building them, and strings are
//! borrowed from the file's bytes unless they hold escapes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use super::Row;

/// A JSON string (an integer is read as its decimal text), borrowed where it can be.
#[derive(Debug, Clone)]
pub(super) struct Text<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A BigQuery INT64: a JSON number or, as the export writes it, a string of digits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an integer or a string of digits")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Int, E> {
                Ok(Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Int, E> {
                i64::try_from(v)
                    .map(Int)
                    .map_err(|_| E::custom(format!("{v} is out of the INT64 range")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Int, E> {
                if v.fract() == 0.0 && v.abs() < 9.2e18 {
                    Ok(Int(v as i64))
                } else {
                    Err(E::custom(format!("{v} is not an integer")))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Int, E> {
                v.trim()
                    .parse()
                    .map(Int)
                    .map_err(|_| E::custom(format!("{v:?} is not an integer")))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct ParamValue<'a> {
    #[serde(borrow, default)]
    string_value: Option<Text<'a>>,
    #[serde(default)]
    int_value: Option<Int>,
}

/// Which of [`Params`]' fields a param key fills.
fn slot_of(key: &str) -> Option<usize> {
    match key {
        "ga_session_id" => Some(0),
        "page_location" => Some(1),
        "page_referrer" => Some(2),
        _ => None,
    }
}

/// One `event_params` entry: the [`Params`] slot of its key, and its value when the key is
/// one Clearsight reads. The value of any other key is skipped unread, as sonic-rs skips
/// `device` or `items` (most of an event's params are of keys no model reads).
struct Param<'a> {
    slot: Option<usize>,
    value: Option<ParamValue<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Param<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Param<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a {key, value} param")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Param<'a>, A::Error> {
                let mut param = Param {
                    slot: None,
                    value: None,
                };
                let mut keyed = false;
                while let Some(field) = map.next_key::<Text<'de>>()? {
                    match field.0.as_ref() {
                        "key" => {
                            let key = map.next_value::<Option<Text<'de>>>()?;
                            param.slot = key.and_then(|k| slot_of(&k.0));
                            keyed = true;
                        }
                        // A value before its key is read, in case the key wants it.
                        "value" if !keyed || param.slot.is_some() => {
                            param.value = map.next_value::<Option<ParamValue<'a>>>()?;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(param)
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl<'a> ParamValue<'a> {
    /// The string value, else the integer as text.
    fn text(self) -> Option<Cow<'a, str>> {
        match (self.string_value, self.int_value) {
            (Some(s), _) => Some(s.0),
            (None, Some(i)) => Some(Cow::Owned(i.0.to_string())),
            (None, None) => None,
        }
    }

    /// The integer value, else the string value read as one.
    fn int(self) -> Option<i64> {
        match (self.int_value, self.string_value) {
            (Some(i), _) => Some(i.0),
            (None, Some(s)) => s.0.trim().parse().ok(),
            (None, None) => None,
        }
    }
}

/// The three `event_params` Clearsight reads; the first param with a key wins.
#[derive(Default)]
pub(super) struct Params<'a> {
    pub ga_session_id: Option<i64>,
    pub page_location: Option<Cow<'a, str>>,
    pub page_referrer: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for Params<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Params<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of {key, value} params")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Params<'a>, A::Error> {
                let mut params = Params::default();
                let mut seen = [false; 3];
                while let Some(param) = seq.next_element::<Option<Param<'a>>>()? {
                    let Some(Param {
                        slot: Some(slot),
                        value,
                    }) = param
                    else {
                        continue;
                    };
                    if std::mem::replace(&mut seen[slot], true) {
                        continue;
                    }
                    let Some(value) = value else { continue };
                    match slot {
                        0 => params.ga_session_id = value.int(),
                        1 => params.page_location = value.text(),
                        _ => params.page_referrer = value.text(),
                    }
                }
                Ok(params)
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// `collected_traffic_source`, in the order of [`super::TRAFFIC_FIELDS`].
#[derive(Deserialize, Default)]
pub(super) struct Traffic<'a> {
    #[serde(borrow, default)]
    manual_source: Option<Text<'a>>,
    #[serde(borrow, default)]
    manual_medium: Option<Text<'a>>,
    #[serde(borrow, default)]
    manual_campaign_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    manual_term: Option<Text<'a>>,
    #[serde(borrow, default)]
    manual_content: Option<Text<'a>>,
    #[serde(borrow, default)]
    gclid: Option<Text<'a>>,
}

/// One event of the export.
#[derive(Deserialize)]
pub(super) struct ExportEvent<'a> {
    #[serde(default)]
    event_timestamp: Option<Int>,
    #[serde(borrow, default)]
    event_name: Option<Text<'a>>,
    #[serde(borrow, default)]
    user_pseudo_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    user_id: Option<Text<'a>>,
    #[serde(borrow, default)]
    event_params: Option<Params<'a>>,
    #[serde(borrow, default)]
    collected_traffic_source: Option<Traffic<'a>>,
}

impl<'a> ExportEvent<'a> {
    /// Decodes one JSON object (a line of the export, or an element of the console's array).
    /// The error is the decoder's first line (where and what).
    pub fn decode(bytes: &'a [u8]) -> Result<ExportEvent<'a>, String> {
        sonic_rs::from_slice(bytes).map_err(|e| {
            let message = e.to_string();
            message
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        })
    }

    pub fn into_row(self) -> Row<'a> {
        let params = self.event_params.unwrap_or_default();
        let t = self.collected_traffic_source.unwrap_or_default();
        let text = |t: Option<Text<'a>>| t.map(|t| t.0);
        Row {
            at: self.event_timestamp.map(|i| i.0),
            session: params.ga_session_id,
            name: text(self.event_name),
            user: text(self.user_pseudo_id),
            user_id: text(self.user_id),
            page_location: params.page_location,
            page_referrer: params.page_referrer,
            traffic: [
                text(t.manual_source),
                text(t.manual_medium),
                text(t.manual_campaign_name),
                text(t.manual_term),
                text(t.manual_content),
                text(t.gclid),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_of_unread_keys_are_skipped_whatever_their_value_holds() {
        // An unread key's value may be any JSON (the decoder skips it); a value may come before
        // its key; the first param with a read key wins, even without a value.
        let line = br#"{"event_timestamp":"1704412800000000","user_pseudo_id":"u1",
            "event_params":[
              {"key":"engagement_time_msec","value":{"int_value":"17","double_value":null}},
              {"key":"items_seen","value":[{"deep":{"er":[1,2,{"x":"}"}]}}]},
              {"value":{"string_value":"https://x.example/?utm_source=Mail"},"key":"page_location"},
              {"key":"page_referrer"},
              {"key":"page_referrer","value":{"string_value":"https://late.example/"}},
              null,
              {"key":"ga_session_id","value":{"int_value":1704412799}},
              {"key":"ga_session_id","value":{"int_value":5}}
            ]}"#;
        let row = ExportEvent::decode(line).unwrap().into_row();
        assert_eq!(row.session, Some(1_704_412_799));
        assert_eq!(
            row.page_location.as_deref(),
            Some("https://x.example/?utm_source=Mail")
        );
        assert_eq!(
            row.page_referrer, None,
            "the first page_referrer has no value"
        );
        assert_eq!(row.at, Some(1_704_412_800_000_000));
    }

    #[test]
    fn a_read_key_with_a_malformed_value_still_rejects_the_event() {
        let line = br#"{"event_timestamp":1,"user_pseudo_id":"u","event_params":[
            {"key":"ga_session_id","value":{"int_value":{"nested":true}}}]}"#;
        assert!(ExportEvent::decode(line).is_err());
        let broken = br#"{"event_timestamp":1,"event_params":[{"key":"other","value":{"#;
        assert!(
            ExportEvent::decode(broken).is_err(),
            "truncated JSON is an error"
        );
    }
}
