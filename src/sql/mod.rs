//! The lake as SQL: sessions, tables, views, saved queries, read-only runs.

pub mod cache;
#[cfg(feature = "distributed")]
pub mod cluster;
#[cfg(feature = "distributed")]
pub(crate) mod codec;
pub(crate) mod lineage;
pub mod plan;
pub(crate) mod registry;
pub mod run;
pub mod saved;
pub mod session;
pub mod tables;
pub(crate) mod unit_tables;
pub mod views;

pub use run::{QueryResult, QuerySource, run};
pub(crate) use run::{Snapshot, stream, unknown_units};
pub use saved::{SHIPPED, SavedQuery, find, list};
