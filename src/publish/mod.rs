//! What motcua hands to readers: versions of the kpi_values dataset, and
//! query results and reports printed or written to a file.

pub mod dataset;
pub(crate) mod parquet;
pub(crate) mod print;
