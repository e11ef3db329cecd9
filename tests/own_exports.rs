//! Your own exports (SPEC §4.5): profiles — the examples in `sample_data/profiles/`
//! load with exact outcomes, a profile's mappings come before the built-in
//! ones, and a profile naming what the feed lacks is refused in one
//! sentence; units named by name; `motcua feeds --template`.

mod common;

use std::path::{Path, PathBuf};

use common::*;

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("sample_data/profiles")
        .join(name)
}

fn ingest(
    f: &Fixture,
    feed: &str,
    profile: &Path,
    file: &Path,
    extra: &[&str],
) -> std::process::Output {
    motcua_command(&f.lake)
        .args(["ingest", feed, "--profile"])
        .arg(profile)
        .args(extra)
        .arg(file)
        .output()
        .expect("run motcua")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn strings<const N: usize>(rows: &[[&str; N]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

#[test]
fn the_example_profiles_load_their_exports() {
    let f = Fixture::new();
    let units = ingest(
        &f,
        "units",
        &example("danh-muc-dvhc.toml"),
        &example("danh-muc-dvhc.csv"),
        &[],
    );
    assert_eq!(units.status.code(), Some(0), "{}", text(&units.stderr));
    assert!(
        text(&units.stdout).contains("read 7 · accepted 7 · quarantined 0 · duplicates 0"),
        "{}",
        text(&units.stdout)
    );
    assert_eq!(
        f.sql(
            "SELECT unit_code, level, parent_code, adult_population FROM units ORDER BY unit_code"
        ),
        strings(&[
            ["00037", "commune", "002", "14250"],
            ["00040", "commune", "002", "9310"],
            ["002", "district", "01", "∅"],
            ["01", "province", "∅", "∅"],
            ["02650", "commune", "080", "11020"],
            ["080", "district", "10", "∅"],
            ["10", "province", "∅", "∅"],
        ])
    );
    let dossiers = ingest(
        &f,
        "dossiers",
        &example("so-tiep-nhan.toml"),
        &example("so-tiep-nhan.tsv"),
        &[],
    );
    assert_eq!(
        dossiers.status.code(),
        Some(0),
        "{}",
        text(&dossiers.stderr)
    );
    assert!(
        text(&dossiers.stdout).contains("read 5 · accepted 3 · quarantined 2 · duplicates 0"),
        "{}",
        text(&dossiers.stdout)
    );
    assert_eq!(
        f.sql(
            "SELECT dossier_id, unit_code, channel, online_level, status, \
             CAST(received_at AS VARCHAR), CAST(returned_at AS VARCHAR) FROM dossiers ORDER BY dossier_id"
        ),
        strings(&[
            ["BN-2025-0001", "00037", "online", "full", "returned", "2025-03-03T01:10:00Z", "2025-03-07T02:30:00Z"],
            ["BN-2025-0002", "00037", "counter", "partial", "in_progress", "2025-03-04T02:45:00Z", "∅"],
            ["BN-2025-0003", "02650", "postal", "none", "resolved", "2025-03-05T07:20:00Z", "∅"],
        ])
    );
    assert_eq!(
        f.sql("SELECT line, coalesce(\"column\", '∅'), reason FROM quarantine ORDER BY line"),
        strings(&[
            [
                "7",
                "status",
                "'Đã xong' is not a status (expected one of: received, in_progress, resolved, returned, withdrawn, rejected)"
            ],
            ["8", "∅", "footer"],
        ])
    );
}

#[test]
fn a_dry_run_prints_the_mapping_the_profile_gave() {
    let f = Fixture::new();
    let file = example("so-tiep-nhan.tsv");
    let out = ingest(
        &f,
        "dossiers",
        &example("so-tiep-nhan.toml"),
        &file,
        &["--dry-run"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: read 5 · would accept 3 · would quarantine 2 · duplicates 0 (dry run: nothing written)\n  \
             header on line 3 (2 row(s) above it skipped); fields split on tab\n  \
             columns: số biên nhận → dossier_id; mã tthc → procedure_code; mã cơ quan tiếp nhận → unit_code; \
             nộp qua → channel; mức độ → online_level; tình trạng xử lý → status; \
             thời điểm tiếp nhận → received_at; hạn trả → due_at; thời điểm có kết quả → completed_at; \
             thời điểm trả → returned_at; cập nhật lúc → updated_at\n",
            file.display()
        )
    );
}

#[test]
fn a_profile_naming_what_the_feed_lacks_is_refused_in_one_sentence() {
    let f = Fixture::new();
    let file = example("so-tiep-nhan.tsv");
    let cases = [
        (
            "feed = \"units\"\n",
            "the profile is for feed 'units', not dossiers",
        ),
        (
            "feed = \"dossiers\"\n[columns]\n\"Số biên nhận\" = \"receipt_no\"\n",
            "[columns] names column 'receipt_no', which feed dossiers does not have (its columns: dossier_id, procedure_code, unit_code, channel, online_level, status, received_at, due_at, completed_at, returned_at, updated_at, processed_online, digitized, e_result, applicant_signed, result_signed, fee_vnd, payment_method, paid_online, satisfaction, applicant_id, applicant_type)",
        ),
        (
            "feed = \"dossiers\"\n[values.status]\n\"Đã xong\" = \"done\"\n",
            "[values.status] maps 'Đã xong' to 'done', which status does not take (its values: received, in_progress, resolved, returned, withdrawn, rejected)",
        ),
        ("feed = \"dossiers\"\nsheet = 1\n", "not a profile: "),
        ("feed = \"dossiers\"\n[colums]\n", "not a profile: "),
    ];
    for (toml, reason) in cases {
        let profile = f.write("profile.toml", toml);
        let out = ingest(&f, "dossiers", &profile, &file, &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{toml}: {stderr}");
        let want = format!("error: {}: {reason}", profile.display());
        assert!(
            stderr.starts_with(&want),
            "{toml}: {stderr}\nwanted: {want}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn a_template_is_an_empty_export_motcua_reads() {
    let f = Fixture::new();
    let vi = motcua_command(&f.lake)
        .args(["feeds", "--template", "units", "--lang", "vi"])
        .output()
        .unwrap();
    assert_eq!(
        text(&vi.stdout),
        "\u{feff}Mã đơn vị;Tên đơn vị;Cấp;Mã đơn vị cấp trên;Dân số trưởng thành;Hiệu lực từ;Hiệu lực đến\r\n"
    );
    let en = motcua_command(&f.lake)
        .args(["feeds", "--template", "targets"])
        .output()
        .unwrap();
    assert_eq!(text(&en.stdout), "kpi,unit_code,year,target,grain\r\n");
    // Filled in as an office would, the Vietnamese template loads.
    let filled = f.write(
        "units.csv",
        format!("{}01;Thành phố Hà Nội;Tỉnh;;;;\r\n", text(&vi.stdout)),
    );
    let out = motcua_command(&f.lake)
        .args(["ingest", "units"])
        .arg(&filled)
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("read 1 · accepted 1 · quarantined 0"),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // The workbook template's header is found; empty, it is no registry.
    let book = f.dir.path().join("units.xlsx");
    let made = motcua_command(&f.lake)
        .args(["feeds", "--template", "units", "--lang", "vi", "--out"])
        .arg(&book)
        .output()
        .unwrap();
    assert_eq!(made.status.code(), Some(0), "{}", text(&made.stderr));
    let empty = motcua_command(&f.lake)
        .args(["ingest", "units", "--dry-run"])
        .arg(&book)
        .output()
        .unwrap();
    assert_eq!(empty.status.code(), Some(3));
    assert!(
        text(&empty.stderr)
            .ends_with("it has no valid unit rows; the registry was left as it was\n"),
        "{}",
        text(&empty.stderr)
    );
    let bad = motcua_command(&f.lake)
        .args(["feeds", "--lang", "vi"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn units_named_by_name_are_looked_up_in_the_registry() {
    let f = Fixture::new();
    let by_name = f.write(
        "by-name.csv",
        "Mã hồ sơ;Mã thủ tục;Đơn vị tiếp nhận;Hình thức nộp;Trạng thái;Ngày tiếp nhận;Ngày cập nhật\n\
         N1;P1;UBND phường Hàng Trống;Trực tiếp;Đang xử lý;05/03/2025 08:00;05/03/2025 08:00\n\
         N2;P1;Cốc Lếu;Trực tiếp;Đang xử lý;05/03/2025 08:00;05/03/2025 08:00\n\
         N3;P1;Lào Cai;Trực tiếp;Đang xử lý;05/03/2025 08:00;05/03/2025 08:00\n\
         N4;P1;Xã Tả Van;Trực tiếp;Đang xử lý;05/03/2025 08:00;05/03/2025 08:00\n",
    );
    let run = |path: &Path| {
        motcua_command(&f.lake)
            .args(["ingest", "dossiers"])
            .arg(path)
            .output()
            .expect("run motcua")
    };
    // Without a registry there is nothing to look names up in.
    let refused = run(&by_name);
    assert_eq!(refused.status.code(), Some(3));
    assert_eq!(
        text(&refused.stderr).trim_end(),
        format!(
            "error: {}: the export names its units by name (column 'đơn vị tiếp nhận'), which needs the units registry: ingest the units first, or export the unit codes",
            by_name.display()
        )
    );
    let units = ingest(
        &f,
        "units",
        &example("danh-muc-dvhc.toml"),
        &example("danh-muc-dvhc.csv"),
        &[],
    );
    assert_eq!(units.status.code(), Some(0), "{}", text(&units.stderr));
    let out = run(&by_name);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        f.sql("SELECT dossier_id, unit_code FROM dossiers ORDER BY dossier_id"),
        strings(&[["N1", "00037"], ["N2", "02650"]])
    );
    assert_eq!(
        f.sql("SELECT line, \"column\", reason FROM quarantine ORDER BY line"),
        strings(&[
            [
                "4",
                "unit_code",
                "'Lào Cai' names 2 units in the registry: Tỉnh Lào Cai (10), Thành phố Lào Cai (080); give the unit's code"
            ],
            [
                "5",
                "unit_code",
                "no unit in the registry is named 'Xã Tả Van'; give the unit's code, or ingest the units file that names it"
            ],
        ])
    );
    // Where the code is there too, the name is left out.
    let both = f.write(
        "both.csv",
        "Mã hồ sơ;Mã thủ tục;Mã đơn vị;Đơn vị;Hình thức nộp;Trạng thái;Ngày tiếp nhận;Ngày cập nhật\n\
         N5;P1;00040;Lào Cai;Trực tiếp;Đang xử lý;05/03/2025 08:00;05/03/2025 08:00\n",
    );
    let out = run(&both);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        f.sql("SELECT unit_code FROM dossiers WHERE dossier_id = 'N5'"),
        strings(&[["00040"]])
    );
}

/// A footer or malformed row is quarantined as read, but its personal ID,
/// found by the header's position, is masked like a data row's.
#[test]
fn a_quarantined_footers_personal_id_is_masked() {
    let f = Fixture::new();
    let path = f.write(
        "ids.csv",
        "Mã hồ sơ;Mã thủ tục;Mã đơn vị;Hình thức nộp;Trạng thái;Ngày tiếp nhận;Ngày cập nhật;Số CCCD\n\
         N1;P1;001;Trực tiếp;Đang xử lý;05/03/2025 08:00;05/03/2025 08:00;001203004567\n\
         Tổng cộng;;;;;;;C1234567\n\
         N2;P1;001;Trực tiếp;Đang xử lý;05/03/2025 08:00;05/03/2025 08:00;B7654321;extra\n",
    );
    let out = motcua_command(&f.lake)
        .args(["ingest", "dossiers"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let raw = f.sql("SELECT raw FROM quarantine ORDER BY line");
    assert_eq!(raw.len(), 2, "{raw:?}");
    for row in &raw {
        assert!(
            !row[0].contains("C1234567") && !row[0].contains("B7654321"),
            "{row:?}"
        );
        assert!(row[0].contains("[masked]"), "{row:?}");
    }
}
