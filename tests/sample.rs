//! The generator's output: deterministic, fully accepted where it should be,
//! and every row accounted for.

mod common;

use common::*;
use motcua::ingest::IngestOptions;
use motcua::spec::feeds::Feed;
use std::path::PathBuf;

#[test]
fn the_same_seed_gives_the_same_bytes() {
    let f = Fixture::new();
    let a = f.dir.path().join("a");
    let b = f.dir.path().join("b");
    motcua::sample::generate(&a, 2_000, 42).unwrap();
    motcua::sample::generate(&b, 2_000, 42).unwrap();
    for (_, file) in motcua::sample::FILES {
        assert_eq!(
            std::fs::read(a.join(file)).unwrap(),
            std::fs::read(b.join(file)).unwrap(),
            "{file}"
        );
    }
}

#[test]
fn every_row_read_is_accepted_quarantined_or_a_duplicate() {
    let f = Fixture::new();
    let exports = f.dir.path().join("exports");
    let generated = motcua::sample::generate(&exports, 10_000, 3).unwrap();
    let mut accepted_by_feed = Vec::new();
    for (feed, file) in motcua::sample::FILES {
        let report = f.ingest(feed, &[exports.join(file)]).unwrap().remove(0);
        assert_eq!(
            report.rows_read,
            report.accepted + report.quarantined + report.duplicates,
            "{file}"
        );
        // The generator writes only valid rows; its re-sent rows are the duplicates.
        assert_eq!(report.quarantined, 0, "{file}: {:?}", report.rejections);
        accepted_by_feed.push((feed, report.accepted));
        match feed {
            Feed::Dossiers => assert_eq!(report.rows_read, generated.dossier_rows),
            Feed::PortalEvents => assert_eq!(report.rows_read, generated.portal_events),
            Feed::Signatures => assert_eq!(report.rows_read, generated.signatures),
            Feed::Units => assert_eq!(report.rows_read, generated.units),
            Feed::Targets => assert_eq!(report.rows_read, generated.targets),
            Feed::UnitChanges => assert_eq!(report.rows_read, generated.unit_changes),
        }
    }
    for (feed, accepted) in accepted_by_feed {
        let count = f.sql(&format!("SELECT count(*) FROM {feed}"));
        assert_eq!(count, vec![vec![accepted.to_string()]], "{feed}");
    }
    // Every dossier appears; a dossier's snapshots share its month.
    assert_eq!(
        f.sql("SELECT count(DISTINCT dossier_id) FROM dossiers"),
        vec![vec!["10000"]]
    );
    // Identical snapshots were skipped: no two stored rows share a hash.
    assert_eq!(
        f.sql("SELECT count(*) - count(DISTINCT row_hash) FROM dossiers"),
        vec![vec!["0"]]
    );
}

/// The same activity written as field exports — a tracking book with titles,
/// a two-row header and a footer, or a vi-VN `;` CSV; units as a Vietnamese
/// register — or written canonically gives the same lake and the same KPIs
/// as the system export.
#[test]
fn every_style_gives_the_same_lake_and_kpis_as_the_system_export() {
    use motcua::sample::Style;
    let lake_of = |style: Style| {
        let f = Fixture::new();
        let exports = f.dir.path().join("exports");
        let generated = motcua::sample::generate_styled(&exports, 2_500, 5, style).unwrap();
        for (feed, path) in &generated.files {
            let report = f
                .ingest(*feed, std::slice::from_ref(path))
                .unwrap()
                .remove(0);
            // Only footer rows are quarantined.
            assert_eq!(
                report.quarantined,
                report.footer_rows,
                "{style:?} {}",
                path.display()
            );
        }
        let out = f.dir.path().join("out");
        let status = motcua_command(&f.lake)
            .args([
                "kpi",
                "--grain",
                "month",
                "--from",
                "2024-01-01",
                "--to",
                "2025-02-01",
                "--out",
            ])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "{style:?}");
        let mut slices: Vec<(PathBuf, Vec<u8>)> = all_files(&out.join("kpi_values"))
            .into_iter()
            .map(|p| {
                (
                    p.strip_prefix(&out).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        slices.sort();
        // Every column but the line each row came from.
        let tables: Vec<Vec<Vec<String>>> = [
            ("dossiers", "dossier_id, updated_at, row_hash"),
            ("units", "unit_code, valid_from"),
        ]
        .iter()
        .map(|(t, key)| {
            f.sql(&format!(
                "SELECT * EXCLUDE (source_line) FROM {t} ORDER BY {key}"
            ))
        })
        .collect();
        (generated, tables, slices)
    };
    let (system, system_tables, system_kpis) = lake_of(Style::System);
    assert!(system_kpis.len() >= 13, "{}", system_kpis.len());
    for style in [Style::Canonical, Style::Field, Style::FieldCsv] {
        let (field, tables, kpis) = lake_of(style);
        assert_eq!(field.dossier_rows, system.dossier_rows);
        // More rows than one batch of the sheet reader (4,096).
        assert!(field.dossier_rows > 4_096, "{}", field.dossier_rows);
        for (table, system_table) in tables.iter().zip(&system_tables) {
            assert_eq!(table.len(), system_table.len(), "{style:?}");
            let differs = table.iter().zip(system_table).find(|(a, b)| a != b);
            assert!(
                differs.is_none(),
                "{style:?}: the lake differs: {differs:?}"
            );
        }
        assert!(kpis == system_kpis, "{style:?}: the KPIs differ");
    }
}

/// A CSV file read in chunks on one thread per core writes the lake it
/// writes read record by record on one: every data, quarantine and index
/// file the same bytes. Chunks of 1,000 bytes cut the files at thousands of
/// places; chunks asked to be a byte long hold a record or a few (each
/// cut at the first record end), so the last rows of the field CSV's
/// signature block are parsed again once the block is known to have begun
/// in an earlier chunk.
#[test]
fn reading_in_chunks_writes_the_lake_reading_record_by_record_writes() {
    use motcua::sample::Style;
    // One set of exports: quarantine records name the file read.
    let exports = Fixture::new();
    let files: Vec<(Feed, PathBuf)> = [Style::System, Style::FieldCsv]
        .into_iter()
        .flat_map(|style| {
            let dir = exports.dir.path().join(format!("{style:?}"));
            motcua::sample::generate_styled(&dir, 1_500, 11, style)
                .unwrap()
                .files
        })
        .collect();
    let lake_files = |chunk_bytes: Option<usize>| {
        let f = Fixture::new();
        let mut counts = Vec::new();
        for (feed, path) in &files {
            let options = IngestOptions {
                chunk_bytes,
                ..f.options()
            };
            let report = f
                .ingest_with(*feed, std::slice::from_ref(path), &options)
                .unwrap()
                .remove(0);
            counts.push(report_counts(&report));
        }
        let mut lake: Vec<(PathBuf, Vec<u8>)> = all_files(&f.lake)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .map(|p| {
                (
                    p.strip_prefix(&f.lake).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .collect();
        lake.sort();
        (counts, lake)
    };
    let (serial_counts, serial_files) = lake_files(Some(0));
    assert!(serial_files.len() > 20, "{}", serial_files.len());
    // The footer rows were quarantined.
    assert!(serial_counts.iter().any(|c| c.2 > 0), "{serial_counts:?}");
    for chunk_bytes in [None, Some(1_000), Some(1)] {
        let (counts, files) = lake_files(chunk_bytes);
        assert_eq!(counts, serial_counts, "{chunk_bytes:?}");
        assert_eq!(files.len(), serial_files.len(), "{chunk_bytes:?}");
        for ((path, bytes), (serial_path, serial_bytes)) in files.iter().zip(&serial_files) {
            assert_eq!(path, serial_path);
            assert!(
                bytes == serial_bytes,
                "{} differs in chunks of {chunk_bytes:?}",
                path.display()
            );
        }
    }
}
