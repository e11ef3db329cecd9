//! Accepted rows routed to one staged file per local month.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::lake::{self, DataFile};
use crate::spec::feeds::{FeedDef, Retention};
use crate::stage::BATCH_ROWS;
use crate::stage::batch::BatchBuilder;
use crate::stage::writer::Partition;
use crate::stage::writer::WriterMessage;
use crate::stage::writer::WriterThread;
use crate::stage::writer::WrittenFile;
use crate::validate::row::Cell;
use crate::validate::time::Zone;

/// Routes accepted rows to one staged file per partition (local month).
/// Rows are gathered into batches here; encoding and compressing them into
/// Parquet happens on a writer thread, so parsing and writing use both cores.
pub(crate) struct PartitionSinks {
    pub(crate) def: &'static FeedDef,
    /// None in a dry run: batches are built, counted and dropped.
    pub(crate) staging: Option<PathBuf>,
    pub(crate) seq: u64,
    pub(crate) builders: HashMap<Partition, BatchBuilder>,
    /// Rows handed on per partition (at each full batch, and at the end).
    pub(crate) rows: HashMap<Partition, u64>,
    pub(crate) zone: Zone,
    pub(crate) writer: Option<WriterThread>,
}

/// Which partition (local month) a feed's row goes to; one per thread.
pub(crate) struct Partitioner {
    column: Option<usize>,
    months: MonthLookup,
}

impl Partitioner {
    pub(crate) fn new(def: &FeedDef, zone: Zone) -> Self {
        Partitioner {
            column: def.partition_by.and_then(|c| def.column_index(c)),
            months: MonthLookup::new(zone),
        }
    }

    pub(crate) fn partition_of(&mut self, row: &[Cell]) -> Partition {
        match self.column.map(|i| &row[i]) {
            Some(Cell::Ts(t)) => Some(self.months.key(*t)),
            _ => None,
        }
    }
}

impl PartitionSinks {
    pub(crate) fn new(def: &'static FeedDef, staging: Option<&Path>, seq: u64, zone: Zone) -> Self {
        PartitionSinks {
            def,
            staging: staging.map(Path::to_path_buf),
            seq,
            builders: HashMap::new(),
            rows: HashMap::new(),
            zone,
            writer: None,
        }
    }

    pub(crate) fn rel_path(&self, month: Option<&str>) -> String {
        match month {
            Some(m) => format!("{}/month={m}/f{:06}.parquet", self.def.name, self.seq),
            None => format!("{}/f{:06}.parquet", self.def.name, self.seq),
        }
    }

    pub(crate) fn writer(&mut self) -> &mut WriterThread {
        self.writer.get_or_insert_with(WriterThread::start)
    }

    pub(crate) fn open(&mut self, month: &Partition) -> Result<()> {
        if self.builders.contains_key(month) {
            return Ok(());
        }
        let builder = BatchBuilder::new(self.def, self.zone);
        if let Some(staging) = &self.staging {
            let rel = self.rel_path(month.as_deref());
            let staged = staging.join(&rel);
            let schema = builder.schema.clone();
            self.writer().send(WriterMessage::Open {
                month: month.clone(),
                staged,
                rel,
                schema,
            })?;
        }
        self.builders.insert(month.clone(), builder);
        self.rows.insert(month.clone(), 0);
        Ok(())
    }

    /// Hands a full batch to the writer thread (dropped in a dry run).
    fn send_batch(&mut self, month: Partition, batch: RecordBatch) -> Result<()> {
        *self.rows.entry(month.clone()).or_default() += batch.num_rows() as u64;
        if self.staging.is_some() {
            self.writer().send(WriterMessage::Batch { month, batch })?;
        }
        Ok(())
    }

    pub(crate) fn append(
        &mut self,
        month: Partition,
        row: &[Cell],
        line: u64,
        hash: Option<u128>,
    ) -> Result<()> {
        if !self.builders.contains_key(&month) {
            self.open(&month)?;
        }
        let (def, seq) = (self.def, self.seq);
        let builder = self
            .builders
            .get_mut(&month)
            .expect("partition opened above");
        builder.append(def, row, seq, line, hash);
        if builder.len() >= BATCH_ROWS {
            let batch = builder.finish()?;
            self.send_batch(month, batch)?;
        }
        Ok(())
    }

    /// Closes every file. A replacing feed always gets a file, even empty, so
    /// the table it replaces becomes empty rather than stale.
    pub(crate) fn finish(mut self) -> Result<(Vec<DataFile>, Vec<lake::Staged>)> {
        if self.def.retention == Retention::Replace {
            self.open(&None)?;
        }
        let mut rest: Vec<(Partition, BatchBuilder)> = self.builders.drain().collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        for (month, mut builder) in rest {
            if builder.len() > 0 {
                let batch = builder.finish()?;
                self.send_batch(month, batch)?;
            }
        }
        let mut closed = match self.writer.take() {
            Some(writer) => writer.finish()?,
            None => self
                .rows
                .iter()
                .map(|(month, rows)| WrittenFile {
                    month: month.clone(),
                    rel: self.rel_path(month.as_deref()),
                    rows: *rows,
                    staged: None,
                })
                .collect(),
        };
        closed.sort_by(|a, b| a.month.cmp(&b.month));
        let mut files = Vec::new();
        let mut staged = Vec::new();
        for file in closed {
            files.push(DataFile {
                path: file.rel,
                rows: file.rows,
                month: file.month.map(|m| m.to_string()),
            });
            staged.extend(file.staged);
        }
        Ok((files, staged))
    }
}

/// Maps instants to local `YYYY-MM` keys, caching month boundaries so the
/// zone database is consulted once per month, not once per row.
pub(crate) struct MonthLookup {
    pub(crate) zone: Zone,
    /// (start, end) in UTC micros, and the key.
    pub(crate) known: Vec<(i64, i64, Arc<str>)>,
}

impl MonthLookup {
    pub(crate) fn new(zone: Zone) -> Self {
        MonthLookup {
            zone,
            known: Vec::new(),
        }
    }

    pub(crate) fn key(&mut self, micros: i64) -> Arc<str> {
        if let Some((_, _, key)) = self
            .known
            .iter()
            .find(|(start, end, _)| *start <= micros && micros < *end)
        {
            return key.clone();
        }
        let local = self.zone.to_local(micros);
        let key: Arc<str> = self.zone.month_key(micros).into();
        use chrono::Datelike;
        let first = chrono::NaiveDate::from_ymd_opt(local.year(), local.month(), 1);
        let next = first.and_then(|d| d.checked_add_months(chrono::Months::new(1)));
        if let (Some(first), Some(next)) = (first, next) {
            let start = self
                .zone
                .local_to_utc(first.and_time(chrono::NaiveTime::MIN));
            let end = self
                .zone
                .local_to_utc(next.and_time(chrono::NaiveTime::MIN));
            if let (Ok(start), Ok(end)) = (start, end)
                && self.known.len() < 1024
            {
                self.known.push((start, end, key.clone()));
            }
        }
        key
    }
}
