//! Parquet files written under staging, on a thread of their own.

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;

use crate::error::{Error, Result};
use crate::lake::{self};

/// Memory all open files' unfinished row groups may hold together. Each
/// partition buffers a row group before writing it; a file spread over many
/// months would otherwise hold one full row group per month at once.
const WRITE_BUFFER_BYTES: usize = 96 << 20;

/// Ends the largest unfinished row group early while the buffers pass
/// `WRITE_BUFFER_BYTES`.
fn limit_buffers<K>(writers: &mut HashMap<K, StagedWriter>) -> Result<()> {
    let total: usize = writers.values().map(|w| w.writer.memory_size()).sum();
    if total > WRITE_BUFFER_BYTES
        && let Some(largest) = writers.values_mut().max_by_key(|w| w.writer.memory_size())
    {
        largest.writer.flush()?;
    }
    Ok(())
}

/// One open Parquet file in staging.
pub(crate) struct StagedWriter {
    pub(crate) writer: ArrowWriter<File>,
    pub(crate) staged: PathBuf,
    pub(crate) rel: String,
    pub(crate) rows: u64,
}

impl StagedWriter {
    pub(crate) fn create(staged: PathBuf, rel: String, schema: SchemaRef) -> Result<Self> {
        if let Some(parent) = staged.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let file = File::create(&staged).map_err(|e| Error::io(&staged, e))?;
        let writer = ArrowWriter::try_new(
            file,
            schema,
            Some(crate::storage::parquet::writer_properties()),
        )?;
        Ok(StagedWriter {
            writer,
            staged,
            rel,
            rows: 0,
        })
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows() as u64;
        self.writer.write(batch)?;
        Ok(())
    }

    /// Closes the file and syncs it, so the rename that commits it is
    /// durable; returns it with its rows.
    pub(crate) fn finish(self) -> Result<(lake::Staged, u64)> {
        let file = self.writer.into_inner()?;
        Ok((lake::Staged::sync(&file, self.staged, self.rel)?, self.rows))
    }
}

/// What the parsing side sends the writer thread.
pub(crate) enum WriterMessage {
    Open {
        month: Partition,
        staged: PathBuf,
        rel: String,
        schema: SchemaRef,
    },
    Batch {
        month: Partition,
        batch: RecordBatch,
    },
}

/// A file's local month (`YYYY-MM`), for a feed partitioned by month: shared,
/// not copied, by every row that goes to it.
pub(crate) type Partition = Option<Arc<str>>;

/// A closed partition file.
pub(crate) struct WrittenFile {
    pub(crate) month: Partition,
    /// Its path in the lake.
    pub(crate) rel: String,
    pub(crate) rows: u64,
    /// None in a dry run.
    pub(crate) staged: Option<lake::Staged>,
}

/// Dropped unfinished (the ingest failed or was interrupted), it waits for
/// the thread, so nothing writes into staging once the caller cleans it.
pub(crate) struct WriterThread {
    sender: Option<std::sync::mpsc::SyncSender<WriterMessage>>,
    handle: Option<std::thread::JoinHandle<Result<Vec<WrittenFile>>>>,
}

impl Drop for WriterThread {
    fn drop(&mut self) {
        self.sender.take();
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}

impl WriterThread {
    pub(crate) fn start() -> Self {
        // A few batches in flight: enough to keep both sides busy, few enough
        // that memory stays bounded whatever the file size.
        let (sender, receiver) = std::sync::mpsc::sync_channel::<WriterMessage>(4);
        let handle = std::thread::spawn(move || {
            let mut writers: HashMap<Partition, StagedWriter> = HashMap::new();
            for message in receiver {
                match message {
                    WriterMessage::Open {
                        month,
                        staged,
                        rel,
                        schema,
                    } => {
                        writers.insert(month, StagedWriter::create(staged, rel, schema)?);
                    }
                    WriterMessage::Batch { month, batch } => {
                        if let Some(writer) = writers.get_mut(&month) {
                            writer.write(&batch)?;
                        }
                        limit_buffers(&mut writers)?;
                    }
                }
            }
            let mut closed = Vec::new();
            for (month, writer) in writers {
                let rel = writer.rel.clone();
                let (staged, rows) = writer.finish()?;
                closed.push(WrittenFile {
                    month,
                    rel,
                    rows,
                    staged: Some(staged),
                });
            }
            Ok(closed)
        });
        WriterThread {
            sender: Some(sender),
            handle: Some(handle),
        }
    }

    pub(crate) fn send(&mut self, message: WriterMessage) -> Result<()> {
        // A closed channel means the writer stopped on an error: finish() reports it.
        if let Some(sender) = &self.sender {
            let _ = sender.send(message);
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<Vec<WrittenFile>> {
        self.sender.take();
        match self.handle.take().map(std::thread::JoinHandle::join) {
            Some(Ok(written)) => written,
            _ => Err(Error::lake("staging", "the Parquet writer thread panicked")),
        }
    }
}
