//! The hot paths the commit log quotes, each on a fixed input:
//! `cargo bench --manifest-path benches/micro/Cargo.toml`.

use motcua::hot;
use motcua::read::Format;
use motcua::spec::feeds::Feed;
use motcua::validate::time::Zone;

fn main() {
    divan::main();
}

const ROWS: usize = 10_000;

/// Timestamps as exports write them: ISO with and without a zone, day-first.
fn timestamps() -> Vec<String> {
    (0..ROWS)
        .map(|i| {
            let (d, h, m) = (i % 28 + 1, i % 24, i % 60);
            match i % 3 {
                0 => format!("2024-03-{d:02}T{h:02}:{m:02}:00+07:00"),
                1 => format!("2024-03-{d:02} {h:02}:{m:02}"),
                _ => format!("{d}/3/2024 {h}:{m:02}"),
            }
        })
        .collect()
}

#[divan::bench]
fn timestamp_parsing(bencher: divan::Bencher) {
    let texts = timestamps();
    let zone = Zone::default();
    bencher
        .counter(divan::counter::ItemsCount::new(ROWS))
        .bench(|| hot::parse_timestamps(&texts, &zone));
}

#[divan::bench]
fn enum_matching(bencher: divan::Bencher) {
    let spellings = ["online", "Trực tuyến", "truc tuyen", "COUNTER", "Trực tiếp", "postal"];
    let texts: Vec<String> = (0..ROWS)
        .map(|i| spellings[i % spellings.len()].to_string())
        .collect();
    bencher
        .counter(divan::counter::ItemsCount::new(ROWS))
        .bench(|| hot::match_channels(&texts));
}

#[divan::bench]
fn row_hash(bencher: divan::Bencher) {
    let rows: Vec<Vec<String>> = (0..ROWS)
        .map(|i| {
            vec![
                format!("S{i:08}"),
                "2024-03-01T08:00:00Z".to_string(),
                format!("U{:03}", i % 700),
                "document_issued".to_string(),
            ]
        })
        .collect();
    bencher
        .counter(divan::counter::ItemsCount::new(ROWS))
        .bench(|| hot::hash_rows(&rows));
}

#[divan::bench(args = [100_000, 1_000_000])]
fn key_set(bencher: divan::Bencher, keys: usize) {
    // Keys are xxh3 hashes: spread over all 128 bits.
    let keys: Vec<u128> = (0..keys as u128)
        .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835))
        .collect();
    bencher
        .counter(divan::counter::ItemsCount::new(keys.len()))
        .bench(|| hot::insert_keys(&keys));
}

/// 10 k signature events as a CSV export.
fn signatures_csv() -> Vec<u8> {
    let mut csv = String::from("event_id,occurred_at,unit_code,event_type\n");
    for i in 0..ROWS {
        csv.push_str(&format!(
            "S{i:08},2024-03-{:02} {:02}:{:02},U{:03},{}\n",
            i % 28 + 1,
            i % 24,
            i % 60,
            i % 700,
            if i % 3 == 0 { "certificate_issued" } else { "document_issued" }
        ));
    }
    csv.into_bytes()
}

#[divan::bench]
fn row_parser_10k_rows(bencher: divan::Bencher) {
    let bytes = signatures_csv();
    bencher
        .counter(divan::counter::ItemsCount::new(ROWS))
        .bench(|| hot::dry_run_rows(Feed::Signatures, Format::Csv, &bytes, Zone::default()).unwrap());
}

#[divan::bench(args = [10_000, 100_000])]
fn index_merge(bencher: divan::Bencher, claims: u64) {
    let dir = tempfile_dir();
    let index = hot::IndexFixture::new(&dir, 1_000_000).unwrap();
    bencher
        .counter(divan::counter::ItemsCount::new(claims))
        .bench(|| index.merge(claims).unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("motcua-micro-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
