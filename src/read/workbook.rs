//! Workbook exports: `.xlsx`, `.xlsb`, `.xls` and `.ods`, read with
//! calamine (SPEC §4.5). Each sheet row becomes a record like a CSV line's,
//! numbered as the spreadsheet shows it, so the header search, the footer
//! rows and the column mapping are the CSV reader's own.
//!
//! `.xlsx` and `.xlsb` sheets stream: a thread parses cells into rows while
//! the rows before them are validated, and only the compressed file and the
//! shared strings stay in memory. calamine reads `.xls` (at most 65,536
//! rows) and `.ods` sheets whole.

use std::collections::VecDeque;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use calamine::{Data, DataRef, ExcelDateTime, Range, Reader, Sheets};

use crate::error::{Error, Result};
use crate::read::columns::ColumnMap;
use crate::read::footer::{is_blank, trim_cell};
use crate::read::layout::{self, HEADER_SEARCH_ROWS, Row, Split};
use crate::read::naming::Naming;
use crate::read::{Input, InputLayout, Overrides, RawRecord, RecordSource};

/// The bytes of a workbook: calamine reads it by seeking, and tries each
/// format on a clone of its reader.
type Bytes = Cursor<Arc<[u8]>>;

/// Rows handed from the parsing thread at a time.
const BATCH_ROWS: usize = 4096;

/// What the parsing thread sends.
enum Batch {
    Rows(Vec<::csv::ByteRecord>),
    /// The last rows: the sheet ends after them.
    Last(Vec<::csv::ByteRecord>),
    /// Why the sheet could not be read further.
    Failed(String),
}

pub(crate) struct WorkbookSource {
    path: PathBuf,
    rows: Receiver<Batch>,
    batch: VecDeque<::csv::ByteRecord>,
    /// The last batch has come.
    ended: bool,
    columns: ColumnMap,
    layout: InputLayout,
}

impl WorkbookSource {
    pub(crate) fn open(
        path: &Path,
        mut input: Input,
        naming: &Naming,
        overrides: &Overrides,
    ) -> Result<Self> {
        let bad = |reason: String| Error::BadFile {
            path: path.to_path_buf(),
            reason,
        };
        let mut bytes = Vec::new();
        input
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(path, e))?;
        let bytes = Cursor::new(Arc::<[u8]>::from(bytes));
        let opened = std::panic::catch_unwind(|| calamine::open_workbook_auto_from_rs(bytes));
        let mut book = match opened {
            Ok(Ok(book)) => book,
            Ok(Err(e)) => return Err(bad(format!(
                "cannot read it as a workbook (xlsx, xlsb, xls or ods): {e}; open it in a spreadsheet and save it again, or export CSV"
            ))),
            Err(_) => return Err(bad(
                "cannot read it as a workbook (xlsx, xlsb, xls or ods): the workbook reader failed on it; open it in a spreadsheet and save it again, or export CSV".into(),
            )),
        };
        let exported_at = overrides.exported_at(naming.feed);
        let search = layout::Search {
            naming,
            supplied: exported_at.as_ref().map(|(column, _)| *column),
            at: overrides.header_row,
        };
        let Chosen {
            name: sheet,
            found,
            rows,
            loaded,
        } = choose_sheet(&mut book, overrides.sheet.as_deref(), search).map_err(bad)?;
        let header = &rows[found.skipped..found.skipped + found.header_rows];
        let names = layout::header_names(header, naming);
        let columns = ColumnMap::new(&names, naming, exported_at)
            .map_err(|why| bad(format!("sheet '{sheet}': {why}")))?;
        let layout = InputLayout {
            header_line: header[0].line,
            header_rows: found.header_rows as u64,
            title_rows: found.skipped as u64,
            delimiter: None,
            sheet: Some(sheet.clone()),
            columns: columns.mapping(),
        };
        // Rows resume below the header: rows above it were read already.
        let first_data = header[header.len() - 1].line + 1;
        let (sender, receiver) = sync_channel(4);
        std::thread::Builder::new()
            .name("motcua-sheet".into())
            .spawn(move || send_rows(book, &sheet, loaded, first_data, sender))
            .map_err(|e| Error::io(path, e))?;
        Ok(WorkbookSource {
            path: path.to_path_buf(),
            rows: receiver,
            batch: VecDeque::new(),
            ended: false,
            columns,
            layout,
        })
    }

    /// The next non-blank row, or None at the end of the sheet.
    fn next_row(&mut self) -> Result<Option<::csv::ByteRecord>> {
        loop {
            if let Some(row) = self.batch.pop_front() {
                if is_blank(&row) {
                    continue;
                }
                return Ok(Some(row));
            }
            if self.ended {
                return Ok(None);
            }
            // A thread gone without its last batch failed: never a sheet
            // cut short in silence.
            let batch = self.rows.recv().unwrap_or_else(|_| {
                Batch::Failed("the sheet reader stopped before the end of the sheet".into())
            });
            match batch {
                Batch::Rows(rows) => self.batch.extend(rows),
                Batch::Last(rows) => {
                    self.batch.extend(rows);
                    self.ended = true;
                }
                Batch::Failed(reason) => {
                    return Err(Error::BadFile {
                        path: self.path.clone(),
                        reason,
                    });
                }
            }
        }
    }
}

impl RecordSource for WorkbookSource {
    fn layout(&self) -> Option<InputLayout> {
        Some(self.layout.clone())
    }

    fn next_record(&mut self, rec: &mut RawRecord) -> Result<bool> {
        rec.reset(self.columns.columns());
        let Some(mut row) = self.next_row()? else {
            return Ok(false);
        };
        rec.line = row.position().map_or(0, |p| p.line());
        // Cells right of the header's last one have no header: like a
        // column under an empty header cell, their values are left out
        // (the warning about left-out columns names them).
        let width = self.columns.width();
        if row.len() > width {
            if let Some(extra) = row
                .iter()
                .skip(width)
                .position(|c| !trim_cell(c).is_empty())
            {
                let column = format!("(no header) column {}", column_letters(width + extra));
                if !self.columns.unknown.contains(&column) {
                    self.columns.unknown.push(column);
                }
            }
            row.truncate(width);
        }
        while row.len() < width {
            row.push_field(b"");
        }
        rec.bytes = row;
        self.columns.fill(rec);
        Ok(true)
    }

    fn unknown_columns(&self) -> Vec<String> {
        self.columns.unknown.clone()
    }
}

/// The sheet read, and what its first rows told.
struct Chosen {
    name: String,
    found: layout::Layout,
    /// The rows the header search read.
    rows: Vec<Row>,
    /// The whole sheet, when calamine reads it at once.
    loaded: Option<Range<Data>>,
}

/// The sheet `wanted`, or the first sheet whose first rows hold the header.
fn choose_sheet(
    book: &mut Sheets<Bytes>,
    wanted: Option<&str>,
    search: layout::Search,
) -> std::result::Result<Chosen, String> {
    let names = book.sheet_names();
    let listed = || {
        names
            .iter()
            .map(|n| format!("'{n}'"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(wanted) = wanted
        && !names.iter().any(|n| n == wanted)
    {
        return Err(format!(
            "has no sheet '{wanted}'; its sheets are {}",
            listed()
        ));
    }
    let mut first_reason = None;
    for name in names.iter().filter(|n| wanted.is_none_or(|w| w == *n)) {
        let (rows, loaded) = match guarded(name, || first_rows(book, name)) {
            Ok(read) => read,
            // A chart sheet, or one calamine cannot read: the data may be
            // on the next.
            Err(why) if wanted.is_none() => {
                first_reason.get_or_insert(why);
                continue;
            }
            Err(why) => return Err(why),
        };
        if rows.is_empty() {
            continue;
        }
        let split = [Split {
            delimiter: None,
            rows,
        }];
        match layout::find(&split, search) {
            Ok(found) => {
                let [Split { rows, .. }] = split;
                return Ok(Chosen {
                    name: name.clone(),
                    found,
                    rows,
                    loaded,
                });
            }
            Err(why) => {
                first_reason.get_or_insert_with(|| format!("sheet '{name}': {why}"));
            }
        }
    }
    Err(match first_reason {
        Some(why) if names.len() == 1 || wanted.is_some() => why,
        Some(why) => format!(
            "no sheet holds a header of feed {} ({why}); pass --sheet NAME, one of {}",
            search.naming.feed.name,
            listed()
        ),
        None => "every sheet is empty: no header row".into(),
    })
}

/// The first non-blank rows of sheet `name` (the header search's), and the
/// whole sheet when it is read at once.
fn first_rows(
    book: &mut Sheets<Bytes>,
    name: &str,
) -> std::result::Result<(Vec<Row>, Option<Range<Data>>), String> {
    let mut rows = Vec::new();
    // The first 30 rows of the sheet, as the first 30 lines of a CSV.
    let mut take = |record: ::csv::ByteRecord| {
        let line = record.position().map_or(0, |p| p.line());
        if line > HEADER_SEARCH_ROWS as u64 {
            return false;
        }
        if !is_blank(&record) {
            rows.push(Row {
                line,
                cells: record
                    .iter()
                    .map(|c| String::from_utf8_lossy(c).trim().to_string())
                    .collect(),
            });
        }
        true
    };
    let loaded = match book {
        Sheets::Xlsx(_) | Sheets::Xlsb(_) => {
            stream(book, name, 1, &mut take)?;
            None
        }
        Sheets::Xls(_) | Sheets::Ods(_) => {
            let range = book
                .worksheet_range(name)
                .map_err(|e| cannot_read(name, e))?;
            range_rows(&range, 1, &mut take);
            Some(range)
        }
    };
    Ok((rows, loaded))
}

/// Sends the rows of sheet `name` from row `from` on, in batches, until
/// the sheet ends or the reader hangs up.
fn send_rows(
    mut book: Sheets<Bytes>,
    name: &str,
    loaded: Option<Range<Data>>,
    from: u64,
    sender: SyncSender<Batch>,
) {
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut open = true;
    let mut take = |record: ::csv::ByteRecord| {
        batch.push(record);
        if batch.len() == BATCH_ROWS {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH_ROWS));
            open = sender.send(Batch::Rows(full)).is_ok();
        }
        open
    };
    let read = guarded(name, || match &loaded {
        Some(range) => {
            range_rows(range, from, &mut take);
            Ok(())
        }
        None => stream(&mut book, name, from, &mut take),
    });
    let last = match read {
        Ok(()) => Batch::Last(batch),
        Err(why) => Batch::Failed(why),
    };
    let _ = sender.send(last);
}

/// Streams the rows of an `.xlsx` or `.xlsb` sheet from row `from` (1-based)
/// to `take`, until it returns false.
fn stream(
    book: &mut Sheets<Bytes>,
    name: &str,
    from: u64,
    take: &mut dyn FnMut(::csv::ByteRecord) -> bool,
) -> std::result::Result<(), String> {
    let mut rows = RowBuilder::new(from);
    macro_rules! drain {
        ($reader:expr) => {{
            let mut reader = $reader.map_err(|e| cannot_read(name, e))?;
            while let Some(cell) = reader.next_cell().map_err(|e| cannot_read(name, e))? {
                let (row, column) = cell.get_position();
                if !rows.cell(row, column, |out| ref_text(cell.get_value(), out), take) {
                    return Ok(());
                }
            }
        }};
    }
    match book {
        Sheets::Xlsx(x) => drain!(x.worksheet_cells_reader(name)),
        Sheets::Xlsb(x) => drain!(x.worksheet_cells_reader(name)),
        Sheets::Xls(_) | Sheets::Ods(_) => {
            return Err(cannot_read(name, "this format is read whole, not streamed"));
        }
    }
    rows.finish(take);
    Ok(())
}

/// The rows of a sheet read whole, from row `from` (1-based) on.
fn range_rows(range: &Range<Data>, from: u64, take: &mut dyn FnMut(::csv::ByteRecord) -> bool) {
    let Some((top, left)) = range.start() else {
        return;
    };
    let mut rows = RowBuilder::new(from);
    for (i, cells) in range.rows().enumerate() {
        for (j, cell) in cells.iter().enumerate() {
            if matches!(cell, Data::Empty) {
                continue;
            }
            let (row, column) = (top + i as u32, left + j as u32);
            if !rows.cell(row, column, |out| data_text(cell, out), take) {
                return;
            }
        }
    }
    rows.finish(take);
}

/// Gathers cells, which come row by row, into records: one field per
/// column from A, the record's line the sheet's row number.
struct RowBuilder {
    from: u64,
    row: Option<u32>,
    record: ::csv::ByteRecord,
    text: String,
}

impl RowBuilder {
    fn new(from: u64) -> Self {
        RowBuilder {
            from,
            row: None,
            record: ::csv::ByteRecord::new(),
            text: String::new(),
        }
    }

    /// Adds the cell at (row, column), 0-based, its text written by
    /// `write`; hands a finished row to `take` and returns what it says.
    fn cell(
        &mut self,
        row: u32,
        column: u32,
        write: impl FnOnce(&mut String),
        take: &mut dyn FnMut(::csv::ByteRecord) -> bool,
    ) -> bool {
        if u64::from(row) + 1 < self.from {
            return true;
        }
        if self.row != Some(row) {
            if !self.emit(take) {
                return false;
            }
            self.row = Some(row);
        }
        while self.record.len() < column as usize {
            self.record.push_field(b"");
        }
        self.text.clear();
        write(&mut self.text);
        if self.record.len() == column as usize {
            self.record.push_field(self.text.as_bytes());
        }
        true
    }

    fn emit(&mut self, take: &mut dyn FnMut(::csv::ByteRecord) -> bool) -> bool {
        let Some(row) = self.row.take() else {
            return true;
        };
        let mut position = ::csv::Position::new();
        position.set_line(u64::from(row) + 1);
        // The next row's record starts as large as this one: no regrowth.
        let next =
            ::csv::ByteRecord::with_capacity(self.record.as_slice().len(), self.record.len());
        let mut record = std::mem::replace(&mut self.record, next);
        record.set_position(Some(position));
        take(record)
    }

    fn finish(mut self, take: &mut dyn FnMut(::csv::ByteRecord) -> bool) {
        self.emit(take);
    }
}

/// Runs `read`, turning a panic in the workbook reader (a file it does not
/// expect) into a reason instead of a crash.
fn guarded<T>(
    sheet: &str,
    read: impl FnOnce() -> std::result::Result<T, String>,
) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read)).unwrap_or_else(|_| {
        Err(cannot_read(
            sheet,
            "the workbook reader failed on it; open it in a spreadsheet and save it again",
        ))
    })
}

/// A sheet column's letters as a spreadsheet shows them (0 → A, 26 → AA).
fn column_letters(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        let rem = (n - 1) % 26;
        letters.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    String::from_utf8(letters).unwrap_or_default()
}

fn cannot_read(sheet: &str, e: impl std::fmt::Display) -> String {
    format!("cannot read sheet '{sheet}': {e}")
}

/// A cell as text the value parsers read: Excel's numbers in plain digits,
/// its dates as local ISO times (a date alone when it has no time of day),
/// text as written.
fn ref_text(cell: &DataRef, out: &mut String) {
    match cell {
        DataRef::Int(i) => {
            use std::fmt::Write;
            let _ = write!(out, "{i}");
        }
        DataRef::Float(f) => float_text(*f, out),
        DataRef::String(s) => out.push_str(s),
        DataRef::SharedString(s) => out.push_str(s),
        DataRef::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        DataRef::DateTime(d) => datetime_text(d, out),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => out.push_str(s),
        DataRef::Error(e) => out.push_str(&e.to_string()),
        DataRef::Empty => {}
    }
}

/// [`ref_text`] for a sheet read whole.
fn data_text(cell: &Data, out: &mut String) {
    match cell {
        Data::Int(i) => {
            use std::fmt::Write;
            let _ = write!(out, "{i}");
        }
        Data::Float(f) => float_text(*f, out),
        Data::String(s) => out.push_str(s),
        Data::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Data::DateTime(d) => datetime_text(d, out),
        Data::DateTimeIso(s) | Data::DurationIso(s) => out.push_str(s),
        Data::Error(e) => out.push_str(&e.to_string()),
        Data::Empty => {}
    }
}

/// A whole number without `.0`; others as Rust prints them (never in
/// scientific notation), with a fourth decimal where they have three, so
/// that `2.125` cannot read as two thousand one hundred twenty-five.
fn float_text(f: f64, out: &mut String) {
    use std::fmt::Write;
    if f.fract() == 0.0 && f.abs() < 1e15 {
        let _ = write!(out, "{}", f as i64);
        return;
    }
    let start = out.len();
    let _ = write!(out, "{f}");
    if out[start..]
        .split_once('.')
        .is_some_and(|(_, decimals)| decimals.len() == 3)
    {
        out.push('0');
    }
}

/// `n` in at least `width` digits, zeros in front (a date's fields: written
/// for millions of cells, without the formatting machinery).
fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let (mut n, mut i) = (n, digits.len());
    while n > 0 || digits.len() - i < width {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out.extend(digits[i..].iter().map(|d| *d as char));
}

/// A date cell as local time, in the 1900 or 1904 date system the workbook
/// uses; a duration (`[h]:mm`) as its number of days.
fn datetime_text(d: &ExcelDateTime, out: &mut String) {
    if d.is_duration() {
        float_text(d.as_f64(), out);
        return;
    }
    let (year, month, day, hour, minute, second, milli) = d.to_ymd_hms_milli();
    push_digits(out, year.into(), 4);
    for (sep, n) in [('-', month), ('-', day)] {
        out.push(sep);
        push_digits(out, n.into(), 2);
    }
    if (hour, minute, second, milli) != (0, 0, 0, 0) {
        for (sep, n) in [(' ', hour), (':', minute), (':', second)] {
            out.push(sep);
            push_digits(out, n.into(), 2);
        }
        if milli != 0 {
            out.push('.');
            push_digits(out, milli.into(), 3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::ExcelDateTimeType;

    fn text(d: ExcelDateTime) -> String {
        let mut out = String::new();
        datetime_text(&d, &mut out);
        out
    }

    #[test]
    fn cells_read_as_the_value_parsers_expect() {
        let at = |serial, is_1904| ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, is_1904);
        // 2025-03-05 08:15 in both date systems, and a day alone.
        assert_eq!(text(at(45721.34375, false)), "2025-03-05 08:15:00");
        assert_eq!(text(at(45721.34375 - 1462.0, true)), "2025-03-05 08:15:00");
        assert_eq!(text(at(45721.0, false)), "2025-03-05");
        assert_eq!(
            text(at(45721.5 + 0.0005 / 86.4, false)),
            "2025-03-05 12:00:00.500"
        );
        let mut out = String::new();
        for f in [1_500_000.0, 0.805, 2.125, 0.5, -3.0, 1e20] {
            float_text(f, &mut out);
            out.push('|');
        }
        assert_eq!(out, "1500000|0.8050|2.1250|0.5|-3|100000000000000000000|");
        let mut digits = String::new();
        push_digits(&mut digits, 7, 2);
        push_digits(&mut digits, 2025, 4);
        push_digits(&mut digits, 0, 3);
        assert_eq!(digits, "072025000");
        let letters: Vec<String> = [0, 11, 25, 26, 701].map(column_letters).to_vec();
        assert_eq!(letters, ["A", "L", "Z", "AA", "ZZ"]);
    }
}
