//! SPEC §6: applicant IDs never reach the lake or quarantine in clear.

mod common;

use common::*;
use motcua::ingest::IngestOptions;
use motcua::spec::feeds::Feed;
use motcua::validate::privacy::PiiKey;

const IDS: [&str; 4] = ["001203004567", "079188001122", "038095112233", "123456789"];

#[test]
fn no_applicant_id_byte_sequence_lands_anywhere_under_the_lake() {
    let f = Fixture::new();
    let ok = "P1,U1,counter,none,received,2024-03-01 08:00,,,,2024-03-01 08:00";
    let csv = format!(
        "{DOSSIER_HEADER}\n\
         D1,{ok},,,,,,,,,,{},citizen\n\
         D2,{ok},,,,,,,,,,{},citizen\n\
         D3,P1,U1,fax,none,received,2024-03-01 08:00,,,,2024-03-01 08:00,,,,,,,,,,{},citizen\n\
         D4,{ok},,,,,,,{},,\n\
         D5,{ok},,,,,,,,,,{},citizen\n",
        IDS[0], IDS[1], IDS[2], IDS[3], IDS[0]
    );
    let report = f.ingest_text(Feed::Dossiers, "ids.csv", &csv);
    // D3: bad channel; D4: the row is short, so the ID sits in another column.
    assert_eq!(report_counts(&report), (5, 3, 2, 0));
    for file in all_files(&f.lake) {
        let bytes = std::fs::read(&file).unwrap();
        for id in IDS {
            assert!(
                !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
                "{id} found in clear in {}",
                file.display()
            );
        }
    }
    let raw = f.sql("SELECT line, raw FROM quarantine ORDER BY line");
    assert_eq!(
        raw,
        vec![
            vec![
                "4",
                "D3,P1,U1,fax,none,received,2024-03-01 08:00,,,,2024-03-01 08:00,,,,,,,,,,[masked],citizen"
            ],
            vec![
                "5",
                "D4,P1,U1,counter,none,received,2024-03-01 08:00,,,,2024-03-01 08:00,,,,,,,[masked],,"
            ],
        ]
    );
    // The same applicant gets the same key; different applicants differ.
    let keys = f.sql("SELECT dossier_id, applicant_key FROM dossiers ORDER BY dossier_id");
    assert_eq!(keys[0][1], keys[2][1]);
    assert_ne!(keys[0][1], keys[1][1]);
    assert_eq!(keys[0][1].len(), 32);
}

#[test]
fn applicant_key_is_hmac_sha256_truncated_to_128_bits() {
    // RFC 4231 test case 1: key 0x0b × 20, data "Hi There".
    let key = PiiKey::new(&[0x0b; 20], "rfc4231").unwrap();
    assert_eq!(
        key.applicant_key("Hi There"),
        "b0344c61d8db38535ca8afceaf0bf12b"
    );

    let f = Fixture::new();
    let ok = "P1,U1,counter,none,received,2024-03-01 08:00,,,,2024-03-01 08:00";
    let csv = format!("{DOSSIER_HEADER}\nD1,{ok},,,,,,,,,, Hi There ,citizen\n");
    let options = IngestOptions {
        pii_key: Some(key),
        ..Default::default()
    };
    f.ingest_with(Feed::Dossiers, &[f.write("d.csv", csv)], &options)
        .unwrap();
    assert_eq!(
        f.sql("SELECT applicant_key FROM dossiers"),
        vec![vec!["b0344c61d8db38535ca8afceaf0bf12b"]]
    );
}

/// Every place the CLI writes to: the lake, quarantine, KPI outputs, query
/// exports in each format, and stdout/stderr at the most verbose log level
/// (MOTCUA_LOG=debug for every crate, DataFusion's included).
#[test]
fn no_applicant_id_reaches_outputs_exports_or_logs() {
    let f = Fixture::new();
    let ok = "P1,U1,counter,none,received,2024-03-01 08:00,,,,2024-03-01 08:00";
    let csv = format!(
        "{DOSSIER_HEADER}\n\
         D1,{ok},,,,,,,,,,{},citizen\n\
         D2,P1,U1,fax,none,received,2024-03-01 08:00,,,,2024-03-01 08:00,,,,,,,,,,{},citizen\n\
         D3,{ok},,,,,,,{},,\n\
         D4,{ok},,,,,,,,,,{},business\n",
        IDS[0], IDS[1], IDS[2], IDS[3]
    );
    let input = f.write("ids.csv", csv);
    let input = input.to_str().unwrap();
    let out = f.dir.path().join("out");
    let exports = f.dir.path().join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    let export = |name: &str| exports.join(name).to_str().unwrap().to_string();
    let (parquet, csv_out, json_out) = (
        export("dossiers.parquet"),
        export("quarantine.csv"),
        export("q.json"),
    );
    let out_arg = out.to_str().unwrap();
    let units = f.write(
        "units.csv",
        "unit_code,name,level,parent_code\nU1,Huyện,district,\n",
    );
    let units = units.to_str().unwrap();
    let runs: Vec<Vec<&str>> = vec![
        vec!["ingest", "units", units],
        vec!["ingest", "dossiers", input, "--dry-run"],
        vec!["ingest", "dossiers", input],
        vec!["lake"],
        vec![
            "kpi",
            "--grain",
            "month",
            "--from",
            "2024-03-01",
            "--to",
            "2024-03-31",
            "--out",
            out_arg,
        ],
        vec!["query", "dq_quarantine"],
        vec![
            "query",
            "--sql",
            "SELECT * FROM quarantine",
            "--format",
            "csv",
            "--output",
            &csv_out,
        ],
        vec![
            "query",
            "--sql",
            "SELECT * FROM quarantine",
            "--format",
            "json",
            "--output",
            &json_out,
        ],
        vec![
            "query",
            "--sql",
            "SELECT * FROM dossier_snapshots",
            "--format",
            "parquet",
            "--output",
            &parquet,
        ],
        vec!["query", "--sql", "SELECT * FROM dossiers", "--out", out_arg],
        vec![
            "query",
            "--sql",
            "SELECT raw FROM quarantine",
            "--format",
            "json",
        ],
    ];
    let mut printed = Vec::new();
    for args in &runs {
        let run = motcua_command(&f.lake)
            .arg("-vv")
            .args(args)
            .env("MOTCUA_LOG", "debug")
            .output()
            .unwrap();
        assert!(
            run.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        printed.push((format!("{args:?}"), [run.stdout, run.stderr].concat()));
    }
    // The runs did write what is scanned below.
    assert!(std::fs::metadata(&parquet).unwrap().len() > 0);
    assert!(
        std::fs::read_to_string(&csv_out)
            .unwrap()
            .contains("[masked]")
    );
    let mut scanned: Vec<(String, Vec<u8>)> = printed;
    for dir in [&f.lake, &out, &exports] {
        for file in all_files(dir) {
            scanned.push((file.display().to_string(), std::fs::read(&file).unwrap()));
        }
    }
    assert!(scanned.len() > 15, "{} places scanned", scanned.len());
    for (place, bytes) in &scanned {
        for id in IDS {
            assert!(
                !bytes.windows(id.len()).any(|w| w == id.as_bytes()),
                "{id} found in clear in {place}"
            );
        }
    }
}
