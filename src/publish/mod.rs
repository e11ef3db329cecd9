//! What motcua publishes for readers: versions of the kpi_values dataset,
//! each swapped in atomically, the KPI catalog beside them, and the Parquet writer they and query
//! results written to a file share.

pub mod catalog;
pub mod dataset;
pub(crate) mod parquet;
