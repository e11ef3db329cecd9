//! A new index version: the old index and the new runs merged.

use std::collections::BinaryHeap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, FixedSizeBinaryArray, Int64Array, RecordBatch};
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;

use crate::current::DELTA_MIN_ENTRIES;
use crate::current::DELTA_SHARE_OF_BASE;
use crate::current::base_fields;
use crate::current::collect::Collector;
use crate::current::collect::IndexReader;
use crate::current::collect::Source;
use crate::current::collect::sorted_latest;
use crate::current::delta_schema;
use crate::current::schema;
use crate::current::{BATCH_ROWS, Latest};
use crate::error::{Error, Result};
use crate::lake::{CURRENT_DIR, IndexVersion, Staged};
use crate::storage::Location;

/// What `update` staged: the new index version and the one file it wrote.
#[derive(Debug)]
pub(crate) struct Update {
    pub version: IndexVersion,
    /// The file written, in staging.
    pub(crate) staged: Staged,
    /// Dossiers the new version holds.
    pub dossiers: u64,
}

/// Merges `collector`'s snapshots into the committed index `previous` (if
/// the lake has one) as the index of ingest `seq`, writing the new file
/// under `staging`: a new delta against the same base, or a new base once
/// the delta would outgrow its share of it.
pub(crate) fn update(
    location: &Location,
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
                .map(|d| rows(location, d))
                .transpose()?;
            let base = rows(location, &previous.base)?;
            delta.unwrap_or(0) + collector.claims()
                <= (base / DELTA_SHARE_OF_BASE).max(DELTA_MIN_ENTRIES)
        }
        None => false,
    };
    update_as(location, previous, collector, staging, seq, as_delta)
}

/// The entries of an index file.
pub(crate) fn rows(location: &Location, rel: &str) -> Result<u64> {
    let metadata = crate::storage::parquet::metadata_of(location, rel)?;
    Ok(metadata.file_metadata().num_rows() as u64)
}

pub(crate) fn update_as(
    location: &Location,
    previous: Option<&IndexVersion>,
    collector: Collector,
    staging: &Path,
    seq: u64,
    as_delta: bool,
) -> Result<Update> {
    let mut sources = Vec::new();
    if let Some(previous) = previous {
        for rel in previous.files() {
            sources.push(Source::Index(IndexReader::open(location, rel)?));
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
        Some(previous) => rows(location, &previous.base)?,
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
pub(crate) fn merge(
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
    pub(crate) writer: ArrowWriter<File>,
    pub(crate) schema: SchemaRef,
    pub(crate) batch: IndexBatch,
    /// Where it is written, and its path in the lake.
    pub(crate) path: PathBuf,
    pub(crate) rel: String,
}

impl IndexWriter {
    pub(crate) fn create(path: PathBuf, rel: String, schema: SchemaRef) -> Result<Self> {
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

    pub(crate) fn push(&mut self, r: Latest, replaces: Option<Latest>) -> Result<()> {
        self.batch.push(r, replaces);
        if self.batch.len() >= BATCH_ROWS {
            let batch = self.batch.finish(&self.schema)?;
            self.writer.write(&batch)?;
        }
        Ok(())
    }

    /// Writes the footer and syncs the file: the manifest will name it.
    pub(crate) fn close(mut self) -> Result<Staged> {
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
    pub(crate) keys: Vec<[u8; 16]>,
    pub(crate) updated_at: Vec<i64>,
    pub(crate) seq: Vec<i64>,
    pub(crate) line: Vec<i64>,
    /// A delta's (seq, line) of the base entries replaced; None for a base.
    pub(crate) replaces: Option<(NullableInts, NullableInts)>,
}

type NullableInts = Vec<Option<i64>>;

impl IndexBatch {
    pub(crate) fn push(&mut self, r: Latest, replaces: Option<Latest>) {
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

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The batch in `schema`: a base's four columns, or a delta's six.
    pub(crate) fn finish(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
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
