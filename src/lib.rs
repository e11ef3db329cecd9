//! motcua: KPIs of Vietnam's one-stop shops and online public-service portal
//! from their log exports.
//!
//! The folders follow the data: `spec` declares the feeds, the KPIs and the
//! grains; `read` turns export files into raw records; `validate` types and
//! checks them; `dedupe` drops what the lake already holds; `stage` writes
//! the accepted and rejected rows under staging; `ingest` drives a command
//! file by file; `lake` commits; `current` keeps each dossier's current
//! snapshot; `sql` serves the lake to SQL; `kpi_job` computes the KPIs;
//! `publish` hands datasets and results to their readers; `report` writes
//! what an official reads from the published KPIs. `storage` holds
//! where a lake lives (a folder or a bucket) and the file and Parquet
//! helpers everything above shares; `sample` generates
//! realistic feeds; `fuzz` holds the properties the fuzz targets check.

pub mod cli;
#[cfg(feature = "distributed")]
pub mod cluster;
pub mod current;
pub(crate) mod dedupe;
pub mod error;
pub mod fuzz;
#[doc(hidden)]
pub mod hot;
pub mod ingest;
pub mod interrupt;
pub mod kpi_job;
pub mod lake;
pub mod publish;
pub mod read;
pub mod report;
pub mod sample;
pub mod serve;
pub mod spec;
pub mod sql;
pub(crate) mod stage;
pub(crate) mod storage;
pub mod validate;

pub use error::{Error, Result};
pub use storage::Location;
