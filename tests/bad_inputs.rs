//! The corpus of bad inputs in `tests/bad_inputs/`, each with the exact
//! outcome it must get from `motcua ingest`: the exit code, the counts
//! (read = accepted + quarantined + duplicates), and every quarantined row's
//! line, column and reason.

mod common;

use std::path::Path;

use common::*;

use Expect::{Ingested, Refused};

#[rustfmt::skip]
fn cases() -> Vec<(&'static str, &'static str, Expect)> {
    vec![
        ("empty.csv", "signatures", Refused("the file is empty: no header row")),
        ("header_only.csv", "signatures", Ingested((0, 0, 0, 0), &[])),
        ("duplicated_column.csv", "signatures", Refused("the header names column 'event_id' twice")),
        ("missing_required.csv", "signatures", Refused("the header lacks required column(s) occurred_at of feed signatures")),
        ("unknown_columns.csv", "signatures", Ingested((2, 2, 0, 0), &[])),
        ("utf16_bom.csv", "signatures", Ingested((1, 1, 0, 0), &[])),
        ("legacy_windows1258.csv", "signatures", Refused("line 2 is not UTF-8: the file looks like a legacy 8-bit Vietnamese encoding (TCVN3, VNI or Windows-1258); convert it to UTF-8, e.g. `iconv -f WINDOWS-1258 -t UTF-8 in.csv > out.csv`")),
        ("invalid_utf8_midfile.csv", "signatures", Ingested((3, 2, 1, 0), &[(3, "provider", "the value is not valid UTF-8; convert the file to UTF-8")])),
        ("binary_garbage.csv", "signatures", Refused("the header row is not valid UTF-8; convert the file to UTF-8 (e.g. iconv -f WINDOWS-1258 -t UTF-8)")),
        ("truncated_last_line.csv", "signatures", Ingested((2, 1, 1, 0), &[(3, "∅", "the row has 2 field(s) but the header has 6 (a truncated line or unbalanced quotes?)")])),
        // The open quote swallows E2 and E3: the one record is kept whole in quarantine.
        ("unbalanced_quotes.csv", "signatures", Ingested((1, 0, 1, 0), &[(2, "∅", "a quote opened in this record is never closed: the rest of the file (from line 2) was read as one value; fix the quoting and ingest again")])),
        // Blank lines keep the lines after them numbered as they are; a blank
        // line inside quotes is part of the value.
        ("blank_lines_before_a_bad_row.csv", "signatures", Ingested((3, 1, 2, 0), &[
            (5, "occurred_at", "'bad' is not a date this importer accepts (YYYY-MM-DD[THH:MM[:SS[.f]]][Z|±HH:MM], or D/M/YYYY, D-M-YYYY, D.M.YYYY or YYYY/M/D[ H:MM[:SS][ SA|CH|AM|PM]])"),
            (6, "occurred_at", "'a\n\nb' is not a date this importer accepts (YYYY-MM-DD[THH:MM[:SS[.f]]][Z|±HH:MM], or D/M/YYYY, D-M-YYYY, D.M.YYYY or YYYY/M/D[ H:MM[:SS][ SA|CH|AM|PM]])"),
        ])),
        ("impossible_date.csv", "signatures", Ingested((2, 1, 1, 0), &[(2, "occurred_at", "'31/02/2024' is not a calendar date (day 31, month 2, year 2024)")])),
        ("wrong_offset.csv", "signatures", Ingested((5, 1, 4, 0), &[
            (2, "occurred_at", "'2024-03-01T08:00+7' has an offset that is not ±HH:MM or ±HHMM"),
            (3, "occurred_at", "'2024-03-01T08:00:00+7:00' has an offset that is not ±HH:MM or ±HHMM"),
            (4, "occurred_at", "'2024-03-01T08:00:00 +07:00' is not a date this importer accepts (YYYY-MM-DD[THH:MM[:SS[.f]]][Z|±HH:MM], or D/M/YYYY, D-M-YYYY, D.M.YYYY or YYYY/M/D[ H:MM[:SS][ SA|CH|AM|PM]])"),
            (5, "occurred_at", "'2024-03-01T08:00:00+07' has an offset that is not ±HH:MM or ±HHMM"),
        ])),
        ("vietnamese_fees.csv", "dossiers", Ingested((5, 5, 0, 0), &[])),
        ("bad_fees.csv", "dossiers", Ingested((5, 0, 5, 0), &[
            (2, "fee_vnd", "-20000 is below the minimum 0"),
            (3, "fee_vnd", "'1500.5' has a fraction; amounts are whole numbers (whole đồng)"),
            (4, "fee_vnd", "'1,500.00' is not a whole number"),
            (5, "fee_vnd", "'1.50.000' is not a whole number"),
            (6, "fee_vnd", "'mười nghìn' is not a whole number"),
        ])),
        ("misspelt_enums.csv", "dossiers", Ingested((7, 0, 7, 0), &[
            (2, "channel", "'truc tuyn' is not a channel (expected one of: counter, online, postal)"),
            (3, "online_level", "'toan phan' is not a online_level (expected one of: none, partial, full)"),
            (4, "status", "'recieved' is not a status (expected one of: received, in_progress, resolved, returned, withdrawn, rejected)"),
            (5, "payment_method", "'tien mat te' is not a payment_method (expected one of: cash, bank_transfer, card, e_wallet, payment_platform)"),
            (6, "satisfaction", "'rat hai lon' is not a satisfaction (expected one of: very_satisfied, satisfied, neutral, dissatisfied)"),
            (7, "applicant_type", "'nguoi dan' is not a applicant_type (expected one of: citizen, business)"),
            (8, "processed_online", "'co le' is not a boolean (expected true/false, 1/0, yes/no or có/không)"),
        ])),
        ("completed_before_received.csv", "dossiers", Ingested((1, 0, 1, 0), &[
            (2, "completed_at", "completed_at (2024-03-04T01:00:00.000000Z) is before received_at (2024-03-05T01:00:00.000000Z)"),
        ])),
    ]
}

#[test]
fn every_bad_input_gets_its_exact_outcome() {
    check_corpus("tests/bad_inputs", &cases());
}

#[test]
fn vietnamese_fees_are_whole_dong_and_a_10_mb_field_is_just_a_value() {
    let f = Fixture::new();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad_inputs");
    f.ingest(
        motcua::spec::feeds::Feed::Dossiers,
        &[corpus.join("vietnamese_fees.csv")],
    )
    .unwrap();
    assert_eq!(
        f.sql("SELECT fee_vnd FROM dossiers ORDER BY dossier_id"),
        vec![
            vec!["1500000"],
            vec!["1500000"],
            vec!["1500000"],
            vec!["35000"],
            vec!["20000"]
        ]
    );
    let big = "x".repeat(10 * 1024 * 1024);
    let text = format!(
        "event_id,occurred_at,unit_code,event_type,provider\nE1,2024-03-01,U1,document_issued,{big}\nE2,2024-03-01,U1,document_issued,VNPT-CA\n"
    );
    let report = f.ingest_text(motcua::spec::feeds::Feed::Signatures, "big.csv", &text);
    assert_eq!(report_counts(&report), (2, 2, 0, 0));
    assert_eq!(
        f.sql("SELECT event_id, length(provider) FROM signatures ORDER BY event_id"),
        vec![
            vec!["E1".to_string(), (10 * 1024 * 1024).to_string()],
            vec!["E2".to_string(), "7".to_string()]
        ]
    );
}

#[test]
fn a_million_blank_lines_are_skipped_not_recursed_into() {
    // Blank lines were skipped by recursion, one stack frame each: a file of
    // whitespace-only lines overflowed the stack. (Found while writing the
    // fuzz harness; a 2 MiB test thread is the tight case.)
    let f = Fixture::new();
    let text = format!(
        "event_id,occurred_at,unit_code,event_type\n{}E1,2024-03-01,U1,document_issued\n",
        " \n".repeat(1_000_000)
    );
    let report = f.ingest_text(motcua::spec::feeds::Feed::Signatures, "blank.csv", &text);
    assert_eq!(report_counts(&report), (1, 1, 0, 0));
    assert_eq!(report.data_files.len(), 1);
    assert_eq!(
        f.sql("SELECT source_line FROM signatures"),
        vec![vec!["1000002"]]
    );
}
