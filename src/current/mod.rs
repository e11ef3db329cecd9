//! The current state of every dossier (SPEC §4.1), kept at ingest instead of
//! recomputed by every query.
//!
//! The lake holds an index of each dossier's latest snapshot — (hash of the
//! id, `updated_at`, ingest seq, line) — sorted by the hash, as Parquet files
//! under `current/`: a base, and a delta of the entries that changed since
//! the base was written, each with the base entry it replaces. Each ingest
//! merges its new snapshots (a streaming merge of sorted runs, so memory
//! stays bounded however large the file) into a new delta — reading the base
//! but not rewriting it, so a nightly file costs a read of the index, not a
//! rewrite — or, once the delta outgrows an eighth of the base, into a new
//! base; and commits it in the same manifest replace as the data. Readers
//! load the base's (seq, line) pairs into a bitmap, apply the delta, and keep
//! the snapshots it marks: a filter, where recomputing the state was a window
//! over every snapshot of the lake.

mod collect;
mod merge;
mod set;
#[cfg(test)]
mod tests;

pub(crate) use collect::*;
pub(crate) use merge::*;
pub use set::CurrentSet;

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::spec::feeds::{INGEST_SEQ, SOURCE_LINE};

/// Snapshots held in memory before a sorted run goes to disk (40 B each).
pub(crate) const RUN_RECORDS: usize = 1 << 20;
pub(crate) const BATCH_ROWS: usize = 64 * 1024;
pub(crate) const RECORD_BYTES: usize = 40;
/// A delta is folded into a new base once it holds more than an eighth of
/// the base's entries (and more than a few thousand: below that, rewriting
/// saves nothing).
pub(crate) const DELTA_SHARE_OF_BASE: u64 = 8;
pub(crate) const DELTA_MIN_ENTRIES: u64 = 4096;
/// Columns a delta adds: the base entry its entry replaces, if any.
pub(crate) const REPLACES_SEQ: &str = "replaces_seq";
pub(crate) const REPLACES_LINE: &str = "replaces_line";

/// One snapshot's claim to be its dossier's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Latest {
    /// xxh3-128 of the dossier id.
    pub key: u128,
    pub updated_at: i64,
    pub seq: u64,
    pub line: u64,
}

impl Latest {
    /// SPEC §4.1: greatest `updated_at`, then the later ingest, then the later line.
    pub(crate) fn order(&self) -> (i64, u64, u64) {
        (self.updated_at, self.seq, self.line)
    }

    pub(crate) fn later(self, other: Latest) -> Latest {
        if other.order() > self.order() {
            other
        } else {
            self
        }
    }

    pub(crate) fn to_bytes(self) -> [u8; RECORD_BYTES] {
        let mut b = [0u8; RECORD_BYTES];
        b[..16].copy_from_slice(&self.key.to_le_bytes());
        b[16..24].copy_from_slice(&self.updated_at.to_le_bytes());
        b[24..32].copy_from_slice(&self.seq.to_le_bytes());
        b[32..].copy_from_slice(&self.line.to_le_bytes());
        b
    }

    pub(crate) fn from_bytes(b: &[u8; RECORD_BYTES]) -> Latest {
        let word = |r: std::ops::Range<usize>| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[r]);
            w
        };
        let mut key = [0u8; 16];
        key.copy_from_slice(&b[..16]);
        Latest {
            key: u128::from_le_bytes(key),
            updated_at: i64::from_le_bytes(word(16..24)),
            seq: u64::from_le_bytes(word(24..32)),
            line: u64::from_le_bytes(word(32..40)),
        }
    }
}

/// The index key of a dossier id.
pub fn key(id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(id.as_bytes())
}

/// A base's columns; a delta has two more (`delta_schema`).
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(base_fields()))
}

pub(crate) fn base_fields() -> Vec<Field> {
    vec![
        Field::new("dossier_key", DataType::FixedSizeBinary(16), false),
        Field::new("updated_at", DataType::Int64, false),
        Field::new(INGEST_SEQ, DataType::Int64, false),
        Field::new(SOURCE_LINE, DataType::Int64, false),
    ]
}

pub(crate) fn delta_schema() -> SchemaRef {
    let mut fields = base_fields();
    fields.push(Field::new(REPLACES_SEQ, DataType::Int64, true));
    fields.push(Field::new(REPLACES_LINE, DataType::Int64, true));
    Arc::new(Schema::new(fields))
}
