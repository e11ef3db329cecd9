//! Reading raw records from CSV and NDJSON exports, one at a time, with the
//! physical line each starts on. Values come out as trimmed text aligned to a
//! feed's columns; typing and validation happen in `ingest`.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};

use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

use crate::error::{Error, Result};
use crate::feeds::FeedDef;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "ndjson" | "jsonl" | "json" => Ok(Format::Ndjson),
            _ => Err(Error::Usage(format!(
                "unknown format '{s}'; use csv or ndjson"
            ))),
        }
    }
}

impl Format {
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        match ext.as_deref() {
            Some("csv") | Some("txt") => Ok(Format::Csv),
            Some("ndjson") | Some("jsonl") | Some("json") => Ok(Format::Ndjson),
            _ => Err(Error::BadFile {
                path: path.to_path_buf(),
                reason: "cannot tell the format from the file name; pass --format csv or --format ndjson".into(),
            }),
        }
    }
}

/// A problem with a whole record, found before any value is parsed.
#[derive(Debug, Clone)]
pub struct RecordProblem {
    pub column: Option<String>,
    pub reason: String,
    /// The bytes are not UTF-8: a sign the whole file is in another encoding.
    pub not_utf8: bool,
}

/// One record: its line, its values aligned to the feed's columns, and the
/// raw text for quarantine. Reused from record to record to avoid allocation.
#[derive(Debug, Default)]
pub struct RawRecord {
    pub line: u64,
    text: String,
    /// Per feed column: where its trimmed value lies in `text`, if present.
    spans: Vec<Option<Range<usize>>>,
    /// The raw text of an NDJSON record, for quarantine.
    raw: String,
    /// The fields of a CSV record as read, for quarantine.
    bytes: csv::ByteRecord,
    pub problem: Option<RecordProblem>,
}

impl RawRecord {
    /// The trimmed value of column `i`; None when absent or empty.
    pub fn get(&self, i: usize) -> Option<&str> {
        let span = self.spans.get(i)?.as_ref()?;
        let value = &self.text[span.clone()];
        (!value.is_empty()).then_some(value)
    }

    /// The record as read, for quarantine: the NDJSON line, or the CSV
    /// fields written back as one CSV line.
    pub fn raw_text(&self) -> String {
        if self.bytes.is_empty() {
            return self.raw.clone();
        }
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let _ = writer.write_byte_record(&self.bytes);
        let bytes = writer.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim_end().to_string()
    }

    fn reset(&mut self, columns: usize) {
        self.text.clear();
        self.raw.clear();
        self.bytes.clear();
        self.spans.clear();
        self.spans.resize(columns, None);
        self.problem = None;
    }

    fn set(&mut self, column: usize, value: &str) {
        set_value(&mut self.text, &mut self.spans, column, value);
    }
}

/// Appends column `column`'s trimmed value to a record's text.
fn set_value(text: &mut String, spans: &mut [Option<Range<usize>>], column: usize, value: &str) {
    let value = value.trim();
    let start = text.len();
    text.push_str(value);
    spans[column] = Some(start..text.len());
}

/// Opens a file, decoding UTF-16 (with BOM) to UTF-8 and dropping a UTF-8
/// BOM; other bytes pass through untouched so invalid UTF-8 can be reported
/// per record rather than failing the file.
fn decoded(input: Input) -> Decoded {
    DecodeReaderBytesBuilder::new()
        .bom_sniffing(true)
        .strip_bom(true)
        .utf8_passthru(true)
        .build(input)
}

/// The bytes of one export: a file, or memory (fuzzing, tests).
pub type Input = Box<dyn Read + Send>;
type Decoded = DecodeReaderBytes<Input, Vec<u8>>;

/// Opens `path` as an [`Input`].
pub fn open_input(path: &Path) -> Result<Input> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(Box::new(file))
}

/// A source of records for one feed.
pub trait RecordSource: Send {
    /// Fills `rec` with the next record; false at the end of the file.
    fn next_record(&mut self, rec: &mut RawRecord) -> Result<bool>;
    /// Input columns the feed does not know, kept out of the lake (complete
    /// once every record has been read).
    fn unknown_columns(&self) -> Vec<String>;
}

/// Opens a record source over `input`; `path` names it in messages and
/// `scan` is its [`scan`]. The records are split, decoded and handed to
/// `prepare` on a thread of their own (see [`ReadAhead`]).
pub fn open<T: Send + 'static>(
    path: &Path,
    input: Input,
    format: Format,
    feed: &'static FeedDef,
    scan: &FileScan,
    prepare: impl FnMut(&RawRecord) -> T + Send + 'static,
) -> Result<ReadAhead<T>> {
    let source: Box<dyn RecordSource> = match format {
        Format::Csv => Box::new(CsvSource::open(path, input, feed, scan.quote_left_open)?),
        Format::Ndjson => Box::new(NdjsonSource::open(path, input, feed)),
    };
    Ok(ReadAhead::spawn(path, source, prepare))
}

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
pub struct ReadAhead<T> {
    chunks: std::sync::mpsc::Receiver<Chunk<T>>,
    spare: std::sync::mpsc::SyncSender<Vec<RawRecord>>,
    chunk: std::vec::IntoIter<(RawRecord, T)>,
    used: Vec<RawRecord>,
    unknown: Vec<String>,
    ended: bool,
    path: PathBuf,
}

impl<T: Send + 'static> ReadAhead<T> {
    fn spawn(
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

pub struct CsvSource {
    path: PathBuf,
    reader: csv::Reader<BufReader<Decoded>>,
    record: csv::ByteRecord,
    /// For each input position: the feed column it feeds, if any.
    position_to_column: Vec<Option<usize>>,
    header_names: Vec<String>,
    unknown: Vec<String>,
    columns: usize,
    /// The file holds an odd number of quote characters: its last record
    /// opens a quote that never closes and has swallowed every line after it.
    unclosed_quote: bool,
    /// A record read ahead, to know which record is the last one.
    ahead: Option<csv::ByteRecord>,
}

impl CsvSource {
    /// `unclosed_quote`: the file's [`FileScan::quote_left_open`].
    pub fn open(
        path: &Path,
        input: Input,
        feed: &'static FeedDef,
        unclosed_quote: bool,
    ) -> Result<Self> {
        let bad = |reason: String| Error::BadFile {
            path: path.to_path_buf(),
            reason,
        };
        let decoded = BufReader::with_capacity(1 << 20, decoded(input));
        // Records end at LF; a CR before it is trimmed with the value. (With
        // CRLF terminators the csv crate reports a record's line one short.)
        let mut reader = csv::ReaderBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .has_headers(true)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(decoded);
        let headers = reader
            .byte_headers()
            .map_err(|e| bad(format!("cannot read the header row: {e}")))?
            .clone();
        if headers.is_empty() || (headers.len() == 1 && headers[0].trim_ascii().is_empty()) {
            return Err(bad("the file is empty: no header row".into()));
        }
        let mut position_to_column = Vec::with_capacity(headers.len());
        let mut header_names = Vec::with_capacity(headers.len());
        let mut unknown = Vec::new();
        let mut seen = HashSet::new();
        for field in headers.iter() {
            let name = std::str::from_utf8(field)
                .map_err(|_| {
                    bad("the header row is not valid UTF-8; convert the file to UTF-8 (e.g. iconv -f WINDOWS-1258 -t UTF-8)".into())
                })?
                .trim()
                .to_lowercase();
            if !seen.insert(name.clone()) {
                return Err(bad(format!("the header names column '{name}' twice")));
            }
            let column = feed.column_index(&name);
            if column.is_none() {
                unknown.push(name.clone());
            }
            position_to_column.push(column);
            header_names.push(name);
        }
        let missing: Vec<&str> = feed
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| c.required && !position_to_column.contains(&Some(*i)))
            .map(|(_, c)| c.name)
            .collect();
        if !missing.is_empty() {
            return Err(bad(format!(
                "the header lacks required column(s) {} of feed {}",
                missing.join(", "),
                feed.name
            )));
        }
        Ok(CsvSource {
            path: path.to_path_buf(),
            reader,
            record: csv::ByteRecord::new(),
            position_to_column,
            header_names,
            unknown,
            columns: feed.columns.len(),
            unclosed_quote,
            ahead: None,
        })
    }

    /// Reads the next record into `self.record`, from the read-ahead first.
    fn read(&mut self) -> Result<bool> {
        if let Some(ahead) = self.ahead.take() {
            self.record = ahead;
            return Ok(true);
        }
        self.reader
            .read_byte_record(&mut self.record)
            .map_err(|e| Error::BadFile {
                path: self.path.clone(),
                reason: format!("cannot read CSV: {e}"),
            })
    }

    /// Whether the record just read is the file's last (reads one ahead).
    fn is_last_record(&mut self) -> Result<bool> {
        let mut ahead = csv::ByteRecord::new();
        let more = self
            .reader
            .read_byte_record(&mut ahead)
            .map_err(|e| Error::BadFile {
                path: self.path.clone(),
                reason: format!("cannot read CSV: {e}"),
            })?;
        if more {
            self.ahead = Some(ahead);
        }
        Ok(!more)
    }
}

impl RecordSource for CsvSource {
    fn next_record(&mut self, rec: &mut RawRecord) -> Result<bool> {
        rec.reset(self.columns);
        // A blank line in the middle of a file is no record. (A loop, not
        // recursion: a file of a million blank lines must not blow the stack.)
        let swallowing = loop {
            if !self.read()? {
                return Ok(false);
            }
            if self.unclosed_quote && self.is_last_record()? {
                break true;
            }
            if !(self.record.len() == 1 && self.record[0].trim_ascii().is_empty()) {
                break false;
            }
        };
        // The record moves into `rec`, which keeps it for quarantine (and
        // lends its old buffer to the next read).
        std::mem::swap(&mut self.record, &mut rec.bytes);
        let record = &rec.bytes;
        rec.line = record.position().map(|p| p.line()).unwrap_or(0);
        if swallowing {
            // Keep it whole in quarantine: the rows it swallowed are in its raw text.
            rec.problem = Some(RecordProblem {
                not_utf8: false,
                column: None,
                reason: format!(
                    "a quote opened in this record is never closed: the rest of the file (from line {}) was read as one value; fix the quoting and ingest again",
                    rec.line
                ),
            });
            return Ok(true);
        }
        if record.len() != self.position_to_column.len() {
            rec.problem = Some(RecordProblem {
                not_utf8: false,
                column: None,
                reason: format!(
                    "the row has {} field(s) but the header has {} (a truncated line or unbalanced quotes?)",
                    record.len(),
                    self.position_to_column.len()
                ),
            });
            return Ok(true);
        }
        for position in 0..rec.bytes.len() {
            match std::str::from_utf8(&rec.bytes[position]) {
                Ok(value) => {
                    if let Some(column) = self.position_to_column[position] {
                        set_value(&mut rec.text, &mut rec.spans, column, value);
                    }
                }
                Err(_) => {
                    if rec.problem.is_none() {
                        rec.problem = Some(RecordProblem {
                            not_utf8: true,
                            column: Some(self.header_names[position].clone()),
                            reason: "the value is not valid UTF-8; convert the file to UTF-8"
                                .into(),
                        });
                    }
                }
            }
        }
        Ok(true)
    }

    fn unknown_columns(&self) -> Vec<String> {
        self.unknown.clone()
    }
}

pub struct NdjsonSource {
    path: PathBuf,
    reader: BufReader<Decoded>,
    line: Vec<u8>,
    line_number: u64,
    key_to_column: HashMap<String, Option<usize>>,
    feed: &'static FeedDef,
    unknown: Vec<String>,
}

impl NdjsonSource {
    pub fn open(path: &Path, input: Input, feed: &'static FeedDef) -> Self {
        NdjsonSource {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, decoded(input)),
            line: Vec::new(),
            line_number: 0,
            key_to_column: HashMap::new(),
            feed,
            unknown: Vec::new(),
        }
    }

    fn column_of(&mut self, key: &str) -> Option<usize> {
        if let Some(hit) = self.key_to_column.get(key) {
            return *hit;
        }
        let lower = key.trim().to_lowercase();
        let column = self.feed.column_index(&lower);
        if column.is_none() && !self.unknown.contains(&lower) {
            self.unknown.push(lower);
        }
        self.key_to_column.insert(key.to_string(), column);
        column
    }
}

/// A JSON scalar as the text the CSV path would have seen.
fn json_scalar_text(value: &serde_json::Value) -> std::result::Result<Option<String>, String> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
            _ => n.to_string(),
        }),
        Value::Array(_) | Value::Object(_) => {
            return Err("holds a JSON array or object where a single value belongs".into());
        }
    })
}

impl RecordSource for NdjsonSource {
    fn next_record(&mut self, rec: &mut RawRecord) -> Result<bool> {
        loop {
            rec.reset(self.feed.columns.len());
            self.line.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.line)
                .map_err(|e| Error::io(&self.path, e))?;
            if n == 0 {
                return Ok(false);
            }
            self.line_number += 1;
            rec.line = self.line_number;
            let trimmed = self.line.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            let text = match std::str::from_utf8(trimmed) {
                Ok(text) => text.to_string(),
                Err(_) => {
                    rec.raw = String::from_utf8_lossy(trimmed).into_owned();
                    rec.problem = Some(RecordProblem {
                        not_utf8: true,
                        column: None,
                        reason: "the line is not valid UTF-8; convert the file to UTF-8".into(),
                    });
                    return Ok(true);
                }
            };
            rec.raw.push_str(&text);
            let object = match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(map)) => map,
                Ok(_) => {
                    rec.problem = Some(RecordProblem {
                        not_utf8: false,
                        column: None,
                        reason: "the line is JSON but not an object".into(),
                    });
                    return Ok(true);
                }
                Err(e) => {
                    rec.problem = Some(RecordProblem {
                        not_utf8: false,
                        column: None,
                        reason: format!("the line is not valid JSON: {e}"),
                    });
                    return Ok(true);
                }
            };
            for (key, value) in &object {
                let Some(column) = self.column_of(key) else {
                    continue;
                };
                match json_scalar_text(value) {
                    Ok(Some(text)) => rec.set(column, &text),
                    Ok(None) => {}
                    Err(why) => {
                        if rec.problem.is_none() {
                            rec.problem = Some(RecordProblem {
                                not_utf8: false,
                                column: Some(self.feed.columns[column].name.to_string()),
                                reason: why,
                            });
                        }
                    }
                }
            }
            return Ok(true);
        }
    }

    fn unknown_columns(&self) -> Vec<String> {
        self.unknown.clone()
    }
}

/// What one pass over a file's bytes tells before it is parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileScan {
    /// The content identity the manifest keys re-ingests on.
    pub content_hash: String,
    pub bytes: u64,
    /// A UTF-8 file with an odd number of `"`: some quoted field runs to the
    /// end of the file. (Escaped quotes come in pairs and cancel; UTF-16
    /// files are not checked, other characters contain the quote's byte.)
    pub quote_left_open: bool,
}

/// Reads a whole file once: its hash, size and quote parity.
pub fn scan(path: &Path) -> Result<FileScan> {
    scan_input(path, open_input(path)?)
}

/// [`scan`] over any input; `path` names it in messages.
pub fn scan_input(path: &Path, mut file: Input) -> Result<FileScan> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let mut odd = false;
    let mut utf16 = false;
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        if total == 0 && n >= 2 && (buf[..2] == [0xFF, 0xFE] || buf[..2] == [0xFE, 0xFF]) {
            utf16 = true;
        }
        hasher.update(&buf[..n]);
        if !utf16 {
            odd ^= memchr::memchr_iter(b'"', &buf[..n]).count() % 2 == 1;
        }
        total += n as u64;
    }
    Ok(FileScan {
        content_hash: format!("xxh3-128:{:032x}", hasher.digest128()),
        bytes: total,
        quote_left_open: odd && !utf16,
    })
}
