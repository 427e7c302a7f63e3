//! What a run will do, decided before anything runs: per node in graph order, assert (a test
//! file), view, reuse (a published version carried into the run) or build, with its
//! fingerprint. Pure: no DataFusion, no warehouse; the runner executes the plan.
//!
//! A model's fingerprint hashes its SQL, header, the settings and the fingerprints of what it
//! reads (loaded tables by file list, models by their own fingerprint), so a change anywhere
//! upstream changes it. A selected model whose fingerprint equals the published one is reused;
//! a model outside the selection is reused under its published fingerprint (its dependants are
//! judged against what is really there).

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Materialization, Model};
use super::publish::{ModelVersion, Published};
use crate::error::{Error, Result};

/// Key of the settings' fingerprint among the source fingerprints.
pub const SETTINGS: &str = "(settings)";

/// What the runner does with one node.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A test file of `queries/tests/`: run its assertion.
    Assert,
    /// A view: registered, never written.
    View { fingerprint: String },
    /// The published version, carried into the run unchanged.
    Reuse {
        fingerprint: String,
        published: ModelVersion,
        /// False: outside `--select` (reported as not selected rather than skipped).
        selected: bool,
    },
    /// Build (a table, or the new days of an incremental model).
    Build {
        fingerprint: String,
        /// SQL, header and settings only: an incremental model whose definition is unchanged
        /// may rebuild just the days of new files.
        definition: String,
        /// Fingerprint of each table it reads.
        inputs: BTreeMap<String, String>,
        /// The published version, if any (an incremental build starts from it).
        published: Option<ModelVersion>,
    },
}

impl Action {
    pub fn fingerprint(&self) -> Option<&str> {
        match self {
            Action::Assert => None,
            Action::View { fingerprint }
            | Action::Reuse { fingerprint, .. }
            | Action::Build { fingerprint, .. } => Some(fingerprint),
        }
    }
}

/// One node of the plan: `models[model]` and what to do with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub model: usize,
    pub action: Action,
}

/// What the plan is made from.
pub struct PlanInputs<'a> {
    pub models: &'a [Model],
    /// Graph order (indexes into `models`).
    pub order: &'a [usize],
    pub selected: &'a BTreeSet<usize>,
    pub previous: &'a Published,
    /// Loaded and settings tables' fingerprints, and [`SETTINGS`].
    pub sources: &'a BTreeMap<String, String>,
    pub full_refresh: bool,
}

/// A stable hash of `parts` (each terminated, so `["ab", "c"]` and `["a", "bc"]` differ).
pub fn hash_hex(parts: &[&str]) -> String {
    let mut h = twox_hash::XxHash3_128::new();
    for p in parts {
        h.write(p.as_bytes());
        h.write(&[0]);
    }
    format!("{:032x}", h.finish_128())
}

/// The plan of a run. Fails when a model the selection needs was never published.
pub fn plan(inputs: &PlanInputs) -> Result<Vec<Step>> {
    let mut fingerprints = inputs.sources.clone();
    let settings = inputs.sources.get(SETTINGS).cloned().unwrap_or_default();
    let mut steps = Vec::new();
    for &i in inputs.order {
        let m = &inputs.models[i];
        let selected = inputs.selected.contains(&i);
        if m.is_test {
            if selected {
                steps.push(Step {
                    model: i,
                    action: Action::Assert,
                });
            }
            continue;
        }
        let reads: BTreeMap<String, String> = m
            .reads
            .iter()
            .map(|t| (t.clone(), fingerprints.get(t).cloned().unwrap_or_default()))
            .collect();
        let header = serde_yaml::to_string(&m.header).unwrap_or_default();
        let definition = hash_hex(&[m.sql.as_str(), header.as_str(), settings.as_str()]);
        let inputs_text: Vec<String> = reads.iter().map(|(t, f)| format!("{t}={f}")).collect();
        let mut parts = vec![m.sql.as_str(), header.as_str(), settings.as_str()];
        parts.extend(inputs_text.iter().map(String::as_str));
        let fingerprint = hash_hex(&parts);
        let published = inputs.previous.models.get(&m.output_dir());
        let action = decide(
            m,
            selected,
            fingerprint,
            definition,
            reads,
            published,
            inputs,
        )?;
        // Dependants are judged against what is there: a reused model by its published
        // fingerprint (the same as the computed one when it is selected and unchanged).
        let effective = match &action {
            Action::Reuse { published, .. } => published.fingerprint.clone(),
            other => other.fingerprint().unwrap_or_default().to_string(),
        };
        fingerprints.insert(m.name.clone(), effective);
        steps.push(Step { model: i, action });
    }
    Ok(steps)
}

fn decide(
    m: &Model,
    selected: bool,
    fingerprint: String,
    definition: String,
    reads: BTreeMap<String, String>,
    published: Option<&ModelVersion>,
    inputs: &PlanInputs,
) -> Result<Action> {
    if m.header.materialized == Materialization::View {
        return Ok(Action::View { fingerprint });
    }
    let unchanged = published.is_some_and(|o| o.fingerprint == fingerprint);
    if selected && !(unchanged && !inputs.full_refresh) {
        return Ok(Action::Build {
            fingerprint,
            definition,
            inputs: reads,
            published: published.cloned(),
        });
    }
    let Some(published) = published else {
        return Err(Error::Usage(format!(
            "model {} is needed but not selected and was never published; select it too (e.g. --select +{})",
            m.name, m.name
        )));
    };
    Ok(Action::Reuse {
        fingerprint,
        published: published.clone(),
        selected,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn model(name: &str, reads: &[&str], sql: &str) -> Model {
        Model {
            name: name.to_string(),
            file: PathBuf::from(format!("queries/{name}.sql")),
            header: serde_yaml::from_str("version: 1").unwrap(),
            sql: sql.to_string(),
            reads: reads.iter().map(|r| r.to_string()).collect(),
            is_test: false,
            layer: super::super::model::Layer::Unlayered,
        }
    }

    fn version(name: &str, fingerprint: &str) -> ModelVersion {
        serde_json::from_value(serde_json::json!({
            "model": name, "version": 1, "run_id": "r1", "built_by": "r1",
            "fingerprint": fingerprint, "input_fingerprints": {}, "rows": 3,
            "schema_hash": "s", "partition_by": null, "partition_type": null
        }))
        .unwrap()
    }

    struct World {
        models: Vec<Model>,
        sources: BTreeMap<String, String>,
    }

    fn world(raw_files: &str) -> World {
        World {
            models: vec![
                model("stg", &["ga_events"], "SELECT * FROM ga_events"),
                model("mart", &["stg"], "SELECT * FROM stg"),
            ],
            sources: [("ga_events", raw_files), (SETTINGS, "settings-1")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn plan_of(w: &World, selected: &[usize], previous: &Published, full: bool) -> Vec<Step> {
        plan(&PlanInputs {
            models: &w.models,
            order: &[0, 1],
            selected: &selected.iter().copied().collect(),
            previous,
            sources: &w.sources,
            full_refresh: full,
        })
        .unwrap()
    }

    fn published(steps: &[Step], w: &World) -> Published {
        let mut p = Published {
            run_id: "r1".into(),
            ..Published::default()
        };
        for s in steps {
            let m = &w.models[s.model];
            p.models.insert(
                m.output_dir(),
                version(&m.name, s.action.fingerprint().unwrap()),
            );
        }
        p
    }

    fn kinds(steps: &[Step]) -> Vec<&'static str> {
        steps
            .iter()
            .map(|s| match s.action {
                Action::Assert => "assert",
                Action::View { .. } => "view",
                Action::Reuse { selected: true, .. } => "reuse",
                Action::Reuse {
                    selected: false, ..
                } => "not selected",
                Action::Build { .. } => "build",
            })
            .collect()
    }

    #[test]
    fn first_run_builds_everything_and_a_second_reuses_it() {
        let w = world("files-a");
        let first = plan_of(&w, &[0, 1], &Published::default(), false);
        assert_eq!(kinds(&first), ["build", "build"]);
        let second = plan_of(&w, &[0, 1], &published(&first, &w), false);
        assert_eq!(kinds(&second), ["reuse", "reuse"]);
        let forced = plan_of(&w, &[0, 1], &published(&first, &w), true);
        assert_eq!(kinds(&forced), ["build", "build"]);
    }

    #[test]
    fn a_new_raw_file_rebuilds_the_model_and_what_reads_it() {
        let w = world("files-a");
        let first = plan_of(&w, &[0, 1], &Published::default(), false);
        let w2 = world("files-a+b");
        let next = plan_of(&w2, &[0, 1], &published(&first, &w), false);
        assert_eq!(kinds(&next), ["build", "build"]);
        assert_ne!(first[1].action.fingerprint(), next[1].action.fingerprint());
    }

    #[test]
    fn an_unselected_model_is_reused_under_its_published_fingerprint() {
        let w = world("files-a");
        let first = plan_of(&w, &[0, 1], &Published::default(), false);
        let previous = published(&first, &w);
        // New raw files, but only `mart` selected: `stg` stays as published, so `mart` (which
        // reads the published `stg`) is unchanged too.
        let w2 = world("files-a+b");
        let next = plan_of(&w2, &[1], &previous, false);
        assert_eq!(kinds(&next), ["not selected", "reuse"]);
    }

    #[test]
    fn an_unselected_model_never_published_is_a_usage_error() {
        let w = world("files-a");
        let err = plan(&PlanInputs {
            models: &w.models,
            order: &[0, 1],
            selected: &[1].into_iter().collect(),
            previous: &Published::default(),
            sources: &w.sources,
            full_refresh: false,
        })
        .unwrap_err();
        assert!(err.to_string().contains("--select +stg"), "{err}");
    }

    #[test]
    fn the_hash_separates_its_parts() {
        assert_ne!(hash_hex(&["ab", "c"]), hash_hex(&["a", "bc"]));
        // The reference C library's xxh3-128 of "a\0" (python-xxhash): published plans' hashes
        // stay valid.
        assert_eq!(hash_hex(&["a"]), "fe6c33c14011b5780d78baac08237ddb");
    }
}
