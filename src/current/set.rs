//! The index loaded for reading: which snapshots are current.

use std::collections::HashMap;

use arrow::array::{Array, Int64Array};

use crate::current::REPLACES_LINE;
use crate::current::REPLACES_SEQ;
use crate::error::Result;
use crate::lake::IndexVersion;
use crate::spec::feeds::{INGEST_SEQ, SOURCE_LINE};
use crate::storage::Location;
use crate::storage::parquet::{column_as, read_columns};

/// The snapshots an index marks as current: per ingest seq, a bit per line.
#[derive(Debug, Default)]
pub struct CurrentSet {
    pub(crate) lines: HashMap<u64, Vec<u64>>,
    pub(crate) dossiers: u64,
}

impl CurrentSet {
    /// The snapshots `version` (in the lake at `location`) marks: the base's, less
    /// those the delta replaces, plus the delta's.
    pub fn load(location: &Location, version: &IndexVersion) -> Result<Self> {
        let mut set = CurrentSet::default();
        let base = location.shown(&version.base);
        for batch in read_columns(location, &version.base, &[INGEST_SEQ, SOURCE_LINE])? {
            let batch = batch?;
            let seqs: &Int64Array = column_as(&batch, INGEST_SEQ, &base, "an integer")?;
            let lines: &Int64Array = column_as(&batch, SOURCE_LINE, &base, "an integer")?;
            for (seq, line) in seqs.values().iter().zip(lines.values()) {
                set.insert(*seq as u64, *line as u64);
            }
        }
        if let Some(delta) = &version.delta {
            let names = [INGEST_SEQ, SOURCE_LINE, REPLACES_SEQ, REPLACES_LINE];
            let rel = delta;
            let delta = location.shown(rel);
            for batch in read_columns(location, rel, &names)? {
                let batch = batch?;
                let column = |name: &str| -> Result<&Int64Array> {
                    column_as(&batch, name, &delta, "an integer")
                };
                let (seqs, lines) = (column(INGEST_SEQ)?, column(SOURCE_LINE)?);
                let (old_seqs, old_lines) = (column(REPLACES_SEQ)?, column(REPLACES_LINE)?);
                for i in 0..batch.num_rows() {
                    if old_seqs.is_valid(i) && old_lines.is_valid(i) {
                        set.remove(old_seqs.value(i) as u64, old_lines.value(i) as u64);
                    }
                    set.insert(seqs.value(i) as u64, lines.value(i) as u64);
                }
            }
        }
        Ok(set)
    }

    pub(crate) fn remove(&mut self, seq: u64, line: u64) {
        let (word, mask) = slot(line);
        if let Some(bits) = self.lines.get_mut(&seq)
            && let Some(w) = bits.get_mut(word)
            && *w & mask != 0
        {
            *w &= !mask;
            self.dossiers -= 1;
        }
    }

    pub(crate) fn insert(&mut self, seq: u64, line: u64) {
        let (word, mask) = slot(line);
        let bits = self.lines.entry(seq).or_default();
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & mask == 0 {
            bits[word] |= mask;
            self.dossiers += 1;
        }
    }

    pub fn contains(&self, seq: u64, line: u64) -> bool {
        self.lines.get(&seq).is_some_and(|bits| bit(bits, line))
    }

    /// The dossiers (current snapshots) the index holds.
    pub fn len(&self) -> u64 {
        self.dossiers
    }

    pub fn is_empty(&self) -> bool {
        self.dossiers == 0
    }

    /// Marks each (seq, line) row: whether it is a current snapshot.
    pub(crate) fn mark(&self, seqs: &Int64Array, lines: &Int64Array) -> arrow::array::BooleanArray {
        let mut cached: Option<(i64, Option<&Vec<u64>>)> = None;
        let mut out = arrow::array::BooleanBuilder::with_capacity(seqs.len());
        for i in 0..seqs.len() {
            if seqs.is_null(i) || lines.is_null(i) {
                out.append_value(false);
                continue;
            }
            let seq = seqs.value(i);
            // Rows come file by file: one lookup per run of the same seq.
            let bits = match cached {
                Some((s, bits)) if s == seq => bits,
                _ => {
                    let bits = self.lines.get(&(seq as u64));
                    cached = Some((seq, bits));
                    bits
                }
            };
            let line = lines.value(i) as u64;
            out.append_value(bits.is_some_and(|b| bit(b, line)));
        }
        out.finish()
    }
}

/// A line's word in a seq's bitmap, and its bit there.
fn slot(line: u64) -> (usize, u64) {
    ((line / 64) as usize, 1 << (line % 64))
}

pub(crate) fn bit(bits: &[u64], line: u64) -> bool {
    let (word, mask) = slot(line);
    bits.get(word).is_some_and(|w| w & mask != 0)
}
