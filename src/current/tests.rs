//! The index of current dossiers, end to end on small inputs.

use std::path::Path;

use super::*;
use crate::current::collect::IndexReader;
use crate::lake::{CURRENT_DIR, IndexVersion, Staged};

fn rec(key: u128, updated_at: i64, seq: u64, line: u64) -> Latest {
    Latest {
        key,
        updated_at,
        seq,
        line,
    }
}

fn read_all(path: &Path) -> Vec<Latest> {
    let (dir, name) = (path.parent().unwrap(), path.file_name().unwrap());
    let folder = crate::Location::Folder(dir.to_path_buf());
    let mut reader = IndexReader::open(&folder, &name.to_string_lossy()).unwrap();
    let mut out = Vec::new();
    while let Some(r) = reader.next().unwrap() {
        out.push(r);
    }
    out
}

fn collect(root: &Path, records: &[Latest]) -> Collector {
    let mut c = Collector::new(root, RUN_RECORDS);
    for r in records {
        c.push(*r).unwrap();
    }
    c
}

/// Stages an update as ingest `seq` and moves its file into the lake.
fn commit(
    root: &Path,
    previous: Option<&IndexVersion>,
    c: Collector,
    seq: u64,
    as_delta: bool,
) -> IndexVersion {
    let folder = crate::Location::Folder(root.to_path_buf());
    let update = update_as(&folder, previous, c, root, seq, as_delta).unwrap();
    move_in(root, &update.staged);
    update.version
}

fn move_in(root: &Path, staged: &Staged) {
    std::fs::rename(staged.path(), root.join(staged.rel())).unwrap();
}

fn marked(root: &Path, version: &IndexVersion, expected: &[Latest]) {
    let set = CurrentSet::load(&crate::Location::Folder(root.to_path_buf()), version).unwrap();
    assert_eq!(set.len(), expected.len() as u64);
    for r in expected {
        assert!(set.contains(r.seq, r.line), "{r:?}");
    }
}

#[test]
fn merge_keeps_the_latest_snapshot_of_each_dossier_across_runs_and_versions() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(CURRENT_DIR)).unwrap();
    let mut first = collect(
        root,
        &[
            rec(7, 10, 1, 2),
            rec(3, 5, 1, 3),
            rec(7, 10, 1, 9),
            rec(1, 1, 1, 4),
        ],
    );
    first.spill().unwrap();
    first.push(rec(3, 4, 1, 20)).unwrap();
    // The first ingest writes a base whatever the policy.
    let v1 = update(
        &crate::Location::Folder(root.to_path_buf()),
        None,
        first,
        root,
        1,
    )
    .unwrap();
    assert_eq!(v1.dossiers, 3);
    move_in(root, &v1.staged);
    let v1 = v1.version;
    assert_eq!(v1.delta, None);
    let base = vec![rec(1, 1, 1, 4), rec(3, 5, 1, 3), rec(7, 10, 1, 9)];
    assert_eq!(read_all(&root.join(&v1.base)), base);

    // A later ingest: the same updated_at wins by seq; an older one
    // loses; a new dossier. As a delta: only what changed, with the
    // base entry it replaces.
    let second = [rec(7, 10, 2, 1), rec(3, 2, 2, 2), rec(u128::MAX, 0, 2, 3)];
    let v2 = commit(root, Some(&v1), collect(root, &second), 2, true);
    assert_eq!(v2.base, v1.base);
    let delta = v2.delta.clone().unwrap();
    assert_eq!(
        read_all(&root.join(&delta)),
        vec![rec(7, 10, 2, 1), rec(u128::MAX, 0, 2, 3)]
    );
    let current = [
        rec(1, 1, 1, 4),
        rec(3, 5, 1, 3),
        rec(7, 10, 2, 1),
        rec(u128::MAX, 0, 2, 3),
    ];
    marked(root, &v2, &current);
    assert!(
        !CurrentSet::load(&crate::Location::Folder(root.to_path_buf()), &v2)
            .unwrap()
            .contains(1, 9)
    );

    // The same ingest as a new base gives the same set.
    let full = commit(root, Some(&v1), collect(root, &second), 2, false);
    assert_eq!(full.delta, None);
    assert_eq!(read_all(&root.join(&full.base)), current);

    // A third ingest over base + delta: the delta's entry for key 7 is
    // replaced again (its base entry stays the one replaced), key 1's
    // base entry now loses too.
    let third = [rec(7, 11, 3, 1), rec(1, 2, 3, 2)];
    let v3 = commit(root, Some(&v2), collect(root, &third), 3, true);
    assert_eq!(v3.base, v1.base);
    let current = [
        rec(1, 2, 3, 2),
        rec(3, 5, 1, 3),
        rec(7, 11, 3, 1),
        rec(u128::MAX, 0, 2, 3),
    ];
    marked(root, &v3, &current);
    let set = CurrentSet::load(&crate::Location::Folder(root.to_path_buf()), &v3).unwrap();
    assert!(!set.contains(1, 4) && !set.contains(1, 9) && !set.contains(2, 1));
    // Folded into a new base: the same entries.
    let v4 = commit(root, Some(&v2), collect(root, &third), 3, false);
    assert_eq!(read_all(&root.join(&v4.base)), current);
    marked(root, &v4, &current);
}

#[test]
fn a_delta_is_folded_into_a_new_base_once_it_outgrows_its_share() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join(CURRENT_DIR)).unwrap();
    let lake = crate::Location::Folder(root.to_path_buf());
    let records: Vec<Latest> = (0..DELTA_MIN_ENTRIES as u128)
        .map(|k| rec(k, 1, 1, k as u64))
        .collect();
    let v1 = update(&lake, None, collect(root, &records), root, 1).unwrap();
    move_in(root, &v1.staged);
    // Small next to the minimum: a delta of 10 newer snapshots.
    let newer: Vec<Latest> = (0..10).map(|k| rec(k, 2, 2, k as u64)).collect();
    let v2 = update(&lake, Some(&v1.version), collect(root, &newer), root, 2).unwrap();
    assert!(v2.version.delta.is_some());
    assert_eq!(
        rows(&lake, &v2.staged.path().to_string_lossy()).unwrap(),
        10
    );
    move_in(root, &v2.staged);
    // Past it: a new base.
    let v3 = update(&lake, Some(&v2.version), collect(root, &records), root, 3).unwrap();
    assert_eq!(v3.version.delta, None);
    assert_eq!(v3.dossiers, DELTA_MIN_ENTRIES);
}
