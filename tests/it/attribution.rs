//! The mart on a hand-made world whose numbers are worked out by hand (SPEC sections 4 to 7):
//! a 5-touch journey for a $12,000 deal, 1-, 2- and 3-touch paths under every model, a shared
//! opportunity, fallback touches, every match method, spend matching, and the Markov chain.
//! The world is built once; each test reads one model, so a failure names its model.

use std::collections::BTreeMap;

use clearsight::observe::Silent;
use datafusion::prelude::SessionContext;
use tokio::sync::OnceCell;

use crate::support::{number, rows, TestProject};
use crate::world::world;

/// The hand-made world, loaded and built once for every test of this file.
async fn built() -> &'static SessionContext {
    static WORLD: OnceCell<(TestProject, SessionContext)> = OnceCell::const_new();
    let (_, session) = WORLD
        .get_or_init(|| async {
            let project = world();
            let ctx = project.workspace();
            let load = ctx.load(&Silent).await.unwrap();
            assert_eq!(load.total(|f| f.rows_quarantined), 0);
            crate::support::run_all_published(&ctx).await;
            let session = ctx.query_session().await.unwrap();
            (project, session)
        })
        .await;
    session
}

/// Revenue (or another measure) credited to each touch of a lead under a model, by touch index.
async fn per_touch(s: &SessionContext, lead: &str, model: &str, measure: &str) -> Vec<f64> {
    rows(s, &format!("SELECT {measure} FROM attribution_touchpoints WHERE lead_id = '{lead}' AND attribution_model = '{model}' ORDER BY touch_index"))
        .await
        .into_iter()
        .map(|r| r[0].parse().unwrap())
        .collect()
}

fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
    }
}

#[tokio::test]
async fn linear_splits_every_lead_evenly() {
    let s = built().await;
    // The 5-touch journey of a $12,000 won deal.
    close(
        &per_touch(s, "L5", "linear", "revenue").await,
        &[2400.0; 5],
        1e-6,
    );
    // Two touches, opportunity $5,000 open.
    close(
        &per_touch(s, "L2", "linear", "pipeline").await,
        &[2500.0, 2500.0],
        1e-9,
    );
    // L3 shares its won opportunity with L4: half a deal over three touches.
    close(
        &per_touch(s, "L3", "linear", "won_deals").await,
        &[1.0 / 6.0; 3],
        1e-12,
    );
}

#[tokio::test]
async fn position_based_gives_the_ends_40_percent() {
    let s = built().await;
    close(
        &per_touch(s, "L5", "position_based", "revenue").await,
        &[4800.0, 800.0, 800.0, 800.0, 4800.0],
        1e-6,
    );
    close(
        &per_touch(s, "L2", "position_based", "credit").await,
        &[0.5, 0.5],
        1e-12,
    );
    // L3's $9,000 deal shared with L4: 4,500 over 0.4 / 0.2 / 0.4.
    close(
        &per_touch(s, "L3", "position_based", "revenue").await,
        &[1800.0, 900.0, 1800.0],
        1e-6,
    );
}

#[tokio::test]
async fn time_decay_halves_every_seven_days() {
    let s = built().await;
    close(
        &per_touch(s, "L5", "time_decay", "revenue").await,
        &[175.2, 287.4, 574.9, 3417.0, 7545.4],
        0.1,
    );
    // L2's touches 10 and 1 days before creation.
    let (w1, w2) = (2f64.powf(-10.0 / 7.0), 2f64.powf(-1.0 / 7.0));
    close(
        &per_touch(s, "L2", "time_decay", "credit").await,
        &[w1 / (w1 + w2), w2 / (w1 + w2)],
        1e-9,
    );
    // L3's: 20, 10 and 0.5 days before creation.
    let w: Vec<f64> = [20.0, 10.0, 0.5]
        .iter()
        .map(|d: &f64| 2f64.powf(-d / 7.0))
        .collect();
    let wt: f64 = w.iter().sum();
    close(
        &per_touch(s, "L3", "time_decay", "revenue").await,
        &[4500.0 * w[0] / wt, 4500.0 * w[1] / wt, 4500.0 * w[2] / wt],
        1e-6,
    );
}

#[tokio::test]
async fn first_and_last_non_direct_touch() {
    let s = built().await;
    close(
        &per_touch(s, "L5", "first_touch", "revenue").await,
        &[12000.0, 0.0, 0.0, 0.0, 0.0],
        1e-9,
    );
    // L5's last touch is direct: the last non-direct one (Email) gets it.
    close(
        &per_touch(s, "L5", "last_touch", "revenue").await,
        &[0.0, 0.0, 0.0, 12000.0, 0.0],
        1e-9,
    );
    close(
        &per_touch(s, "L2", "first_touch", "credit").await,
        &[1.0, 0.0],
        1e-12,
    );
    close(
        &per_touch(s, "L2", "last_touch", "credit").await,
        &[1.0, 0.0],
        1e-12,
    );
    close(
        &per_touch(s, "L3", "first_touch", "revenue").await,
        &[4500.0, 0.0, 0.0],
        1e-9,
    );
    close(
        &per_touch(s, "L3", "last_touch", "revenue").await,
        &[0.0, 0.0, 4500.0],
        1e-9,
    );
    close(
        &per_touch(s, "L4", "last_touch", "revenue").await,
        &[4500.0],
        1e-9,
    );
}

#[tokio::test]
async fn w_shaped_weighs_first_lead_and_opportunity_touches() {
    let s = built().await;
    // First touch 0.3, lead- and opportunity-creation touch (the last) 0.6, the rest share 0.1.
    close(
        &per_touch(s, "L5", "w_shaped", "revenue").await,
        &[3600.0, 400.0, 400.0, 400.0, 7200.0],
        1e-6,
    );
    // L2's journey extends to the Email session after creation (the opportunity-creation
    // touch): three distinct milestones, no other touch, so each gets 0.3 + 0.1/3.
    close(
        &per_touch(s, "L2", "w_shaped", "credit").await,
        &[1.0 / 3.0; 3],
        1e-9,
    );
    assert_eq!(
        per_touch(s, "L2", "linear", "credit").await.len(),
        2,
        "the extension is w_shaped's only"
    );
    close(
        &per_touch(s, "L3", "w_shaped", "revenue").await,
        &[1350.0, 450.0, 2700.0],
        1e-6,
    );
}

#[tokio::test]
async fn one_touch_gets_everything_under_every_model() {
    let s = built().await;
    for model in clearsight::ATTRIBUTION_MODELS {
        close(&per_touch(s, "L1", model, "credit").await, &[1.0], 1e-12);
    }
}

#[tokio::test]
async fn touches_match_by_each_method_and_fall_back() {
    let s = built().await;
    let channels = rows(s, "SELECT channel FROM attribution_touchpoints WHERE lead_id = 'L5' AND attribution_model = 'linear' ORDER BY touch_index").await;
    let channels: Vec<&str> = channels.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        channels,
        ["Paid Social", "Direct", "Organic Search", "Email", "Direct"]
    );
    let methods = rows(s, "SELECT lead_id, match_method, channel, campaign FROM attribution_touchpoints WHERE attribution_model = 'first_touch' AND touch_index = 1 ORDER BY lead_id").await;
    let m: BTreeMap<String, (String, String, String)> = methods
        .into_iter()
        .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone(), r[3].clone())))
        .collect();
    let expect = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(m["L3"].0, "client_id", "the raw _ga cookie matches");
    assert_eq!(m["L10"], expect("gclid", "Paid Search", "brand"));
    assert_eq!(m["L11"], expect("user_id", "Organic Search", "(not set)"));
    assert_eq!(m["L7"], expect("utm", "Paid Social", "abm q1"));
    assert_eq!(m["L8"], expect("lead_source", "Events", "(not set)"));
    assert_eq!(m["L9"], expect("none", "Unattributed", "(not set)"));
    assert_eq!(m["L6"].1, "Display");
    assert_eq!(
        per_touch(s, "L5", "linear", "credit").await.len(),
        5,
        "the session 91 days before is outside the lookback"
    );
}

/// The removal effects of the world's 11 journeys, solved by hand. Transition counts (won
/// shares split a last touch between (conversion) and (null)) give, from each state:
/// Paid Social: Direct 1/2, Email 1/4, null 1/4; Direct: conversion 3/8, null 3/8, Organic
/// 1/4; Email: Organic 1/2, Direct 1/2; Organic: conversion 1/8, null 5/8, Email 1/4; start:
/// Organic 2/11, Paid Social 4/11, Direct 1/11, four one-touch dead ends 4/11. Solving for
/// the conversion probability from each state: Direct 23/54, Organic 11/54, Email 17/54,
/// Paid Social 7/24, start 2/11 (2 won deals in 11 journeys). Removing a channel (its
/// in-transitions go to null) leaves start at: Paid Social 5/66, Direct 5/154, Organic 21/176,
/// Email 47/352; the effect is 1 - that / (2/11).
const PAID_SOCIAL: f64 = 7.0 / 12.0;
const DIRECT: f64 = 23.0 / 28.0;
const ORGANIC: f64 = 11.0 / 32.0;
const EMAIL: f64 = 17.0 / 64.0;

#[tokio::test]
async fn markov_removal_effects_are_the_hand_solved_ones() {
    let s = built().await;
    let effects = [
        ("Paid Social", PAID_SOCIAL),
        ("Direct", DIRECT),
        ("Organic Search", ORGANIC),
        ("Email", EMAIL),
        ("Display", 0.0),
        ("Events", 0.0),
        ("Unattributed", 0.0),
        ("Paid Search", 0.0),
    ];
    for (channel, effect) in effects {
        let sql = format!(
            "SELECT removal_effect FROM int_markov_removal_effects WHERE channel = '{channel}'"
        );
        let got = number(s, &sql).await;
        assert!((got - effect).abs() < 1e-9, "{channel}: {got} vs {effect}");
    }
}

#[tokio::test]
async fn data_driven_credits_by_removal_effect() {
    let s = built().await;
    let (ps, d, os, em) = (PAID_SOCIAL, DIRECT, ORGANIC, EMAIL);
    // L5: Paid Social, Direct, Organic, Email, Direct: Direct's share split over its 2 touches.
    let total = ps + d + os + em;
    close(
        &per_touch(s, "L5", "data_driven", "credit").await,
        &[
            ps / total,
            d / total / 2.0,
            os / total,
            em / total,
            d / total / 2.0,
        ],
        1e-9,
    );
    // L2 (Paid Social, Direct) and L3 (Paid Social, Email, Organic Search).
    close(
        &per_touch(s, "L2", "data_driven", "credit").await,
        &[ps / (ps + d), d / (ps + d)],
        1e-9,
    );
    let l3 = ps + em + os;
    close(
        &per_touch(s, "L3", "data_driven", "revenue").await,
        &[4500.0 * ps / l3, 4500.0 * em / l3, 4500.0 * os / l3],
        1e-6,
    );
}

#[tokio::test]
async fn sessions_take_their_source_by_the_first_rule_that_applies() {
    let s = built().await;
    let sessions = rows(s, "SELECT user_pseudo_id, source, medium, campaign, channel FROM int_sessions WHERE ga_session_id = 77 ORDER BY user_pseudo_id").await;
    assert_eq!(
        sessions,
        vec![
            vec![
                "s1",
                "search.yahoo.com",
                "organic",
                "(not set)",
                "Organic Search"
            ],
            vec!["s2", "partner", "(none)", "spring", "Unassigned"],
            vec!["s3", "google", "cpc", "retarget", "Paid Search"],
        ]
    );
}

#[tokio::test]
async fn mart_spend_orphan_opportunities_and_null_ratios() {
    let s = built().await;
    // Spend matched to a touched campaign stays on it; unmatched spend is (not set).
    let spend = rows(s, "SELECT channel, campaign, spend FROM pipeline_metrics WHERE attribution_model = 'linear' AND spend > 0 ORDER BY month, channel, campaign").await;
    assert_eq!(
        spend,
        vec![
            vec!["Paid Social", "ebook", "250.0"],
            vec!["Paid Social", "(not set)", "500.0"],
            vec!["Paid Social", "abm q1", "1000.0"]
        ]
    );
    // The lead-less opportunity, under every model.
    let orphan = rows(s, "SELECT COUNT(*), SUM(revenue) FROM pipeline_metrics WHERE channel = 'Unattributed' AND campaign = '(not set)' AND opportunities > 0").await;
    assert_eq!(orphan, vec![vec!["7", "21000.0"]]);
    // Zero denominators are NULL, never infinity: Organic Search has leads but no spend.
    let ratios = rows(s, "SELECT cpl, roas, roi FROM pipeline_metrics WHERE attribution_model = 'linear' AND channel = 'Organic Search' AND leads > 0").await;
    assert!(!ratios.is_empty());
    assert!(
        ratios.iter().all(|r| r == &vec!["0.0", "NULL", "NULL"]),
        "{ratios:?}"
    );
    let unreached = rows(
        s,
        "SELECT COUNT(*) FROM pipeline_metrics WHERE leads = 0 AND cpl IS NOT NULL",
    )
    .await;
    assert_eq!(unreached[0][0], "0");
}
