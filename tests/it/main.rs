//! The one integration-test crate (every test binary links DataFusion again).

mod support;

mod attribution;
mod ballista;
mod channels;
mod check;
mod cli;
mod cli_output;
mod cluster;
mod contract;
mod conversions;
mod formats;
mod ga4_events;
mod invariants;
mod loader;
mod memory;
mod nightly;
mod real_exports;
mod reload;
mod report;
mod review;
mod runner;
mod s3;
mod serve;
mod world;
