//! Units that change (SPEC §2.1), first part: a registry whose units carry
//! the days they exist, with a code reused after its first unit ends.

mod common;

use common::*;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn a_registry_keeps_each_units_days_and_refuses_a_code_naming_two_units_on_a_day() {
    let f = Fixture::new();
    let ingest = |name: &str, csv: &str| {
        let path = f.write(name, csv);
        motcua_command(&f.lake)
            .args(["ingest", "units"])
            .arg(&path)
            .output()
            .expect("run motcua")
    };
    // Hà Nội; Quận Hoàn Kiếm until July 2025; 00070 was Phường Hàng
    // Trống under it, and names Phường Hoàn Kiếm from then on.
    let history = "unit_code,name,level,parent_code,valid_from,valid_to\n\
        01,Thành phố Hà Nội,province,,,\n\
        002,Quận Hoàn Kiếm,district,01,,2025-07-01\n\
        00070,Phường Hàng Trống,commune,002,,01/07/2025\n\
        00070,Phường Hoàn Kiếm,commune,01,2025-07-01,\n";
    let out = ingest("history.csv", history);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        f.sql("SELECT unit_code, name, CAST(valid_from AS VARCHAR) AS f, CAST(valid_to AS VARCHAR) AS t FROM units ORDER BY unit_code, units.valid_from NULLS FIRST"),
        [
            ["00070", "Phường Hàng Trống", "∅", "2025-07-01"],
            ["00070", "Phường Hoàn Kiếm", "2025-07-01", "∅"],
            ["002", "Quận Hoàn Kiếm", "∅", "2025-07-01"],
            ["01", "Thành phố Hà Nội", "∅", "∅"],
        ]
        .map(|row| row.map(String::from).to_vec())
    );
    // In a session, `unit_versions` holds them all and `units` those of
    // today (any day after July 2025).
    let query = |sql: &str| {
        let out = motcua_command(&f.lake)
            .args(["query", "--format", "csv", "--sql", sql])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(
        query("SELECT unit_code, name FROM units ORDER BY unit_code"),
        "unit_code,name\n00070,Phường Hoàn Kiếm\n01,Thành phố Hà Nội\n"
    );
    assert_eq!(query("SELECT count(*) AS n FROM unit_versions"), "n\n4\n");
    let refusals = [
        (
            "clash.csv",
            "unit_code,name,level,parent_code,valid_from,valid_to\n\
             01,Hà Nội,province,,,\n\
             00070,Phường Hàng Trống,commune,01,,2025-07-02\n\
             00070,Phường Hoàn Kiếm,commune,01,2025-07-01,\n",
            "duplicate unit_code: 00070 names two units on 2025-07-01 (lines 3, 4)",
        ),
        (
            "orphan.csv",
            "unit_code,name,level,parent_code,valid_from,valid_to\n\
             01,Hà Nội,province,,,\n\
             002,Quận Hoàn Kiếm,district,01,,2025-07-01\n\
             00070,Phường Hoàn Kiếm,commune,002,,\n",
            "parent_code names no unit on a day its child exists: 00070 → 002 on 2025-07-01 (line 4)",
        ),
    ];
    for (name, csv, reason) in refusals {
        let out = ingest(name, csv);
        assert_eq!(out.status.code(), Some(3), "{name}");
        assert!(
            text(&out.stderr).contains(reason),
            "{name}: {}",
            text(&out.stderr)
        );
    }
    // The registry is as the first file left it.
    assert_eq!(f.sql("SELECT count(*) FROM units"), [["4".to_string()]]);
}

#[test]
fn changes_join_units_that_exist_and_an_old_units_shares_make_a_whole() {
    let f = Fixture::new();
    let write_ingest = |feed: &str, name: &str, csv: &str| {
        let path = f.write(name, csv);
        motcua_command(&f.lake)
            .args(["ingest", feed])
            .arg(&path)
            .output()
            .expect("run motcua")
    };
    // Without a registry there is nothing to check the changes against.
    let early = write_ingest(
        "unit_changes",
        "early.csv",
        "old_code,new_code,effective_on\n00070,00070,2025-07-01\n",
    );
    assert_eq!(early.status.code(), Some(3));
    assert!(
        text(&early.stderr)
            .contains("the lake holds no units registry to check the changes against"),
        "{}",
        text(&early.stderr)
    );
    let units = write_ingest(
        "units",
        "units.csv",
        "unit_code,name,level,parent_code,valid_from,valid_to\n\
         01,Thành phố Hà Nội,province,,,\n\
         002,Quận Hoàn Kiếm,district,01,,2025-07-01\n\
         00070,Phường Hàng Trống,commune,002,,2025-07-01\n\
         00082,Phường Cửa Nam,commune,002,,2025-07-01\n\
         00070,Phường Hoàn Kiếm,commune,01,2025-07-01,\n\
         00004,Phường Ba Đình,commune,01,2025-07-01,\n\
         00082,Phường Cửa Nam,commune,01,2025-07-01,\n",
    );
    assert_eq!(units.status.code(), Some(0), "{}", text(&units.stderr));
    // Cửa Nam split three ways (shares assumed); Hàng Trống into Hoàn Kiếm.
    let changes = write_ingest(
        "unit_changes",
        "changes.csv",
        "Mã đơn vị cũ;Mã đơn vị mới;Ngày hiệu lực;Tỷ lệ;Cơ sở;Nghị quyết\n\
         00082;00004;01/07/2025;20%;assumed;1656/NQ-UBTVQH15\n\
         00082;00070;01/07/2025;0,3;assumed;1656/NQ-UBTVQH15\n\
         00082;00082;01/07/2025;0.5;assumed;1656/NQ-UBTVQH15\n\
         00070;00070;01/07/2025;;;1656/NQ-UBTVQH15\n",
    );
    assert_eq!(changes.status.code(), Some(0), "{}", text(&changes.stderr));
    assert_eq!(
        f.sql("SELECT old_code, new_code, CAST(effective_on AS VARCHAR) AS d, share FROM unit_changes ORDER BY old_code, new_code"),
        [
            ["00070", "00070", "2025-07-01", "1.0"],
            ["00082", "00004", "2025-07-01", "0.2"],
            ["00082", "00070", "2025-07-01", "0.3"],
            ["00082", "00082", "2025-07-01", "0.5"],
        ]
        .map(|row| row.map(String::from).to_vec())
    );
    let refusals = [
        (
            "00082,00004,2025-07-01,0.2\n00082,00070,2025-07-01,0.3\n",
            "the shares of 00082 on 2025-07-01 sum to 0.5, not 1 (lines 2, 3)",
        ),
        (
            "00004,00070,2025-07-01,1\n",
            "old_code 00004 names no unit on 2025-06-30, the day before the change (line 2)",
        ),
        (
            "00070,00099,2025-07-01,1\n",
            "new_code 00099 names no unit on 2025-07-01 (line 2)",
        ),
        (
            "00070,00070,2025-07-01,1.5\n",
            "line 2: share: a share is more than 0 and at most 1 (100%); 1.5 is not",
        ),
    ];
    for (rows, reason) in refusals {
        let out = write_ingest(
            "unit_changes",
            "bad.csv",
            &format!("old_code,new_code,effective_on,share\n{rows}"),
        );
        assert_eq!(out.status.code(), Some(3), "{rows}");
        assert!(
            text(&out.stderr).contains(reason),
            "{rows}: {}",
            text(&out.stderr)
        );
    }
    // The changes are as the good file left them.
    assert_eq!(
        f.sql("SELECT count(*) FROM unit_changes"),
        [["4".to_string()]]
    );
    let units = |args: &[&str]| {
        let out = motcua_command(&f.lake)
            .arg("units")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    assert_eq!(
        units(&["--at", "2025-06-30"]),
        "4 unit(s) valid on 2025-06-30\n\
         01 Thành phố Hà Nội (province)\n  \
         002 Quận Hoàn Kiếm (district)\n    \
         00070 Phường Hàng Trống (commune)\n    \
         00082 Phường Cửa Nam (commune)\n"
    );
    assert_eq!(
        units(&["--at", "2025-07-01"]),
        "4 unit(s) valid on 2025-07-01\n\
         01 Thành phố Hà Nội (province)\n  \
         00004 Phường Ba Đình (commune)\n  \
         00070 Phường Hoàn Kiếm (commune)\n  \
         00082 Phường Cửa Nam (commune)\n"
    );
    assert_eq!(
        units(&["--history", "00070"]),
        "00070 Phường Hàng Trống (commune, under 002), until 2025-07-01\n\
         00070 Phường Hoàn Kiếm (commune, under 01), from 2025-07-01\n  \
         2025-07-01 ← 00082 (share 0.3, assumed, 1656/NQ-UBTVQH15)\n  \
         2025-07-01 → 00070 (share 1, 1656/NQ-UBTVQH15)\n"
    );
    let unknown = motcua_command(&f.lake)
        .args(["units", "--history", "9"])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}
