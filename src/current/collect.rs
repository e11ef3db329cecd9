//! Snapshots' claims gathered into sorted runs, spilled to disk as they grow.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use arrow::array::{
    Array, FixedSizeBinaryArray, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::current::RECORD_BYTES;
use crate::current::key;
use crate::current::{BATCH_ROWS, Latest};
use crate::error::{Error, Result};
use crate::spec::feeds::{FeedDef, INGEST_SEQ, SOURCE_LINE};
use crate::storage::Location;
use crate::storage::parquet::{Input, column_as, read_columns};

/// The snapshots one transaction adds, as sorted runs: in memory up to
/// `run_records`, then on disk under the transaction's staging directory.
#[derive(Debug)]
pub(crate) struct Collector {
    pub(crate) dir: PathBuf,
    pub(crate) run_records: usize,
    pub(crate) buffer: Vec<Latest>,
    pub(crate) runs: Vec<PathBuf>,
    /// Snapshots in `runs`.
    pub(crate) spilled: u64,
}

impl Collector {
    /// `run_records`: snapshots held in memory before a run spills
    /// (`RUN_RECORDS` unless a test wants many runs).
    pub fn new(staging: &Path, run_records: usize) -> Self {
        Collector {
            dir: staging.to_path_buf(),
            run_records: run_records.max(1),
            buffer: Vec::new(),
            runs: Vec::new(),
            spilled: 0,
        }
    }

    pub fn push(&mut self, latest: Latest) -> Result<()> {
        self.buffer.push(latest);
        if self.buffer.len() >= self.run_records {
            self.spill()?;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty() && self.runs.is_empty()
    }

    /// At most how many dossiers the collected snapshots name.
    pub(crate) fn claims(&self) -> u64 {
        self.buffer.len() as u64 + self.spilled
    }

    /// Takes in another collector's snapshots (a later file of the same
    /// transaction).
    pub(crate) fn absorb(&mut self, other: Collector) -> Result<()> {
        self.runs.extend(other.runs);
        self.spilled += other.spilled;
        for latest in other.buffer {
            self.push(latest)?;
        }
        Ok(())
    }

    /// Takes in every snapshot of a committed data file of `def` (a feed
    /// with `current_by`): how a lake from before the index gets one.
    pub(crate) fn add_committed(
        &mut self,
        location: &Location,
        rel: &str,
        def: &FeedDef,
    ) -> Result<()> {
        let Some((id, version)) = def.current_by else {
            return Ok(());
        };
        let shown = location.shown(rel);
        let path = shown.as_path();
        for batch in read_columns(location, rel, &[id, version, INGEST_SEQ, SOURCE_LINE])? {
            let batch = batch?;
            let ids: &StringArray = column_as(&batch, id, path, "text")?;
            let versions: &TimestampMicrosecondArray =
                column_as(&batch, version, path, "a timestamp")?;
            let seqs: &Int64Array = column_as(&batch, INGEST_SEQ, path, "an integer")?;
            let lines: &Int64Array = column_as(&batch, SOURCE_LINE, path, "an integer")?;
            for i in 0..batch.num_rows() {
                if ids.is_null(i) || versions.is_null(i) {
                    continue;
                }
                self.push(Latest {
                    key: key(ids.value(i)),
                    updated_at: versions.value(i),
                    seq: seqs.value(i) as u64,
                    line: lines.value(i) as u64,
                })?;
            }
        }
        Ok(())
    }

    pub(crate) fn spill(&mut self) -> Result<()> {
        let run = sorted_latest(std::mem::take(&mut self.buffer));
        // A name no other collector of the transaction can take: every
        // file of a --strict ingest has its own collector, spilling into the
        // same staging directory (numbered names overwrote each other's runs).
        let (file, path) = tempfile::Builder::new()
            .prefix("current-run-")
            .suffix(".bin")
            .tempfile_in(&self.dir)
            .and_then(|f| f.keep().map_err(|e| e.error))
            .map_err(|e| Error::io(&self.dir, e))?;
        self.spilled += run.len() as u64;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        for latest in run {
            out.write_all(&latest.to_bytes())
                .map_err(|e| Error::io(&path, e))?;
        }
        out.flush().map_err(|e| Error::io(&path, e))?;
        self.runs.push(path);
        Ok(())
    }
}

/// Sorts by key and keeps each key's latest snapshot.
pub(crate) fn sorted_latest(mut records: Vec<Latest>) -> Vec<Latest> {
    records.sort_unstable_by_key(|r| r.key);
    let mut out: Vec<Latest> = Vec::with_capacity(records.len());
    for r in records {
        match out.last_mut() {
            Some(last) if last.key == r.key => *last = last.later(r),
            _ => out.push(r),
        }
    }
    out
}

/// A sorted stream of records: a run on disk, the in-memory remainder, or
/// the committed index.
pub(crate) enum Source {
    Memory(std::vec::IntoIter<Latest>),
    Run(BufReader<File>, PathBuf),
    Index(IndexReader),
}

impl Source {
    pub(crate) fn next(&mut self) -> Result<Option<Latest>> {
        match self {
            Source::Memory(it) => Ok(it.next()),
            Source::Run(reader, path) => {
                let mut b = [0u8; RECORD_BYTES];
                match reader.read_exact(&mut b) {
                    Ok(()) => Ok(Some(Latest::from_bytes(&b))),
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
                    Err(e) => Err(Error::io(path.as_path(), e)),
                }
            }
            Source::Index(reader) => reader.next(),
        }
    }
}

/// Reads a committed index back, batch by batch.
pub(crate) struct IndexReader {
    pub(crate) batches: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    pub(crate) batch: std::vec::IntoIter<Latest>,
    pub(crate) path: PathBuf,
}

impl IndexReader {
    pub(crate) fn open(location: &Location, rel: &str) -> Result<Self> {
        let batches = ParquetRecordBatchReaderBuilder::try_new(Input::open(location, rel)?)?
            .with_batch_size(BATCH_ROWS)
            .build()?;
        Ok(IndexReader {
            batches,
            batch: Vec::new().into_iter(),
            path: location.shown(rel),
        })
    }

    pub(crate) fn next(&mut self) -> Result<Option<Latest>> {
        loop {
            if let Some(latest) = self.batch.next() {
                return Ok(Some(latest));
            }
            match self.batches.next() {
                Some(batch) => self.batch = decode(&batch?, &self.path)?.into_iter(),
                None => return Ok(None),
            }
        }
    }
}

fn decode(batch: &RecordBatch, path: &Path) -> Result<Vec<Latest>> {
    let keys: &FixedSizeBinaryArray = column_as(batch, "dossier_key", path, "16-byte keys")?;
    let int = |name: &str| -> Result<&[i64]> {
        let column: &Int64Array = column_as(batch, name, path, "an integer")?;
        Ok(column.values())
    };
    let (updated_at, seqs, lines) = (int("updated_at")?, int(INGEST_SEQ)?, int(SOURCE_LINE)?);
    Ok((0..batch.num_rows())
        .map(|i| {
            let mut key = [0u8; 16];
            key.copy_from_slice(keys.value(i));
            Latest {
                key: u128::from_be_bytes(key),
                updated_at: updated_at[i],
                seq: seqs[i] as u64,
                line: lines[i] as u64,
            }
        })
        .collect())
}
