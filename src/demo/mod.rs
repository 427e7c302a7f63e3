//! `clearsight demo`: realistic extracts in the real formats, seeded. Several months of
//! multi-session journeys across channels, GA4 daily export files, Salesforce Lead and
//! Opportunity snapshots, a HubSpot contact/deal export, Google Ads / Meta / LinkedIn / generic
//! spend exports, spam leads, opportunities shared by two leads, and a few bad rows.
//!
//! The channel profiles make the point of the product: Meta and display bring the cheapest
//! leads and the least revenue.

mod crm_export;
mod simulate;
mod writers;

use std::path::Path;

use crate::error::Result;

pub use simulate::{simulate, Profile, World};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub seed: u64,
    /// First month (UTC), `YYYY-MM`.
    pub start_month: (i32, u32),
    pub months: u32,
    /// Roughly how many GA events to write.
    pub target_events: u64,
    /// Write the few deliberately bad rows.
    pub bad_rows: bool,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            seed: 42,
            start_month: (2024, 1),
            months: 6,
            target_events: 60_000,
            bad_rows: true,
        }
    }
}

/// Counts of what was written, for the summary line.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DemoSummary {
    pub ga_events: u64,
    pub ga_files: u64,
    pub leads: u64,
    pub opportunities: u64,
    pub spend_rows: u64,
    pub bad_rows: u64,
}

/// Writes the demo extracts under `dir` (`ga4/`, `crm/`, `spend/`).
pub fn generate(dir: &Path, options: &DemoOptions) -> Result<DemoSummary> {
    let world = simulate(options);
    writers::write_all(dir, &world, options)
}

/// Small deterministic PRNG (SplitMix64): the demo must be the same on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// Index drawn with the given weights.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}
