//! A CSV file's records parsed on several threads: one thread cuts the
//! input into chunks of whole records, each worker parses and types the
//! chunks it takes, and the consumer takes them back in file order
//! ([`ReadAhead`]), every record on its line.

use std::io::Read;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};

use crate::error::Error;
use crate::read::RawRecord;
use crate::read::columns::ColumnMap;
use crate::read::footer::is_blank;
use crate::read::read_ahead::internal_error;
use crate::read::read_ahead::{Batch, Body, Chunk, ChunkLinks, Message, ReadAhead, Spares};
use crate::read::record_ends::last_record_end;

/// Bytes per chunk: large enough that the hand-overs cost nothing, small
/// enough that a few in flight per thread stay small beside the rest.
pub(crate) const CHUNK_BYTES: usize = 1 << 20;

/// Chunks cut and not yet taken by the consumer, per worker.
const IN_FLIGHT_PER_WORKER: usize = 3;

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
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
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
        let cutter = Cutter {
            jobs: jobs.clone(),
            tokens: token,
            sender,
            free,
            unknown,
        };
        std::thread::spawn(move || cutter.run(self));
        let links = ChunkLinks {
            again: jobs,
            tokens,
            buffers,
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
    unknown: Vec<String>,
}

impl<T> Cutter<T> {
    fn run(self, mut csv: ChunkedCsv) {
        let mut seq = 0;
        let mut buffer = std::mem::take(&mut csv.head);
        let mut want = csv.chunk_bytes.max(1);
        loop {
            let more = match fill(&mut csv.rest, &mut buffer, want) {
                Ok(more) => more,
                Err(e) => {
                    let failed = Error::io(&csv.path, e);
                    let _ = self.sender.send(Message {
                        seq,
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
                            seq,
                            bytes,
                            in_signatures: false,
                        })
                        .is_err()
                {
                    return;
                }
                seq += 1;
            }
            if !more {
                let _ = self.sender.send(Message {
                    seq,
                    body: Body::End(self.unknown),
                });
                return;
            }
        }
    }
}

/// Reads into `buffer` until it holds `want` bytes; false at the input's
/// end. (Reads may return a line at a time: the buffer is sized once.)
fn fill(input: &mut dyn Read, buffer: &mut Vec<u8>, want: usize) -> std::io::Result<bool> {
    let mut filled = buffer.len();
    if filled >= want {
        return Ok(true);
    }
    buffer.resize(want, 0);
    let more = loop {
        match input.read(&mut buffer[filled..]) {
            Ok(0) => break Ok(false),
            Ok(n) => {
                filled += n;
                if filled >= want {
                    break Ok(true);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    buffer.truncate(filled);
    more
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
        self.columns.in_signatures = chunk.in_signatures;
        let mut reader = ::csv::ReaderBuilder::new()
            .terminator(::csv::Terminator::Any(b'\n'))
            .delimiter(self.delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(chunk.bytes.as_slice());
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
            in_signatures: self.columns.in_signatures,
            chunk: Some(chunk),
        })
    }
}
