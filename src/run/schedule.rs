//! Which nodes of a plan may run now. A node waits for the nodes of the models it reads; up to
//! `jobs` nodes run at once, so independent branches of the graph (the GA4 sessions and the CRM
//! leads, the small spend models, the data tests) overlap, and a node that leaves a core idle (a
//! small write, a test, planning) no longer holds up the next one.
//!
//! Among the nodes that are ready, the one with the most nodes downstream starts first: the long
//! chain from the sessions to the mart starts before the leaves.

use std::collections::{BTreeMap, BTreeSet};

use super::model::Model;
use super::plan::Step;

/// The state of a run's nodes (indexes into the plan's steps).
#[derive(Debug)]
pub struct Schedule {
    /// For each step, the steps it waits for.
    waits_for: Vec<BTreeSet<usize>>,
    /// For each step, how many steps are downstream of it (its priority).
    downstream: Vec<usize>,
    started: Vec<bool>,
    finished: Vec<bool>,
    running: usize,
    jobs: usize,
}

impl Schedule {
    /// The schedule of `steps` (in graph order) over `models`, `jobs` at a time (at least 1).
    pub fn new(steps: &[Step], models: &[Model], jobs: usize) -> Schedule {
        let step_of: BTreeMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (models[s.model].name.as_str(), i))
            .collect();
        let waits_for: Vec<BTreeSet<usize>> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let reads = &models[s.model].reads;
                reads
                    .iter()
                    .filter_map(|t| step_of.get(t.as_str()).copied())
                    .filter(|&j| j != i)
                    .collect()
            })
            .collect();
        let downstream = (0..steps.len())
            .map(|i| downstream_of(i, &waits_for))
            .collect();
        Schedule {
            waits_for,
            downstream,
            started: vec![false; steps.len()],
            finished: vec![false; steps.len()],
            running: 0,
            jobs: jobs.max(1),
        }
    }

    /// The steps to start now (marked started): ready ones, the most downstream first, up to
    /// the free slots.
    pub fn start_ready(&mut self) -> Vec<usize> {
        let mut ready: Vec<usize> = (0..self.started.len())
            .filter(|&i| !self.started[i] && self.waits_for[i].iter().all(|&j| self.finished[j]))
            .collect();
        ready.sort_by_key(|&i| (std::cmp::Reverse(self.downstream[i]), i));
        ready.truncate(self.jobs.saturating_sub(self.running));
        for &i in &ready {
            self.started[i] = true;
            self.running += 1;
        }
        ready
    }

    /// Step `i` finished (whatever its status).
    pub fn finish(&mut self, i: usize) {
        if self.started[i] && !self.finished[i] {
            self.finished[i] = true;
            self.running -= 1;
        }
    }
}

/// How many steps wait, directly or not, for step `i`.
fn downstream_of(i: usize, waits_for: &[BTreeSet<usize>]) -> usize {
    let mut seen = BTreeSet::from([i]);
    loop {
        let before = seen.len();
        for (j, w) in waits_for.iter().enumerate() {
            if !seen.contains(&j) && w.iter().any(|k| seen.contains(k)) {
                seen.insert(j);
            }
        }
        if seen.len() == before {
            return seen.len() - 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::plan::Action;
    use std::path::Path;

    /// Models named `name` reading `reads` (a tiny graph: a -> b -> d, c, a -> e).
    fn world() -> (Vec<Model>, Vec<Step>) {
        let specs = [
            ("a", "SELECT * FROM ga_events"),
            ("c", "SELECT * FROM crm_leads"),
            ("b", "SELECT * FROM a"),
            ("e", "SELECT * FROM a"),
            ("d", "SELECT * FROM b JOIN c USING (k)"),
        ];
        let models: Vec<Model> = specs
            .iter()
            .map(|(name, sql)| {
                let file = Path::new("queries/staging").join(format!("{name}.sql"));
                Model::parse(&file, format!("-- version: 1\n{sql}"), false).unwrap()
            })
            .collect();
        let steps = (0..models.len())
            .map(|model| Step {
                model,
                action: Action::Assert,
            })
            .collect();
        (models, steps)
    }

    #[test]
    fn a_node_starts_only_after_what_it_reads() {
        let (models, steps) = world();
        let mut s = Schedule::new(&steps, &models, 8);
        // a (3 downstream) before c (1); b, e, d wait for a.
        assert_eq!(s.start_ready(), vec![0, 1]);
        assert_eq!(s.start_ready(), Vec::<usize>::new());
        s.finish(0);
        // b (1 downstream: d) before e (none).
        assert_eq!(s.start_ready(), vec![2, 3]);
        s.finish(2);
        assert_eq!(s.start_ready(), Vec::<usize>::new(), "d still waits for c");
        s.finish(1);
        assert_eq!(s.start_ready(), vec![4]);
    }

    #[test]
    fn no_more_than_jobs_nodes_run_at_once() {
        let (models, steps) = world();
        let mut s = Schedule::new(&steps, &models, 1);
        let mut order = Vec::new();
        loop {
            let started = s.start_ready();
            assert!(started.len() <= 1, "{started:?}");
            let Some(&i) = started.first() else { break };
            order.push(i);
            s.finish(i);
        }
        // One at a time, every node once, each after what it reads; among the ready ones the
        // most downstream first, then graph order (c and b have one each, d and e none).
        assert_eq!(order, vec![0, 1, 2, 3, 4]);
    }
}
