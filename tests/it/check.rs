//! `clearsight check` and column contracts: every model planned before any data is read.

use crate::support::TestProject;

fn clearsight(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    crate::support::bin_in(dir).args(args).output().unwrap()
}

#[test]
fn check_plans_a_fresh_project_on_an_empty_warehouse() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("fresh");
    let init = crate::support::bin()
        .arg("init")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(init.status.code(), Some(0));
    let out = clearsight(&dir, &["--json", "check"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["problems"].as_array().unwrap().len(), 0);
    let pm = report["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "pipeline_metrics")
        .unwrap();
    let revenue = pm["columns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "revenue")
        .unwrap();
    assert_eq!(revenue["type"], "DOUBLE");
    assert!(
        !dir.join("warehouse/raw/ga_events").exists()
            || std::fs::read_dir(dir.join("warehouse/raw/ga_events"))
                .unwrap()
                .next()
                .is_none(),
        "no data loaded"
    );
}

#[test]
fn a_missing_column_fails_check_and_run_builds_nothing() {
    let project = TestProject::demo();
    let sql =
        std::fs::read_to_string(project.path().join("queries/staging/stg_spend.sql")).unwrap();
    project.write(
        "queries/staging/stg_spend.sql",
        &sql.replace("a.cost\n", "a.cost_in_pennies\n"),
    );
    let out = clearsight(project.path(), &["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("stg_spend.sql") && stderr.contains("cost_in_pennies"),
        "{stderr}"
    );
    assert!(
        stderr.contains("int_spend: not checked: it reads stg_spend"),
        "{stderr}"
    );
    let run = clearsight(project.path(), &["run"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        !project.path().join("warehouse/_published.json").exists(),
        "nothing built or published"
    );
    assert!(
        !project.path().join("warehouse/_runs").exists(),
        "no run started"
    );
}

#[test]
fn an_output_that_drops_a_contracted_column_fails_with_the_difference() {
    let project = TestProject::demo();
    let path = project.path().join("queries/marts/match_coverage.sql");
    let sql = std::fs::read_to_string(&path).unwrap();
    let dropped = sql.replace(
        "    leads_unmatched\nFROM sums",
        "    leads_unmatched AS unmatched_leads\nFROM sums",
    );
    assert_ne!(dropped, sql);
    project.write("queries/marts/match_coverage.sql", &dropped);
    let out = clearsight(project.path(), &["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("match_coverage.sql")
            && stderr.contains("missing column leads_unmatched")
            && stderr.contains("extra column unmatched_leads (DOUBLE)"),
        "{stderr}"
    );
    assert_eq!(
        clearsight(project.path(), &["build"]).status.code(),
        Some(1)
    );
    assert!(!project.path().join("warehouse/_published.json").exists());
}

fn lineage(args: &[&str]) -> serde_json::Value {
    let out = clearsight(
        &crate::support::repo(),
        &[&["--json", "lineage"][..], args].concat(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn listed(v: &serde_json::Value, key: &str, column: &str) -> bool {
    v[key].as_array().unwrap().iter().any(|c| c == column)
}

/// Regression: the ratios are `kpi(metric, measures)` over one struct of every measure; cpl
/// must still be computed from spend and leads only, not from the opportunity amounts.
#[test]
fn cpl_lineage_is_spend_and_leads_not_every_measure() {
    let up = lineage(&["pipeline_metrics.cpl"]);
    assert!(listed(&up, "computed_from", "ad_spend.cost"), "{up}");
    assert!(
        !listed(&up, "computed_from", "crm_opportunities.amount"),
        "revenue is not in cpl: {up}"
    );
    let roi = lineage(&["pipeline_metrics.roi"]);
    assert!(
        listed(&roi, "computed_from", "crm_opportunities.amount")
            && listed(&roi, "computed_from", "ad_spend.cost"),
        "{roi}"
    );
}

#[test]
fn revenue_lineage_reaches_the_opportunity_amount_and_its_join_keys() {
    // Read from the SQL: pipeline_metrics.revenue sums attribution_touchpoints.revenue
    // (credit * int_leads.revenue) and lead-less won_amount; stg_opportunities.won_amount is
    // CASE WHEN is_won THEN amount; int_leads joins opportunities on its opportunity id.
    let up = lineage(&["pipeline_metrics.revenue"]);
    assert!(
        listed(&up, "computed_from", "crm_opportunities.amount"),
        "{up}"
    );
    assert!(
        listed(&up, "computed_from", "crm_opportunities.is_won"),
        "{up}"
    );
    assert!(
        listed(&up, "filtered_by", "crm_leads.opportunity_id"),
        "the lead's join key: {up}"
    );
    assert!(
        !listed(&up, "computed_from", "crm_leads.opportunity_id"),
        "{up}"
    );
    assert!(listed(&up, "filtered_by", "crm_leads.lead_id"), "{up}");
    assert!(
        !listed(&up, "computed_from", "ad_spend.cost"),
        "spend does not make revenue: {up}"
    );
    assert!(
        listed(&up, "via_models", "stg_opportunities.won_amount"),
        "{up}"
    );
    // Downstream: the opportunity amount computes pipeline and revenue in the mart.
    let down = lineage(&["--downstream", "crm_opportunities.amount"]);
    assert!(
        listed(&down, "computes", "pipeline_metrics.revenue")
            && listed(&down, "computes", "pipeline_metrics.pipeline"),
        "{down}"
    );
    assert!(
        !listed(&down, "computes", "pipeline_metrics.spend"),
        "{down}"
    );
}

#[test]
fn docs_html_is_the_marts_data_dictionary() {
    let out_dir = tempfile::tempdir().unwrap();
    let html = out_dir.path().join("docs.html");
    let out = clearsight(
        &crate::support::repo(),
        &["docs", "--html", html.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains(r#"<svg id="dag""#)
            && !page.contains("http://")
            && !page.contains("https://")
    );
    for mart in [
        "pipeline_metrics",
        "attribution_touchpoints",
        "myopia",
        "kpi_attainment",
        "match_coverage",
        "conversions",
    ] {
        assert!(
            page.contains(&format!(r#"<section id="model-{mart}">"#)),
            "{mart}"
        );
        assert!(
            page.contains(&format!(r##"href="#model-{mart}""##)),
            "{mart} in the graph"
        );
    }
    // A contracted column with its type and description, and its lineage link.
    assert!(page.contains(
        "<code>cac</code></td><td>DOUBLE</td><td>customer acquisition cost: spend / won deals</td>"
    ));
    assert!(page.contains(r##"<a href="#model-stg_spend">stg_spend</a>"##));
}

/// `stg_leads` picks each lead's latest version with `last_by` over one struct of its columns,
/// `stg_ga_sessions` a session's first campaign with `first_by`: a field is computed from its
/// own column only, and the ordering keys and the FILTER only pick the row (as a window's
/// order keys did when the version was a `ROW_NUMBER`).
#[test]
fn a_field_picked_by_first_or_last_by_is_computed_from_its_own_column() {
    let status = lineage(&["stg_leads.status"]);
    assert_eq!(
        status["computed_from"],
        serde_json::json!(["crm_leads.status"])
    );
    for key in ["last_modified_at", "source_file", "source_line", "lead_id"] {
        let column = format!("crm_leads.{key}");
        assert!(listed(&status, "filtered_by", &column), "{status}");
    }
    let source = lineage(&["stg_ga_sessions.tagged_source"]);
    assert_eq!(
        source["computed_from"],
        serde_json::json!(["ga_events.manual_source", "ga_events.utm_source"])
    );
    assert!(
        listed(&source, "filtered_by", "ga_events.event_at"),
        "{source}"
    );
}
