//! CSV exports.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::read::Decoded;
use crate::read::Input;
use crate::read::RawRecord;
use crate::read::RecordSource;
use crate::read::blank_lines::MarkBlankLines;
use crate::read::chunked::ChunkedCsv;
use crate::read::columns::ColumnMap;
use crate::read::decoded;
use crate::read::footer::is_blank;
use crate::read::layout;
use crate::read::naming::Naming;
use crate::read::{InputLayout, Overrides, ProblemKind, RecordProblem};

const NOT_UTF8: &str = "the header row is not valid UTF-8; convert the file to UTF-8 (e.g. iconv -f WINDOWS-1258 -t UTF-8)";

/// The decoded input, its blank lines marked (see `blank_lines`).
type Marked = BufReader<MarkBlankLines<BufReader<Decoded>>>;

/// How a CSV export's records are read, past its header.
pub(crate) enum CsvBody {
    /// Record by record, on one thread.
    Serial(Box<CsvSource>),
    /// In chunks of whole records, on several.
    Chunked(Box<ChunkedCsv>),
}

/// The input past the header, before it is given its reader.
enum Rest {
    Serial(::csv::Reader<std::io::Chain<std::io::Cursor<Vec<u8>>, Marked>>),
    Chunked {
        head: Vec<u8>,
        rest: Marked,
        lines_before: u64,
    },
}

/// How every CSV record is split: records end at LF (a CR before it is
/// trimmed with the value; with CRLF terminators the csv crate reports a
/// record's line one short), quotes as RFC 4180, rows of any width.
pub(crate) fn reader_builder(delimiter: u8) -> ::csv::ReaderBuilder {
    let mut builder = ::csv::ReaderBuilder::new();
    builder
        .terminator(::csv::Terminator::Any(b'\n'))
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true);
    builder
}

/// The header rows, after the `skipped` rows above them (`rows` in all).
fn read_header<R: Read>(
    reader: &mut ::csv::Reader<R>,
    rows: usize,
    skipped: usize,
    path: &Path,
) -> Result<Vec<layout::Row>> {
    let bad = |reason: String| Error::BadFile {
        path: path.to_path_buf(),
        reason,
    };
    let mut header = Vec::with_capacity(rows - skipped);
    let mut record = ::csv::ByteRecord::new();
    for row in 0..rows {
        reader
            .read_byte_record(&mut record)
            .map_err(|e| bad(format!("cannot read the header row: {e}")))?;
        if row < skipped {
            continue;
        }
        let cells = record
            .iter()
            .map(|c| std::str::from_utf8(c).map(|c| c.trim().to_string()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad(NOT_UTF8.into()))?;
        let line = record.position().map_or(1, |p| p.line());
        header.push(layout::Row { line, cells });
    }
    Ok(header)
}

pub(crate) struct CsvSource {
    pub(crate) path: PathBuf,
    pub(crate) reader: ::csv::Reader<std::io::Chain<std::io::Cursor<Vec<u8>>, Marked>>,
    pub(crate) record: ::csv::ByteRecord,
    columns: ColumnMap,
    /// The file holds an odd number of quote characters: its last record
    /// opens a quote that never closes and has swallowed every line after it.
    unclosed_quote: bool,
    /// A record read ahead, to know which record is the last one.
    pub(crate) ahead: Option<::csv::ByteRecord>,
    layout: InputLayout,
}

impl CsvSource {
    /// Reads the header and returns how to read the records after it, and
    /// the file's layout. `unclosed_quote`: the file's
    /// [`FileScan::quote_left_open`]; the delimiter is `--delimiter`, else
    /// detected with the header row; `chunk_bytes`: the size of the chunks
    /// read on several threads (0: record by record, on one).
    pub fn open(
        path: &Path,
        input: Input,
        naming: &Naming,
        unclosed_quote: bool,
        overrides: &Overrides,
        chunk_bytes: usize,
    ) -> Result<(CsvBody, InputLayout)> {
        let bad = |reason: String| Error::BadFile {
            path: path.to_path_buf(),
            reason,
        };
        let feed = naming.feed;
        let mut decoded = BufReader::with_capacity(
            1 << 20,
            MarkBlankLines::new(BufReader::with_capacity(1 << 16, decoded(input))),
        );
        let prefix = first_lines(&mut decoded, path)?;
        if prefix.iter().all(|b| b.is_ascii_whitespace()) {
            return Err(bad("the file is empty: no header row".into()));
        }
        let first_line = prefix.split(|b| *b == b'\n').next().unwrap_or_default();
        if std::str::from_utf8(first_line).is_err() {
            return Err(bad(NOT_UTF8.into()));
        }
        let exported_at = overrides.exported_at(feed);
        let search = layout::Search {
            naming,
            supplied: exported_at.as_ref().map(|(column, _)| *column),
            at: overrides.header_row,
        };
        let splits = layout::csv_splits(&prefix, overrides.delimiter);
        let found = layout::find(&splits, search).map_err(bad)?;
        let delimiter = splits[found.split].delimiter.unwrap_or(b',');
        let rows = found.skipped + found.header_rows;
        // A file whose header ends within the lines read ahead is read in
        // chunks on several threads; one whose quoting runs to its end (or
        // whose header does not end there) record by record, on one.
        let chunked = (chunk_bytes > 0 && !unclosed_quote)
            .then(|| {
                let mut reader = reader_builder(delimiter).from_reader(prefix.as_slice());
                let header = read_header(&mut reader, rows, found.skipped, path);
                let after = reader.position().byte() as usize;
                let lines_before = reader.position().line() - 1;
                // The header ended before the lines read ahead did: a quoted
                // header cell running past them would be cut short here.
                let ends = after > 0 && after < prefix.len() && prefix[after - 1] == b'\n';
                ends.then_some((header, after, lines_before))
            })
            .flatten();
        let (header, body) = match chunked {
            Some((header, after, lines_before)) => {
                let head = prefix[after..].to_vec();
                (
                    header?,
                    Rest::Chunked {
                        head,
                        rest: decoded,
                        lines_before,
                    },
                )
            }
            None => {
                let mut reader = reader_builder(delimiter)
                    .buffer_capacity(1 << 20)
                    .from_reader(std::io::Cursor::new(prefix).chain(decoded));
                (
                    read_header(&mut reader, rows, found.skipped, path)?,
                    Rest::Serial(reader),
                )
            }
        };
        let header_line = header.first().map_or(1, |r| r.line);
        if found.skipped > 0 || delimiter != b',' || found.header_rows > 1 {
            tracing::info!(
                "{}: header on line {header_line}, fields split on {}; {} row(s) above it skipped",
                path.display(),
                layout::shown(delimiter),
                found.skipped
            );
        }
        let names = layout::header_names(&header, naming);
        let columns = ColumnMap::new(&names, naming, exported_at).map_err(bad)?;
        let layout = InputLayout {
            header_line,
            header_rows: found.header_rows as u64,
            title_rows: found.skipped as u64,
            delimiter: Some(layout::shown(delimiter)),
            sheet: None,
            columns: columns.mapping(),
        };
        let body = match body {
            Rest::Serial(reader) => CsvBody::Serial(Box::new(CsvSource {
                path: path.to_path_buf(),
                reader,
                record: ::csv::ByteRecord::new(),
                columns,
                unclosed_quote,
                ahead: None,
                layout: layout.clone(),
            })),
            Rest::Chunked {
                head,
                rest,
                lines_before,
            } => CsvBody::Chunked(Box::new(ChunkedCsv {
                path: path.to_path_buf(),
                head,
                rest: Box::new(rest),
                lines_before,
                delimiter,
                columns,
                chunk_bytes,
            })),
        };
        Ok((body, layout))
    }

    /// Reads the next record into `self.record`, from the read-ahead first.
    pub(crate) fn read(&mut self) -> Result<bool> {
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
        let mut ahead = ::csv::ByteRecord::new();
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

/// The first lines of the input (at most the header search's rows, and
/// 1 MiB), read ahead to find the header.
fn first_lines(input: &mut Marked, path: &Path) -> Result<Vec<u8>> {
    let mut prefix = Vec::new();
    for _ in 0..layout::HEADER_SEARCH_ROWS + 1 {
        let read = input
            .by_ref()
            .take((1 << 20) as u64)
            .read_until(b'\n', &mut prefix)
            .map_err(|e| Error::io(path, e))?;
        if read == 0 || prefix.len() >= 1 << 20 {
            break;
        }
    }
    Ok(prefix)
}

impl RecordSource for CsvSource {
    fn layout(&self) -> Option<InputLayout> {
        Some(self.layout.clone())
    }

    fn next_record(&mut self, rec: &mut RawRecord) -> Result<bool> {
        rec.reset(self.columns.columns());
        // A blank line in the middle of a file is no record, nor is a row of
        // empty cells (how Excel saves a blank row). (A loop, not recursion:
        // a file of a million blank lines must not blow the stack.)
        let swallowing = loop {
            if !self.read()? {
                return Ok(false);
            }
            if self.unclosed_quote && self.is_last_record()? {
                break true;
            }
            if !is_blank(&self.record) {
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
                kind: ProblemKind::Malformed,
                column: None,
                reason: format!(
                    "a quote opened in this record is never closed: the rest of the file (from line {}) was read as one value; fix the quoting and ingest again",
                    rec.line
                ),
            });
            return Ok(true);
        }
        self.columns.fill(rec);
        Ok(true)
    }

    fn unknown_columns(&self) -> Vec<String> {
        self.columns.unknown.clone()
    }
}
