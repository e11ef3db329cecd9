//! Ingestion on small hand-written fixtures: every accepted form of a value,
//! every rule and the reason it gives, the awkward shapes real exports take,
//! and the lake read back through DataFusion.

mod common;

use common::*;
use motcua::Error;
use motcua::ingest::IngestOptions;
use motcua::spec::feeds::{ALL_FEEDS, Feed};

/// A valid dossier row with the given channel, online level and flags.
fn dossier(id: &str, channel: &str, level: &str, extra: &str) -> String {
    // extra: processed_online,digitized,e_result,applicant_signed,result_signed,fee_vnd,payment_method,paid_online,satisfaction,applicant_id,applicant_type
    format!("{id},P1,U1,{channel},{level},received,2024-03-01 08:00,,,,2024-03-01 08:00,{extra}")
}

const PLAIN_EXTRA: &str = ",,,,,,,,,,";
/// The same empty optional columns, after a row's `updated_at`.
const TAIL: &str = ",,,,,,,,,,,";

#[test]
fn every_accepted_date_form_lands_as_its_utc_instant() {
    let f = Fixture::new();
    let rows = [
        ("E01", "2024-03-15", "2024-03-14T17:00:00Z"),
        ("E02", "2024-03-15T08:30", "2024-03-15T01:30:00Z"),
        ("E03", "2024-03-15 08:30:00", "2024-03-15T01:30:00Z"),
        (
            "E04",
            "2024-03-15T08:30:00.123456789",
            "2024-03-15T01:30:00.123456Z",
        ),
        ("E05", "2024-03-15T01:30:00.5Z", "2024-03-15T01:30:00.500Z"),
        ("E06", "2024-03-15T08:30:00+07:00", "2024-03-15T01:30:00Z"),
        ("E07", "2024-03-15T03:30:00+0200", "2024-03-15T01:30:00Z"),
        ("E08", "2024-03-14T20:30:00-05:00", "2024-03-15T01:30:00Z"),
        ("E09", "15/03/2024 08:30:00", "2024-03-15T01:30:00Z"),
        ("E10", "5/3/2024 8:30", "2024-03-05T01:30:00Z"),
        ("E11", "15/03/2024", "2024-03-14T17:00:00Z"),
        ("E12", "2024-03-31T23:30:00+07:00", "2024-03-31T16:30:00Z"),
        ("E13", "2024-03-31T18:00:00Z", "2024-03-31T18:00:00Z"),
        ("E14", "1/1/2025 0:05", "2024-12-31T17:05:00Z"),
    ];
    let mut csv = String::from("event_id,occurred_at,unit_code,event_type\n");
    for (id, when, _) in &rows {
        csv.push_str(&format!("{id},{when},U1,document_issued\n"));
    }
    let report = f.ingest_text(Feed::Signatures, "dates.csv", &csv);
    assert_eq!(report_counts(&report), (14, 14, 0, 0));
    let got = f.sql("SELECT event_id, occurred_at FROM signatures ORDER BY event_id");
    let expected: Vec<Vec<String>> = rows
        .iter()
        .map(|(id, _, utc)| vec![id.to_string(), utc.to_string()])
        .collect();
    assert_eq!(got, expected);

    // 23:30 +07:00 on the last day of March is a March event; 18:00Z that day is April.
    let months: Vec<(String, u64)> = f
        .manifest()
        .data_files(Feed::Signatures)
        .iter()
        .map(|d| (d.month.clone().unwrap(), d.rows))
        .collect();
    assert_eq!(
        months,
        vec![
            ("2024-03".to_string(), 12),
            ("2024-04".to_string(), 1),
            ("2025-01".to_string(), 1)
        ]
    );
    let march = f.sql(
        "SELECT event_id FROM signatures WHERE occurred_at >= '2024-03-31T17:00:00Z' ORDER BY event_id",
    );
    assert_eq!(
        march,
        vec![vec!["E13".to_string()], vec!["E14".to_string()]]
    );
}

#[test]
fn a_deadline_given_as_a_date_means_the_end_of_that_day() {
    let f = Fixture::new();
    let csv = format!(
        "{DOSSIER_HEADER}\nD1,P1,U1,counter,none,received,2024-03-01 08:00,2024-03-15,,,2024-03-01 08:00{TAIL}\nD2,P1,U1,counter,none,received,2024-03-01 08:00,15/03/2024 10:00,,,2024-03-01 08:00{TAIL}\n"
    );
    f.ingest_text(Feed::Dossiers, "due.csv", &csv);
    assert_eq!(
        f.sql("SELECT dossier_id, due_at FROM dossiers ORDER BY dossier_id"),
        vec![
            vec!["D1".to_string(), "2024-03-15T16:59:59.999999Z".to_string()],
            vec!["D2".to_string(), "2024-03-15T03:00:00Z".to_string()],
        ]
    );
}

#[test]
fn every_alias_maps_to_its_canonical_value() {
    let f = Fixture::new();
    let channels = [
        ("counter", "counter"),
        ("truc_tiep", "counter"),
        ("Trực tiếp", "counter"),
        ("TRUC TIEP", "counter"),
        ("online", "online"),
        ("truc_tuyen", "online"),
        ("Trực tuyến", "online"),
        ("truc tuyen", "online"),
        ("TRUC_TUYEN", "online"),
        ("truc-tuyen", "online"),
        ("postal", "postal"),
        ("buu_chinh", "postal"),
        ("Bưu chính", "postal"),
    ];
    let levels = [
        ("partial", "partial"),
        ("mot_phan", "partial"),
        ("Một phần", "partial"),
        ("full", "full"),
        ("toan_trinh", "full"),
        ("Toàn trình", "full"),
        ("TOAN TRINH", "full"),
    ];
    let payments = [
        ("cash", "cash"),
        ("tien_mat", "cash"),
        ("Tiền mặt", "cash"),
        ("bank_transfer", "bank_transfer"),
        ("chuyen_khoan", "bank_transfer"),
        ("Chuyển khoản", "bank_transfer"),
        ("card", "card"),
        ("the", "card"),
        ("Thẻ", "card"),
        ("e_wallet", "e_wallet"),
        ("vi_dien_tu", "e_wallet"),
        ("Ví điện tử", "e_wallet"),
        ("payment_platform", "payment_platform"),
        ("Payment Platform", "payment_platform"),
    ];
    let booleans = [
        ("true", "true"),
        ("false", "false"),
        ("1", "true"),
        ("0", "false"),
        ("yes", "true"),
        ("no", "false"),
        ("có", "true"),
        ("không", "false"),
        ("Có", "true"),
        ("KHÔNG", "false"),
        ("TRUE", "true"),
        ("", "false"),
    ];
    let mut csv = format!("{DOSSIER_HEADER}\n");
    let mut expected = Vec::new();
    for (i, (alias, canonical)) in channels.iter().enumerate() {
        csv.push_str(&dossier(&format!("C{i:02}"), alias, "full", PLAIN_EXTRA));
        csv.push('\n');
        expected.push(vec![format!("C{i:02}"), canonical.to_string()]);
    }
    for (i, (alias, canonical)) in levels.iter().enumerate() {
        csv.push_str(&dossier(&format!("L{i:02}"), "online", alias, PLAIN_EXTRA));
        csv.push('\n');
        expected.push(vec![format!("L{i:02}"), canonical.to_string()]);
    }
    for (i, (alias, canonical)) in payments.iter().enumerate() {
        let extra = format!(",,,,,1000,{alias},,,,");
        csv.push_str(&dossier(&format!("M{i:02}"), "counter", "none", &extra));
        csv.push('\n');
        expected.push(vec![format!("M{i:02}"), canonical.to_string()]);
    }
    for (i, (alias, canonical)) in booleans.iter().enumerate() {
        let extra = format!("{alias},,,,,,,,,,");
        csv.push_str(&dossier(&format!("B{i:02}"), "counter", "none", &extra));
        csv.push('\n');
        expected.push(vec![format!("B{i:02}"), canonical.to_string()]);
    }
    // The online level defaults to none.
    csv.push_str(&dossier("N00", "counter", "", PLAIN_EXTRA));
    csv.push('\n');
    expected.push(vec!["N00".to_string(), "none".to_string()]);
    let report = f.ingest_text(Feed::Dossiers, "aliases.csv", &csv);
    assert_eq!(report.quarantined, 0, "{:?}", report.rejections);

    let got = f.sql(
        "SELECT dossier_id, CASE substr(dossier_id, 1, 1) \
           WHEN 'C' THEN channel WHEN 'L' THEN online_level WHEN 'M' THEN payment_method \
           WHEN 'B' THEN CAST(processed_online AS VARCHAR) ELSE online_level END \
         FROM dossiers ORDER BY source_line",
    );
    assert_eq!(got, expected);
}

#[test]
fn fees_take_vietnamese_grouping_and_currency_suffixes() {
    let f = Fixture::new();
    let fees = [
        ("F1", "1.500.000", "1500000"),
        ("F2", "\"1,500,000\"", "1500000"),
        ("F3", "1 500 000 đ", "1500000"),
        ("F4", "20000VND", "20000"),
        ("F5", "35.000d", "35000"),
        ("F6", "", "0"),
    ];
    let mut csv = format!("{DOSSIER_HEADER}\n");
    for (id, fee, _) in fees {
        csv.push_str(&dossier(id, "counter", "none", &format!(",,,,,{fee},,,,,")));
        csv.push('\n');
    }
    f.ingest_text(Feed::Dossiers, "fees.csv", &csv);
    let got = f.sql("SELECT dossier_id, fee_vnd FROM dossiers ORDER BY dossier_id");
    let expected: Vec<Vec<String>> = fees
        .iter()
        .map(|(id, _, v)| vec![id.to_string(), v.to_string()])
        .collect();
    assert_eq!(got, expected);
}

#[test]
fn every_rule_quarantines_with_its_column_and_reason() {
    let f = Fixture::new();
    let ok = "P1,U1,counter,none,received,2024-03-01 08:00,,,,2024-03-01 08:00";
    let lines = [
        // 2: valid
        format!("D00,{ok}{TAIL}"),
        // 3: required value missing
        format!(",{ok}{TAIL}"),
        // 4: unknown enum value
        format!("D02,P1,U1,fax,none,received,2024-03-01 08:00,,,,2024-03-01 08:00{TAIL}"),
        // 5: online needs an online level
        format!("D03,P1,U1,online,none,received,2024-03-01 08:00,,,,2024-03-01 08:00{TAIL}"),
        // 6: resolved needs completed_at
        format!("D04,P1,U1,counter,none,resolved,2024-03-01 08:00,,,,2024-03-02 08:00{TAIL}"),
        // 7: due before received
        format!(
            "D05,P1,U1,counter,none,received,2024-03-01 08:00,2024-02-01 08:00,,,2024-03-01 08:00{TAIL}"
        ),
        // 8: completed before received
        format!(
            "D06,P1,U1,counter,none,resolved,2024-03-01 08:00,,2024-02-28 08:00,,2024-03-01 08:00{TAIL}"
        ),
        // 9: returned before completed
        format!(
            "D07,P1,U1,counter,none,returned,2024-03-01 08:00,,2024-03-05 08:00,2024-03-04 08:00,2024-03-05 08:00{TAIL}"
        ),
        // 10: updated before received
        format!("D08,P1,U1,counter,none,received,2024-03-01 08:00,,,,2024-02-01 08:00{TAIL}"),
        // 11: negative fee
        format!("D09,{ok},,,,,,-5,,,,,"),
        // 12: fractional fee
        format!("D10,{ok},,,,,,1500.5,,,,,"),
        // 13: not a boolean
        format!("D11,{ok},maybe,,,,,,,,,,"),
        // 14: no such date
        format!("D12,P1,U1,counter,none,received,31/02/2024,,,,2024-03-01 08:00{TAIL}"),
        // 15: an offset in the wrong form
        format!("D13,P1,U1,counter,none,received,2024-03-01T08:00+7,,,,2024-03-01 08:00{TAIL}"),
        // 16: two problems: both reported, the first one's column kept
        "D14,P1,U1,counter,none,received,2024-03-01 08:00,,,,2024-03-01 08:00,,,,,,-1,bitcoin,,,,"
            .to_string(),
    ];
    let csv = format!("{DOSSIER_HEADER}\n{}\n", lines.join("\n"));
    let report = f.ingest_text(Feed::Dossiers, "rules.csv", &csv);
    assert_eq!(report_counts(&report), (15, 1, 14, 0));

    let got = f.sql("SELECT line, \"column\", reason FROM quarantine ORDER BY line");
    let expected = [
        (3, "dossier_id", "a value is required"),
        (
            4,
            "channel",
            "'fax' is not a channel (expected one of: counter, online, postal)",
        ),
        (
            5,
            "online_level",
            "online_level cannot be none when channel is online",
        ),
        (
            6,
            "completed_at",
            "completed_at is required when status is resolved",
        ),
        (
            7,
            "due_at",
            "due_at (2024-02-01T01:00:00.000000Z) is before received_at (2024-03-01T01:00:00.000000Z)",
        ),
        (
            8,
            "completed_at",
            "completed_at (2024-02-28T01:00:00.000000Z) is before received_at (2024-03-01T01:00:00.000000Z)",
        ),
        (
            9,
            "returned_at",
            "returned_at (2024-03-04T01:00:00.000000Z) is before completed_at (2024-03-05T01:00:00.000000Z)",
        ),
        (
            10,
            "updated_at",
            "updated_at (2024-02-01T01:00:00.000000Z) is before received_at (2024-03-01T01:00:00.000000Z)",
        ),
        (11, "fee_vnd", "-5 is below the minimum 0"),
        (
            12,
            "fee_vnd",
            "'1500.5' has a fraction; amounts are whole numbers (whole đồng)",
        ),
        (
            13,
            "processed_online",
            "'maybe' is not a boolean (expected true/false, 1/0, yes/no or có/không)",
        ),
        (
            14,
            "received_at",
            "'31/02/2024' is not a calendar date (day 31, month 2, year 2024)",
        ),
        (
            15,
            "received_at",
            "'2024-03-01T08:00+7' has an offset that is not ±HH:MM or ±HHMM",
        ),
        (
            16,
            "fee_vnd",
            "-1 is below the minimum 0 (also payment_method: 'bitcoin' is not a payment_method (expected one of: cash, bank_transfer, card, e_wallet, payment_platform))",
        ),
    ];
    let expected: Vec<Vec<String>> = expected
        .iter()
        .map(|(l, c, r)| vec![l.to_string(), c.to_string(), r.to_string()])
        .collect();
    assert_eq!(got, expected);
    // The quarantine keeps the file and the raw row.
    let raw = f.sql("SELECT source_file, raw FROM quarantine WHERE line = 4");
    assert!(raw[0][0].ends_with("rules.csv"));
    assert!(raw[0][1].starts_with("D02,P1,U1,fax,none,received"));
}

#[test]
fn portal_signature_and_target_rules_give_their_reasons() {
    let f = Fixture::new();
    let portal = [
        r#"{"event_id":"A1","occurred_at":"2024-03-01T08:00:00+07:00","application_id":"X","procedure_code":"P","unit_code":"U","event_type":"payment_succeeded","amount_vnd":1000}"#,
        r#"{"event_id":"A2","occurred_at":"2024-03-01T08:00:00+07:00","application_id":"X","procedure_code":"P","unit_code":"U","event_type":"payment_failed","payment_method":"the"}"#,
        r#"{"event_id":"A3","occurred_at":"2024-03-01T08:00:00+07:00","application_id":"X","procedure_code":"P","unit_code":"U","event_type":"payment_failed","payment_method":"the","amount_vnd":1500.5}"#,
        r#"{"event_id":"A4","occurred_at":"2024-03-01T08:00:00+07:00","application_id":"X","procedure_code":"P","unit_code":"U","event_type":"payment_failed","payment_method":"the","amount_vnd":2000}"#,
    ]
    .join("\n");
    let report = f.ingest_text(Feed::PortalEvents, "portal.ndjson", &portal);
    assert_eq!(report_counts(&report), (4, 1, 3, 0));
    let reasons: Vec<String> = report.rejections.iter().map(|r| r.reason.clone()).collect();
    assert_eq!(
        reasons,
        vec![
            "payment_method is required when event_type is payment_succeeded".to_string(),
            "amount_vnd is required when event_type is payment_failed".to_string(),
            "'1500.5' has a fraction; amounts are whole numbers (whole đồng)".to_string(),
        ]
    );

    let targets = "kpi,unit_code,year,target,grain\n\
        on_time_rate,*,2024,95%,\n\
        on_time_rate,*,2024,0.95,month\n\
        on_time_rate,U1,2024,95,\n\
        received,*,2024,50%,\n\
        received,*,2024,1200,month\n\
        speed,*,2024,1,\n\
        median_processing_days,*,2024,-2,\n\
        on_time_rate,*,2024,0.9,fortnight\n";
    // Targets replace the whole table: a file with a rejected row is
    // refused whole, its reasons in the one sentence.
    let path = f.write("targets.csv", targets);
    match f.ingest(Feed::Targets, &[path]) {
        Err(Error::Refused {
            feed: "targets",
            reason,
            ..
        }) => assert_eq!(
            reason,
            "5 of 8 row(s) rejected (\
             line 4: target: on_time_rate is a rate: write its target as a fraction (0.95) or a percentage (95%), not 95; \
             line 5: target: received is not a rate: its target is a plain number, not a percentage; \
             line 7: kpi: 'speed' is not a KPI of SPEC §5 (see `motcua kpis`); \
             line 8: target: a target cannot be negative; \
             line 9: grain: 'fortnight' is not a grain (expected one of: day, week, month, quarter, year)\
             ); fix them and ingest the whole file again"
        ),
        other => panic!("expected the file refused whole, got {other:?}"),
    }
    assert!(f.manifest().data_files(Feed::Targets).is_empty());
    let good: String = targets
        .lines()
        .enumerate()
        .filter(|(i, _)| [0, 1, 2, 5].contains(i))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let report = f.ingest_text(Feed::Targets, "good.csv", &good);
    assert_eq!(report_counts(&report), (3, 3, 0, 0));
    assert_eq!(
        f.sql("SELECT kpi, unit_code, year, target, grain FROM targets ORDER BY source_line"),
        vec![
            vec!["on_time_rate", "*", "2024", "0.95", "∅"],
            vec!["on_time_rate", "*", "2024", "0.95", "month"],
            vec!["received", "*", "2024", "1200.0", "month"],
        ]
    );
}

#[test]
fn bom_crlf_and_a_quoted_newline_are_read_as_one_record() {
    let f = Fixture::new();
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend_from_slice(
        "Unit_Code,NAME,level,parent_code,adult_population\r\n\
         01,Thành phố Hà Nội,province,,\r\n\
         004,\"Quận Long Biên,\r\nHà Nội\",district,01,\"250,000\"\r\n\
         00001,Phường Sài Đồng,commune,004, 12000 \r\n"
            .as_bytes(),
    );
    let path = f.write("units.csv", &bytes);
    let report = f.ingest(Feed::Units, &[path]).unwrap().remove(0);
    assert_eq!(report_counts(&report), (3, 3, 0, 0));
    assert_eq!(
        f.sql("SELECT unit_code, name, level, parent_code, adult_population, source_line FROM units ORDER BY source_line"),
        vec![
            vec!["01", "Thành phố Hà Nội", "province", "∅", "∅", "2"],
            vec!["004", "Quận Long Biên,\r\nHà Nội", "district", "01", "250000", "3"],
            vec!["00001", "Phường Sài Đồng", "commune", "004", "12000", "5"],
        ]
    );
}

#[test]
fn utf16_with_bom_is_decoded() {
    let f = Fixture::new();
    let text = "event_id,occurred_at,unit_code,event_type,signed\r\nS1,15/03/2024 08:30,Phường Sài Đồng,document_issued,có\r\n";
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let path = f.write("sig16.csv", &bytes);
    let report = f.ingest(Feed::Signatures, &[path]).unwrap().remove(0);
    assert_eq!(report_counts(&report), (1, 1, 0, 0));
    assert_eq!(
        f.sql("SELECT unit_code, signed FROM signatures"),
        vec![vec!["Phường Sài Đồng", "true"]]
    );
}

#[test]
fn a_truncated_last_line_is_quarantined_and_the_rest_kept() {
    let f = Fixture::new();
    let csv = format!(
        "{DOSSIER_HEADER}\n{}\n{}\nD3,P1,U1,counter,none,rece",
        dossier("D1", "counter", "none", PLAIN_EXTRA),
        dossier("D2", "counter", "none", PLAIN_EXTRA)
    );
    let report = f.ingest_text(Feed::Dossiers, "cut.csv", &csv);
    assert_eq!(report_counts(&report), (3, 2, 1, 0));
    assert_eq!(report.rejections[0].line, 4);
    assert_eq!(
        report.rejections[0].reason,
        "the row has 6 field(s) but the header has 22 (a truncated line or unbalanced quotes?)"
    );
}

#[test]
fn ndjson_takes_native_values_and_quarantines_a_line_that_is_not_json() {
    let f = Fixture::new();
    let text = [
        r#"{"event_id":"N1","occurred_at":"2024-03-01T08:00:00+07:00","unit_code":"U1","event_type":"certificate_issued","free_of_charge":true,"signer_type":"citizen"}"#,
        r#"{"event_id":"N2","occurred_at":"2024-03-01T08:00:00+07:00","unit_code":"U1","event_type":"document_issued","signed":1,"provider":null}"#,
        r#"this is not json"#,
        "",
        r#"{"EVENT_ID":"N3","Occurred_At":"1/3/2024 8:00","unit_code":"U1","event_type":"document_issued","signed":"không","extra":"ignored"}"#,
        r#"["N4"]"#,
        r#"{"event_id":"N5","occurred_at":"2024-03-01T08:00:00+07:00","unit_code":"U1","event_type":"document_issued","signed":{"x":1}}"#,
        r#"{"event_id":"N6","occurred_at":"2024-03-01T08:00"#,
    ]
    .join("\n");
    let report = f.ingest_text(Feed::Signatures, "sig.ndjson", &text);
    assert_eq!(report_counts(&report), (7, 3, 4, 0));
    assert_eq!(report.unknown_columns, vec!["extra".to_string()]);
    let got: Vec<(u64, String)> = report
        .rejections
        .iter()
        .map(|r| (r.line, r.reason.chars().take(36).collect()))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "the line is not valid JSON: expected".to_string()),
            (6, "the line is JSON but not an object".to_string()),
            (7, "holds a JSON array or object where a".to_string()),
            (8, "the line is not valid JSON: EOF whil".to_string()),
        ]
    );
    assert_eq!(
        f.sql("SELECT event_id, event_type, signed, free_of_charge, signer_type, provider, occurred_at FROM signatures ORDER BY event_id"),
        vec![
            vec!["N1", "certificate_issued", "false", "true", "citizen", "∅", "2024-03-01T01:00:00Z"],
            vec!["N2", "document_issued", "true", "false", "∅", "∅", "2024-03-01T01:00:00Z"],
            vec!["N3", "document_issued", "false", "false", "∅", "∅", "2024-03-01T01:00:00Z"],
        ]
    );
}

#[test]
fn reingesting_a_file_is_a_noop_that_says_so() {
    let f = Fixture::new();
    let csv = format!(
        "{DOSSIER_HEADER}\n{}\n",
        dossier("D1", "counter", "none", PLAIN_EXTRA)
    );
    let path = f.write("d.csv", &csv);
    let first = f
        .ingest(Feed::Dossiers, std::slice::from_ref(&path))
        .unwrap();
    assert_eq!(first[0].seq, 1);
    let version_before = f.manifest_file();
    let manifest_before = std::fs::read(&version_before).unwrap();
    let copy = f.write("copy-of-d.csv", &csv);
    let again = f.ingest(Feed::Dossiers, &[path, copy]).unwrap();
    assert_eq!(again[0].already_ingested_as, Some(1));
    assert_eq!(again[1].already_ingested_as, Some(1));
    assert!(
        again[0]
            .summary_line()
            .ends_with("already ingested (ingest #1); nothing to do")
    );
    assert_eq!(f.manifest_file(), version_before, "no new manifest version");
    assert_eq!(std::fs::read(f.manifest_file()).unwrap(), manifest_before);
    assert_eq!(f.sql("SELECT count(*) FROM dossiers"), vec![vec!["1"]]);
}

#[test]
fn duplicates_are_skipped_within_and_across_files() {
    let f = Fixture::new();
    let d1 = dossier("D1", "counter", "none", PLAIN_EXTRA);
    let d1_later =
        "D1,P1,U1,counter,none,in_progress,2024-03-01 08:00,,,,2024-03-02 08:00,,,,,,,,,,,";
    let first = format!("{DOSSIER_HEADER}\n{d1}\n{d1}\n{d1_later}\n");
    // The second export re-sends both snapshots and one new one, written differently.
    let d1_same_other_spelling =
        "D1,P1,U1,Trực tiếp,none,received,01/03/2024 08:00,,,,1/3/2024 8:00:00,0,không,,,,0 đ,,,,,";
    let d2 = dossier("D2", "counter", "none", PLAIN_EXTRA);
    let second = format!("{DOSSIER_HEADER}\n{d1_same_other_spelling}\n{d1_later}\n{d2}\n");
    let reports = f
        .ingest(
            Feed::Dossiers,
            &[f.write("a.csv", first), f.write("b.csv", second)],
        )
        .unwrap();
    assert_eq!(report_counts(&reports[0]), (3, 2, 0, 1));
    assert_eq!(report_counts(&reports[1]), (3, 1, 0, 2));
    assert_eq!(
        f.sql("SELECT dossier_id, status, ingest_seq, source_line FROM dossiers ORDER BY ingest_seq, source_line"),
        vec![
            vec!["D1", "received", "1", "2"],
            vec!["D1", "in_progress", "1", "4"],
            vec!["D2", "received", "2", "4"],
        ]
    );

    // Events: first wins, across files, even when the repeat differs.
    let e1 = "E1,2024-03-01 08:00,U1,document_issued,true";
    let e1_changed = "E1,2024-04-01 08:00,U2,document_issued,false";
    let e2 = "E2,2024-03-01 08:00,U1,document_issued,false";
    let header = "event_id,occurred_at,unit_code,event_type,signed";
    let reports = f
        .ingest(
            Feed::Signatures,
            &[
                f.write("s1.csv", format!("{header}\n{e1}\n{e1}\n")),
                f.write("s2.csv", format!("{header}\n{e1_changed}\n{e2}\n")),
            ],
        )
        .unwrap();
    assert_eq!(report_counts(&reports[0]), (2, 1, 0, 1));
    assert_eq!(report_counts(&reports[1]), (2, 1, 0, 1));
    assert_eq!(
        f.sql("SELECT event_id, unit_code, signed FROM signatures ORDER BY event_id"),
        vec![vec!["E1", "U1", "true"], vec!["E2", "U1", "false"]]
    );
}

#[test]
fn a_rejected_row_never_claims_an_id() {
    let f = Fixture::new();
    let header = "event_id,occurred_at,unit_code,event_type";
    let csv =
        format!("{header}\nE1,not a date,U1,document_issued\nE1,2024-03-01,U1,document_issued\n");
    let report = f.ingest_text(Feed::Signatures, "s.csv", &csv);
    assert_eq!(report_counts(&report), (2, 1, 1, 0));
}

#[test]
fn units_files_that_break_the_registry_are_refused_whole() {
    let f = Fixture::new();
    let header = "unit_code,name,level,parent_code\n";
    let good = format!("{header}01,Hà Nội,province,\n004,Long Biên,district,01\n");
    f.ingest_text(Feed::Units, "good.csv", &good);
    let cases = [
        (
            format!(
                "{header}01,Hà Nội,province,\n004,Long Biên,district,01\n004,Long Biên 2,district,01\n"
            ),
            "duplicate unit_code: 004 (lines 3, 4)",
        ),
        (
            format!("{header}01,Hà Nội,province,\n004,Long Biên,district,02\n"),
            "parent_code not in the file: 004 → 02 (line 3)",
        ),
        (
            format!(
                "{header}01,Hà Nội,province,\nA,A,district,B\nB,B,district,C\nC,C,district,A\n"
            ),
            "parent_code forms a cycle through: A, B, C",
        ),
        (
            header.to_string(),
            "it has no valid unit rows; the registry was left as it was",
        ),
    ];
    for (i, (text, reason)) in cases.iter().enumerate() {
        let path = f.write(&format!("bad{i}.csv"), text);
        match f.ingest(Feed::Units, &[path]) {
            Err(Error::Refused { reason: got, .. }) => assert_eq!(&got, reason),
            other => panic!("case {i}: expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(
        f.sql("SELECT unit_code FROM units ORDER BY unit_code"),
        vec![vec!["004"], vec!["01"]]
    );
    // A later good file replaces the registry whole.
    f.ingest_text(
        Feed::Units,
        "good2.csv",
        &format!("{header}79,Hồ Chí Minh,province,\n"),
    );
    assert_eq!(f.sql("SELECT unit_code FROM units"), vec![vec!["79"]]);
    // Re-ingesting the first file makes it current again.
    let again = f
        .ingest(Feed::Units, &[f.dir.path().join("in/good.csv")])
        .unwrap();
    assert_eq!(again[0].already_ingested_as, None);
    assert_eq!(f.sql("SELECT count(*) FROM units"), vec![vec!["2"]]);
}

#[test]
fn strict_mode_commits_nothing_when_any_row_is_rejected() {
    let f = Fixture::new();
    let header = "event_id,occurred_at,unit_code,event_type";
    let good = f.write(
        "good.csv",
        format!("{header}\nE1,2024-03-01,U1,document_issued\n"),
    );
    let bad = f.write(
        "bad.csv",
        format!("{header}\nE2,2024-03-01,U1,unknown_type\n"),
    );
    let options = IngestOptions {
        strict: true,
        ..f.options()
    };
    let err = f
        .ingest_with(Feed::Signatures, &[good.clone(), bad], &options)
        .unwrap_err();
    assert!(matches!(err, Error::StrictRejected { rejected: 1 }));
    assert_eq!(err.exit_code(), 7);
    assert!(!f.lake.join("_manifest.json").exists() || f.manifest().ingests.is_empty());
    // Without the bad file, strict mode commits.
    let reports = f.ingest_with(Feed::Signatures, &[good], &options).unwrap();
    assert_eq!(reports[0].accepted, 1);
    assert_eq!(f.sql("SELECT count(*) FROM signatures"), vec![vec!["1"]]);
}

#[test]
fn a_file_with_applicant_ids_and_no_key_is_refused_with_how_to_set_one() {
    let f = Fixture::new();
    let csv = format!(
        "{DOSSIER_HEADER}\n{}\n",
        dossier("D1", "counter", "none", ",,,,,,,,,001203004567,citizen")
    );
    let path = f.write("d.csv", csv);
    let options = IngestOptions::default();
    match f.ingest_with(Feed::Dossiers, &[path], &options) {
        Err(e @ Error::PiiKey(_)) => {
            assert!(e.to_string().contains("MOTCUA_PII_KEY"), "{e}");
            assert_eq!(e.exit_code(), 6);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(f.manifest().ingests.is_empty());
    // A file without IDs needs no key.
    let plain = f.write(
        "plain.csv",
        format!(
            "{DOSSIER_HEADER}\n{}\n",
            dossier("D2", "counter", "none", PLAIN_EXTRA)
        ),
    );
    assert_eq!(
        f.ingest_with(Feed::Dossiers, &[plain], &options).unwrap()[0].accepted,
        1
    );
}

#[test]
fn files_missing_a_required_column_or_naming_one_twice_are_refused() {
    let f = Fixture::new();
    let cases = [
        (
            "event_id,unit_code,event_type\nE1,U1,document_issued\n",
            "the header lacks required column(s) occurred_at of feed signatures",
        ),
        (
            "event_id,occurred_at,unit_code,event_type,Event_ID\nE1,2024-03-01,U1,document_issued,E1\n",
            "the header names column 'event_id' twice",
        ),
        ("", "the file is empty: no header row"),
    ];
    for (i, (text, reason)) in cases.iter().enumerate() {
        let path = f.write(&format!("case{i}.csv"), text);
        let err = f.ingest(Feed::Signatures, &[path]).unwrap_err();
        assert!(err.to_string().ends_with(reason), "{err}");
        assert_eq!(err.exit_code(), 3);
    }
}

#[test]
fn the_lake_reads_back_through_datafusion_with_the_declared_schema() {
    let f = Fixture::new();
    f.ingest_sample(300, 7);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let ctx = datafusion::prelude::SessionContext::new();
        motcua::sql::tables::register_tables(&ctx, &f.location(), &f.manifest())
            .await
            .unwrap();
        for def in ALL_FEEDS {
            let df = ctx.table(def.name).await.unwrap();
            // The declared columns, with dossier text read as views.
            let declared = motcua::sql::tables::read_schema(def);
            let read: Vec<(String, String, bool)> = df
                .schema()
                .fields()
                .iter()
                .map(|x| (x.name().clone(), x.data_type().to_string(), x.is_nullable()))
                .collect();
            let expected: Vec<(String, String, bool)> = declared
                .fields()
                .iter()
                .map(|x| (x.name().clone(), x.data_type().to_string(), x.is_nullable()))
                .collect();
            assert_eq!(read, expected, "{}", def.name);
            let batches = df.collect().await.unwrap();
            let rows = batches.iter().map(|b| b.num_rows()).sum::<usize>();
            assert!(rows > 0, "{}", def.name);
        }
    });
    // Parquet itself says UTC-adjusted microseconds, so other readers agree.
    let manifest = f.manifest();
    let file = &manifest.data_files(Feed::Dossiers)[0].path;
    let reader = parquet::file::reader::SerializedFileReader::new(
        std::fs::File::open(f.lake.join(file)).unwrap(),
    )
    .unwrap();
    use parquet::file::reader::FileReader;
    let schema = reader.metadata().file_metadata().schema_descr();
    let received = schema
        .columns()
        .iter()
        .find(|c| c.name() == "received_at")
        .unwrap();
    assert_eq!(
        format!("{:?}", received.logical_type_ref()),
        "Some(Timestamp(TimestampType { is_adjusted_to_u_t_c: true, unit: MICROS }))"
    );
}

#[test]
fn leftovers_of_an_interrupted_ingest_are_removed_and_never_read() {
    let f = Fixture::new();
    let header = "event_id,occurred_at,unit_code,event_type";
    f.ingest_text(
        Feed::Signatures,
        "a.csv",
        &format!("{header}\nE1,2024-03-01,U1,document_issued\n"),
    );
    // What a crash between rename and manifest commit leaves behind.
    let stray = f.lake.join("signatures/month=2024-03/f000099.parquet");
    std::fs::copy(
        f.lake
            .join(&f.manifest().data_files(Feed::Signatures)[0].path),
        &stray,
    )
    .unwrap();
    std::fs::create_dir_all(f.lake.join("_staging/txn-000099")).unwrap();
    assert_eq!(f.sql("SELECT count(*) FROM signatures"), vec![vec!["1"]]);
    f.ingest_text(
        Feed::Signatures,
        "b.csv",
        &format!("{header}\nE2,2024-03-01,U1,document_issued\n"),
    );
    assert!(!stray.exists());
    assert!(!f.lake.join("_staging").exists());
    assert_eq!(f.sql("SELECT count(*) FROM signatures"), vec![vec!["2"]]);
}

#[test]
fn a_legacy_8_bit_file_is_refused_and_stray_bytes_are_quarantined() {
    let f = Fixture::new();
    let header = "event_id,occurred_at,unit_code,event_type,provider\n";
    // "Phường" in Windows-1258: not UTF-8 from the first row on.
    let mut legacy = header.as_bytes().to_vec();
    legacy.extend_from_slice(b"E1,2024-03-01,U1,document_issued,Ph\xd0\xfd\xf2ng\n");
    let path = f.write("legacy.csv", &legacy);
    match f.ingest(Feed::Signatures, &[path]) {
        Err(Error::BadFile { reason, .. }) => {
            assert!(
                reason.starts_with(
                    "line 2 is not UTF-8: the file looks like a legacy 8-bit Vietnamese encoding"
                ),
                "{reason}"
            );
            assert!(
                reason.contains("iconv -f WINDOWS-1258 -t UTF-8"),
                "{reason}"
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(f.manifest().ingests.is_empty());
    // A UTF-8 file with one bad byte further down: that row alone is quarantined.
    let mut stray = header.as_bytes().to_vec();
    stray.extend_from_slice("E1,2024-03-01,U1,document_issued,Viettel-CA\n".as_bytes());
    stray.extend_from_slice(b"E2,2024-03-01,U1,document_issued,VNPT\xff\n");
    stray.extend_from_slice("E3,2024-03-01,U1,document_issued,FPT-CA\n".as_bytes());
    let report = f
        .ingest(Feed::Signatures, &[f.write("stray.csv", &stray)])
        .unwrap()
        .remove(0);
    assert_eq!(report_counts(&report), (3, 2, 1, 0));
    assert_eq!(report.rejections[0].column.as_deref(), Some("provider"));
    assert_eq!(
        report.rejections[0].reason,
        "the value is not valid UTF-8; convert the file to UTF-8"
    );
}

#[test]
fn a_second_writer_waits_or_with_no_wait_fails_clearly() {
    let f = Fixture::new();
    let header = "event_id,occurred_at,unit_code,event_type\n";
    f.ingest_text(
        Feed::Signatures,
        "a.csv",
        &format!("{header}E1,2024-03-01,U1,document_issued\n"),
    );
    let lock = std::fs::File::options()
        .write(true)
        .open(f.lake.join("_lock"))
        .unwrap();
    lock.lock().unwrap();
    let b = f.write(
        "b.csv",
        format!("{header}E2,2024-03-01,U1,document_issued\n"),
    );
    let options = IngestOptions {
        no_wait: true,
        ..f.options()
    };
    let err = f
        .ingest_with(Feed::Signatures, std::slice::from_ref(&b), &options)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("another motcua process is writing to this lake"),
        "{err}"
    );
    assert_eq!(err.exit_code(), 4);
    // Without --no-wait the second writer waits for the lock, then commits.
    let lake = f.location();
    let options = f.options();
    let waiting = std::thread::spawn(move || {
        motcua::ingest::ingest_files(&lake, Feed::Signatures, &[b], &options, &mut |_| {})
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!waiting.is_finished());
    lock.unlock().unwrap();
    assert_eq!(waiting.join().unwrap().unwrap()[0].accepted, 1);
    assert_eq!(f.sql("SELECT count(*) FROM signatures"), vec![vec!["2"]]);
}
