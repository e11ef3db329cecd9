//! The library's error type. Every variant renders as one sentence that says
//! what went wrong and, where there is one, what to do about it; the CLI
//! prints it as is and maps it to an exit code.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "unknown feed '{0}'; the feeds are dossiers, portal_events, signatures, units, targets"
    )]
    UnknownFeed(String),

    /// The file as a whole cannot be ingested (missing required column, no
    /// header, wrong encoding, ...). Nothing from it is committed.
    #[error("{path}: {reason}")]
    BadFile { path: PathBuf, reason: String },

    /// A units file that breaks the registry rules of SPEC §2.
    #[error("{path}: units file refused whole: {reason}")]
    BadRegistry { path: PathBuf, reason: String },

    /// `--strict` and at least one row was quarantined.
    #[error(
        "{rejected} row(s) rejected under --strict; nothing was committed (see the quarantine report above)"
    )]
    StrictRejected { rejected: u64 },

    #[error("{0}")]
    PiiKey(String),

    #[error("lake {path}: {reason}")]
    Lake { path: PathBuf, reason: String },

    #[error("bad argument: {0}")]
    Usage(String),

    #[error("Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),

    #[error("Arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),

    /// A query that cannot be planned or run, in one sentence.
    #[error("SQL: {0}")]
    Sql(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub fn lake(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Lake {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// Process exit code, as documented in the README.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::UnknownFeed(_) => 2,
            Error::BadFile { .. } | Error::BadRegistry { .. } => 3,
            Error::Io { .. } | Error::Lake { .. } | Error::Parquet(_) | Error::Arrow(_) => 4,
            Error::DataFusion(_) | Error::Sql(_) => 5,
            Error::PiiKey(_) => 6,
            // Its own code: the files were fine, a nightly script may want
            // to retry without --strict and read the quarantine.
            Error::StrictRejected { .. } => 7,
        }
    }
}
