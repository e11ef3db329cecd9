//! The current state of every dossier (SPEC §4.1), kept at ingest instead of
//! recomputed by every query.
//!
//! The lake holds an index of each dossier's latest snapshot — (hash of the
//! id, `updated_at`, ingest seq, line) — sorted by the hash, one Parquet file
//! per lake version under `current/`. Each ingest merges its new snapshots
//! into the previous index (a streaming merge of sorted runs, so memory stays
//! bounded however large the file) and commits the new index in the same
//! manifest replace as the data. Readers load the (seq, line) pairs into a
//! bitmap and keep the snapshots it marks: a filter, where recomputing the
//! state was a window over every snapshot of the lake.

use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeBinaryArray, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimestampMicrosecondType};
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::feeds::{FeedDef, INGEST_SEQ, SOURCE_LINE};

/// Where index versions live, relative to the lake root.
pub const DIR: &str = "current";
/// Index versions no manifest names are deleted once this old: a reader that
/// opened an older manifest has long since loaded its index by then.
const KEEP_UNREFERENCED_SECS: u64 = 15 * 60;
/// Snapshots held in memory before a sorted run goes to disk (40 B each).
const RUN_RECORDS: usize = 1 << 20;
const BATCH_ROWS: usize = 64 * 1024;
const RECORD_BYTES: usize = 40;

/// One snapshot's claim to be its dossier's current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latest {
    /// xxh3-128 of the dossier id.
    pub key: u128,
    pub updated_at: i64,
    pub seq: u64,
    pub line: u64,
}

impl Latest {
    /// SPEC §4.1: greatest `updated_at`, then the later ingest, then the later line.
    fn order(&self) -> (i64, u64, u64) {
        (self.updated_at, self.seq, self.line)
    }

    fn later(self, other: Latest) -> Latest {
        if other.order() > self.order() {
            other
        } else {
            self
        }
    }

    fn to_bytes(self) -> [u8; RECORD_BYTES] {
        let mut b = [0u8; RECORD_BYTES];
        b[..16].copy_from_slice(&self.key.to_le_bytes());
        b[16..24].copy_from_slice(&self.updated_at.to_le_bytes());
        b[24..32].copy_from_slice(&self.seq.to_le_bytes());
        b[32..].copy_from_slice(&self.line.to_le_bytes());
        b
    }

    fn from_bytes(b: &[u8; RECORD_BYTES]) -> Latest {
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

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("dossier_key", DataType::FixedSizeBinary(16), false),
        Field::new("updated_at", DataType::Int64, false),
        Field::new(INGEST_SEQ, DataType::Int64, false),
        Field::new(SOURCE_LINE, DataType::Int64, false),
    ]))
}

/// The snapshots one transaction adds, as sorted runs: in memory up to
/// `RUN_RECORDS`, then on disk under the transaction's staging directory.
#[derive(Debug)]
pub struct Collector {
    dir: PathBuf,
    buffer: Vec<Latest>,
    runs: Vec<PathBuf>,
}

impl Collector {
    pub fn new(staging: &Path) -> Self {
        Collector {
            dir: staging.to_path_buf(),
            buffer: Vec::new(),
            runs: Vec::new(),
        }
    }

    pub fn push(&mut self, latest: Latest) -> Result<()> {
        self.buffer.push(latest);
        if self.buffer.len() >= RUN_RECORDS {
            self.spill()?;
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty() && self.runs.is_empty()
    }

    /// Takes in another collector's snapshots (a later file of the same
    /// transaction).
    pub fn absorb(&mut self, other: Collector) -> Result<()> {
        self.runs.extend(other.runs);
        for latest in other.buffer {
            self.push(latest)?;
        }
        Ok(())
    }

    /// Takes in every snapshot of a committed data file of `def` (a feed
    /// with `current_by`): how a lake from before the index gets one.
    pub fn add_committed(&mut self, path: &Path, def: &FeedDef) -> Result<()> {
        let Some((id, version)) = def.current_by else {
            return Ok(());
        };
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let names = [id, version, INGEST_SEQ, SOURCE_LINE];
        let mut roots = Vec::new();
        for name in names {
            roots.push(
                builder
                    .schema()
                    .index_of(name)
                    .map_err(|_| Error::lake(path, format!("has no column {name}")))?,
            );
        }
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        for batch in builder.with_projection(mask).build()? {
            let batch = batch?;
            let column = |name: &str| {
                batch
                    .column_by_name(name)
                    .ok_or_else(|| Error::lake(path, format!("has no column {name}")))
            };
            let ids = column(id)?.as_string::<i32>();
            let versions = column(version)?.as_primitive::<TimestampMicrosecondType>();
            let seqs = column(INGEST_SEQ)?.as_primitive::<Int64Type>();
            let lines = column(SOURCE_LINE)?.as_primitive::<Int64Type>();
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

    fn spill(&mut self) -> Result<()> {
        let run = sorted_latest(std::mem::take(&mut self.buffer));
        let path = self
            .dir
            .join(format!("current-run-{:04}.bin", self.runs.len()));
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
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
fn sorted_latest(mut records: Vec<Latest>) -> Vec<Latest> {
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
enum Source {
    Memory(std::vec::IntoIter<Latest>),
    Run(BufReader<File>, PathBuf),
    Index(IndexReader),
}

impl Source {
    fn next(&mut self) -> Result<Option<Latest>> {
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
struct IndexReader {
    batches: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
    batch: std::vec::IntoIter<Latest>,
}

impl IndexReader {
    fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let batches = ParquetRecordBatchReaderBuilder::try_new(file)?
            .with_batch_size(BATCH_ROWS)
            .build()?;
        Ok(IndexReader {
            batches,
            batch: Vec::new().into_iter(),
        })
    }

    fn next(&mut self) -> Result<Option<Latest>> {
        loop {
            if let Some(latest) = self.batch.next() {
                return Ok(Some(latest));
            }
            match self.batches.next() {
                Some(batch) => self.batch = decode(&batch?)?.into_iter(),
                None => return Ok(None),
            }
        }
    }
}

fn decode(batch: &RecordBatch) -> Result<Vec<Latest>> {
    let keys = batch
        .column(0)
        .as_any()
        .downcast_ref::<FixedSizeBinaryArray>()
        .ok_or_else(|| Error::Usage("dossier index: the key column is not binary".into()))?;
    let updated_at = batch.column(1).as_primitive::<Int64Type>().values();
    let seqs = batch.column(2).as_primitive::<Int64Type>().values();
    let lines = batch.column(3).as_primitive::<Int64Type>().values();
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

/// Merges `collector`'s snapshots into the committed index at `previous`
/// (a path relative to `root`, if the lake has one) and writes the new index
/// to `to`. Returns the number of dossiers it holds.
pub fn merge(
    root: &Path,
    previous: Option<&str>,
    mut collector: Collector,
    to: &Path,
) -> Result<u64> {
    let mut sources = Vec::new();
    if let Some(previous) = previous {
        sources.push(Source::Index(IndexReader::open(&root.join(previous))?));
    }
    for run in &collector.runs {
        let file = File::open(run).map_err(|e| Error::io(run, e))?;
        sources.push(Source::Run(
            BufReader::with_capacity(1 << 16, file),
            run.clone(),
        ));
    }
    let memory = sorted_latest(std::mem::take(&mut collector.buffer));
    sources.push(Source::Memory(memory.into_iter()));

    // A min-heap on key over the head of every source.
    let mut heads = BinaryHeap::new();
    let mut head: Vec<Option<Latest>> = Vec::with_capacity(sources.len());
    for (i, source) in sources.iter_mut().enumerate() {
        let r = source.next()?;
        if let Some(r) = r {
            heads.push(std::cmp::Reverse((r.key, i)));
        }
        head.push(r);
    }
    let file = File::create(to).map_err(|e| Error::io(to, e))?;
    // Hashes do not repeat, do not compress and are not searched by range: no
    // dictionary, compression or statistics for them (the dictionary attempt,
    // then compression, were the top costs of a nightly merge).
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_compression(parquet::basic::Compression::ZSTD(
            parquet::basic::ZstdLevel::default(),
        ))
        .set_column_compression(
            parquet::schema::types::ColumnPath::from("dossier_key"),
            parquet::basic::Compression::UNCOMPRESSED,
        )
        .set_dictionary_enabled(false)
        .set_statistics_enabled(parquet::file::properties::EnabledStatistics::None)
        .build();
    let mut writer = ArrowWriter::try_new(file, schema(), Some(properties))?;
    let mut out = IndexBatch::default();
    let mut current: Option<Latest> = None;
    let mut dossiers = 0u64;
    while let Some(std::cmp::Reverse((_, i))) = heads.pop() {
        let Some(r) = head[i].take() else { continue };
        head[i] = sources[i].next()?;
        if let Some(next) = head[i] {
            heads.push(std::cmp::Reverse((next.key, i)));
        }
        current = match current {
            Some(c) if c.key == r.key => Some(c.later(r)),
            Some(c) => {
                out.push(c);
                dossiers += 1;
                if out.len() >= BATCH_ROWS {
                    writer.write(&out.finish()?)?;
                }
                Some(r)
            }
            None => Some(r),
        };
    }
    if let Some(c) = current {
        out.push(c);
        dossiers += 1;
    }
    if out.len() > 0 {
        writer.write(&out.finish()?)?;
    }
    writer.close()?;
    for run in &collector.runs {
        let _ = std::fs::remove_file(run);
    }
    Ok(dossiers)
}

#[derive(Default)]
struct IndexBatch {
    keys: Vec<[u8; 16]>,
    updated_at: Vec<i64>,
    seq: Vec<i64>,
    line: Vec<i64>,
}

impl IndexBatch {
    fn push(&mut self, r: Latest) {
        // Big-endian, so the file's byte order is the key order.
        self.keys.push(r.key.to_be_bytes());
        self.updated_at.push(r.updated_at);
        self.seq.push(r.seq as i64);
        self.line.push(r.line as i64);
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn finish(&mut self) -> Result<RecordBatch> {
        let keys = FixedSizeBinaryArray::try_from_iter(self.keys.drain(..))?;
        Ok(RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(keys) as ArrayRef,
                Arc::new(Int64Array::from(std::mem::take(&mut self.updated_at))),
                Arc::new(Int64Array::from(std::mem::take(&mut self.seq))),
                Arc::new(Int64Array::from(std::mem::take(&mut self.line))),
            ],
        )?)
    }
}

/// The path of the index committed with ingest `seq`.
pub fn index_path(seq: u64) -> String {
    format!("{DIR}/dossiers-{seq:06}.parquet")
}

/// Deletes index versions other than `keep` that no reader can still need.
pub fn remove_old_versions(root: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(root.join(DIR)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if crate::lake::relative(root, &path) == keep {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() >= KEEP_UNREFERENCED_SECS);
        if old && std::fs::remove_file(&path).is_ok() {
            tracing::debug!("removed old dossier index {}", path.display());
        }
    }
}

/// The snapshots an index marks as current: per ingest seq, a bit per line.
#[derive(Debug, Default)]
pub struct CurrentSet {
    lines: HashMap<u64, Vec<u64>>,
    dossiers: u64,
}

impl CurrentSet {
    pub fn load(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
        let mask = ProjectionMask::roots(builder.parquet_schema(), [2, 3]);
        let reader = builder
            .with_projection(mask)
            .with_batch_size(BATCH_ROWS)
            .build()?;
        let mut set = CurrentSet::default();
        for batch in reader {
            let batch = batch?;
            let seqs = batch.column(0).as_primitive::<Int64Type>();
            let lines = batch.column(1).as_primitive::<Int64Type>();
            for (seq, line) in seqs.values().iter().zip(lines.values()) {
                set.insert(*seq as u64, *line as u64);
            }
        }
        Ok(set)
    }

    fn insert(&mut self, seq: u64, line: u64) {
        let bits = self.lines.entry(seq).or_default();
        let word = (line / 64) as usize;
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        bits[word] |= 1 << (line % 64);
        self.dossiers += 1;
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
    pub fn mark(&self, seqs: &Int64Array, lines: &Int64Array) -> arrow::array::BooleanArray {
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

fn bit(bits: &[u64], line: u64) -> bool {
    bits.get((line / 64) as usize)
        .is_some_and(|w| w & (1 << (line % 64)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: u128, updated_at: i64, seq: u64, line: u64) -> Latest {
        Latest {
            key,
            updated_at,
            seq,
            line,
        }
    }

    fn read_all(path: &Path) -> Vec<Latest> {
        let mut reader = IndexReader::open(path).unwrap();
        let mut out = Vec::new();
        while let Some(r) = reader.next().unwrap() {
            out.push(r);
        }
        out
    }

    #[test]
    fn merge_keeps_the_latest_snapshot_of_each_dossier_across_runs_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(DIR)).unwrap();
        let mut first = Collector::new(root);
        for r in [
            rec(7, 10, 1, 2),
            rec(3, 5, 1, 3),
            rec(7, 10, 1, 9),
            rec(1, 1, 1, 4),
        ] {
            first.push(r).unwrap();
        }
        first.spill().unwrap();
        first.push(rec(3, 4, 1, 20)).unwrap();
        let v1 = index_path(1);
        assert_eq!(merge(root, None, first, &root.join(&v1)).unwrap(), 3);
        assert_eq!(
            read_all(&root.join(&v1)),
            vec![rec(1, 1, 1, 4), rec(3, 5, 1, 3), rec(7, 10, 1, 9)]
        );
        // A later ingest: the same updated_at wins by seq; an older one loses.
        let mut second = Collector::new(root);
        second.push(rec(7, 10, 2, 1)).unwrap();
        second.push(rec(3, 2, 2, 2)).unwrap();
        second.push(rec(u128::MAX, 0, 2, 3)).unwrap();
        let v2 = index_path(2);
        assert_eq!(merge(root, Some(&v1), second, &root.join(&v2)).unwrap(), 4);
        assert_eq!(
            read_all(&root.join(&v2)),
            vec![
                rec(1, 1, 1, 4),
                rec(3, 5, 1, 3),
                rec(7, 10, 2, 1),
                rec(u128::MAX, 0, 2, 3)
            ]
        );
        let set = CurrentSet::load(&root.join(&v2)).unwrap();
        assert_eq!(set.len(), 4);
        assert!(set.contains(2, 1) && set.contains(1, 3) && !set.contains(1, 9));
    }
}
