//! A CSV file's records parsed on several threads: one thread cuts the
//! input into chunks of whole records, each worker parses and types the
//! chunks it takes, and the consumer takes them back in file order
//! ([`ReadAhead`]), every record on its line.

use std::io::Read;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use crate::error::Error;
use crate::read::RawRecord;
use crate::read::columns::ColumnMap;
use crate::read::csv::reader_builder;
use crate::read::footer::is_blank;
use crate::read::read_ahead::internal_error;
use crate::read::read_ahead::{Batch, Body, Chunk, ChunkLinks, Message, ReadAhead, Spares};
use crate::read::record_ends::last_record_end;

/// Bytes per chunk: large enough that the hand-overs cost nothing, small
/// enough that a few in flight per thread stay small beside the rest.
pub(crate) const CHUNK_BYTES: usize = 1 << 20;

/// Chunks cut and not yet taken by the consumer, per worker: each holds its
/// bytes and records (a few times the chunk) until it is taken.
const IN_FLIGHT_PER_WORKER: usize = 3;

/// Workers at most, whatever the cores: the consumer and the Parquet writer
/// need cores too, and chunks in flight grow with the workers.
const MAX_WORKERS: usize = 8;

/// The body of a CSV file, past its header, to be read in chunks.
pub(crate) struct ChunkedCsv {
    pub(crate) path: PathBuf,
    /// The bytes after the header that the header search had read.
    pub(crate) head: Vec<u8>,
    /// The rest of the input.
    pub(crate) rest: Box<dyn Read + Send>,
    /// Lines before the first record's: records' lines count on from them.
    pub(crate) lines_before: u64,
    pub(crate) delimiter: u8,
    pub(crate) columns: ColumnMap,
    /// Bytes per chunk (tests cut small ones).
    pub(crate) chunk_bytes: usize,
}

impl ChunkedCsv {
    /// Starts the cutting thread and the workers; each worker types records
    /// with a `prepare` of its own, from `make_prepare`.
    pub(crate) fn spawn<T, P>(self, make_prepare: impl Fn() -> P) -> ReadAhead<T>
    where
        T: Send + 'static,
        P: FnMut(&RawRecord) -> T + Send + 'static,
    {
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_WORKERS);
        let (sender, messages) =
            std::sync::mpsc::sync_channel::<Message<T>>(workers * IN_FLIGHT_PER_WORKER + 1);
        let (spare, spares) = std::sync::mpsc::sync_channel::<Vec<RawRecord>>(8);
        let spares: Spares = Arc::new(Mutex::new(spares));
        let (jobs, job_queue) = std::sync::mpsc::channel::<Chunk>();
        let job_queue = Arc::new(Mutex::new(job_queue));
        let (token, tokens) = std::sync::mpsc::sync_channel::<()>(workers * IN_FLIGHT_PER_WORKER);
        for _ in 0..workers {
            let worker = Worker {
                path: self.path.clone(),
                jobs: job_queue.clone(),
                sender: sender.clone(),
                spares: spares.clone(),
                columns: self.columns.clone(),
                delimiter: self.delimiter,
                prepare: make_prepare(),
                last_records: 0,
            };
            std::thread::spawn(move || worker.run());
        }
        let path = self.path.clone();
        let lines_before = self.lines_before;
        let unknown = self.columns.unknown.clone();
        let (buffers, free) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
        let signatures = Arc::new(AtomicBool::new(false));
        let mut cutter = Cutter {
            jobs: jobs.clone(),
            tokens: token,
            sender,
            free,
            signatures: signatures.clone(),
            unknown,
            seq: 0,
        };
        std::thread::spawn(move || {
            // The consumer waits for every message in turn: a panic must
            // still answer, or it would wait for ever.
            let path = self.path.clone();
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cutter.run(self)));
            if run.is_err() {
                let _ = cutter.sender.send(Message {
                    seq: cutter.seq,
                    body: Body::Failed(internal_error(&path)),
                });
            }
        });
        let links = ChunkLinks {
            again: jobs,
            tokens,
            buffers,
            signatures,
        };
        ReadAhead::new(&path, messages, spare, Some(links), lines_before)
    }
}

/// The thread that cuts the input into chunks.
struct Cutter<T> {
    jobs: Sender<Chunk>,
    tokens: SyncSender<()>,
    sender: SyncSender<Message<T>>,
    /// Buffers of chunks taken, to cut the next ones into.
    free: Receiver<Vec<u8>>,
    /// Set once the consumer has seen a signature block begin: the chunks
    /// cut after that are parsed knowing it.
    signatures: Arc<AtomicBool>,
    unknown: Vec<String>,
    /// The next chunk's number.
    seq: u64,
}

impl<T> Cutter<T> {
    fn run(&mut self, mut csv: ChunkedCsv) {
        let mut buffer = std::mem::take(&mut csv.head);
        let mut want = csv.chunk_bytes.max(1);
        loop {
            let more = match fill(&mut csv.rest, &mut buffer, want) {
                Ok(more) => more,
                Err(e) => {
                    // Worded as when the file is read record by record.
                    let failed = Error::BadFile {
                        path: csv.path.clone(),
                        reason: format!("cannot read CSV: {e}"),
                    };
                    let _ = self.sender.send(Message {
                        seq: self.seq,
                        body: Body::Failed(failed),
                    });
                    return;
                }
            };
            let end = match more {
                true => last_record_end(&buffer, csv.delimiter),
                false => Some(buffer.len()),
            };
            let Some(end) = end else {
                // One record longer than a chunk: read on until it ends.
                want = (buffer.len() * 2).max(1);
                continue;
            };
            want = csv.chunk_bytes.max(1);
            if end > 0 {
                let mut rest = self.free.try_recv().unwrap_or_default();
                rest.clear();
                rest.extend_from_slice(&buffer[end..]);
                buffer.truncate(end);
                let bytes = std::mem::replace(&mut buffer, rest);
                // Waits while enough chunks are in flight; a consumer gone
                // (an error) ends the cutting.
                if self.tokens.send(()).is_err()
                    || self
                        .jobs
                        .send(Chunk {
                            seq: self.seq,
                            bytes,
                            in_signatures: self.signatures.load(Ordering::Acquire),
                        })
                        .is_err()
                {
                    return;
                }
                self.seq += 1;
            }
            if !more {
                let _ = self.sender.send(Message {
                    seq: self.seq,
                    body: Body::End(std::mem::take(&mut self.unknown)),
                });
                return;
            }
        }
    }
}

/// Reads into `buffer` until it holds `want` bytes; false at the input's end.
fn fill(input: &mut dyn Read, buffer: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let Some(wanted) = want.checked_sub(buffer.len()).filter(|&w| w > 0) else {
        return Ok(true);
    };
    let read = input.take(wanted as u64).read_to_end(buffer)?;
    Ok(read == wanted)
}

/// A thread that parses chunks.
struct Worker<T, P> {
    path: PathBuf,
    jobs: Arc<Mutex<Receiver<Chunk>>>,
    sender: SyncSender<Message<T>>,
    spares: Spares,
    columns: ColumnMap,
    delimiter: u8,
    prepare: P,
    /// Records in the last chunk parsed: about as many as in the next.
    last_records: usize,
}

impl<T, P: FnMut(&RawRecord) -> T> Worker<T, P> {
    fn run(mut self) {
        loop {
            // The lock is held only to take a chunk.
            let job = match self.jobs.lock() {
                Ok(queue) => queue.recv(),
                Err(_) => return,
            };
            let Ok(chunk) = job else { return };
            let seq = chunk.seq;
            // The consumer waits for every chunk in turn: a panic must still
            // answer for its chunk.
            let parsed =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.parse(chunk)));
            let body = parsed.unwrap_or_else(|_| Body::Failed(internal_error(&self.path)));
            if self.sender.send(Message { seq, body }).is_err() {
                return;
            }
        }
    }

    /// The chunk's records, as [`CsvSource`](crate::read::CsvSource) reads
    /// them one by one, on lines counted from the chunk's start.
    fn parse(&mut self, chunk: Chunk) -> Body<T> {
        let mut recycled = self
            .spares
            .lock()
            .ok()
            .and_then(|spares| spares.try_recv().ok())
            .unwrap_or_default();
        self.columns.resume(chunk.in_signatures);
        let mut reader = reader_builder(self.delimiter).from_reader(chunk.bytes.as_slice());
        let mut records = Vec::with_capacity(self.last_records);
        let mut prepared = Vec::with_capacity(self.last_records);
        let mut record = recycled.pop().unwrap_or_default();
        loop {
            record.reset(self.columns.columns());
            match reader.read_byte_record(&mut record.bytes) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    return Body::Failed(Error::BadFile {
                        path: self.path.clone(),
                        reason: format!("cannot read CSV: {e}"),
                    });
                }
            }
            // A blank line, or a row of empty cells, is no record.
            if is_blank(&record.bytes) {
                continue;
            }
            record.line = record.bytes.position().map_or(0, |p| p.line());
            self.columns.fill(&mut record);
            prepared.push((self.prepare)(&record));
            records.push(record);
            record = recycled.pop().unwrap_or_default();
        }
        self.last_records = records.len();
        Body::Records(Batch {
            records,
            prepared,
            // The reader's own count: it skips the line end of a blank line.
            lines: reader.position().line() - 1,
            in_signatures: self.columns.in_signatures(),
            chunk: Some(chunk),
        })
    }
}
