//! The mart on a hand-made world whose numbers are worked out by hand (SPEC sections 4 to 7):
//! a 5-touch journey for a $12,000 deal, 1-, 2- and 3-touch paths under every model, a shared
//! opportunity, fallback touches, every match method, spend matching, and the Markov chain.

use std::collections::BTreeMap;

use clearsight::udf::markov::{removal_effects, CONVERSION, NULL, START};
use datafusion::prelude::SessionContext;

use crate::support::{number, rows, TestProject};
use crate::world::world;

async fn built_world() -> (TestProject, SessionContext) {
    let project = world();
    let ctx = project.context();
    let load = clearsight::load::load(&ctx.project, &ctx.warehouse, &ctx.progress)
        .await
        .unwrap();
    assert_eq!(load.total(|f| f.rows_quarantined), 0);
    crate::support::run_all_published(&ctx).await;
    let session = clearsight::cli::commands::query_session(&ctx)
        .await
        .unwrap();
    (project, session)
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
async fn hand_worked_world() {
    let (_project, s) = built_world().await;

    // The 5-touch journey of a $12,000 won deal.
    close(
        &per_touch(&s, "L5", "linear", "revenue").await,
        &[2400.0; 5],
        1e-6,
    );
    close(
        &per_touch(&s, "L5", "position_based", "revenue").await,
        &[4800.0, 800.0, 800.0, 800.0, 4800.0],
        1e-6,
    );
    close(
        &per_touch(&s, "L5", "time_decay", "revenue").await,
        &[175.2, 287.4, 574.9, 3417.0, 7545.4],
        0.1,
    );
    close(
        &per_touch(&s, "L5", "first_touch", "revenue").await,
        &[12000.0, 0.0, 0.0, 0.0, 0.0],
        1e-9,
    );
    close(
        &per_touch(&s, "L5", "last_touch", "revenue").await,
        &[0.0, 0.0, 0.0, 12000.0, 0.0],
        1e-9,
    );
    // w_shaped: first touch 0.3, lead- and opportunity-creation touch (the last) 0.6, the rest share 0.1.
    close(
        &per_touch(&s, "L5", "w_shaped", "revenue").await,
        &[3600.0, 400.0, 400.0, 400.0, 7200.0],
        1e-6,
    );
    let channels = rows(&s, "SELECT channel FROM attribution_touchpoints WHERE lead_id = 'L5' AND attribution_model = 'linear' ORDER BY touch_index").await;
    let channels: Vec<&str> = channels.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        channels,
        ["Paid Social", "Direct", "Organic Search", "Email", "Direct"]
    );

    // One touch: everything to it, under every model.
    for model in clearsight::ATTRIBUTION_MODELS {
        close(&per_touch(&s, "L1", model, "credit").await, &[1.0], 1e-12);
    }
    // Two touches (Paid Social, direct), opportunity $5,000 open.
    close(
        &per_touch(&s, "L2", "first_touch", "credit").await,
        &[1.0, 0.0],
        1e-12,
    );
    close(
        &per_touch(&s, "L2", "last_touch", "credit").await,
        &[1.0, 0.0],
        1e-12,
    );
    close(
        &per_touch(&s, "L2", "linear", "pipeline").await,
        &[2500.0, 2500.0],
        1e-9,
    );
    close(
        &per_touch(&s, "L2", "position_based", "credit").await,
        &[0.5, 0.5],
        1e-12,
    );
    let (w1, w2) = (2f64.powf(-10.0 / 7.0), 2f64.powf(-1.0 / 7.0));
    close(
        &per_touch(&s, "L2", "time_decay", "credit").await,
        &[w1 / (w1 + w2), w2 / (w1 + w2)],
        1e-9,
    );
    // w_shaped extends L2's journey to the Email session after creation (the opportunity-creation
    // touch): three distinct milestones, no other touch, so each gets 0.3 + 0.1/3.
    close(
        &per_touch(&s, "L2", "w_shaped", "credit").await,
        &[1.0 / 3.0; 3],
        1e-9,
    );
    assert_eq!(
        per_touch(&s, "L2", "linear", "credit").await.len(),
        2,
        "the extension is w_shaped's only"
    );

    // Three touches; L3 shares its $9,000 won opportunity with L4: 4,500 each.
    close(
        &per_touch(&s, "L3", "position_based", "revenue").await,
        &[1800.0, 900.0, 1800.0],
        1e-6,
    );
    close(
        &per_touch(&s, "L3", "linear", "won_deals").await,
        &[1.0 / 6.0; 3],
        1e-12,
    );
    close(
        &per_touch(&s, "L3", "w_shaped", "revenue").await,
        &[1350.0, 450.0, 2700.0],
        1e-6,
    );
    close(
        &per_touch(&s, "L3", "last_touch", "revenue").await,
        &[0.0, 0.0, 4500.0],
        1e-9,
    );
    close(
        &per_touch(&s, "L4", "last_touch", "revenue").await,
        &[4500.0],
        1e-9,
    );

    // Match methods and fallback touches.
    let methods = rows(&s, "SELECT lead_id, match_method, channel, campaign FROM attribution_touchpoints WHERE attribution_model = 'first_touch' AND touch_index = 1 ORDER BY lead_id").await;
    let m: BTreeMap<String, (String, String, String)> = methods
        .into_iter()
        .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone(), r[3].clone())))
        .collect();
    assert_eq!(m["L3"].0, "client_id", "the raw _ga cookie matches");
    assert_eq!(
        m["L10"],
        ("gclid".into(), "Paid Search".into(), "brand".into())
    );
    assert_eq!(
        m["L11"],
        (
            "user_id".into(),
            "Organic Search".into(),
            "(not set)".into()
        )
    );
    assert_eq!(
        m["L7"],
        ("utm".into(), "Paid Social".into(), "abm q1".into())
    );
    assert_eq!(
        m["L8"],
        ("lead_source".into(), "Events".into(), "(not set)".into())
    );
    assert_eq!(
        m["L9"],
        ("none".into(), "Unattributed".into(), "(not set)".into())
    );
    assert_eq!(m["L6"].1, "Display");
    assert_eq!(
        per_touch(&s, "L5", "linear", "credit").await.len(),
        5,
        "the session 91 days before is outside the lookback"
    );

    // The Markov chain: removal effects from the paths worked out by hand.
    let paths: [(&[&str], f64); 11] = [
        (&["Organic Search"], 0.0),
        (&["Paid Social", "Direct"], 0.0),
        (&["Paid Social", "Email", "Organic Search"], 0.5),
        (&["Direct"], 0.5),
        (
            &["Paid Social", "Direct", "Organic Search", "Email", "Direct"],
            1.0,
        ),
        (&["Display"], 0.0),
        (&["Paid Social"], 0.0),
        (&["Events"], 0.0),
        (&["Unattributed"], 0.0),
        (&["Paid Search"], 0.0),
        (&["Organic Search"], 0.0),
    ];
    let mut transitions = Vec::new();
    for (path, won) in paths {
        let mut from = START;
        for c in path {
            transitions.push((from.to_string(), c.to_string(), 1.0));
            from = c;
        }
        if won > 0.0 {
            transitions.push((from.to_string(), CONVERSION.to_string(), won));
        }
        if won < 1.0 {
            transitions.push((from.to_string(), NULL.to_string(), 1.0 - won));
        }
    }
    let expected = removal_effects(&transitions);
    for (channel, effect) in &expected {
        let got = number(
            &s,
            &format!(
                "SELECT removal_effect FROM int_markov_removal_effects WHERE channel = '{channel}'"
            ),
        )
        .await;
        assert!((got - effect).abs() < 1e-9, "{channel}: {got} vs {effect}");
    }
    let (ps, d, os, em) = (
        expected["Paid Social"],
        expected["Direct"],
        expected["Organic Search"],
        expected["Email"],
    );
    let total = ps + d + os + em;
    close(
        &per_touch(&s, "L5", "data_driven", "credit").await,
        &[
            ps / total,
            d / total / 2.0,
            os / total,
            em / total,
            d / total / 2.0,
        ],
        1e-9,
    );

    // L2 (Paid Social, Direct) and L3 (Paid Social, Email, Organic Search) under data_driven.
    close(
        &per_touch(&s, "L2", "data_driven", "credit").await,
        &[ps / (ps + d), d / (ps + d)],
        1e-9,
    );
    let l3 = ps + em + os;
    close(
        &per_touch(&s, "L3", "data_driven", "revenue").await,
        &[4500.0 * ps / l3, 4500.0 * em / l3, 4500.0 * os / l3],
        1e-6,
    );
    // L3's other models: first touch, time decay (20, 10 and 0.5 days before creation).
    close(
        &per_touch(&s, "L3", "first_touch", "revenue").await,
        &[4500.0, 0.0, 0.0],
        1e-9,
    );
    let w: Vec<f64> = [20.0, 10.0, 0.5]
        .iter()
        .map(|d: &f64| 2f64.powf(-d / 7.0))
        .collect();
    let wt: f64 = w.iter().sum();
    close(
        &per_touch(&s, "L3", "time_decay", "revenue").await,
        &[4500.0 * w[0] / wt, 4500.0 * w[1] / wt, 4500.0 * w[2] / wt],
        1e-6,
    );

    // Session rules.
    let sessions = rows(&s, "SELECT user_pseudo_id, source, medium, campaign, channel FROM stg_sessions WHERE ga_session_id = 77 ORDER BY user_pseudo_id").await;
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

    // Mart rows: spend matched to a touched campaign stays on it; unmatched spend is (not set).
    let spend = rows(&s, "SELECT channel, campaign, spend FROM pipeline_metrics WHERE attribution_model = 'linear' AND spend > 0 ORDER BY month, channel, campaign").await;
    assert_eq!(
        spend,
        vec![
            vec!["Paid Social", "ebook", "250.0"],
            vec!["Paid Social", "(not set)", "500.0"],
            vec!["Paid Social", "abm q1", "1000.0"]
        ]
    );
    // The lead-less opportunity, under every model.
    let orphan = rows(&s, "SELECT COUNT(*), SUM(revenue) FROM pipeline_metrics WHERE channel = 'Unattributed' AND campaign = '(not set)' AND opportunities > 0").await;
    assert_eq!(orphan, vec![vec!["7", "21000.0"]]);
    // Zero denominators are NULL, never infinity: Organic Search has leads but no spend.
    let ratios = rows(&s, "SELECT cpl, roas, roi FROM pipeline_metrics WHERE attribution_model = 'linear' AND channel = 'Organic Search' AND leads > 0").await;
    assert!(!ratios.is_empty());
    assert!(
        ratios.iter().all(|r| r == &vec!["0.0", "NULL", "NULL"]),
        "{ratios:?}"
    );
    let unreached = rows(
        &s,
        "SELECT COUNT(*) FROM pipeline_metrics WHERE leads = 0 AND cpl IS NOT NULL",
    )
    .await;
    assert_eq!(unreached[0][0], "0");
}
