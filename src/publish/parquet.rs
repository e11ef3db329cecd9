//! One Parquet file written batch by batch, atomically.

use std::fs;
use std::path::Path;

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};

/// Writes one Parquet file with motcua's settings, synced.
pub(crate) fn write_parquet(path: &Path, schema: SchemaRef, batches: &[RecordBatch]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let file = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let mut writer = ParquetFile::new(file, &schema)?;
    for batch in batches {
        writer.write(batch)?;
    }
    writer.finish(path)?;
    Ok(())
}

/// A Parquet file being written batch by batch with motcua's settings.
pub(crate) struct ParquetFile {
    pub(crate) writer: ArrowWriter<fs::File>,
    pub(crate) schema: SchemaRef,
}

impl ParquetFile {
    pub fn new(file: fs::File, schema: &SchemaRef) -> Result<Self> {
        // Text the engine read as views is written as plain strings: readers
        // of the outputs see the types the lake was declared with.
        let schema =
            crate::storage::parquet::with_text_as(schema, &DataType::Utf8View, &DataType::Utf8);
        let writer = ArrowWriter::try_new(
            file,
            schema.clone(),
            Some(crate::storage::parquet::writer_properties()),
        )?;
        Ok(ParquetFile { writer, schema })
    }

    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let columns = batch
            .columns()
            .iter()
            .zip(self.schema.fields())
            .map(|(column, field)| arrow::compute::cast(column, field.data_type()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        self.writer
            .write(&RecordBatch::try_new(self.schema.clone(), columns)?)?;
        Ok(())
    }

    /// Writes the footer and syncs the file (`path` names it in errors).
    pub fn finish(self, path: &Path) -> Result<fs::File> {
        let file = self.writer.into_inner()?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
        Ok(file)
    }
}
