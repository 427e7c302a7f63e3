//! Clearsight: joins GA4, CRM and ad spend, and judges every channel and campaign by pipeline
//! and revenue instead of cost per lead.
//!
//! - [`load`] reads raw extracts into canonical Parquet tables in the [`warehouse`];
//! - [`run`] executes the versioned SQL models of `queries/` with DataFusion and publishes the
//!   marts atomically;
//! - [`engine`] is the one place a DataFusion session is built; [`udf`] the one registry of
//!   Clearsight's Rust functions; `cluster` (feature `ballista`) runs the same models on an
//!   Apache Ballista cluster;
//! - [`export`] writes the mart's CRM outcomes as the ad platforms' conversion upload files;
//! - [`serve`] answers BI tools over the PostgreSQL protocol from the published marts;
//! - [`demo`] writes realistic extracts in the real formats;
//! - [`observe`] carries the progress of a load or a run to whoever watches (the CLI prints it);
//! - [`workspace`] opens a project with its warehouse and engine settings: what every front end
//!   (CLI, server, tests) starts from;
//! - [`cli`] is the command line, a thin layer over the rest.

pub mod cli;
#[cfg(feature = "ballista")]
pub mod cluster;
pub mod config;
pub mod demo;
pub mod docs;
pub mod engine;
pub mod error;
pub mod export;
pub mod load;
pub mod observe;
pub mod page_url;
pub mod report;
pub mod run;
pub mod serve;
pub mod sources;
pub mod udf;
pub mod warehouse;
pub mod workspace;

pub use error::{Error, Result};

/// The attribution models of SPEC section 6, in the order reports show them.
pub const ATTRIBUTION_MODELS: [&str; 7] = [
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
    "w_shaped",
    "data_driven",
];
