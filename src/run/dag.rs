//! Model graph: order, cycles, unknown tables, and dbt-style selection
//! (`model`, `+model`, `model+`, `+model+`).

use std::collections::{BTreeMap, BTreeSet};

use super::model::Model;
use crate::error::{Error, Result};

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
