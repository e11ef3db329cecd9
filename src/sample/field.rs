//! The same activity as a one-stop-shop report screen exports it (SPEC
//! §4.5): a tracking book (`.xlsx`) with title rows, a two-row header, date
//! and number cells, Vietnamese headers and values, a totals row and a
//! signature block — or the same rows as a CSV saved by Excel in a
//! Vietnamese locale (`;`, a BOM, day-first dates, `1.500.000`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Timelike};
use rust_xlsxwriter::{ExcelDateTime, Format, FormatAlign, Workbook, Worksheet, XlsxError};

use crate::error::{Error, Result};
use crate::sample::format::{format_date, format_fee};
use crate::sample::units::Unit;

/// Data rows in one workbook: Excel's sheets end at 1,048,576 rows, and a
/// report screen splits a longer export into several books.
pub(crate) const BOOK_ROWS: u64 = 1_000_000;

/// One exported snapshot of a dossier, typed: what either style writes.
pub(crate) struct Snapshot<'a> {
    pub(crate) id: &'a str,
    pub(crate) procedure: &'a str,
    pub(crate) unit: &'a str,
    pub(crate) channel: &'static str,
    pub(crate) online_level: &'static str,
    pub(crate) status: &'a str,
    /// Local seconds.
    pub(crate) received: i64,
    /// The deadline, and whether the office gives it as a day.
    pub(crate) due: Option<(i64, bool)>,
    pub(crate) completed: Option<i64>,
    pub(crate) returned: Option<i64>,
    pub(crate) updated: i64,
    /// processed_online, digitized, e_result, applicant_signed, result_signed.
    pub(crate) flags: [bool; 5],
    pub(crate) fee: i64,
    pub(crate) payment: Option<&'static str>,
    pub(crate) paid_online: bool,
    pub(crate) satisfaction: Option<&'static str>,
    pub(crate) applicant_id: &'a str,
    pub(crate) citizen: bool,
}

/// The columns after STT: (group above, name); a group spans the names
/// below it in a two-row header.
const COLUMNS: [(&str, &str); 22] = [
    ("", "Mã hồ sơ"),
    ("", "Mã thủ tục"),
    ("", "Mã đơn vị"),
    ("", "Hình thức nộp"),
    ("", "Mức độ"),
    ("", "Trạng thái"),
    ("Ngày", "Tiếp nhận"),
    ("Ngày", "Hẹn trả"),
    ("Ngày", "Có kết quả"),
    ("Ngày", "Trả kết quả"),
    ("Ngày", "Cập nhật"),
    ("", "Xử lý trên môi trường mạng"),
    ("", "Số hóa"),
    ("", "Kết quả điện tử"),
    ("", "Hồ sơ có ký số"),
    ("", "Kết quả có ký số"),
    ("", "Phí, lệ phí"),
    ("", "Hình thức thanh toán"),
    ("", "Thanh toán trực tuyến"),
    ("", "Mức độ hài lòng"),
    ("", "Số CCCD"),
    ("", "Loại đối tượng"),
];

const TITLE: &str = "SỔ THEO DÕI HỒ SƠ";
const PERIOD: &str = "Từ ngày 01/01/2024 đến ngày 31/01/2025";

fn channel(c: &str) -> &'static str {
    match c {
        "online" => "Trực tuyến",
        "postal" => "Bưu chính công ích",
        _ => "Trực tiếp",
    }
}

fn online_level(l: &str) -> &'static str {
    match l {
        "full" => "Mức độ 4",
        "partial" => "Mức độ 3",
        _ => "Mức độ 2",
    }
}

fn status(s: &str) -> &'static str {
    match s {
        "received" => "Đã tiếp nhận",
        "in_progress" => "Đang xử lý",
        "resolved" => "Đã giải quyết",
        "returned" => "Đã trả kết quả",
        "withdrawn" => "Đã rút",
        _ => "Từ chối",
    }
}

fn payment(p: &str) -> &'static str {
    match p {
        "cash" => "Tiền mặt",
        "bank_transfer" => "Chuyển khoản",
        "card" => "Thẻ",
        "e_wallet" => "Ví điện tử",
        _ => "Nền tảng thanh toán",
    }
}

fn satisfaction(s: &str) -> &'static str {
    match s {
        "very_satisfied" => "Rất hài lòng",
        "satisfied" => "Hài lòng",
        "neutral" => "Bình thường",
        _ => "Không hài lòng",
    }
}

fn yes_no(v: bool) -> &'static str {
    if v { "Có" } else { "Không" }
}

/// The text cells of a snapshot that are the same in both styles.
fn texts<'a>(s: &'a Snapshot) -> [&'a str; 8] {
    [
        channel(s.channel),
        online_level(s.online_level),
        status(s.status),
        s.payment.map_or("", payment),
        yes_no(s.paid_online),
        s.satisfaction.map_or("", satisfaction),
        s.applicant_id,
        if s.citizen {
            "Công dân"
        } else {
            "Doanh nghiệp"
        },
    ]
}

/// Local seconds as a day-first time, seconds included (`05/03/2025 08:15:09`).
fn day_first(secs: i64, with_time: bool) -> String {
    let mut text = String::new();
    format_date(secs, &mut text);
    if with_time {
        let t = DateTime::from_timestamp(secs, 0)
            .unwrap_or_default()
            .naive_utc();
        text.push_str(&format!(
            " {:02}:{:02}:{:02}",
            t.hour(),
            t.minute(),
            t.second()
        ));
    }
    text
}

/// The tracking book: one `.xlsx` per [`BOOK_ROWS`] rows, written row by
/// row in rust_xlsxwriter's constant-memory mode.
pub(crate) struct BookWriter {
    out: PathBuf,
    book: Option<(Workbook, PathBuf)>,
    /// Data rows in the open book.
    rows: u64,
    paths: Vec<PathBuf>,
    date: Format,
    datetime: Format,
    header: Format,
}

impl BookWriter {
    pub(crate) fn new(out: &Path) -> Self {
        BookWriter {
            out: out.to_path_buf(),
            book: None,
            rows: 0,
            paths: Vec::new(),
            date: Format::new().set_num_format("dd/mm/yyyy"),
            datetime: Format::new().set_num_format("dd/mm/yyyy hh:mm:ss"),
            header: Format::new()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_text_wrap(),
        }
    }

    /// Begins a new book when none is open.
    fn open(&mut self) -> Result<()> {
        if self.book.is_some() {
            return Ok(());
        }
        let n = self.paths.len() + 1;
        let name = if n == 1 {
            "dossiers.xlsx".to_string()
        } else {
            format!("dossiers-{n}.xlsx")
        };
        let path = self.out.join(name);
        let mut book = Workbook::new();
        book.add_worksheet_with_constant_memory()
            .and_then(|sheet| begin_sheet(sheet, &self.header))
            .map_err(|e| xlsx_error(&path, e))?;
        self.paths.push(path.clone());
        self.book = Some((book, path));
        self.rows = 0;
        Ok(())
    }

    pub(crate) fn write(&mut self, s: &Snapshot) -> Result<()> {
        self.open()?;
        let Some((book, path)) = self.book.as_mut() else {
            return Ok(());
        };
        let row = FIRST_DATA_ROW + self.rows as u32;
        book.worksheet_from_index(0)
            .and_then(|sheet| {
                write_book_row(sheet, row, self.rows + 1, s, &self.date, &self.datetime)
            })
            .map_err(|e| xlsx_error(path, e))?;
        self.rows += 1;
        if self.rows == BOOK_ROWS {
            self.close()?;
        }
        Ok(())
    }

    /// Writes the open book's footer and saves it.
    fn close(&mut self) -> Result<()> {
        let rows = self.rows;
        let Some((mut book, path)) = self.book.take() else {
            return Ok(());
        };
        let footer = book
            .worksheet_from_index(0)
            .and_then(|sheet| end_sheet(sheet, FIRST_DATA_ROW + rows as u32, rows));
        footer
            .and_then(|()| book.save(&path))
            .map_err(|e| xlsx_error(&path, e))
    }

    /// Writes the last book's footer and saves it; the books' paths.
    pub(crate) fn finish(mut self) -> Result<Vec<PathBuf>> {
        if self.paths.is_empty() {
            self.open()?;
        }
        self.close()?;
        Ok(self.paths)
    }
}

fn xlsx_error(path: &Path, e: XlsxError) -> Error {
    Error::io(path, std::io::Error::other(e.to_string()))
}

/// The sheet row (0-based) of the first data row: below two title rows, a
/// blank row and the two header rows.
const FIRST_DATA_ROW: u32 = 5;

/// Titles and the two-row header: `Ngày` merged above its five dates, the
/// other names in the upper row. (Constant-memory mode writes rows in
/// order: no cell merged down both rows.)
fn begin_sheet(sheet: &mut Worksheet, header: &Format) -> std::result::Result<(), XlsxError> {
    sheet.set_name("Sổ theo dõi")?;
    let last = COLUMNS.len() as u16;
    let title = Format::new().set_bold().set_align(FormatAlign::Center);
    sheet.merge_range(0, 0, 0, last, TITLE, &title)?;
    sheet.merge_range(
        1,
        0,
        1,
        last,
        PERIOD,
        &Format::new().set_align(FormatAlign::Center),
    )?;
    sheet.write_string_with_format(3, 0, "STT", header)?;
    let groups: Vec<&[(&str, &str)]> = COLUMNS
        .chunk_by(|a, b| a.0 == b.0 && !a.0.is_empty())
        .collect();
    let mut column = 1u16;
    for group in &groups {
        let width = group.len() as u16;
        match group[0] {
            ("", name) => sheet.write_string_with_format(3, column, name, header)?,
            (name, _) => sheet.merge_range(3, column, 3, column + width - 1, name, header)?,
        };
        column += width;
    }
    let mut column = 1u16;
    for group in &groups {
        for (i, (above, below)) in group.iter().enumerate() {
            if !above.is_empty() {
                sheet.write_string_with_format(4, column + i as u16, *below, header)?;
            }
        }
        column += group.len() as u16;
    }
    Ok(())
}

/// The totals row and the signature block below the data.
fn end_sheet(sheet: &mut Worksheet, row: u32, rows: u64) -> std::result::Result<(), XlsxError> {
    sheet.write_string(row, 0, format!("Tổng cộng: {rows} hồ sơ"))?;
    sheet.write_string(row + 2, 2, "Người lập biểu")?;
    sheet.write_string(row + 2, 12, "Thủ trưởng đơn vị")?;
    sheet.write_string(row + 3, 2, "(Ký, ghi rõ họ tên)")?;
    sheet.write_string(row + 3, 12, "(Ký tên, đóng dấu)")?;
    Ok(())
}

fn write_book_row(
    sheet: &mut Worksheet,
    row: u32,
    stt: u64,
    s: &Snapshot,
    date: &Format,
    datetime: &Format,
) -> std::result::Result<(), XlsxError> {
    let [
        channel,
        level,
        status,
        payment,
        paid_online,
        satisfaction,
        applicant,
        kind,
    ] = texts(s);
    sheet.write_number(row, 0, stt as f64)?;
    for (column, text) in [(1, s.id), (2, s.procedure), (3, s.unit)] {
        sheet.write_string(row, column, text)?;
    }
    for (column, text) in [(4, channel), (5, level), (6, status)] {
        sheet.write_string(row, column, text)?;
    }
    let mut time = |column: u16, secs: Option<i64>, as_day: bool| match secs {
        Some(secs) => write_time(sheet, row, column, secs, as_day, date, datetime),
        None => Ok(()),
    };
    time(7, Some(s.received), false)?;
    time(8, s.due.map(|(d, _)| d), s.due.is_some_and(|(_, day)| day))?;
    time(9, s.completed, false)?;
    time(10, s.returned, false)?;
    time(11, Some(s.updated), false)?;
    for (i, flag) in s.flags.iter().enumerate() {
        sheet.write_string(row, 12 + i as u16, yes_no(*flag))?;
    }
    sheet.write_number(row, 17, s.fee as f64)?;
    for (column, text) in [(18, payment), (19, paid_online), (20, satisfaction)] {
        if !text.is_empty() {
            sheet.write_string(row, column, text)?;
        }
    }
    // IDs as text: a number cell would drop the leading zeros.
    if !applicant.is_empty() {
        sheet.write_string(row, 21, applicant)?;
    }
    sheet.write_string(row, 22, kind)?;
    Ok(())
}

/// A date cell; a time at exactly midnight is written as text, since a
/// date cell without a time of day reads as a whole day.
fn write_time(
    sheet: &mut Worksheet,
    row: u32,
    column: u16,
    secs: i64,
    as_day: bool,
    date: &Format,
    datetime: &Format,
) -> std::result::Result<(), XlsxError> {
    let t = DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc();
    if !as_day && t.num_seconds_from_midnight() == 0 {
        sheet.write_string(row, column, day_first(secs, true))?;
        return Ok(());
    }
    let day = ExcelDateTime::from_ymd(t.year() as u16, t.month() as u8, t.day() as u8)?;
    if as_day {
        sheet.write_datetime_with_format(row, column, &day, date)?;
    } else {
        let at = day.and_hms(t.hour() as u16, t.minute() as u8, t.second() as f64)?;
        sheet.write_datetime_with_format(row, column, &at, datetime)?;
    }
    Ok(())
}

/// The same rows as a CSV saved by Excel in a Vietnamese locale.
pub(crate) struct FieldCsv {
    path: PathBuf,
    writer: csv::Writer<BufWriter<File>>,
    rows: u64,
}

impl FieldCsv {
    pub(crate) fn create(out: &Path) -> Result<Self> {
        let path = out.join("dossiers.csv");
        let mut file = BufWriter::with_capacity(
            1 << 20,
            File::create(&path).map_err(|e| Error::io(&path, e))?,
        );
        // Excel's "CSV UTF-8" starts with a BOM.
        file.write_all("\u{feff}".as_bytes())
            .map_err(|e| Error::io(&path, e))?;
        let mut writer = semicolon_writer(file);
        let width = COLUMNS.len() + 1;
        let mut line = |cells: Vec<String>| writer.write_record(pad(cells, width));
        let header = std::iter::once("STT".to_string())
            .chain(COLUMNS.iter().map(|(group, name)| joined(group, name)))
            .collect();
        line(vec![TITLE.into()])
            .and_then(|()| line(vec![PERIOD.into()]))
            .and_then(|()| line(vec![]))
            .and_then(|()| line(header))
            .map_err(|e| crate::sample::csv_error(&path, e))?;
        Ok(FieldCsv {
            path,
            writer,
            rows: 0,
        })
    }

    pub(crate) fn write(&mut self, s: &Snapshot) -> Result<()> {
        let [
            channel,
            level,
            status,
            payment,
            paid_online,
            satisfaction,
            applicant,
            kind,
        ] = texts(s);
        self.rows += 1;
        let time = |secs: Option<i64>, with_time: bool| {
            secs.map(|s| day_first(s, with_time)).unwrap_or_default()
        };
        let [p, d, e, a, r] = s.flags.map(yes_no);
        let record: [&str; 23] = [
            &self.rows.to_string(),
            s.id,
            s.procedure,
            s.unit,
            channel,
            level,
            status,
            &time(Some(s.received), true),
            &time(s.due.map(|(d, _)| d), s.due.is_some_and(|(_, day)| !day)),
            &time(s.completed, true),
            &time(s.returned, true),
            &time(Some(s.updated), true),
            p,
            d,
            e,
            a,
            r,
            &format_fee(s.fee, 7),
            payment,
            paid_online,
            satisfaction,
            applicant,
            kind,
        ];
        self.writer
            .write_record(record)
            .map_err(|e| crate::sample::csv_error(&self.path, e))
    }

    /// Writes the footer and flushes the file; its path.
    pub(crate) fn finish(mut self) -> Result<PathBuf> {
        let width = COLUMNS.len() + 1;
        let rows = self.rows;
        let mut line = |cells: Vec<&str>| {
            let cells = cells.into_iter().map(String::from).collect();
            self.writer.write_record(pad(cells, width))
        };
        line(vec![&format!("Tổng cộng: {rows} hồ sơ")])
            .and_then(|()| line(vec![]))
            .and_then(|()| line(vec!["", "", "Người lập biểu"]))
            .and_then(|()| line(vec!["", "", "(Ký, ghi rõ họ tên)"]))
            .map_err(|e| crate::sample::csv_error(&self.path, e))?;
        self.writer.flush().map_err(|e| Error::io(&self.path, e))?;
        Ok(self.path)
    }
}

/// A group and a name as one header (`Ngày tiếp nhận`).
fn joined(group: &str, name: &str) -> String {
    if group.is_empty() {
        name.to_string()
    } else {
        format!("{group} {}", name.to_lowercase())
    }
}

/// Excel writes every row of a sheet as wide as the widest.
fn pad(mut cells: Vec<String>, width: usize) -> Vec<String> {
    cells.resize(width, String::new());
    cells
}

pub(crate) fn semicolon_writer<W: Write>(w: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(w)
}

/// The units register as a province office keeps it: `;`, titles, the
/// levels in Vietnamese, populations grouped, a footer.
pub(crate) fn write_units(path: &Path, units: &[Unit]) -> Result<u64> {
    let file = File::create(path).map_err(|e| Error::io(path, e))?;
    let mut file = BufWriter::new(file);
    file.write_all("\u{feff}".as_bytes())
        .map_err(|e| Error::io(path, e))?;
    let mut w = semicolon_writer(file);
    let err = |e| crate::sample::csv_error(path, e);
    let width = 8;
    w.write_record(pad(vec!["DANH MỤC ĐƠN VỊ HÀNH CHÍNH".into()], width))
        .map_err(err)?;
    w.write_record([
        "STT",
        "Mã đơn vị",
        "Tên đơn vị",
        "Cấp",
        "Mã đơn vị cấp trên",
        "Dân số trưởng thành",
        "Hiệu lực từ",
        "Hết hiệu lực từ",
    ])
    .map_err(err)?;
    for (i, unit) in units.iter().enumerate() {
        let parent = unit.parent.map(|p| units[p].code.as_str()).unwrap_or("");
        let adults = unit
            .adults
            .map(|a| format_fee(a as i64, 7))
            .unwrap_or_default();
        w.write_record([
            &(i + 1).to_string(),
            unit.code.as_str(),
            &unit.name,
            level(unit),
            parent,
            &adults,
            &unit.from.map(|t| day_first(t, false)).unwrap_or_default(),
            &unit.to.map(|t| day_first(t, false)).unwrap_or_default(),
        ])
        .map_err(err)?;
    }
    w.write_record(pad(vec![format!("Cộng: {} đơn vị", units.len())], width))
        .map_err(err)?;
    w.flush().map_err(|e| Error::io(path, e))?;
    Ok(units.len() as u64)
}

/// A unit's level as the register writes it, from its name.
fn level(unit: &Unit) -> &'static str {
    let name = unit.name.as_str();
    match unit.level {
        "province" if name.starts_with("Thành phố") || name == "Hà Nội" => {
            "Thành phố trực thuộc trung ương"
        }
        "province" => "Tỉnh",
        "district" if name.starts_with("Quận") => "Quận",
        "district" if name.starts_with("Thị xã") => "Thị xã",
        "district" if name.starts_with("Thành phố") => "Thành phố thuộc tỉnh",
        "district" => "Huyện",
        "commune" if name.starts_with("Phường") => "Phường",
        "commune" if name.starts_with("Thị trấn") => "Thị trấn",
        "commune" => "Xã",
        _ => "Sở",
    }
}
