//! Workbook exports (SPEC §4.5): a tracking book as a one-stop-shop report
//! screen saves it, built here with rust_xlsxwriter so that it is the same
//! on every run, read by `motcua ingest` with exact outcomes.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};

const SHEET: &str = "Sổ theo dõi";

/// A cell's value in the tracking book.
enum V {
    Text(&'static str),
    Number(f64),
    /// A date cell: (y, m, d, h, min) shown as dd/mm/yyyy hh:mm.
    Date(u16, u8, u8, u16, u8),
    Empty,
}
use V::{Date, Empty, Number, Text};

/// The data rows, from sheet row 6: STT, Mã hồ sơ, Mã thủ tục, Mã đơn vị,
/// Hình thức nộp, Mức độ, Ngày {Tiếp nhận, Hẹn trả, Có kết quả}, Trạng
/// thái, Phí.
fn data_rows() -> Vec<[V; 11]> {
    vec![
        // Date cells as Excel stores them; a whole-number fee cell.
        [
            Number(1.0),
            Text("H1"),
            Text("1.004227"),
            Text("001"),
            Text("Trực tuyến"),
            Text("Mức độ 4"),
            Date(2025, 3, 5, 8, 15),
            Date(2025, 3, 10, 0, 0),
            Date(2025, 3, 6, 14, 30),
            Text("Đã giải quyết"),
            Number(1_500_000.0),
        ],
        // Dates typed as text, 12-hour with SA/CH; a vi-VN number as text.
        [
            Number(2.0),
            Text("H2"),
            Text("1.004227"),
            Text("001"),
            Text("Trực tiếp"),
            Text("Mức độ 2"),
            Text("05/03/2025 9:00 SA"),
            Text("12/03/2025"),
            Empty,
            Text("Đang xử lý"),
            Text("50.000"),
        ],
        // A two-digit year: rejected, on the row the sheet shows.
        [
            Number(3.0),
            Text("H3"),
            Text("1.004227"),
            Text("001"),
            Text("Trực tiếp"),
            Empty,
            Text("05/03/25"),
            Empty,
            Empty,
            Text("Mới tiếp nhận"),
            Empty,
        ],
        // A number cell for an ID reads as its digits.
        [
            Number(4.0),
            Number(12345.0),
            Text("1.004227"),
            Text("001"),
            Text("Bưu chính công ích"),
            Empty,
            Date(2025, 3, 7, 10, 0),
            Empty,
            Empty,
            Text("Chờ bổ sung"),
            Number(0.0),
        ],
    ]
}

/// Writes the tracking book: a cover sheet, then the data sheet with two
/// title rows, a blank row, a two-row header whose `Ngày` group is merged
/// over three columns, the data, a totals row and a signature block.
/// `date1904`: the workbook counts days from 1904, as Excel for Mac did.
fn tracking_book(path: &Path, date1904: bool) -> Result<(), XlsxError> {
    let mut book = Workbook::new();
    let cover = book.add_worksheet();
    cover.set_name("Hướng dẫn")?;
    cover.write_string(
        0,
        0,
        "Sổ theo dõi hồ sơ xuất từ Hệ thống thông tin giải quyết TTHC",
    )?;
    let sheet = book.add_worksheet();
    sheet.set_name(SHEET)?;
    let plain = Format::new();
    sheet.merge_range(0, 0, 0, 10, "SỔ THEO DÕI HỒ SƠ", &plain)?;
    sheet.merge_range(
        1,
        0,
        1,
        10,
        "Từ ngày 01/03/2025 đến ngày 31/03/2025",
        &plain,
    )?;
    for (column, name) in [
        (0, "STT"),
        (1, "Mã hồ sơ"),
        (2, "Mã thủ tục"),
        (3, "Mã đơn vị"),
        (4, "Hình thức nộp"),
        (5, "Mức độ"),
        (9, "Trạng thái"),
        (10, "Phí, lệ phí"),
    ] {
        sheet.merge_range(3, column, 4, column, name, &plain)?;
    }
    sheet.merge_range(3, 6, 3, 8, "Ngày", &plain)?;
    for (column, name) in [(6, "Tiếp nhận"), (7, "Hẹn trả"), (8, "Có kết quả")] {
        sheet.write_string(4, column, name)?;
    }
    let mut row = 5;
    for cells in data_rows() {
        write_row(sheet, row, &cells, date1904)?;
        row += 1;
    }
    sheet.write_string(row, 0, "Tổng cộng")?;
    sheet.write_number(row, 10, 1_550_000.0)?;
    sheet.write_string(row + 2, 1, "Người lập biểu")?;
    sheet.write_string(row + 2, 8, "Thủ trưởng đơn vị")?;
    sheet.write_string(row + 3, 1, "(Ký, ghi rõ họ tên)")?;
    book.save(path)?;
    if date1904 {
        mark_1904(path);
    }
    Ok(())
}

/// Days from 1900-01-00 to 1904-01-01 in Excel's count.
const DAYS_1900_TO_1904: f64 = 1462.0;

/// Sets the workbook's 1904 date system (rust_xlsxwriter writes 1900 only):
/// `date1904="1"` on its `workbookPr`.
fn mark_1904(path: &Path) {
    use std::io::{Read, Write};
    let mut archive = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let name = entry.name().expect("a UTF-8 entry name").to_string();
        if name == "xl/workbook.xml" {
            let xml = String::from_utf8(bytes).unwrap();
            assert!(xml.contains("<workbookPr"), "{xml}");
            bytes = xml
                .replacen("<workbookPr", "<workbookPr date1904=\"1\"", 1)
                .into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&bytes).unwrap();
    }
    let bytes = out.finish().unwrap().into_inner();
    std::fs::write(path, bytes).unwrap();
}

fn write_row(
    sheet: &mut Worksheet,
    row: u32,
    cells: &[V],
    date1904: bool,
) -> Result<(), XlsxError> {
    let date = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    for (column, cell) in cells.iter().enumerate() {
        let column = column as u16;
        match cell {
            Text(t) => {
                sheet.write_string(row, column, *t)?;
            }
            Number(n) => {
                sheet.write_number(row, column, *n)?;
            }
            Date(y, m, d, h, min) => {
                let at = ExcelDateTime::from_ymd(*y, *m, *d)?.and_hms(*h, *min, 0)?;
                if date1904 {
                    let serial = at.to_excel() - DAYS_1900_TO_1904;
                    sheet.write_number_with_format(row, column, serial, &date)?;
                } else {
                    sheet.write_datetime_with_format(row, column, &at, &date)?;
                }
            }
            Empty => {}
        }
    }
    Ok(())
}

fn book_in(f: &Fixture) -> PathBuf {
    let path = f.dir.path().join("so-theo-doi.xlsx");
    tracking_book(&path, false).expect("write the workbook");
    path
}

fn ingest(f: &Fixture, path: &Path, extra: &[&str]) -> std::process::Output {
    motcua_command(&f.lake)
        .args(["ingest", "dossiers", "--exported-at", "2025-03-31 17:00"])
        .args(extra)
        .arg(path)
        .output()
        .expect("run motcua")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Ingests `path`, a tracking book with [`data_rows`] in any workbook
/// format, and checks the exact outcome.
fn check_tracking_book(path: &Path) {
    let f = Fixture::new();
    let out = ingest(&f, path, &[]);
    let name = path.display();
    assert_eq!(out.status.code(), Some(0), "{name}: {}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("read 7 · accepted 3 · quarantined 4 · duplicates 0"),
        "{name}: {}",
        text(&out.stdout)
    );
    assert_eq!(
        f.sql(
            "SELECT dossier_id, channel, online_level, status, CAST(received_at AS VARCHAR), \
             CAST(due_at AS VARCHAR), CAST(completed_at AS VARCHAR), fee_vnd, \
             CAST(updated_at AS VARCHAR) FROM dossiers ORDER BY dossier_id"
        ),
        [
            [
                "12345",
                "postal",
                "none",
                "in_progress",
                "2025-03-07T03:00:00Z",
                "∅",
                "∅",
                "0",
                "2025-03-31T10:00:00Z"
            ],
            [
                "H1",
                "online",
                "full",
                "resolved",
                "2025-03-05T01:15:00Z",
                "2025-03-10T16:59:59.999999Z",
                "2025-03-06T07:30:00Z",
                "1500000",
                "2025-03-31T10:00:00Z"
            ],
            [
                "H2",
                "counter",
                "none",
                "in_progress",
                "2025-03-05T02:00:00Z",
                "2025-03-12T16:59:59.999999Z",
                "∅",
                "50000",
                "2025-03-31T10:00:00Z"
            ],
        ]
        .map(|row| row.map(String::from).to_vec()),
        "{name}"
    );
    // Lines are the rows the sheet shows; the source names the sheet.
    let source = format!("{name}#{SHEET}");
    assert_eq!(
        f.sql("SELECT line, coalesce(\"column\", '∅'), reason, source_file FROM quarantine ORDER BY line"),
        [
            ["8", "received_at", "'05/03/25' has a two-digit year, which is ambiguous; write the year in full (05/03/2025)", &source],
            ["10", "∅", "footer", &source],
            ["12", "∅", "footer", &source],
            ["13", "∅", "footer", &source],
        ]
        .map(|row| row.map(String::from).to_vec()),
        "{name}"
    );
}

#[test]
fn a_tracking_book_loads_with_its_sheet_rows_and_cell_types() {
    let f = Fixture::new();
    check_tracking_book(&book_in(&f));
}

#[test]
fn dates_count_from_1904_when_the_workbook_says_so() {
    let f = Fixture::new();
    let path = f.dir.path().join("so-theo-doi-1904.xlsx");
    tracking_book(&path, true).expect("write the workbook");
    check_tracking_book(&path);
}

/// The same book saved by LibreOffice as `.xls` and `.ods`
/// (`tests/workbooks/make.sh` made them): the same outcome, row for row.
#[test]
fn the_same_book_saved_by_an_office_suite_as_xls_and_ods_gives_the_same_lake() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workbooks");
    for file in ["so-theo-doi.xls", "so-theo-doi.ods"] {
        check_tracking_book(&dir.join(file));
    }
}

/// Writes the tracking book for `tests/workbooks/make.sh` to convert.
#[test]
#[ignore = "run by tests/workbooks/make.sh"]
fn write_the_book_for_the_office_suite() {
    let out = std::env::var("MOTCUA_BOOK_OUT").expect("MOTCUA_BOOK_OUT: where to write it");
    tracking_book(Path::new(&out), false).expect("write the workbook");
}

#[test]
fn a_dry_run_names_the_sheet_the_header_rows_and_the_mapping() {
    let f = Fixture::new();
    let path = book_in(&f);
    let out = ingest(&f, &path, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: read 7 · would accept 3 · would quarantine 4 · duplicates 0 (dry run: nothing written)\n  \
             sheet 'Sổ theo dõi', header on row 4 and the 1 below it (2 row(s) above it skipped)\n  \
             columns: stt → left out; mã hồ sơ → dossier_id; mã thủ tục → procedure_code; \
             mã đơn vị → unit_code; hình thức nộp → channel; mức độ → online_level; ngày tiếp nhận → received_at; \
             ngày hẹn trả → due_at; ngày có kết quả → completed_at; trạng thái → status; \
             phí, lệ phí → fee_vnd\n",
            path.display()
        )
    );
}

#[test]
fn a_workbook_is_told_by_its_content_and_refused_clearly_when_misnamed() {
    let f = Fixture::new();
    let book = book_in(&f);
    // Content wins over the name.
    let renamed = f.dir.path().join("export.dat");
    std::fs::copy(&book, &renamed).unwrap();
    let out = ingest(&f, &renamed, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let refusals = [
        (
            book.clone(),
            vec!["--format", "csv"],
            "it is a workbook (xlsx, xlsb or ods), not csv: drop --format csv, motcua reads workbooks",
        ),
        (
            f.write(
                "report.xls",
                "<html><table><tr><td>Mã hồ sơ</td></tr></table></html>",
            ),
            vec![],
            "it is named .xls but its content is an HTML page, not a workbook (some systems export web tables as .xls); open it in a spreadsheet and save it as .xlsx",
        ),
        (
            f.write("report.xlsx", "Mã hồ sơ;Trạng thái\n"),
            vec![],
            "it is named .xlsx but its content is text, not a workbook; if it is CSV, pass --format csv",
        ),
        (
            book.clone(),
            vec!["--sheet", "Sheet1"],
            "has no sheet 'Sheet1'; its sheets are 'Hướng dẫn', 'Sổ theo dõi'",
        ),
        (
            book.clone(),
            vec!["--sheet", "Hướng dẫn"],
            "sheet 'Hướng dẫn': no row among the first 30 names a column of feed dossiers (it needs dossier_id, procedure_code, unit_code, channel, status, received_at, updated_at; `motcua feeds` lists the headers each column accepts)",
        ),
        (
            f.write("broken.xlsx", b"PK\x03\x04 not really a zip"),
            vec![],
            "cannot read it as a workbook",
        ),
    ];
    for (path, extra, reason) in refusals {
        let out = ingest(&f, &path, &extra);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{stderr}");
        let want = format!("error: {}: {reason}", path.display());
        assert!(
            stderr.lines().any(|l| l.starts_with(&want)),
            "{stderr}\nwanted: {want}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

/// A sheet as offices fill it by hand: a chart sheet first, the data on a
/// sheet a profile names with its header row, a formula that failed, a
/// note right of the header, blank rows between the data.
#[test]
fn error_cells_notes_beside_the_header_and_profiles_in_a_workbook() {
    let f = Fixture::new();
    let path = f.dir.path().join("so-tay.xlsx");
    let mut book = Workbook::new();
    book.add_worksheet()
        .set_name("Ghi chú")
        .unwrap()
        .write_string(0, 0, "Số liệu ở trang sau")
        .unwrap();
    let sheet = book.add_worksheet();
    sheet.set_name("Hồ sơ").unwrap();
    let rows: [&[&str]; 6] = [
        &["Sổ tay"],
        &[
            "Số biên nhận",
            "Mã TTHC",
            "Mã đơn vị",
            "Nộp qua",
            "Trạng thái",
            "Ngày nhận",
            "Ngày cập nhật",
        ],
        &[
            "A1",
            "P1",
            "001",
            "Nộp tại quầy",
            "Đang xử lý",
            "05/03/2025 08:00",
            "05/03/2025 08:00",
            "",
            "gọi lại",
        ],
        &[],
        &[
            "A2",
            "#N/A",
            "001",
            "Nộp tại quầy",
            "Đang xử lý",
            "05/03/2025 09:00",
            "05/03/2025 09:00",
        ],
        &[
            "A3",
            "P1",
            "001",
            "Nộp tại quầy",
            "Mới nhận",
            "06/03/2025 09:00",
            "06/03/2025 09:00",
        ],
    ];
    for (r, cells) in rows.iter().enumerate() {
        for (c, cell) in cells.iter().enumerate() {
            if !cell.is_empty() {
                sheet.write_string(r as u32, c as u16, *cell).unwrap();
            }
        }
    }
    book.save(&path).unwrap();
    let profile = f.write(
        "so-tay.toml",
        "feed = \"dossiers\"\nsheet = \"Hồ sơ\"\nheader_row = 2\n\n[columns]\n\"Số biên nhận\" = \"dossier_id\"\n\"Nộp qua\" = \"channel\"\n\n[values.channel]\n\"Nộp tại quầy\" = \"counter\"\n\n[values.status]\n\"Mới nhận\" = \"received\"\n",
    );
    let out = motcua_command(&f.lake)
        .args(["ingest", "dossiers", "--profile"])
        .arg(&profile)
        .arg(&path)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        text(&out.stdout).contains("read 3 · accepted 2 · quarantined 1 · duplicates 0"),
        "{}",
        text(&out.stdout)
    );
    // The note's column has no header: left out, and said so.
    assert!(stderr.contains("(no header) column I"), "{stderr}");
    assert_eq!(
        f.sql("SELECT dossier_id, channel, status FROM dossiers ORDER BY dossier_id"),
        [
            ["A1", "counter", "in_progress"],
            ["A3", "counter", "received"]
        ]
        .map(|row| row.map(String::from).to_vec())
    );
    assert_eq!(
        f.sql("SELECT line, \"column\", reason FROM quarantine"),
        [[
            "5",
            "procedure_code",
            "'#N/A' is a spreadsheet error (a formula that failed), not a value; fix it in the workbook and export again"
        ]]
        .map(|row| row.map(String::from).to_vec())
    );
}
