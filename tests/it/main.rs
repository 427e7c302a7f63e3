//! The one integration-test crate (every test binary links DataFusion again).

mod support;

mod attribution;
mod ballista;
mod channels;
mod cli;
mod cluster;
mod invariants;
mod loader;
mod report;
mod runner;
mod s3;
mod world;
