//! Parquet settings and readers shared by the lake, the index and the outputs.

use std::fs::File;
use std::path::Path;

use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::arrow::{ProjectionMask, parquet_to_arrow_schema};
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{ChunkReader, Length};

use crate::error::{Error, Result};
use crate::storage::Location;

/// Rows per Parquet row group: small enough that a month's scan can skip by
/// statistics, large enough for good compression.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Parquet settings shared by every file motcua writes.
pub(crate) fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("motcua {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Rows per batch when motcua reads its own files column by column.
const READ_BATCH_ROWS: usize = 64 * 1024;

/// A lake file opened for the Parquet reader: a local file, or a bucket's
/// object fetched whole (motcua reads its own files from a bucket only where
/// it needs them whole: the index, and the keys de-duplication loads).
pub(crate) enum Input {
    File(File),
    Bytes(bytes::Bytes),
}

impl Input {
    /// Opens `rel` of `location`.
    pub(crate) fn open(location: &Location, rel: &str) -> Result<Input> {
        match location {
            Location::Folder(root) => {
                let path = root.join(rel);
                File::open(&path)
                    .map(Input::File)
                    .map_err(|e| Error::io(path, e))
            }
            Location::Bucket(_) => location
                .read(rel)?
                .map(Input::Bytes)
                .ok_or_else(|| missing(location, rel)),
        }
    }
}

impl Length for Input {
    fn len(&self) -> u64 {
        match self {
            Input::File(f) => f.len(),
            Input::Bytes(b) => b.len() as u64,
        }
    }
}

impl ChunkReader for Input {
    type T = Box<dyn std::io::Read + Send>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(match self {
            Input::File(f) => Box::new(f.get_read(start)?),
            Input::Bytes(b) => Box::new(b.get_read(start)?),
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<bytes::Bytes> {
        match self {
            Input::File(f) => f.get_bytes(start, length),
            Input::Bytes(b) => b.get_bytes(start, length),
        }
    }
}

/// The named columns of the lake file `rel`, in the file's order (read
/// them by name, or name them in that order).
pub(crate) fn read_columns(
    location: &Location,
    rel: &str,
    names: &[&str],
) -> Result<ParquetRecordBatchReader> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(Input::open(location, rel)?)?;
    let mut roots = Vec::new();
    for name in names {
        roots.push(
            builder
                .schema()
                .index_of(name)
                .map_err(|_| Error::lake(location.shown(rel), format!("has no column {name}")))?,
        );
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    Ok(builder
        .with_projection(mask)
        .with_batch_size(READ_BATCH_ROWS)
        .build()?)
}

/// Whether the lake file `rel` has a column `name` (files written before a
/// column was added lack it).
pub(crate) fn has_column(location: &Location, rel: &str, name: &str) -> Result<bool> {
    Ok(schema_of(location, rel)?.index_of(name).is_ok())
}

/// The names of the columns of the Parquet file `rel`, in order.
pub(crate) fn column_names(location: &Location, rel: &str) -> Result<Vec<String>> {
    Ok(schema_of(location, rel)?
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect())
}

/// Bytes read from a file's end for its footer at first: motcua's footers
/// fit, so one read (one request to a bucket) usually does.
const FOOTER_GUESS: u64 = 64 * 1024;

/// The Arrow schema of the Parquet file `rel`, from its footer alone.
fn schema_of(location: &Location, rel: &str) -> Result<arrow::datatypes::SchemaRef> {
    let metadata = metadata_of(location, rel)?;
    let file = metadata.file_metadata();
    Ok(std::sync::Arc::new(parquet_to_arrow_schema(
        file.schema_descr(),
        file.key_value_metadata(),
    )?))
}

/// The footer of the Parquet file `rel`, read alone: from a bucket, one
/// ranged request (two when the footer is longer than the first guess), not
/// the object.
pub(crate) fn metadata_of(location: &Location, rel: &str) -> Result<ParquetMetaData> {
    let mut want = FOOTER_GUESS;
    loop {
        let (tail, size) = location
            .read_tail(rel, want)?
            .ok_or_else(|| missing(location, rel))?;
        let mut reader = ParquetMetaDataReader::new();
        let damaged = |e: ParquetError| {
            Error::lake(
                location.shown(rel),
                format!("is not a readable Parquet file ({e}); restore it from a backup"),
            )
        };
        match reader.try_parse_sized(&tail, size) {
            Ok(()) => return reader.finish().map_err(damaged),
            // The footer is longer than the first read: read what it needs.
            Err(ParquetError::NeedMoreData(needed)) if (needed as u64) > want => {
                want = needed as u64
            }
            Err(e) => return Err(damaged(e)),
        }
    }
}

/// A file the lake names that its storage does not hold.
fn missing(location: &Location, rel: &str) -> Error {
    Error::lake(
        location.shown(rel),
        "motcua names it but it is not there: restore it from a backup",
    )
}

/// The error for a column of a lake file that is not of its declared type.
pub fn damaged(path: &Path, column: &str, expected: &str) -> Error {
    Error::lake(
        path,
        format!(
            "its {column} column is not {expected}: the file is damaged; restore it from a backup"
        ),
    )
}

/// Column `name` of a batch read from the lake file at `path`, as the array
/// type `T`; a column missing or of another type is a damaged file.
pub(crate) fn column_as<'a, T: arrow::array::Array + 'static>(
    batch: &'a arrow::record_batch::RecordBatch,
    name: &str,
    path: &Path,
    expected: &str,
) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| damaged(path, name, expected))
}

/// `schema` with every column of text type `from` typed `to`.
pub(crate) fn with_text_as(
    schema: &arrow::datatypes::Schema,
    from: &arrow::datatypes::DataType,
    to: &arrow::datatypes::DataType,
) -> arrow::datatypes::SchemaRef {
    let fields: Vec<arrow::datatypes::Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.data_type() == from {
                f.as_ref().clone().with_data_type(to.clone())
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    std::sync::Arc::new(arrow::datatypes::Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    ))
}
