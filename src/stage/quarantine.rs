//! Rejected rows, with file, line, column and reason.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayBuilder, Int64Array, Int64Builder, StringArray, StringBuilder};
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::lake::{self};
use crate::spec::feeds::FeedDef;
use crate::stage::BATCH_ROWS;
use crate::stage::writer::StagedWriter;
use crate::validate::row::Rejection;

/// Rejected rows of one input file, written to `quarantine/<feed>/fSEQ.parquet`.
pub(crate) struct QuarantineSink {
    /// None in a dry run: rows are counted, not written.
    pub(crate) staging: Option<PathBuf>,
    pub(crate) rel: String,
    pub(crate) source: String,
    pub(crate) seq: u64,
    pub(crate) writer: Option<StagedWriter>,
    pub(crate) lines: Int64Builder,
    pub(crate) columns: StringBuilder,
    pub(crate) reasons: StringBuilder,
    raws: StringBuilder,
}

impl QuarantineSink {
    /// `source` names the file (and sheet) in each quarantined row.
    pub(crate) fn new(def: &FeedDef, staging: Option<&Path>, seq: u64, source: String) -> Self {
        QuarantineSink {
            staging: staging.map(Path::to_path_buf),
            rel: format!("{}/{}/f{seq:06}.parquet", lake::QUARANTINE, def.name),
            source,
            seq,
            writer: None,
            lines: Int64Builder::new(),
            columns: StringBuilder::new(),
            reasons: StringBuilder::new(),
            raws: StringBuilder::new(),
        }
    }

    pub(crate) fn push(&mut self, rejection: &Rejection, raw: &str) -> Result<()> {
        self.lines.append_value(rejection.line as i64);
        self.columns.append_option(rejection.column.as_deref());
        self.reasons.append_value(&rejection.reason);
        self.raws.append_value(raw);
        if self.lines.len() >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    pub(crate) fn flush(&mut self) -> Result<()> {
        let rows = self.lines.len();
        if rows == 0 {
            return Ok(());
        }
        let schema = lake::quarantine_schema();
        if let (None, Some(staging)) = (&self.writer, &self.staging) {
            let staged = staging.join(&self.rel);
            self.writer = Some(StagedWriter::create(
                staged,
                self.rel.clone(),
                schema.clone(),
            )?);
        }
        let feed = self.rel.split('/').nth(1).unwrap_or_default().to_string();
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_value(self.seq as i64, rows)),
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    feed, rows,
                ))),
                Arc::new(StringArray::from_iter_values(std::iter::repeat_n(
                    &self.source,
                    rows,
                ))),
                Arc::new(self.lines.finish()),
                Arc::new(self.columns.finish()),
                Arc::new(self.reasons.finish()),
                Arc::new(self.raws.finish()),
            ],
        )?;
        if let Some(writer) = self.writer.as_mut() {
            writer.write(&batch)?;
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<Option<lake::Staged>> {
        self.flush()?;
        match self.writer.take() {
            Some(writer) => Ok(Some(writer.finish()?.0)),
            None => Ok(None),
        }
    }
}
