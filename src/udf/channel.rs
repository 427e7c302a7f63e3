//! GA4's default channel grouping as data (`config/channel_rules.yaml`), and the
//! `channel_group(source, medium, campaign)` and `referrer_medium(host)` functions that apply it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use regex::Regex;

use super::strings;
use serde::Deserialize;

/// One condition set: every field that is present must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub source_in: Option<Vec<String>>,
    pub medium_in: Option<Vec<String>>,
    pub source_or_medium_in: Option<Vec<String>>,
    /// A site list name: the source is that site or a subdomain of it.
    pub source_site: Option<String>,
    pub source_matches: Option<String>,
    pub medium_matches: Option<String>,
    pub campaign_matches: Option<String>,
    pub source_or_medium_matches: Option<String>,
    pub campaign_contains: Option<String>,
    pub medium_contains: Option<String>,
    pub medium_ends_with: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub channel: String,
    /// Alternatives: the rule applies when any holds; no alternatives means always.
    #[serde(default)]
    pub when: Vec<Condition>,
}

/// `config/channel_rules.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelRulesConfig {
    pub site_lists: BTreeMap<String, Vec<String>>,
    pub search_engines: Vec<String>,
    /// Named regular expressions that conditions may refer to by name.
    #[serde(default)]
    pub patterns: BTreeMap<String, String>,
    pub rules: Vec<Rule>,
}

/// A condition with its regexes compiled (whole-value, case-insensitive).
#[derive(Debug)]
struct Compiled {
    cond: Condition,
    source: Option<Regex>,
    medium: Option<Regex>,
    campaign: Option<Regex>,
    source_or_medium: Option<Regex>,
}

#[derive(Debug)]
pub struct ChannelRules {
    rules: Vec<(String, Vec<Compiled>)>,
    site_lists: BTreeMap<String, Vec<String>>,
    search_engines: Vec<String>,
}

fn site_match(sites: &[String], source: &str) -> bool {
    sites
        .iter()
        .any(|s| source == s || source.ends_with(&format!(".{s}")))
}

impl ChannelRules {
    pub fn compile(cfg: &ChannelRulesConfig) -> std::result::Result<Self, String> {
        let regex = |p: &Option<String>| -> std::result::Result<Option<Regex>, String> {
            let Some(p) = p else { return Ok(None) };
            let body = cfg.patterns.get(p).unwrap_or(p);
            Regex::new(&format!("(?i)^(?:{body})$"))
                .map(Some)
                .map_err(|e| format!("bad pattern {p:?}: {e}"))
        };
        let mut rules = Vec::new();
        for rule in &cfg.rules {
            let mut alts = Vec::new();
            for cond in &rule.when {
                if let Some(list) = &cond.source_site {
                    if !cfg.site_lists.contains_key(list) {
                        return Err(format!(
                            "rule {:?} names unknown site list {list:?}",
                            rule.channel
                        ));
                    }
                }
                alts.push(Compiled {
                    source: regex(&cond.source_matches)?,
                    medium: regex(&cond.medium_matches)?,
                    campaign: regex(&cond.campaign_matches)?,
                    source_or_medium: regex(&cond.source_or_medium_matches)?,
                    cond: cond.clone(),
                });
            }
            rules.push((rule.channel.clone(), alts));
        }
        let lower = |v: &Vec<String>| {
            v.iter()
                .map(|s| s.trim().to_lowercase())
                .collect::<Vec<_>>()
        };
        Ok(ChannelRules {
            rules,
            site_lists: cfg
                .site_lists
                .iter()
                .map(|(k, v)| (k.clone(), lower(v)))
                .collect(),
            search_engines: lower(&cfg.search_engines),
        })
    }

    fn holds(&self, c: &Compiled, source: &str, medium: &str, campaign: &str) -> bool {
        let within = |list: &Option<Vec<String>>, v: &str| {
            list.as_ref()
                .is_none_or(|l| l.iter().any(|x| x.eq_ignore_ascii_case(v)))
        };
        let matches = |re: &Option<Regex>, v: &str| re.as_ref().is_none_or(|r| r.is_match(v));
        let cond = &c.cond;
        within(&cond.source_in, source)
            && within(&cond.medium_in, medium)
            && cond.source_or_medium_in.as_ref().is_none_or(|l| {
                l.iter()
                    .any(|x| x.eq_ignore_ascii_case(source) || x.eq_ignore_ascii_case(medium))
            })
            && cond
                .source_site
                .as_ref()
                .is_none_or(|l| site_match(&self.site_lists[l], source))
            && matches(&c.source, source)
            && matches(&c.medium, medium)
            && matches(&c.campaign, campaign)
            && c.source_or_medium
                .as_ref()
                .is_none_or(|r| r.is_match(source) || r.is_match(medium))
            && cond
                .campaign_contains
                .as_ref()
                .is_none_or(|s| campaign.contains(&s.to_lowercase()))
            && cond
                .medium_contains
                .as_ref()
                .is_none_or(|s| medium.contains(&s.to_lowercase()))
            && cond
                .medium_ends_with
                .as_ref()
                .is_none_or(|s| medium.ends_with(&s.to_lowercase()))
    }

    /// The channel of a (source, medium, campaign): the first rule that holds.
    pub fn channel(&self, source: &str, medium: &str, campaign: &str) -> &str {
        let (s, m, c) = (
            source.trim().to_lowercase(),
            medium.trim().to_lowercase(),
            campaign.trim().to_lowercase(),
        );
        self.rules
            .iter()
            .find(|(_, alts)| alts.is_empty() || alts.iter().any(|a| self.holds(a, &s, &m, &c)))
            .map_or("Unassigned", |(name, _)| name.as_str())
    }

    /// `organic` when any dot-separated label of the host is a listed search engine.
    pub fn referrer_medium(&self, host: &str) -> &'static str {
        let host = host.trim().to_lowercase();
        if host
            .split('.')
            .any(|label| self.search_engines.iter().any(|e| e == label))
        {
            "organic"
        } else {
            "referral"
        }
    }
}

/// Which rule-driven function a [`ChannelUdf`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelFunction {
    /// `channel_group(source, medium, campaign)`: the first channel rule that holds.
    ChannelGroup,
    /// `referrer_medium(host)`: `organic` for a search engine, else `referral`.
    ReferrerMedium,
}

/// The functions driven by `config/channel_rules.yaml`.
#[derive(Debug)]
pub struct ChannelUdf {
    function: ChannelFunction,
    rules: Arc<ChannelRules>,
    signature: Signature,
}

impl ChannelUdf {
    pub fn new(function: ChannelFunction, rules: Arc<ChannelRules>) -> Self {
        let args = match function {
            ChannelFunction::ChannelGroup => 3,
            ChannelFunction::ReferrerMedium => 1,
        };
        ChannelUdf {
            function,
            rules,
            signature: Signature::any(args, Volatility::Immutable),
        }
    }
}

impl PartialEq for ChannelUdf {
    fn eq(&self, other: &Self) -> bool {
        self.function == other.function && Arc::ptr_eq(&self.rules, &other.rules)
    }
}
impl Eq for ChannelUdf {}
impl std::hash::Hash for ChannelUdf {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.function.hash(state)
    }
}

impl ScalarUDFImpl for ChannelUdf {
    fn name(&self) -> &str {
        match self.function {
            ChannelFunction::ChannelGroup => "channel_group",
            ChannelFunction::ReferrerMedium => "referrer_medium",
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
        let text = |c: usize, i: usize| {
            let a = cols[c].as_string::<i32>();
            if a.is_valid(i) {
                a.value(i)
            } else {
                ""
            }
        };
        let mut out = StringBuilder::with_capacity(n, n * 12);
        match self.function {
            ChannelFunction::ChannelGroup => {
                let mut cache: HashMap<(&str, &str, &str), &str> = HashMap::new();
                for i in 0..n {
                    let key = (text(0, i), text(1, i), text(2, i));
                    out.append_value(
                        *cache
                            .entry(key)
                            .or_insert_with(|| self.rules.channel(key.0, key.1, key.2)),
                    );
                }
            }
            ChannelFunction::ReferrerMedium => {
                for i in 0..n {
                    if cols[0].is_valid(i) {
                        out.append_value(self.rules.referrer_medium(text(0, i)));
                    } else {
                        out.append_null();
                    }
                }
            }
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
