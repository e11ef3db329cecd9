//! Replays every saved input of the fuzz corpus (`fuzz/corpus/<target>/`)
//! through the same properties the fuzz targets check: the cheap fuzz
//! smoke of every `cargo test`. Fuzzing itself: README "Fuzzing".

use std::path::Path;

use motcua::read::Format;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a readable corpus directory").path())
        .collect();
    entries.sort();
    for path in &entries {
        let data = std::fs::read(path).expect("a readable corpus file");
        // Name the input when a property breaks.
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(outcome.is_ok(), "{} broke a property", path.display());
    }
    entries.len()
}

#[test]
fn csv_corpus_keeps_every_row() {
    assert!(replay("csv_rows", |d| motcua::fuzz::rows(d, Format::Csv)) >= 20);
}

#[test]
fn ndjson_corpus_keeps_every_row() {
    assert!(replay("ndjson_rows", |d| motcua::fuzz::rows(d, Format::Ndjson)) >= 2);
}

#[test]
fn workbook_corpus_keeps_every_row() {
    assert!(replay("workbook_rows", |d| motcua::fuzz::rows(d, Format::Workbook)) >= 3);
}

#[test]
fn timestamp_corpus_reads_back() {
    assert!(replay("timestamp", motcua::fuzz::timestamp) >= 10);
}

#[test]
fn values_corpus_reads_back() {
    assert!(replay("values", motcua::fuzz::values) >= 20);
}
