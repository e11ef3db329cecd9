//! The generator's output: deterministic, fully accepted where it should be,
//! and every row accounted for.

mod common;

use common::*;
use motcua::spec::feeds::Feed;

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
