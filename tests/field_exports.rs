//! Exports as offices make them (SPEC §4.5), in `tests/field_exports/`: each
//! file with the exact outcome `motcua ingest` must give it, and what the
//! accepted rows hold.

mod common;

use common::*;

use Expect::{Ingested, Refused};

#[rustfmt::skip]
fn cases() -> Vec<(&'static str, &'static str, Expect)> {
    vec![
        // Titles above the header, `;`, Vietnamese headers and values, vi-VN
        // numbers, spreadsheet dates and 12-hour times.
        // ... and a totals row and a signature block below the data: footer.
        ("dossiers_vi_semicolon.csv", "dossiers", Ingested((8, 2, 6, 0), &[
            (7, "fee_vnd", "'1.5E+06' is in scientific notation, as Excel shows long numbers; format the column as a number or as text in the workbook and export it again"),
            (8, "received_at", "'05/03/25' has a two-digit year, which is ambiguous; write the year in full (05/03/2025)"),
            (9, "fee_vnd", "'1.500.000,50' has a fraction; amounts are whole numbers (whole đồng)"),
            (10, "∅", "footer"),
            (12, "∅", "footer"),
            (13, "∅", "footer"),
        ])),
        // A footer does not make a units file partial: it is not a unit.
        // NDJSON keys take the same headers; two naming one column, or an ID
        // Excel turned into scientific notation, reject the row.
        ("dossiers_keys.ndjson", "dossiers", Ingested((3, 1, 2, 0), &[
            (1, "dossier_id", "keys 'Số hồ sơ' and 'dossier_id' both name column dossier_id; keep one"),
            (3, "applicant_id", "'[masked]' is in scientific notation, as Excel shows long numbers: the ID's digits are lost; format the column as text in the workbook and export it again"),
        ])),
        ("units_vi.csv", "units", Ingested((5, 4, 1, 0), &[(7, "∅", "footer")])),
        // Names that begin like footer words are data; trailing empty
        // header cells (Excel's) name nothing.
        ("units_names_like_footers.csv", "units", Ingested((4, 3, 1, 0), &[(5, "∅", "footer")])),
        ("units_ambiguous_city.csv", "units", Refused("units file refused whole; the lake keeps its units as they were: 1 of 2 row(s) rejected (line 2: level: 'Thành phố' is ambiguous as a level: a city is a province (Thành phố trực thuộc trung ương) or a district (Thành phố thuộc tỉnh); write which); fix them and ingest the whole file again")),
        ("targets_tab.csv", "targets", Ingested((2, 2, 0, 0), &[])),
        ("dossiers_missing_columns.csv", "dossiers", Refused("the header lacks required column(s) procedure_code, unit_code, channel, received_at, updated_at of feed dossiers (the header found is row 1 split on ';'); an export without updated_at needs --exported-at TIMESTAMP, when it was exported")),
        ("dossiers_unknown_headers.csv", "dossiers", Refused("no row among the first 30 names a column of feed dossiers (it needs dossier_id, procedure_code, unit_code, channel, status, received_at, updated_at; `motcua feeds` lists the headers each column accepts); split on ',' every row is one column, split on ';' the first has 3")),
        // A tracking book has no updated_at: without --exported-at, refused
        // naming the flag (with it: the test below).
        ("dossiers_tracking_book.csv", "dossiers", Refused("the header lacks required column(s) updated_at of feed dossiers (the header found is row 1 split on ';'); an export without updated_at needs --exported-at TIMESTAMP, when it was exported")),
        // The header is looked for in the first 30 rows only.
        ("dossiers_header_below_row_30.csv", "dossiers", Refused("no row among the first 30 names a column of feed dossiers (it needs dossier_id, procedure_code, unit_code, channel, status, received_at, updated_at; `motcua feeds` lists the headers each column accepts)")),
        ("dossiers_id_twice.csv", "dossiers", Refused("the header names column dossier_id twice, as 'dossier_id' and 'mã hồ sơ'; keep one")),
    ]
}

#[test]
fn every_field_export_gets_its_exact_outcome_and_values() {
    let fixtures = check_corpus("tests/field_exports", &cases());
    let lake = |file: &str| &fixtures.iter().find(|(f, _)| f == file).expect("a case").1;
    assert_eq!(
        lake("dossiers_vi_semicolon.csv").sql(
            "SELECT dossier_id, channel, online_level, status, \
             CAST(received_at AS VARCHAR), CAST(completed_at AS VARCHAR), fee_vnd, \
             applicant_key IS NOT NULL FROM dossiers ORDER BY dossier_id"
        ),
        [
            [
                "H1",
                "online",
                "full",
                "resolved",
                "2025-03-05T01:15:00Z",
                "2025-03-06T07:30:00Z",
                "1500000",
                "true"
            ],
            [
                "H2",
                "counter",
                "none",
                "in_progress",
                "2025-03-05T02:00:00Z",
                "∅",
                "0",
                "false"
            ],
        ]
        .map(|row| row.map(String::from).to_vec())
    );
    assert_eq!(
        lake("units_vi.csv").sql(
            "SELECT unit_code, level, parent_code, adult_population FROM units ORDER BY unit_code"
        ),
        [
            ["00001", "commune", "001", "7500"],
            ["001", "district", "01", "∅"],
            ["01", "province", "∅", "∅"],
            ["01-STC", "department", "01", "∅"],
        ]
        .map(|row| row.map(String::from).to_vec())
    );
    assert_eq!(
        lake("units_names_like_footers.csv").sql("SELECT name FROM units ORDER BY unit_code"),
        [["Cộng Hòa"], ["Hà Nội"], ["Tổng cục Thuế"]].map(|row| row.map(String::from).to_vec())
    );
    assert_eq!(
        lake("targets_tab.csv")
            .sql("SELECT kpi, unit_code, target, grain FROM targets ORDER BY kpi"),
        [
            ["full_online_rate", "001", "0.6", "month"],
            ["on_time_rate", "*", "0.805", "∅"],
        ]
        .map(|row| row.map(String::from).to_vec())
    );
}

#[test]
fn a_dry_run_says_where_the_header_was_and_what_each_column_fed() {
    let f = Fixture::new();
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/field_exports/units_vi.csv");
    let out = motcua_command(&f.lake)
        .args(["ingest", "units", "--dry-run"])
        .arg(&path)
        .output()
        .expect("run motcua");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "{}: read 5 · would accept 4 · would quarantine 1 · duplicates 0 (dry run: nothing written)\n  \
             header on line 2 (1 row(s) above it skipped); fields split on ';'\n  \
             columns: stt → left out; mã đơn vị → unit_code; tên đơn vị → name; cấp → level; \
             mã đơn vị cấp trên → parent_code; dân số trưởng thành → adult_population\n",
            path.display()
        )
    );
}

#[test]
fn a_tracking_book_takes_its_export_time_as_every_rows_updated_at() {
    let f = Fixture::new();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/field_exports/dossiers_tracking_book.csv");
    let ingest = |extra: &[&str]| {
        motcua_command(&f.lake)
            .args(["ingest", "dossiers"])
            .args(extra)
            .arg(&path)
            .output()
            .expect("run motcua")
    };
    let bad = ingest(&["--exported-at", "31/03/25"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .starts_with("error: bad argument: --exported-at '31/03/25' has a two-digit year"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let out = ingest(&["--exported-at", "2025-03-31 17:00"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        f.sql("SELECT dossier_id, status, CAST(updated_at AS VARCHAR) FROM dossiers ORDER BY dossier_id"),
        [
            ["T1", "in_progress", "2025-03-31T10:00:00Z"],
            ["T2", "received", "2025-03-31T10:00:00Z"],
        ]
        .map(|row| row.map(String::from).to_vec())
    );
}
