//! motcua: KPIs of Vietnam's one-stop shops and online public-service portal
//! from their log exports.
//!
//! One module per stage: `feeds` declares the inputs; `reader`, `values`,
//! `time` and `privacy` turn raw records into typed rows; `ingest` validates
//! and stages them; `current` keeps each dossier's current snapshot; `lake`
//! commits them; `sample` generates realistic feeds;
//! `fuzz` holds the properties the fuzz targets check.

pub mod catalog;
pub mod current;
pub mod error;
pub mod feeds;
pub mod fuzz;
pub mod ingest;
pub mod interrupt;
pub mod kpi;
pub mod kpi_job;
pub mod lake;
pub mod output;
pub mod print;
pub mod privacy;
pub mod query;
pub mod reader;
pub mod sample;
pub mod time;
pub mod values;

pub use error::{Error, Result};
