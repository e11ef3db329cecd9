//! Staging: accepted rows become Parquet files per partition, rejected ones a
//! quarantine file, all under the transaction's staging folder until the
//! commit moves them into the lake.

pub(crate) mod batch;
pub(crate) mod partitions;
pub(crate) mod quarantine;
pub(crate) mod writer;

/// Rows buffered per partition before they are handed to the Parquet writer.
pub(crate) const BATCH_ROWS: usize = 8192;
