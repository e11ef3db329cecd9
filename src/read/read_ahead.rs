//! Records read and typed on a thread of their own, ahead of the consumer.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::read::RawRecord;
use crate::read::RecordSource;

/// Records read ahead per hand-over between threads.
const CHUNK_RECORDS: usize = 1024;

enum Chunk<T> {
    Records(Vec<(RawRecord, T)>),
    /// The end of the file, with the source's unknown columns.
    End(Vec<String>),
    Failed(Error),
}

/// Reads a source's records on a thread of its own, chunks ahead of the
/// caller, with what `prepare` makes of each (ingest types the values
/// there): splitting, decoding and typing then overlap with
/// de-duplicating and writing the rows. Used records go back to the
/// reading thread, so their buffers are reused.
pub(crate) struct ReadAhead<T> {
    chunks: std::sync::mpsc::Receiver<Chunk<T>>,
    spare: std::sync::mpsc::SyncSender<Vec<RawRecord>>,
    chunk: std::vec::IntoIter<(RawRecord, T)>,
    pub(crate) used: Vec<RawRecord>,
    pub(crate) unknown: Vec<String>,
    pub(crate) ended: bool,
    pub(crate) path: PathBuf,
}

impl<T: Send + 'static> ReadAhead<T> {
    pub(crate) fn spawn(
        path: &Path,
        mut source: Box<dyn RecordSource>,
        mut prepare: impl FnMut(&RawRecord) -> T + Send + 'static,
    ) -> Self {
        let (chunk_sender, chunks) = std::sync::mpsc::sync_channel::<Chunk<T>>(4);
        let (spare, spares) = std::sync::mpsc::sync_channel::<Vec<RawRecord>>(8);
        // A reader whose caller stopped early (an error) stops at its next
        // hand-over: the send fails.
        std::thread::spawn(move || {
            loop {
                let mut recycled = spares.try_recv().unwrap_or_default();
                let mut chunk = Vec::with_capacity(CHUNK_RECORDS);
                while chunk.len() < CHUNK_RECORDS {
                    let mut record = recycled.pop().unwrap_or_default();
                    match source.next_record(&mut record) {
                        Ok(true) => {
                            let prepared = prepare(&record);
                            chunk.push((record, prepared));
                        }
                        Ok(false) => break,
                        Err(e) => {
                            let _ = chunk_sender.send(Chunk::Failed(e));
                            return;
                        }
                    }
                }
                let end = chunk.len() < CHUNK_RECORDS;
                if !chunk.is_empty() && chunk_sender.send(Chunk::Records(chunk)).is_err() {
                    return;
                }
                if end {
                    let _ = chunk_sender.send(Chunk::End(source.unknown_columns()));
                    return;
                }
            }
        });
        ReadAhead {
            chunks,
            spare,
            chunk: Vec::new().into_iter(),
            used: Vec::new(),
            unknown: Vec::new(),
            ended: false,
            path: path.to_path_buf(),
        }
    }

    /// Fills `rec` with the next record and returns what `prepare` made of
    /// it; None at the end of the file.
    pub fn next(&mut self, rec: &mut RawRecord) -> Result<Option<T>> {
        loop {
            if let Some((mut record, prepared)) = self.chunk.next() {
                std::mem::swap(rec, &mut record);
                self.used.push(record);
                return Ok(Some(prepared));
            }
            if self.ended {
                return Ok(None);
            }
            if !self.used.is_empty() {
                let _ = self.spare.try_send(std::mem::take(&mut self.used));
            }
            match self.chunks.recv() {
                Ok(Chunk::Records(chunk)) => self.chunk = chunk.into_iter(),
                Ok(Chunk::End(unknown)) => {
                    self.unknown = unknown;
                    self.ended = true;
                }
                Ok(Chunk::Failed(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                Err(_) => {
                    // Only a panic ends the reading thread without a message.
                    self.ended = true;
                    return Err(Error::BadFile {
                        path: self.path.clone(),
                        reason: "reading stopped on an internal error (a bug in motcua: please report it with the file); nothing from the file was committed".into(),
                    });
                }
            }
        }
    }

    /// Input columns the feed does not know (complete at the end of the file).
    pub fn unknown_columns(&self) -> Vec<String> {
        self.unknown.clone()
    }
}
