//! SPEC §6: applicant IDs never reach the lake or quarantine in clear.

mod common;

use common::*;
use motcua::feeds::Feed;
use motcua::ingest::IngestOptions;
use motcua::privacy::PiiKey;

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
