//! `clearsight init DIR`: a new project with the commented config, the default models and a
//! README for the team that runs it nightly. The files are the repository's own, embedded.

use std::path::Path;

use crate::error::{Error, Result};

macro_rules! embedded {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $path)))),*]
    };
}

/// Every file of a new project: path and text.
pub const PROJECT_FILES: &[(&str, &str)] = embedded![
    "config/channel_rules.yaml",
    "config/mart.yaml",
    "config/sources.yaml",
    "config/targets.yaml",
    "docs/loading.md",
    "docs/rulings.md",
    "queries/intermediate/int_credits_data_driven.sql",
    "queries/intermediate/int_credits_rules.sql",
    "queries/intermediate/int_credits_w_shaped.sql",
    "queries/intermediate/int_ga_identities.sql",
    "queries/intermediate/int_lead_users.sql",
    "queries/intermediate/int_leads.sql",
    "queries/intermediate/int_markov_removal_effects.sql",
    "queries/intermediate/int_sessions.sql",
    "queries/intermediate/int_spend.sql",
    "queries/intermediate/int_touch_extensions.sql",
    "queries/intermediate/int_touches.sql",
    "queries/marts/attribution_touchpoints.sql",
    "queries/marts/conversions.sql",
    "queries/marts/kpi_attainment.sql",
    "queries/marts/match_coverage.sql",
    "queries/marts/myopia.sql",
    "queries/marts/pipeline_metrics.sql",
    "queries/staging/stg_ga_identities.sql",
    "queries/staging/stg_ga_sessions.sql",
    "queries/staging/stg_leads.sql",
    "queries/staging/stg_opportunities.sql",
    "queries/staging/stg_spend.sql",
    "queries/staging/web_traffic_daily.sql",
    "queries/tests/assert_mart_reconciles_leads.sql",
    "queries/tests/assert_spend_reconciles.sql",
];

const TEAM_README: &str = include_str!("team_readme.md");

const GITIGNORE: &str = "/warehouse\n/demo-data\n/.clearsight\n";

/// Writes a new project into `dir`, which must not exist or be empty.
pub fn init(dir: &Path) -> Result<Vec<String>> {
    if dir.exists()
        && dir
            .read_dir()
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(Error::Usage(format!(
            "{} exists and is not empty; choose a new folder",
            dir.display()
        )));
    }
    let mut written = Vec::new();
    let extra = [("README.md", TEAM_README), (".gitignore", GITIGNORE)];
    for (path, text) in PROJECT_FILES.iter().chain(extra.iter()) {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().expect("a file has a parent"))?;
        std::fs::write(&target, text)?;
        written.push(path.to_string());
    }
    Ok(written)
}
