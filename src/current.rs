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

use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, FixedSizeBinaryArray, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimestampMicrosecondType};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::feeds::{FeedDef, INGEST_SEQ, SOURCE_LINE};
use crate::lake::{CURRENT_DIR, IndexVersion, Staged, read_columns};

/// Snapshots held in memory before a sorted run goes to disk (40 B each).
pub const RUN_RECORDS: usize = 1 << 20;
const BATCH_ROWS: usize = 64 * 1024;
const RECORD_BYTES: usize = 40;
/// A delta is folded into a new base once it holds more than an eighth of
/// the base's entries (and more than a few thousand: below that, rewriting
/// saves nothing).
const DELTA_SHARE_OF_BASE: u64 = 8;
const DELTA_MIN_ENTRIES: u64 = 4096;
/// Columns a delta adds: the base entry its entry replaces, if any.
const REPLACES_SEQ: &str = "replaces_seq";
const REPLACES_LINE: &str = "replaces_line";

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

/// A base's columns; a delta has two more (`delta_schema`).
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(base_fields()))
}

fn base_fields() -> Vec<Field> {
    vec![
        Field::new("dossier_key", DataType::FixedSizeBinary(16), false),
        Field::new("updated_at", DataType::Int64, false),
        Field::new(INGEST_SEQ, DataType::Int64, false),
        Field::new(SOURCE_LINE, DataType::Int64, false),
    ]
}

fn delta_schema() -> SchemaRef {
    let mut fields = base_fields();
    fields.push(Field::new(REPLACES_SEQ, DataType::Int64, true));
    fields.push(Field::new(REPLACES_LINE, DataType::Int64, true));
    Arc::new(Schema::new(fields))
}

/// The snapshots one transaction adds, as sorted runs: in memory up to
/// `run_records`, then on disk under the transaction's staging directory.
#[derive(Debug)]
pub struct Collector {
    dir: PathBuf,
    run_records: usize,
    buffer: Vec<Latest>,
    runs: Vec<PathBuf>,
    /// Snapshots in `runs`.
    spilled: u64,
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
    fn claims(&self) -> u64 {
        self.buffer.len() as u64 + self.spilled
    }

    /// Takes in another collector's snapshots (a later file of the same
    /// transaction).
    pub fn absorb(&mut self, other: Collector) -> Result<()> {
        self.runs.extend(other.runs);
        self.spilled += other.spilled;
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
        for batch in read_columns(path, &[id, version, INGEST_SEQ, SOURCE_LINE])? {
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

/// What `update` staged: the new index version and the one file it wrote.
#[derive(Debug)]
pub struct Update {
    pub version: IndexVersion,
    /// The file written, in staging.
    pub staged: Staged,
    /// Dossiers the new version holds.
    pub dossiers: u64,
}

/// Merges `collector`'s snapshots into the committed index `previous` (if
/// the lake has one) as the index of ingest `seq`, writing the new file
/// under `staging`: a new delta against the same base, or a new base once
/// the delta would outgrow its share of it.
pub fn update(
    root: &Path,
    previous: Option<&IndexVersion>,
    collector: Collector,
    staging: &Path,
    seq: u64,
) -> Result<Update> {
    let as_delta = match previous {
        Some(previous) => {
            let delta = previous
                .delta
                .as_deref()
                .map(|d| rows(root, d))
                .transpose()?;
            let base = rows(root, &previous.base)?;
            delta.unwrap_or(0) + collector.claims()
                <= (base / DELTA_SHARE_OF_BASE).max(DELTA_MIN_ENTRIES)
        }
        None => false,
    };
    update_as(root, previous, collector, staging, seq, as_delta)
}

/// The entries of an index file.
fn rows(root: &Path, rel: &str) -> Result<u64> {
    let path = root.join(rel);
    let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    Ok(builder.metadata().file_metadata().num_rows() as u64)
}

fn update_as(
    root: &Path,
    previous: Option<&IndexVersion>,
    collector: Collector,
    staging: &Path,
    seq: u64,
    as_delta: bool,
) -> Result<Update> {
    let mut sources = Vec::new();
    if let Some(previous) = previous {
        for rel in previous.files() {
            sources.push(Source::Index(IndexReader::open(&root.join(rel))?));
        }
    }
    // A delta names only what changed against the base it leaves in place;
    // a new base names every dossier.
    let delta_of = previous.filter(|_| as_delta);
    let (rel, schema) = match delta_of {
        Some(_) => (delta_path(seq), delta_schema()),
        None => (index_path(seq), schema()),
    };
    let name = Path::new(&rel)
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    let path = staging.join(format!("dossier-index-{name}"));
    let mut writer = IndexWriter::create(path, rel.clone(), schema)?;
    let mut dossiers = match delta_of {
        Some(previous) => rows(root, &previous.base)?,
        None => 0,
    };
    // Source 0 is the base: a key's entry there is what a delta replaces.
    merge(sources, collector, delta_of.map(|_| 0), |winner, base| {
        if delta_of.is_some() && base == Some(winner) {
            return Ok(());
        }
        if base.is_none() {
            dossiers += 1;
        }
        writer.push(winner, base)
    })?;
    let staged = writer.close()?;
    let version = match delta_of {
        Some(previous) => IndexVersion {
            base: previous.base.clone(),
            delta: Some(rel.clone()),
        },
        None => IndexVersion {
            base: rel.clone(),
            delta: None,
        },
    };
    Ok(Update {
        version,
        staged,
        dossiers,
    })
}

/// Streams every key of `sources` and `collector` once, in key order, with
/// its latest snapshot and (when `base` names a source) that source's entry
/// for the key.
fn merge(
    mut sources: Vec<Source>,
    mut collector: Collector,
    base: Option<usize>,
    mut emit: impl FnMut(Latest, Option<Latest>) -> Result<()>,
) -> Result<()> {
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
    // The key being merged: its latest snapshot so far, and its base entry.
    let mut current: Option<(Latest, Option<Latest>)> = None;
    while let Some(std::cmp::Reverse((_, i))) = heads.pop() {
        let Some(r) = head[i].take() else { continue };
        head[i] = sources[i].next()?;
        if let Some(next) = head[i] {
            heads.push(std::cmp::Reverse((next.key, i)));
        }
        let from_base = (base == Some(i)).then_some(r);
        current = match current {
            Some((c, b)) if c.key == r.key => Some((c.later(r), b.or(from_base))),
            Some((c, b)) => {
                emit(c, b)?;
                Some((r, from_base))
            }
            None => Some((r, from_base)),
        };
    }
    if let Some((c, b)) = current {
        emit(c, b)?;
    }
    for run in &collector.runs {
        let _ = std::fs::remove_file(run);
    }
    Ok(())
}

/// Writes index entries (and, for a delta, the base entries they replace).
struct IndexWriter {
    writer: ArrowWriter<File>,
    schema: SchemaRef,
    batch: IndexBatch,
    /// Where it is written, and its path in the lake.
    path: PathBuf,
    rel: String,
}

impl IndexWriter {
    fn create(path: PathBuf, rel: String, schema: SchemaRef) -> Result<Self> {
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        // Hashes do not repeat, do not compress and are not searched by
        // range: no dictionary, compression or statistics for them (the
        // dictionary attempt, then compression, were the top costs of a
        // nightly merge).
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
        Ok(IndexWriter {
            writer: ArrowWriter::try_new(file, schema.clone(), Some(properties))?,
            batch: IndexBatch {
                replaces: (schema.fields().len() > base_fields().len())
                    .then(|| (Vec::new(), Vec::new())),
                ..Default::default()
            },
            schema,
            path,
            rel,
        })
    }

    fn push(&mut self, r: Latest, replaces: Option<Latest>) -> Result<()> {
        self.batch.push(r, replaces);
        if self.batch.len() >= BATCH_ROWS {
            let batch = self.batch.finish(&self.schema)?;
            self.writer.write(&batch)?;
        }
        Ok(())
    }

    /// Writes the footer and syncs the file: the manifest will name it.
    fn close(mut self) -> Result<Staged> {
        if self.batch.len() > 0 {
            let batch = self.batch.finish(&self.schema)?;
            self.writer.write(&batch)?;
        }
        let file = self.writer.into_inner()?;
        Staged::sync(&file, self.path, self.rel)
    }
}

#[derive(Default)]
struct IndexBatch {
    keys: Vec<[u8; 16]>,
    updated_at: Vec<i64>,
    seq: Vec<i64>,
    line: Vec<i64>,
    /// A delta's (seq, line) of the base entries replaced; None for a base.
    replaces: Option<(NullableInts, NullableInts)>,
}

type NullableInts = Vec<Option<i64>>;

impl IndexBatch {
    fn push(&mut self, r: Latest, replaces: Option<Latest>) {
        // Big-endian, so the file's byte order is the key order.
        self.keys.push(r.key.to_be_bytes());
        self.updated_at.push(r.updated_at);
        self.seq.push(r.seq as i64);
        self.line.push(r.line as i64);
        if let Some((seqs, lines)) = &mut self.replaces {
            seqs.push(replaces.map(|b| b.seq as i64));
            lines.push(replaces.map(|b| b.line as i64));
        }
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    /// The batch in `schema`: a base's four columns, or a delta's six.
    fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let keys = FixedSizeBinaryArray::try_from_iter(self.keys.drain(..))?;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(keys),
            Arc::new(Int64Array::from(std::mem::take(&mut self.updated_at))),
            Arc::new(Int64Array::from(std::mem::take(&mut self.seq))),
            Arc::new(Int64Array::from(std::mem::take(&mut self.line))),
        ];
        if let Some((seqs, lines)) = &mut self.replaces {
            columns.push(Arc::new(Int64Array::from(std::mem::take(seqs))));
            columns.push(Arc::new(Int64Array::from(std::mem::take(lines))));
        }
        Ok(RecordBatch::try_new(schema.clone(), columns)?)
    }
}

/// The path of the base index written with ingest `seq`.
fn index_path(seq: u64) -> String {
    format!("{CURRENT_DIR}/dossiers-{seq:06}.parquet")
}

/// The path of the delta written with ingest `seq`.
fn delta_path(seq: u64) -> String {
    format!("{CURRENT_DIR}/dossiers-{seq:06}-delta.parquet")
}

/// The snapshots an index marks as current: per ingest seq, a bit per line.
#[derive(Debug, Default)]
pub struct CurrentSet {
    lines: HashMap<u64, Vec<u64>>,
    dossiers: u64,
}

impl CurrentSet {
    /// The snapshots `version` (relative to `root`) marks: the base's, less
    /// those the delta replaces, plus the delta's.
    pub fn load(root: &Path, version: &IndexVersion) -> Result<Self> {
        let mut set = CurrentSet::default();
        for batch in read_columns(&root.join(&version.base), &[INGEST_SEQ, SOURCE_LINE])? {
            let batch = batch?;
            let seqs = batch.column(0).as_primitive::<Int64Type>();
            let lines = batch.column(1).as_primitive::<Int64Type>();
            for (seq, line) in seqs.values().iter().zip(lines.values()) {
                set.insert(*seq as u64, *line as u64);
            }
        }
        if let Some(delta) = &version.delta {
            let names = [INGEST_SEQ, SOURCE_LINE, REPLACES_SEQ, REPLACES_LINE];
            for batch in read_columns(&root.join(delta), &names)? {
                let batch = batch?;
                let column = |i: usize| batch.column(i).as_primitive::<Int64Type>();
                let (seqs, lines) = (column(0), column(1));
                let (old_seqs, old_lines) = (column(2), column(3));
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

    fn remove(&mut self, seq: u64, line: u64) {
        let (word, mask) = slot(line);
        if let Some(bits) = self.lines.get_mut(&seq)
            && let Some(w) = bits.get_mut(word)
            && *w & mask != 0
        {
            *w &= !mask;
            self.dossiers -= 1;
        }
    }

    fn insert(&mut self, seq: u64, line: u64) {
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

/// A line's word in a seq's bitmap, and its bit there.
fn slot(line: u64) -> (usize, u64) {
    ((line / 64) as usize, 1 << (line % 64))
}

fn bit(bits: &[u64], line: u64) -> bool {
    let (word, mask) = slot(line);
    bits.get(word).is_some_and(|w| w & mask != 0)
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

    fn collect(root: &Path, records: &[Latest]) -> Collector {
        let mut c = Collector::new(root, RUN_RECORDS);
        for r in records {
            c.push(*r).unwrap();
        }
        c
    }

    /// Stages an update as ingest `seq` and moves its file into the lake.
    fn commit(
        root: &Path,
        previous: Option<&IndexVersion>,
        c: Collector,
        seq: u64,
        as_delta: bool,
    ) -> IndexVersion {
        let update = update_as(root, previous, c, root, seq, as_delta).unwrap();
        move_in(root, &update.staged);
        update.version
    }

    fn move_in(root: &Path, staged: &Staged) {
        std::fs::rename(staged.path(), root.join(staged.rel())).unwrap();
    }

    fn marked(root: &Path, version: &IndexVersion, expected: &[Latest]) {
        let set = CurrentSet::load(root, version).unwrap();
        assert_eq!(set.len(), expected.len() as u64);
        for r in expected {
            assert!(set.contains(r.seq, r.line), "{r:?}");
        }
    }

    #[test]
    fn merge_keeps_the_latest_snapshot_of_each_dossier_across_runs_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(CURRENT_DIR)).unwrap();
        let mut first = collect(
            root,
            &[
                rec(7, 10, 1, 2),
                rec(3, 5, 1, 3),
                rec(7, 10, 1, 9),
                rec(1, 1, 1, 4),
            ],
        );
        first.spill().unwrap();
        first.push(rec(3, 4, 1, 20)).unwrap();
        // The first ingest writes a base whatever the policy.
        let v1 = update(root, None, first, root, 1).unwrap();
        assert_eq!(v1.dossiers, 3);
        move_in(root, &v1.staged);
        let v1 = v1.version;
        assert_eq!(v1.delta, None);
        let base = vec![rec(1, 1, 1, 4), rec(3, 5, 1, 3), rec(7, 10, 1, 9)];
        assert_eq!(read_all(&root.join(&v1.base)), base);

        // A later ingest: the same updated_at wins by seq; an older one
        // loses; a new dossier. As a delta: only what changed, with the
        // base entry it replaces.
        let second = [rec(7, 10, 2, 1), rec(3, 2, 2, 2), rec(u128::MAX, 0, 2, 3)];
        let v2 = commit(root, Some(&v1), collect(root, &second), 2, true);
        assert_eq!(v2.base, v1.base);
        let delta = v2.delta.clone().unwrap();
        assert_eq!(
            read_all(&root.join(&delta)),
            vec![rec(7, 10, 2, 1), rec(u128::MAX, 0, 2, 3)]
        );
        let current = [
            rec(1, 1, 1, 4),
            rec(3, 5, 1, 3),
            rec(7, 10, 2, 1),
            rec(u128::MAX, 0, 2, 3),
        ];
        marked(root, &v2, &current);
        assert!(!CurrentSet::load(root, &v2).unwrap().contains(1, 9));

        // The same ingest as a new base gives the same set.
        let full = commit(root, Some(&v1), collect(root, &second), 2, false);
        assert_eq!(full.delta, None);
        assert_eq!(read_all(&root.join(&full.base)), current);

        // A third ingest over base + delta: the delta's entry for key 7 is
        // replaced again (its base entry stays the one replaced), key 1's
        // base entry now loses too.
        let third = [rec(7, 11, 3, 1), rec(1, 2, 3, 2)];
        let v3 = commit(root, Some(&v2), collect(root, &third), 3, true);
        assert_eq!(v3.base, v1.base);
        let current = [
            rec(1, 2, 3, 2),
            rec(3, 5, 1, 3),
            rec(7, 11, 3, 1),
            rec(u128::MAX, 0, 2, 3),
        ];
        marked(root, &v3, &current);
        let set = CurrentSet::load(root, &v3).unwrap();
        assert!(!set.contains(1, 4) && !set.contains(1, 9) && !set.contains(2, 1));
        // Folded into a new base: the same entries.
        let v4 = commit(root, Some(&v2), collect(root, &third), 3, false);
        assert_eq!(read_all(&root.join(&v4.base)), current);
        marked(root, &v4, &current);
    }

    #[test]
    fn a_delta_is_folded_into_a_new_base_once_it_outgrows_its_share() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join(CURRENT_DIR)).unwrap();
        let records: Vec<Latest> = (0..DELTA_MIN_ENTRIES as u128)
            .map(|k| rec(k, 1, 1, k as u64))
            .collect();
        let v1 = update(root, None, collect(root, &records), root, 1).unwrap();
        move_in(root, &v1.staged);
        // Small next to the minimum: a delta of 10 newer snapshots.
        let newer: Vec<Latest> = (0..10).map(|k| rec(k, 2, 2, k as u64)).collect();
        let v2 = update(root, Some(&v1.version), collect(root, &newer), root, 2).unwrap();
        assert!(v2.version.delta.is_some());
        assert_eq!(rows(root, &v2.staged.path().to_string_lossy()).unwrap(), 10);
        move_in(root, &v2.staged);
        // Past it: a new base.
        let v3 = update(root, Some(&v2.version), collect(root, &records), root, 3).unwrap();
        assert_eq!(v3.version.delta, None);
        assert_eq!(v3.dossiers, DELTA_MIN_ENTRIES);
    }
}
