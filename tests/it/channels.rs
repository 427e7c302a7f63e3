//! GA4's default channel grouping as shipped in config/channel_rules.yaml: one case per rule and
//! the edge cases of the rulings.

use clearsight::udf::channel::{ChannelRules, ChannelRulesConfig};

use crate::support::repo;

fn rules() -> ChannelRules {
    let text = std::fs::read_to_string(repo().join("config/channel_rules.yaml")).unwrap();
    let cfg: ChannelRulesConfig = serde_yaml::from_str(&text).unwrap();
    ChannelRules::compile(&cfg).unwrap()
}

#[test]
fn one_case_per_rule_and_the_edge_cases() {
    let r = rules();
    let cases: &[(&str, &str, &str, &str)] = &[
        // (source, medium, campaign, channel)
        ("(direct)", "(none)", "(not set)", "Direct"),
        ("(direct)", "(not set)", "(not set)", "Direct"),
        (
            "google",
            "cpc",
            "summer cross-network push",
            "Cross-network",
        ),
        ("amazon", "cpc", "(not set)", "Paid Shopping"),
        ("bing", "ppc", "e-shop launch", "Paid Shopping"),
        ("google", "cpc", "eshop", "Paid Shopping"),
        ("google", "cpc", "workshop", "Paid Search"),
        ("google", "cpc", "brand", "Paid Search"),
        ("Google", " CPC ", "Brand", "Paid Search"),
        ("facebook", "paid_social", "ebook", "Paid Social"),
        ("l.facebook.com", "cpc", "x", "Paid Social"),
        ("linkedin", "retargeting", "abm", "Paid Social"),
        ("youtube", "cpc", "x", "Paid Video"),
        ("music.youtube.com", "cpc", "x", "Paid Video"),
        ("dv360", "display", "x", "Display"),
        ("dv360", "cpm", "x", "Display"),
        ("partner", "ppc", "x", "Paid Other"),
        ("ebay", "referral", "x", "Organic Shopping"),
        ("newsletter", "email", "shopping spree", "Organic Shopping"),
        ("linkedin", "referral", "x", "Organic Social"),
        ("forum", "social", "x", "Organic Social"),
        ("vimeo", "referral", "x", "Organic Video"),
        ("partner", "video", "x", "Organic Video"),
        ("bing", "organic", "x", "Organic Search"),
        ("google.co.uk", "organic", "x", "Organic Search"),
        ("startpage.example", "organic", "x", "Organic Search"),
        ("g2.com", "referral", "x", "Referral"),
        ("app", "app", "x", "Referral"),
        ("newsletter", "email", "digest", "Email"),
        ("e-mail", "(none)", "x", "Email"),
        ("crm", "e mail", "x", "Email"),
        ("newsletter", "emailing", "x", "Unassigned"),
        ("partner", "affiliate", "x", "Affiliates"),
        ("podcast", "audio", "x", "Audio"),
        ("sms", "text", "x", "SMS"),
        ("app", "web-push", "x", "Mobile Push Notifications"),
        ("app", "mobile-banner", "x", "Mobile Push Notifications"),
        ("firebase", "x", "x", "Mobile Push Notifications"),
        ("unknown", "weird", "x", "Unassigned"),
    ];
    for (source, medium, campaign, want) in cases {
        assert_eq!(
            r.channel(source, medium, campaign),
            *want,
            "{source} / {medium} / {campaign}"
        );
    }
}

#[test]
fn referrer_hosts_of_search_engines_are_organic() {
    let r = rules();
    assert_eq!(r.referrer_medium("google.co.uk"), "organic");
    assert_eq!(r.referrer_medium("search.yahoo.com"), "organic");
    assert_eq!(r.referrer_medium("duckduckgo.com"), "organic");
    assert_eq!(r.referrer_medium("g2.com"), "referral");
    assert_eq!(r.referrer_medium("googleblog.example"), "referral");
}
