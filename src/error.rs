//! Typed errors and the documented exit codes.

use std::path::PathBuf;

/// Everything that can stop a Clearsight command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration error in {file}: {message}")]
    Config { file: String, message: String },

    #[error("usage error: {0}")]
    Usage(String),

    #[error("cannot read {file}: {message}")]
    UnreadableInput { file: String, message: String },

    #[error("model {model} ({file}) failed: {message}")]
    Model {
        model: String,
        file: PathBuf,
        message: String,
    },

    #[error("model graph error: {0}")]
    Graph(String),

    #[error("{failed} data test(s) failed; nothing was published")]
    TestsFailed { failed: usize },

    #[error("another build holds the lock {path} (held by: {holder})")]
    LockHeld { path: PathBuf, holder: String },

    #[error("warehouse error at {location}: {message}")]
    Warehouse { location: String, message: String },

    #[error("Ballista engine at {address}: {message}")]
    Engine { address: String, message: String },

    #[error("cannot serve on {address}: {message}")]
    Serve { address: String, message: String },

    #[error("query error: {0}")]
    Query(String),

    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),

    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),

    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),

    #[error(transparent)]
    ObjectStore(#[from] object_store::Error),

    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Exit codes, documented in the README and `clearsight --help`.
pub mod exit {
    /// Success.
    pub const OK: i32 = 0;
    /// A model failed to build or a data test failed: nothing was published.
    pub const MODEL_FAILURE: i32 = 1;
    /// Bad flags, bad configuration, an unknown table or a cycle between models.
    pub const USAGE: i32 = 2;
    /// Another build holds the warehouse lock.
    pub const LOCK_HELD: i32 = 3;
    /// An input file could not be read at all (rows that fail validation are quarantined instead).
    pub const UNREADABLE_INPUT: i32 = 4;
    /// The warehouse could not be written or read, or another internal error.
    pub const INTERNAL: i32 = 5;
    /// The distributed engine failed: its scheduler could not be reached, or an executor died
    /// (nothing was published).
    pub const ENGINE: i32 = 6;
    /// `serve` could not start: the address is taken or not ours, or the TLS files are unusable.
    pub const SERVE: i32 = 7;
}

impl Error {
    pub fn config(file: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Config {
            file: file.into(),
            message: message.into(),
        }
    }

    pub fn warehouse(location: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Warehouse {
            location: location.into(),
            message: message.to_string(),
        }
    }

    pub fn serve(address: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Serve {
            address: address.into(),
            message: message.to_string(),
        }
    }

    pub fn engine(address: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Error::Engine {
            address: address.into(),
            message: message.to_string(),
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } | Error::Usage(_) | Error::Graph(_) | Error::Query(_) => {
                exit::USAGE
            }
            Error::Model { .. } | Error::TestsFailed { .. } => exit::MODEL_FAILURE,
            Error::LockHeld { .. } => exit::LOCK_HELD,
            Error::UnreadableInput { .. } => exit::UNREADABLE_INPUT,
            Error::Engine { .. } => exit::ENGINE,
            Error::Serve { .. } => exit::SERVE,
            Error::Warehouse { .. }
            | Error::DataFusion(_)
            | Error::Arrow(_)
            | Error::Parquet(_)
            | Error::ObjectStore(_)
            | Error::Io(_) => exit::INTERNAL,
        }
    }
}
