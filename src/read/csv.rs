//! CSV exports.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::read::Decoded;
use crate::read::Input;
use crate::read::RawRecord;
use crate::read::RecordSource;
use crate::read::blank_lines::MarkBlankLines;
use crate::read::decoded;
use crate::read::layout;
use crate::read::set_value;
use crate::read::{InputLayout, Overrides, ProblemKind, RecordProblem};
use crate::spec::feeds::FeedDef;
use crate::spec::token::normalize_token;

/// The decoded input, its blank lines marked (see `blank_lines`).
type Marked = BufReader<MarkBlankLines<BufReader<Decoded>>>;

pub(crate) struct CsvSource {
    pub(crate) path: PathBuf,
    pub(crate) reader: ::csv::Reader<std::io::Chain<std::io::Cursor<Vec<u8>>, Marked>>,
    pub(crate) record: ::csv::ByteRecord,
    /// For each input position: the feed column it feeds, if any.
    position_to_column: Vec<Option<usize>>,
    header_names: Vec<String>,
    pub(crate) unknown: Vec<String>,
    pub(crate) columns: usize,
    /// The file holds an odd number of quote characters: its last record
    /// opens a quote that never closes and has swallowed every line after it.
    unclosed_quote: bool,
    /// A record read ahead, to know which record is the last one.
    pub(crate) ahead: Option<::csv::ByteRecord>,
    /// A signature block has begun: every row from it on that lacks data
    /// is footer.
    in_signatures: bool,
    /// Input positions of the feed's required columns.
    required_positions: Vec<usize>,
    layout: InputLayout,
    /// `--exported-at`, for a file without the column: (column, value).
    constant: Option<(usize, String)>,
}

impl CsvSource {
    /// `unclosed_quote`: the file's [`FileScan::quote_left_open`];
    /// `delimiter`: `--delimiter`, else detected with the header row.
    pub fn open(
        path: &Path,
        input: Input,
        feed: &'static FeedDef,
        unclosed_quote: bool,
        overrides: &Overrides,
    ) -> Result<Self> {
        let bad = |reason: String| Error::BadFile {
            path: path.to_path_buf(),
            reason,
        };
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
            return Err(bad("the header row is not valid UTF-8; convert the file to UTF-8 (e.g. iconv -f WINDOWS-1258 -t UTF-8)".into()));
        }
        let exported_at = overrides.exported_at(feed);
        let supplied = exported_at.as_ref().map(|(column, _)| *column);
        let layout = layout::detect(&prefix, feed, overrides.delimiter, supplied).map_err(bad)?;
        // Records end at LF; a CR before it is trimmed with the value. (With
        // CRLF terminators the csv crate reports a record's line one short.)
        let mut reader = ::csv::ReaderBuilder::new()
            .terminator(::csv::Terminator::Any(b'\n'))
            .delimiter(layout.delimiter)
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(1 << 20)
            .from_reader(std::io::Cursor::new(prefix).chain(decoded));
        let mut headers = ::csv::ByteRecord::new();
        for _ in 0..=layout.skipped {
            reader
                .read_byte_record(&mut headers)
                .map_err(|e| bad(format!("cannot read the header row: {e}")))?;
        }
        let header_line = headers.position().map_or(1, |p| p.line());
        if layout.skipped > 0 || layout.delimiter != b',' {
            tracing::info!(
                "{}: header on line {header_line}, fields split on {}; {} row(s) above it skipped",
                path.display(),
                layout::shown(layout.delimiter),
                layout.skipped
            );
        }
        let mut position_to_column = Vec::with_capacity(headers.len());
        let mut header_names = Vec::with_capacity(headers.len());
        let mut unknown = Vec::new();
        let mut seen = HashSet::new();
        let mut mapped: Vec<(usize, String)> = Vec::new();
        for field in headers.iter() {
            let name = std::str::from_utf8(field)
                .map_err(|_| {
                    bad("the header row is not valid UTF-8; convert the file to UTF-8 (e.g. iconv -f WINDOWS-1258 -t UTF-8)".into())
                })?
                .trim()
                .to_lowercase();
            // Empty header cells (merged cells, Excel's trailing columns)
            // name nothing; their values are left out.
            if name.is_empty() {
                position_to_column.push(None);
                header_names.push(name);
                continue;
            }
            if !seen.insert(name.clone()) {
                return Err(bad(format!("the header names column '{name}' twice")));
            }
            let column = feed.column_for_header(&name);
            match column {
                None => unknown.push(name.clone()),
                Some(column) => {
                    if let Some((_, first)) = mapped.iter().find(|(c, _)| *c == column) {
                        return Err(bad(format!(
                            "the header names column {} twice, as '{first}' and '{name}'; keep one",
                            feed.columns[column].name
                        )));
                    }
                    mapped.push((column, name.clone()));
                }
            }
            position_to_column.push(column);
            header_names.push(name);
        }
        let missing: Vec<&str> = feed
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                c.required && !position_to_column.contains(&Some(*i)) && supplied != Some(*i)
            })
            .map(|(_, c)| c.name)
            .collect();
        if !missing.is_empty() {
            return Err(bad(format!(
                "the header lacks required column(s) {} of feed {}",
                missing.join(", "),
                feed.name
            )));
        }
        let layout = InputLayout {
            header_line,
            title_rows: layout.skipped as u64,
            delimiter: layout::shown(layout.delimiter),
            columns: header_names
                .iter()
                .zip(&position_to_column)
                .map(|(h, c)| (h.clone(), c.map(|c| feed.columns[c].name)))
                .collect(),
        };
        // The file's own column wins over --exported-at.
        let constant =
            exported_at.filter(|(column, _)| !position_to_column.contains(&Some(*column)));
        let required_positions = position_to_column
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some_and(|c| feed.columns[c].required))
            .map(|(p, _)| p)
            .collect();
        Ok(CsvSource {
            path: path.to_path_buf(),
            reader,
            record: ::csv::ByteRecord::new(),
            position_to_column,
            header_names,
            unknown,
            columns: feed.columns.len(),
            unclosed_quote,
            ahead: None,
            in_signatures: false,
            required_positions,
            layout,
            constant,
        })
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Footer {
    /// `Tổng cộng`, `Cộng`, `Total`: a totals row (also between groups).
    Totals,
    /// `Người lập biểu`, `Thủ trưởng đơn vị`, `Ký tên`: the rest of the file
    /// is the signature block.
    Signatures,
}

impl CsvSource {
    /// Whether every required column has a value in `record`.
    fn holds_required(&self, record: &::csv::ByteRecord) -> bool {
        self.required_positions
            .iter()
            .all(|&p| record.get(p).is_some_and(|v| !v.trim_ascii().is_empty()))
    }
}

/// Whether a record is a report's footer row: a totals phrase in its first
/// non-empty cell (`Tổng cộng`, `Tổng số …`, `Cộng:`, `Total`; not a name
/// such as `Cộng Hòa` or `Tổng cục Thuế`), or a signature title in its first
/// cell or, in a sparse row (titles stand apart), any cell. Data rows pay
/// one byte test: their first cell is rarely a word.
fn footer_kind(record: &::csv::ByteRecord) -> Option<Footer> {
    // Called for every row: the cells are walked, not collected.
    let cells = || {
        record
            .iter()
            .map(<[u8]>::trim_ascii)
            .filter(|c| !c.is_empty())
    };
    let may_be_title = |c: &[u8]| {
        matches!(
            c.first(),
            Some(b'T' | b't' | b'C' | b'c' | b'N' | b'n' | b'K' | b'k')
        )
    };
    let words = |c: &[u8]| normalize_token(&String::from_utf8_lossy(c));
    // A phrase alone, or followed by ':' (`Cộng: 4 đơn vị`); the two-word
    // phrases also by more words (`Tổng cộng 5 hồ sơ`).
    let is_phrase = |cell: &str, phrase: &str, open: bool| {
        cell.strip_prefix(phrase).is_some_and(|rest| {
            rest.is_empty()
                || rest.starts_with(':')
                || rest.starts_with("_:")
                || (open && rest.starts_with('_'))
        })
    };
    let first = cells().next()?;
    if may_be_title(first) {
        let first = words(first);
        let totals = [
            ("tong_cong", true),
            ("tong_so", true),
            ("tong", false),
            ("cong", false),
            ("total", false),
        ];
        if totals.iter().any(|(p, open)| is_phrase(&first, p, *open)) {
            return Some(Footer::Totals);
        }
    }
    let signature = ["nguoi_lap_bieu", "thu_truong_don_vi", "ky_ten"];
    let titled =
        |c: &[u8]| may_be_title(c) && signature.iter().any(|p| is_phrase(&words(c), p, true));
    let sparse = cells().nth(3).is_none();
    let signed = if sparse {
        cells().any(titled)
    } else {
        titled(first)
    };
    signed.then_some(Footer::Signatures)
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
        rec.reset(self.columns);
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
            if !self
                .record
                .iter()
                .all(|field| field.trim_ascii().is_empty())
            {
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
        // A footer row lacks data: a row holding every required value is
        // data whatever its first cell says.
        let footer = footer_kind(record);
        self.in_signatures |= footer == Some(Footer::Signatures);
        if (footer.is_some() || self.in_signatures) && !self.holds_required(record) {
            rec.problem = Some(RecordProblem {
                column: None,
                reason: "footer".into(),
                kind: ProblemKind::Footer,
            });
            return Ok(true);
        }
        if record.len() != self.position_to_column.len() {
            rec.problem = Some(RecordProblem {
                kind: ProblemKind::Malformed,
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
                            kind: ProblemKind::NotUtf8,
                            column: Some(self.header_names[position].clone()),
                            reason: "the value is not valid UTF-8; convert the file to UTF-8"
                                .into(),
                        });
                    }
                }
            }
        }
        if let Some((column, value)) = &self.constant {
            set_value(&mut rec.text, &mut rec.spans, *column, value);
        }
        Ok(true)
    }

    fn unknown_columns(&self) -> Vec<String> {
        self.unknown.clone()
    }
}
