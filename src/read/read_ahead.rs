//! Records read and typed on threads of their own, ahead of the consumer,
//! and handed to it in file order.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::read::RawRecord;
use crate::read::RecordSource;

/// Records read ahead per hand-over between threads (one source read
/// record by record).
const CHUNK_RECORDS: usize = 1024;

/// Typed records as a reading thread hands them over, numbered: chunks
/// parsed on several threads arrive in any order and are taken in `seq`'s.
pub(crate) struct Message<T> {
    pub(crate) seq: u64,
    pub(crate) body: Body<T>,
}

pub(crate) enum Body<T> {
    Records(Batch<T>),
    /// The end of the file, with the source's unknown columns.
    End(Vec<String>),
    Failed(Error),
}

/// Records in file order, and what `prepare` made of each.
pub(crate) struct Batch<T> {
    pub(crate) records: Vec<RawRecord>,
    pub(crate) prepared: Vec<T>,
    /// Line ends the batch's bytes span. A chunk's records carry lines
    /// counted from its own start; the lines of the chunks before it are
    /// added as it is taken. (0 for a source that numbers lines itself.)
    pub(crate) lines: u64,
    /// A signature block had begun by the batch's last record: the records
    /// after it that lack data are footer.
    pub(crate) in_signatures: bool,
    /// The chunk, to be parsed again knowing a signature block began
    /// before it (chunked reading only).
    pub(crate) chunk: Option<Chunk>,
}

/// A piece of a CSV file holding whole records, as cut for parsing.
pub(crate) struct Chunk {
    pub(crate) seq: u64,
    pub(crate) bytes: Vec<u8>,
    /// A signature block began in an earlier chunk.
    pub(crate) in_signatures: bool,
}

/// The links between a chunked file's threads and its consumer.
pub(crate) struct ChunkLinks {
    /// Where a chunk goes to be parsed again.
    pub(crate) again: Sender<Chunk>,
    /// One token per chunk cut: taking a chunk frees one, so the cutting
    /// thread stays a bounded number of chunks ahead.
    pub(crate) tokens: Receiver<()>,
    /// A taken chunk's bytes, back to the cutting thread to be filled again
    /// (fresh memory costs the kernel a page clearing per 4 KiB).
    pub(crate) buffers: SyncSender<Vec<u8>>,
    /// Set when a signature block has begun, for the cutting thread.
    pub(crate) signatures: Arc<std::sync::atomic::AtomicBool>,
}

/// Used records going back to the reading threads, for their buffers.
pub(crate) type Spares = Arc<Mutex<Receiver<Vec<RawRecord>>>>;

/// Reads a source's records on threads of their own, ahead of the caller,
/// with what `prepare` makes of each (ingest types the values there):
/// splitting, decoding and typing then overlap with de-duplicating and
/// writing the rows. Used records go back to the reading threads, so
/// their buffers are reused.
pub(crate) struct ReadAhead<T> {
    messages: Receiver<Message<T>>,
    /// Batches that arrived before their turn.
    waiting: BTreeMap<u64, Body<T>>,
    next_seq: u64,
    /// Lines before the next batch.
    line_base: u64,
    in_signatures: bool,
    links: Option<ChunkLinks>,
    spare: SyncSender<Vec<RawRecord>>,
    pub(crate) unknown: Vec<String>,
    pub(crate) ended: bool,
    pub(crate) path: PathBuf,
}

impl<T: Send + 'static> ReadAhead<T> {
    /// The consumer's end of reading threads: `messages` come from them,
    /// `spare` goes back; `first_line` is the line before the first
    /// record's (chunked reading numbers lines from each chunk's start).
    pub(crate) fn new(
        path: &Path,
        messages: Receiver<Message<T>>,
        spare: SyncSender<Vec<RawRecord>>,
        links: Option<ChunkLinks>,
        first_line: u64,
    ) -> Self {
        ReadAhead {
            messages,
            waiting: BTreeMap::new(),
            next_seq: 0,
            line_base: first_line,
            in_signatures: false,
            links,
            spare,
            unknown: Vec::new(),
            ended: false,
            path: path.to_path_buf(),
        }
    }

    /// Reads `source` record by record on one thread.
    pub(crate) fn spawn(
        path: &Path,
        mut source: Box<dyn RecordSource>,
        mut prepare: impl FnMut(&RawRecord) -> T + Send + 'static,
    ) -> Self {
        let (sender, messages) = std::sync::mpsc::sync_channel::<Message<T>>(4);
        let (spare, spares) = std::sync::mpsc::sync_channel::<Vec<RawRecord>>(8);
        // A reader whose caller stopped early (an error) stops at its next
        // hand-over: the send fails.
        std::thread::spawn(move || {
            for seq in 0.. {
                let send = |body| sender.send(Message { seq, body }).is_ok();
                let mut recycled = spares.try_recv().unwrap_or_default();
                let mut records = Vec::with_capacity(CHUNK_RECORDS);
                let mut prepared = Vec::with_capacity(CHUNK_RECORDS);
                while records.len() < CHUNK_RECORDS {
                    let mut record = recycled.pop().unwrap_or_default();
                    match source.next_record(&mut record) {
                        Ok(true) => {
                            prepared.push(prepare(&record));
                            records.push(record);
                        }
                        Ok(false) => break,
                        Err(e) => {
                            send(Body::Failed(e));
                            return;
                        }
                    }
                }
                let end = records.len() < CHUNK_RECORDS;
                let batch = Batch {
                    records,
                    prepared,
                    lines: 0,
                    in_signatures: false,
                    chunk: None,
                };
                if end {
                    // The end goes in the same message: one seq per message.
                    let _ = sender.send(Message {
                        seq,
                        body: Body::Records(batch),
                    });
                    let _ = sender.send(Message {
                        seq: seq + 1,
                        body: Body::End(source.unknown_columns()),
                    });
                    return;
                }
                if !send(Body::Records(batch)) {
                    return;
                }
            }
        });
        ReadAhead::new(path, messages, spare, None, 0)
    }

    /// The next records in file order, each on its line, and what
    /// `prepare` made of each; None at the end of the file. Give the
    /// records back with [`recycle`](Self::recycle).
    pub fn next_batch(&mut self) -> Result<Option<(Vec<RawRecord>, Vec<T>)>> {
        while !self.ended {
            match self.take()? {
                Body::Records(batch) => {
                    if let Some(batch) = self.start(batch)? {
                        return Ok(Some(batch));
                    }
                }
                Body::End(unknown) => {
                    self.unknown = unknown;
                    self.ended = true;
                }
                Body::Failed(e) => {
                    self.ended = true;
                    return Err(e);
                }
            }
        }
        Ok(None)
    }

    /// Records done with, for the reading threads to reuse.
    pub fn recycle(&self, records: Vec<RawRecord>) {
        let _ = self.spare.try_send(records);
    }

    /// The message whose turn it is, waiting for it.
    fn take(&mut self) -> Result<Body<T>> {
        loop {
            if let Some(body) = self.waiting.remove(&self.next_seq) {
                return Ok(body);
            }
            match self.messages.recv() {
                Ok(Message { seq, body }) => {
                    self.waiting.insert(seq, body);
                }
                // Only a panic ends the reading threads without a message.
                Err(_) => return Err(self.stopped()),
            }
        }
    }

    /// `batch`'s records on their lines, or None when its chunk went to be
    /// parsed again: a signature block began before it, and its records
    /// were read as if none had.
    fn start(&mut self, mut batch: Batch<T>) -> Result<Option<(Vec<RawRecord>, Vec<T>)>> {
        let parsed_too_early = |chunk: &Chunk| !chunk.in_signatures;
        if self.in_signatures
            && batch.chunk.as_ref().is_some_and(parsed_too_early)
            && let Some(mut chunk) = batch.chunk.take()
            && let Some(links) = &self.links
        {
            chunk.in_signatures = true;
            if links.again.send(chunk).is_err() {
                return Err(self.stopped());
            }
            return Ok(None);
        }
        self.in_signatures = batch.in_signatures;
        if let Some(links) = &self.links {
            if self.in_signatures {
                links
                    .signatures
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            // Frees the cutting thread to cut one more.
            let _ = links.tokens.try_recv();
            if let Some(chunk) = batch.chunk.take() {
                let _ = links.buffers.try_send(chunk.bytes);
            }
        }
        self.next_seq += 1;
        let line_base = self.line_base;
        self.line_base += batch.lines;
        if line_base > 0 {
            batch.records.iter_mut().for_each(|r| r.line += line_base);
        }
        Ok(Some((batch.records, batch.prepared)))
    }

    /// The reading threads are gone: only a panic ends them early.
    fn stopped(&mut self) -> Error {
        self.ended = true;
        internal_error(&self.path)
    }

    /// Input columns the feed does not know (complete at the end of the file).
    pub fn unknown_columns(&self) -> Vec<String> {
        self.unknown.clone()
    }
}

/// What the consumer is told when a reading thread panicked.
pub(crate) fn internal_error(path: &Path) -> Error {
    Error::BadFile {
        path: path.to_path_buf(),
        reason: "reading stopped on an internal error (a bug in motcua: please report it with the file); nothing from the file was committed".into(),
    }
}
