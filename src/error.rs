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

    /// A file of a feed that replaces its whole table (units, targets) with
    /// a rejected row, or a units file that breaks the registry rules of
    /// SPEC §2: a partial registry or target list would silently replace
    /// the whole one.
    #[error("{path}: {feed} file refused whole; the lake keeps its {feed} as they were: {reason}")]
    Refused {
        path: PathBuf,
        /// The feed's name.
        feed: &'static str,
        reason: String,
    },

    /// `--strict` and at least one row was quarantined.
    #[error(
        "{rejected} row(s) rejected under --strict; nothing was committed (see the quarantine report above)"
    )]
    StrictRejected { rejected: u64 },

    /// Every row of a file was rejected: it was read, and nothing of it is
    /// in the lake but its quarantine.
    #[error(
        "{path}: all {rows} row(s) were rejected, none reached the lake; read why with `motcua query dq_quarantine` and fix the export"
    )]
    AllRejected { path: PathBuf, rows: u64 },

    /// More of a file was rejected than `--max-rejected` allows.
    #[error(
        "{path}: {rejected} of {read} row(s) rejected ({percent:.1}%), more than --max-rejected {limit}; nothing of this file was committed"
    )]
    TooManyRejected {
        path: PathBuf,
        rejected: u64,
        read: u64,
        percent: f64,
        limit: String,
    },

    /// A multi-file ingest that stopped at one file: what happened to the
    /// others. The exit code is the cause's.
    #[error("{source}; {}", stopped_note(.committed, .not_ingested))]
    Stopped {
        #[source]
        source: Box<Error>,
        /// Files committed before the failure.
        committed: Vec<PathBuf>,
        /// Files after the failing one, never read.
        not_ingested: Vec<PathBuf>,
    },

    /// SIGINT or SIGTERM: the work in progress was dropped.
    #[error("interrupted; {what}")]
    Interrupted { what: String },

    #[error("{0}")]
    PiiKey(String),

    #[error("lake {path}: {reason}")]
    Lake { path: PathBuf, reason: String },

    /// Another writer committed to the lake, or published the output, while
    /// this one worked (only a bucket, which has no lock, lets two work at
    /// once).
    #[error(
        "{path}: another writer committed version {version} while this command ran; nothing of this command was committed; run it again"
    )]
    Conflict { path: PathBuf, version: u64 },

    #[error("bad argument: {0}")]
    Usage(String),

    /// A Ballista cluster that could not be reached, or whose process
    /// stopped (`--features distributed`).
    #[error("cluster: {0}")]
    Cluster(String),

    #[error("Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),

    #[error("Arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),

    /// A query that cannot be planned or run, in one sentence.
    #[error("SQL: {0}")]
    Sql(String),

    /// A query that ran out of the engine's memory: the largest holders.
    #[error("SQL: the query needs more memory than --memory-limit allows ({0}); raise the limit")]
    OutOfMemory(String),

    /// An Excel workbook that could not be written.
    #[error("Excel: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),

    /// A report page or chart that could not be drawn (a bug, not an input).
    #[error("report: {0}")]
    Render(String),
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
            Error::BadFile { .. } | Error::Refused { .. } => 3,
            Error::Io { .. }
            | Error::Lake { .. }
            | Error::Parquet(_)
            | Error::Arrow(_)
            | Error::Xlsx(_)
            | Error::Render(_) => 4,
            Error::DataFusion(_) | Error::Sql(_) | Error::OutOfMemory(_) => 5,
            Error::PiiKey(_) => 6,
            // Its own code: running the command again is the remedy.
            Error::Conflict { .. } => 8,
            Error::Cluster(_) => 9,
            // Its own code: the files were fine, a nightly script may want
            // to retry without --strict and read the quarantine.
            Error::StrictRejected { .. }
            | Error::AllRejected { .. }
            | Error::TooManyRejected { .. } => 7,
            Error::Stopped { source, .. } => source.exit_code(),
            // 128 + SIGINT, as shells report an interrupted command.
            Error::Interrupted { .. } => 130,
        }
    }
}

fn names(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn stopped_note(committed: &[PathBuf], not_ingested: &[PathBuf]) -> String {
    let committed = match committed {
        [] => "no file of this command was committed".to_string(),
        c => format!("committed before it: {}", names(c)),
    };
    match not_ingested {
        [] => committed,
        rest => format!("{committed}; not ingested: {}", names(rest)),
    }
}
