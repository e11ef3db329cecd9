//! Reading raw records from CSV, NDJSON and workbook exports, one at a
//! time, with the line (or sheet row) each starts on. Values come out as
//! trimmed text aligned to a feed's columns; typing and validation happen
//! in `validate`.

mod blank_lines;
mod chunked;
mod columns;
mod csv;
mod footer;
mod layout;
pub(crate) mod naming;
mod ndjson;
mod profile;
mod read_ahead;
mod record_ends;
mod scan;
mod workbook;

pub(crate) use csv::{CsvBody, CsvSource};
pub(crate) use ndjson::NdjsonSource;
pub use profile::Profile;
pub(crate) use read_ahead::*;
pub(crate) use scan::*;
pub(crate) use workbook::WorkbookSource;

use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::Path;

use encoding_rs_io::{DecodeReaderBytes, DecodeReaderBytesBuilder};

use crate::error::{Error, Result};
use crate::read::naming::Naming;
use crate::spec::feeds::FeedDef;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
    /// An Excel or OpenDocument workbook: xlsx, xlsb, xls or ods.
    Workbook,
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "ndjson" | "jsonl" | "json" => Ok(Format::Ndjson),
            "workbook" | "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" | "excel" => Ok(Format::Workbook),
            _ => Err(Error::Usage(format!(
                "unknown format '{s}'; use csv, ndjson or workbook"
            ))),
        }
    }
}

/// Extensions of workbook files.
const WORKBOOK_EXTENSIONS: [&str; 5] = ["xlsx", "xlsm", "xlsb", "xls", "ods"];

impl Format {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Workbook => "workbook",
        }
    }

    /// How to read `path`: a workbook by its content whatever its name
    /// (SPEC §4.5), else `forced` (`--format`), else its extension.
    pub(crate) fn of(path: &Path, scan: &FileScan, forced: Option<Format>) -> Result<Self> {
        let bad = |reason: String| Error::BadFile {
            path: path.to_path_buf(),
            reason,
        };
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase());
        if let Some(container) = scan.container {
            return match forced {
                None | Some(Format::Workbook) => Ok(Format::Workbook),
                Some(other) => Err(bad(format!(
                    "it is a workbook ({}), not {}: drop --format {}, motcua reads workbooks",
                    container.describe(),
                    other.name(),
                    other.name()
                ))),
            };
        }
        if let Some(format) = forced {
            return match format {
                Format::Workbook => Err(bad(not_a_workbook(scan))),
                other => Ok(other),
            };
        }
        match ext.as_deref() {
            Some("csv") | Some("txt") | Some("tsv") => Ok(Format::Csv),
            Some("ndjson") | Some("jsonl") | Some("json") => Ok(Format::Ndjson),
            Some(ext) if WORKBOOK_EXTENSIONS.contains(&ext) => Err(bad(format!(
                "it is named .{ext} but {}",
                not_a_workbook(scan)
            ))),
            _ => Err(bad(
                "cannot tell the format from the file name; pass --format csv, ndjson or workbook"
                    .into(),
            )),
        }
    }
}

/// Why a file of text is no workbook, and what to do.
fn not_a_workbook(scan: &FileScan) -> String {
    if scan.starts_with_markup {
        "its content is an HTML page, not a workbook (some systems export web tables as .xls); open it in a spreadsheet and save it as .xlsx".into()
    } else {
        "its content is text, not a workbook; if it is CSV, pass --format csv".into()
    }
}

/// A problem with a whole record, found before any value is parsed.
#[derive(Debug, Clone)]
pub(crate) struct RecordProblem {
    pub column: Option<String>,
    pub reason: String,
    pub(crate) kind: ProblemKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProblemKind {
    /// Not a well-formed record (field count, quoting, JSON).
    Malformed,
    /// The bytes are not UTF-8: a sign the whole file is in another encoding.
    NotUtf8,
    /// A totals row or signature block below the data (SPEC §4.5).
    Footer,
}

/// One record: its line, its values aligned to the feed's columns, and the
/// raw text for quarantine. Reused from record to record to avoid allocation.
#[derive(Debug, Default)]
pub(crate) struct RawRecord {
    pub line: u64,
    pub(crate) text: String,
    /// Per feed column: where its trimmed value lies in `text`, if present.
    pub(crate) spans: Vec<Option<Range<usize>>>,
    /// The raw text of an NDJSON record, for quarantine.
    pub(crate) raw: String,
    /// The fields of a CSV record as read, for quarantine.
    pub(crate) bytes: ::csv::ByteRecord,
    pub(crate) problem: Option<RecordProblem>,
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
    pub(crate) fn raw_text(&self) -> String {
        if self.bytes.is_empty() {
            return self.raw.clone();
        }
        let mut writer = ::csv::WriterBuilder::new()
            .terminator(::csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let _ = writer.write_byte_record(&self.bytes);
        let bytes = writer.into_inner().unwrap_or_default();
        String::from_utf8_lossy(&bytes).trim_end().to_string()
    }

    pub(crate) fn reset(&mut self, columns: usize) {
        self.text.clear();
        self.raw.clear();
        self.bytes.clear();
        self.spans.clear();
        self.spans.resize(columns, None);
        self.problem = None;
    }

    pub(crate) fn set(&mut self, column: usize, value: &str) {
        set_value(&mut self.text, &mut self.spans, column, value);
    }
}

/// Appends column `column`'s trimmed value to a record's text.
pub(crate) fn set_value(
    text: &mut String,
    spans: &mut [Option<Range<usize>>],
    column: usize,
    value: &str,
) {
    let value = value.trim();
    let start = text.len();
    text.push_str(value);
    spans[column] = Some(start..text.len());
}

/// Opens a file, decoding UTF-16 (with BOM) to UTF-8 and dropping a UTF-8
/// BOM; other bytes pass through untouched so invalid UTF-8 can be reported
/// per record rather than failing the file.
pub(crate) fn decoded(input: Input) -> Decoded {
    DecodeReaderBytesBuilder::new()
        .bom_sniffing(true)
        .strip_bom(true)
        .utf8_passthru(true)
        .build(input)
}

/// The bytes of one export: a file, or memory (fuzzing, tests).
pub(crate) type Input = Box<dyn Read + Send>;
pub(crate) type Decoded = DecodeReaderBytes<Input, Vec<u8>>;

/// Opens `path` as an [`Input`].
pub(crate) fn open_input(path: &Path) -> Result<Input> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(Box::new(file))
}

/// How a CSV or workbook export was read: where its header was, what split
/// its fields, and which feed column each export header fed (`ingest
/// --dry-run` prints it).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InputLayout {
    /// The line (or sheet row) of the header row.
    pub header_line: u64,
    /// 2 for a header whose group cells stand above its column names.
    pub header_rows: u64,
    /// Title rows above the header, skipped.
    pub title_rows: u64,
    /// A CSV file's delimiter, as a message names it (`';'`, `tab`).
    pub delimiter: Option<String>,
    /// A workbook's sheet read.
    pub sheet: Option<String>,
    /// Each export header and the feed column it fed (None: left out).
    pub columns: Vec<(String, Option<&'static str>)>,
}

impl InputLayout {
    /// Whether it says more than "a plain CSV with the feed's own headers".
    pub fn is_notable(&self) -> bool {
        self.title_rows > 0
            || self.header_rows > 1
            || self.sheet.is_some()
            || self.delimiter.as_deref().is_some_and(|d| d != "','")
            || self
                .columns
                .iter()
                .any(|(header, column)| Some(header.as_str()) != *column)
    }
}

/// What the command line says about how to read a file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    /// `--delimiter`: splits CSV fields, instead of the one detected.
    pub(crate) delimiter: Option<u8>,
    /// `--exported-at`: the `updated_at` of every row of an export that has
    /// none (a tracking book is a snapshot taken when it was exported).
    pub(crate) exported_at: Option<String>,
    /// `--sheet`: the workbook sheet read, instead of the first with a header.
    pub(crate) sheet: Option<String>,
    /// A profile's `header_row`: the header's line, not searched for.
    pub(crate) header_row: Option<u64>,
    /// `--profile`: how this office's export names columns and values.
    pub(crate) profile: Option<std::sync::Arc<Profile>>,
    /// The units registry by name, for exports that name units.
    pub(crate) unit_names: Option<std::sync::Arc<naming::UnitNames>>,
    /// The size of the chunks a CSV file is cut into to be parsed on
    /// several threads (0: record by record on one; None: the default).
    /// Tests cut small ones.
    pub(crate) chunk_bytes: Option<usize>,
}

impl Overrides {
    /// The column `--exported-at` fills and its text, for `feed`.
    pub(crate) fn exported_at(&self, feed: &FeedDef) -> Option<(usize, String)> {
        let (_, version) = feed.current_by?;
        Some((feed.column_index(version)?, self.exported_at.clone()?))
    }
}

/// A source of records for one feed.
pub(crate) trait RecordSource: Send {
    /// How the file was laid out, for sources that find out.
    fn layout(&self) -> Option<InputLayout> {
        None
    }
    /// Fills `rec` with the next record; false at the end of the file.
    fn next_record(&mut self, rec: &mut RawRecord) -> Result<bool>;
    /// Input columns the feed does not know, kept out of the lake (complete
    /// once every record has been read).
    fn unknown_columns(&self) -> Vec<String>;
}

/// Opens a record source over `input`; `path` names it in messages and
/// `scan` is its [`scan`]. The records are split, decoded and handed to a
/// `prepare` made by `make_prepare` on threads of their own (see
/// [`ReadAhead`]): a CSV file's in chunks on one thread per core, other
/// files' on one.
pub(crate) fn open<T: Send + 'static, P>(
    path: &Path,
    input: Input,
    format: Format,
    feed: &'static FeedDef,
    scan: &FileScan,
    overrides: &Overrides,
    make_prepare: impl Fn() -> P,
) -> Result<(ReadAhead<T>, Option<InputLayout>)>
where
    P: FnMut(&RawRecord) -> T + Send + 'static,
{
    let naming = Naming {
        unit_names: overrides.unit_names.clone(),
        ..Naming::new(feed, overrides.profile.clone())
    };
    let source: Box<dyn RecordSource> = match format {
        Format::Csv => {
            let chunk_bytes = overrides.chunk_bytes.unwrap_or(chunked::CHUNK_BYTES);
            let (body, layout) = CsvSource::open(
                path,
                input,
                &naming,
                scan.quote_left_open,
                overrides,
                chunk_bytes,
            )?;
            match body {
                CsvBody::Serial(source) => source,
                CsvBody::Chunked(chunked) => {
                    return Ok(((*chunked).spawn(make_prepare), Some(layout)));
                }
            }
        }
        Format::Ndjson => Box::new(NdjsonSource::open(path, input, naming, overrides)),
        Format::Workbook => Box::new(WorkbookSource::open(path, input, &naming, overrides)?),
    };
    let layout = source.layout();
    Ok((ReadAhead::spawn(path, source, make_prepare()), layout))
}
