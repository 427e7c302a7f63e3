//! Model graph: order, cycles, unknown tables, and dbt-style selection
//! (`model`, `+model`, `model+`, `+model+`).

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Layer, Model};
use crate::error::{Error, Result};
use crate::warehouse::schema;

/// Models in an order where each comes after the models it reads. Tables in `sources` (loaded
/// tables, `cfg_*` settings) are inputs; any other table is an error naming the file.
pub fn order(models: &[Model], sources: &BTreeSet<String>) -> Result<Vec<usize>> {
    let by_name: BTreeMap<&str, usize> = models
        .iter()
        .enumerate()
        .filter(|(_, m)| !m.is_test)
        .map(|(i, m)| (m.name.as_str(), i))
        .collect();
    for m in models {
        for t in &m.reads {
            if !by_name.contains_key(t.as_str())
                && !sources.contains(t)
                && !(m.is_test || t == "this")
            {
                return Err(Error::Graph(format!(
                    "{} reads table {t:?}, which is neither a model in queries/ nor a loaded table",
                    m.file.display()
                )));
            }
        }
    }
    check_layers(models, &by_name)?;
    // Depth-first topological sort; a grey node reached again is a cycle.
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        White,
        Grey,
        Black,
    }
    let mut marks = vec![Mark::White; models.len()];
    let mut out = Vec::new();
    fn visit(
        i: usize,
        models: &[Model],
        by_name: &BTreeMap<&str, usize>,
        marks: &mut [Mark],
        stack: &mut Vec<usize>,
        out: &mut Vec<usize>,
    ) -> Result<()> {
        match marks[i] {
            Mark::Black => return Ok(()),
            Mark::Grey => {
                let start = stack.iter().position(|&s| s == i).unwrap_or(0);
                let files: Vec<String> = stack[start..]
                    .iter()
                    .chain(std::iter::once(&i))
                    .map(|&s| models[s].file.display().to_string())
                    .collect();
                return Err(Error::Graph(format!(
                    "cycle between models: {}",
                    files.join(" -> ")
                )));
            }
            Mark::White => {}
        }
        marks[i] = Mark::Grey;
        stack.push(i);
        for t in &models[i].reads {
            if let Some(&j) = by_name.get(t.as_str()) {
                visit(j, models, by_name, marks, stack, out)?;
            }
        }
        stack.pop();
        marks[i] = Mark::Black;
        out.push(i);
        Ok(())
    }
    for i in 0..models.len() {
        visit(i, models, &by_name, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}

/// What a layer may read: staging reads loaded tables and `cfg_*` settings only; intermediate
/// reads staging and intermediate models; marts read any model but no loaded table. A model
/// that breaks this is a graph error naming both models (exit 2).
pub fn check_layers(models: &[Model], by_name: &BTreeMap<&str, usize>) -> Result<()> {
    for m in models.iter().filter(|m| m.layer != Layer::Unlayered) {
        for t in &m.reads {
            let read = match by_name.get(t.as_str()) {
                Some(&j) => Some(models[j].layer),
                None if schema::TABLES.contains(&t.as_str()) => None,
                None => continue, // a `cfg_*` settings table: every layer reads them
            };
            let allowed = match (m.layer, read) {
                (Layer::Staging, None) => true,
                (Layer::Staging, Some(_)) => false,
                (Layer::Intermediate, Some(l)) => l != Layer::Mart,
                (Layer::Mart, Some(_)) => true,
                (_, None) => false,
                (Layer::Unlayered, Some(_)) => true,
            };
            if !allowed {
                let what = match read {
                    Some(l) => format!("the {} model {t}", l.name()),
                    None => format!("the loaded table {t}"),
                };
                let rule = match m.layer {
                    Layer::Staging => "a staging model reads loaded tables and cfg_* settings only",
                    Layer::Intermediate => {
                        "an intermediate model reads staging and intermediate models only"
                    }
                    _ => "a mart reads models, not loaded tables",
                };
                return Err(Error::Graph(format!(
                    "{} model {} ({}) reads {what}: {rule} (docs/rulings.md, Layers)",
                    m.layer.name(),
                    m.name,
                    m.file.display()
                )));
            }
        }
    }
    Ok(())
}

fn upstream(models: &[Model], i: usize, out: &mut BTreeSet<usize>) {
    for t in &models[i].reads {
        if let Some(j) = models.iter().position(|m| !m.is_test && &m.name == t) {
            if out.insert(j) {
                upstream(models, j, out);
            }
        }
    }
}

fn downstream(models: &[Model], i: usize, out: &mut BTreeSet<usize>) {
    for (j, m) in models.iter().enumerate() {
        if m.reads.contains(&models[i].name) && out.insert(j) {
            downstream(models, j, out);
        }
    }
}

/// The models a selection names; no selector selects everything.
pub fn select(models: &[Model], selectors: &[String]) -> Result<BTreeSet<usize>> {
    if selectors.is_empty() {
        return Ok((0..models.len()).collect());
    }
    let mut chosen = BTreeSet::new();
    for raw in selectors
        .iter()
        .flat_map(|s| s.split([',', ' ']))
        .filter(|s| !s.is_empty())
    {
        let up = raw.starts_with('+');
        let down = raw.ends_with('+') && raw.len() > 1;
        let name = raw.trim_matches('+').to_lowercase();
        let i = models
            .iter()
            .position(|m| m.name == name && !m.is_test)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--select {raw}: no model named {name:?} in queries/"
                ))
            })?;
        chosen.insert(i);
        if up {
            upstream(models, i, &mut chosen);
        }
        if down {
            downstream(models, i, &mut chosen);
        }
    }
    // A test file runs when every model it reads is selected.
    for (j, m) in models.iter().enumerate().filter(|(_, m)| m.is_test) {
        let reads_models: Vec<usize> = models
            .iter()
            .enumerate()
            .filter(|(_, x)| !x.is_test && m.reads.contains(&x.name))
            .map(|(i, _)| i)
            .collect();
        if !reads_models.is_empty() && reads_models.iter().all(|i| chosen.contains(i)) {
            chosen.insert(j);
        }
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// A model at `queries/<path>.sql` reading `reads`.
    fn model(path: &str, reads: &[&str]) -> Model {
        let file = PathBuf::from(format!("queries/{path}.sql"));
        Model {
            name: file.file_stem().unwrap().to_string_lossy().into_owned(),
            layer: Layer::of(&file),
            is_test: path.starts_with("tests/"),
            file,
            header: serde_yaml::from_str("version: 1").unwrap(),
            sql: String::new(),
            reads: reads.iter().map(|r| r.to_string()).collect(),
        }
    }

    fn sources() -> BTreeSet<String> {
        ["ga_events", "crm_leads", "cfg_settings"]
            .map(String::from)
            .into()
    }

    fn names(models: &[Model], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| models[i].name.clone()).collect()
    }

    #[test]
    fn models_come_after_what_they_read() {
        let models = vec![
            model("marts/mart", &["int_b", "stg_a"]),
            model("intermediate/int_b", &["stg_a", "cfg_settings"]),
            model("staging/stg_a", &["ga_events"]),
        ];
        let order = order(&models, &sources()).unwrap();
        assert_eq!(names(&models, &order), ["stg_a", "int_b", "mart"]);
    }

    #[test]
    fn a_cycle_names_its_files() {
        let models = vec![model("a", &["b"]), model("b", &["a"])];
        let e = order(&models, &sources()).unwrap_err().to_string();
        assert!(e.contains("cycle between models"), "{e}");
        assert!(
            e.contains("queries/a.sql") && e.contains("queries/b.sql"),
            "{e}"
        );
    }

    #[test]
    fn an_unknown_table_names_the_file() {
        let models = vec![model("staging/stg_a", &["no_such_table"])];
        let e = order(&models, &sources()).unwrap_err().to_string();
        assert!(
            e.contains("queries/staging/stg_a.sql") && e.contains("no_such_table"),
            "{e}"
        );
    }

    fn layer_error(models: &[Model]) -> String {
        match order(models, &sources()) {
            Err(Error::Graph(m)) => m,
            other => panic!("expected a graph error, got {other:?}"),
        }
    }

    #[test]
    fn staging_reading_a_model_is_refused_naming_both() {
        let e = layer_error(&[
            model("staging/stg_a", &["ga_events"]),
            model("staging/stg_b", &["stg_a"]),
        ]);
        assert!(
            e.contains("stg_b") && e.contains("the staging model stg_a"),
            "{e}"
        );
    }

    #[test]
    fn intermediate_reading_a_mart_or_a_loaded_table_is_refused() {
        let e = layer_error(&[
            model("marts/mart", &["cfg_settings"]),
            model("intermediate/int_a", &["mart"]),
        ]);
        assert!(
            e.contains("int_a") && e.contains("the mart model mart"),
            "{e}"
        );
        let e = layer_error(&[model("intermediate/int_a", &["crm_leads"])]);
        assert!(
            e.contains("int_a") && e.contains("the loaded table crm_leads"),
            "{e}"
        );
    }

    #[test]
    fn a_mart_reading_a_loaded_table_is_refused() {
        let e = layer_error(&[model("marts/mart", &["ga_events"])]);
        assert!(
            e.contains("mart model mart") && e.contains("loaded table ga_events"),
            "{e}"
        );
    }

    #[test]
    fn unlayered_models_and_tests_read_anything() {
        let models = vec![
            model("flat", &["ga_events"]),
            model("marts/mart", &["flat"]),
            model("tests/assert_x", &["mart", "ga_events"]),
        ];
        assert!(order(&models, &sources()).is_ok());
    }

    #[test]
    fn selectors_take_upstream_downstream_and_the_tests_they_cover() {
        let models = vec![
            model("staging/stg_a", &["ga_events"]),
            model("intermediate/int_b", &["stg_a"]),
            model("marts/mart", &["int_b"]),
            model("tests/assert_mart", &["mart"]),
        ];
        let pick = |s: &str| {
            let chosen = select(&models, &[s.to_string()]).unwrap();
            names(&models, &chosen.into_iter().collect::<Vec<_>>())
        };
        assert_eq!(pick("int_b"), ["int_b"]);
        assert_eq!(pick("+int_b"), ["stg_a", "int_b"]);
        assert_eq!(pick("int_b+"), ["int_b", "mart", "assert_mart"]);
        assert_eq!(pick("+mart"), ["stg_a", "int_b", "mart", "assert_mart"]);
        let e = select(&models, &["nope".to_string()]).unwrap_err();
        assert!(e.to_string().contains("no model named \"nope\""));
    }
}
