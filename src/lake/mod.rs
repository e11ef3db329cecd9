//! The Parquet lake: its layout, its manifest, its lock, and atomic commits.
//!
//! ```text
//! LAKE/                                  a folder, or s3://bucket/prefix
//!   _manifest/00000000000000000007.json  the truth: the highest version
//!   _manifest.json                       formats 1–3 (from 4: a pointer)
//!   _lock                                held by a writer (folders only)
//!   _staging/                            files being written; never read
//!   dossiers/month=2024-03/f000007-000.parquet
//!   portal_events/month=2024-03/…        partitioned by local month
//!   signatures/month=2024-03/…
//!   units/f000003.parquet                one file per registry version
//!   targets/f000004.parquet
//!   quarantine/dossiers/f000007.parquet  rejected rows of ingest 7
//!   current/dossiers-000007.parquet      the index of current dossiers
//! ```
//!
//! A commit puts its files in place, then creates the next manifest
//! version, once: a file of that name that already exists means another
//! writer committed first, and this commit fails with nothing of it
//! visible. Readers go by the highest version, so a crash at any point
//! leaves the lake as it was; the next writer deletes what the crash left
//! behind. In a bucket, a writer's files take names no other writer can
//! pick (the lake's names plus a random tag).

mod manifest;
mod summary;
mod transaction;

pub use manifest::{DataFile, IndexVersion, IngestEntry, Manifest};
pub(crate) use summary::*;
pub(crate) use transaction::*;

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::error::{Error, Result};
use crate::storage::Location;
use crate::validate::time::Zone;

/// Where formats 1 to 3 keep the manifest. From format 4 it holds a
/// pointer for older motcuas (which then refuse the lake by its format,
/// instead of reading a manifest that no longer changes).
pub(crate) const MANIFEST: &str = "_manifest.json";
/// The manifest's versions from format 4: `_manifest/NNNN….json`, each
/// whole, each created once. The highest is the lake.
pub(crate) const LOG: &str = "_manifest";
const LOCK: &str = "_lock";
const STAGING: &str = "_staging";
pub(crate) const QUARANTINE: &str = "quarantine";
/// Where versions of the index of current dossiers live (`current/`).
pub(crate) const CURRENT_DIR: &str = "current";
/// Index files no kept manifest version names are deleted once this old
/// (a version's files are kept while the version is: see `KEEP_VERSIONS`).
pub(crate) const KEEP_UNREFERENCED_SECS: u64 = 15 * 60;
/// In a bucket, files no manifest names may be another writer's uploads,
/// not committed yet: they are deleted only once a day old, far longer than
/// any commit's uploads take.
pub(crate) const BUCKET_UNREFERENCED_SECS: u64 = 24 * 60 * 60;
/// Manifest versions kept beyond the current one; older ones go once they
/// are `KEEP_VERSION_SECS` old.
pub(crate) const KEEP_VERSIONS: u64 = 10;
pub(crate) const KEEP_VERSION_SECS: u64 = 60 * 60;

/// The manifest format this motcua writes. 2 added `dossier_index_delta`: a
/// motcua that reads only format 1 would ignore the delta and see a stale
/// current state, so it must refuse the lake instead. 3 added
/// `pii_key_check`: a motcua that ignored it would hash applicant IDs under
/// any key. 4 keeps the manifest as numbered versions in `_manifest/`, each
/// created only if absent, so that a commit needs no rename and no lock (a
/// bucket has neither). Formats 1 to 3 are still read and become 4 on the
/// next commit.
pub const FORMAT_VERSION: u32 = 4;
const OLDEST_READ_FORMAT: u32 = 1;

/// A lake opened for writing: in a folder, holds the lock until dropped.
pub struct Lake {
    pub(crate) location: Location,
    pub(crate) manifest: Manifest,
    /// The manifest's version; `None` before the first of format 4.
    pub(crate) version: Option<u64>,
    /// Where this writer's files wait for the commit: `_staging/` in a
    /// folder, a local temporary folder for a bucket.
    staging: PathBuf,
    _temporary: Option<tempfile::TempDir>,
    pub(crate) _lock: Option<File>,
    /// The index files each older manifest version names, as read by the
    /// clean-up after a commit.
    index_names: std::collections::BTreeMap<u64, Vec<String>>,
}

/// A committed manifest and its version (`None`: a format 1–3 manifest).
pub(crate) struct Committed {
    pub(crate) version: Option<u64>,
    pub(crate) manifest: Manifest,
}

/// Reads the committed manifest without taking the lock. Every version is
/// created whole, once, so this sees one whole version.
pub fn read_manifest(location: &Location) -> Result<Manifest> {
    match read_committed(location)? {
        Some(committed) => Ok(committed.manifest),
        None => Err(Error::lake(
            location.root_shown(),
            "no lake here (no _manifest); create one with `motcua ingest`",
        )),
    }
}

/// The highest version in `_manifest/`, else `_manifest.json` (a format
/// 1–3 lake, or one whose first version is not written yet); `None` when
/// there is no lake.
pub(crate) fn read_committed(location: &Location) -> Result<Option<Committed>> {
    // A version deleted between the listing and the read (kept an hour), or
    // a lake upgraded between them, is read again.
    for _ in 0..3 {
        if let Some(version) = latest_version(location)? {
            match location.read(&version_rel(version))? {
                Some(bytes) => {
                    return Ok(Some(Committed {
                        version: Some(version),
                        manifest: parse_manifest(location, &bytes)?,
                    }));
                }
                None => continue,
            }
        }
        let Some(bytes) = location.read(MANIFEST)? else {
            return Ok(None);
        };
        let manifest = parse_manifest(location, &bytes)?;
        if manifest.kept_in.is_none() {
            return Ok(Some(Committed {
                version: None,
                manifest,
            }));
        }
    }
    Err(Error::lake(
        location.root_shown(),
        "_manifest.json points to _manifest/, which holds no version: the lake is damaged; restore _manifest/ from a backup",
    ))
}

fn parse_manifest(location: &Location, bytes: &[u8]) -> Result<Manifest> {
    let manifest: Manifest = serde_json::from_slice(bytes).map_err(|e| {
        Error::lake(
            location.root_shown(),
            format!("the manifest is not readable: {e}"),
        )
    })?;
    if !(OLDEST_READ_FORMAT..=FORMAT_VERSION).contains(&manifest.format_version) {
        return Err(Error::lake(
            location.root_shown(),
            format!(
                "manifest format {} is not one this motcua reads ({OLDEST_READ_FORMAT} to {FORMAT_VERSION}): use the motcua that wrote the lake, or a newer one",
                manifest.format_version
            ),
        ));
    }
    Ok(manifest)
}

/// The file of manifest version `version`.
pub(crate) fn version_rel(version: u64) -> String {
    format!("{LOG}/{version:020}.json")
}

/// The versions in `_manifest/`, in order.
pub(crate) fn versions(location: &Location) -> Result<Vec<(u64, u64)>> {
    Ok(location
        .list(LOG)?
        .into_iter()
        .filter_map(|listed| {
            let name = listed.rel.rsplit('/').next()?;
            let number = name.strip_suffix(".json")?;
            (number.len() == 20)
                .then(|| number.parse::<u64>().ok())
                .flatten()
                .map(|v| (v, listed.age_secs))
        })
        .collect())
}

pub(crate) fn latest_version(location: &Location) -> Result<Option<u64>> {
    Ok(versions(location)?.last().map(|(v, _)| *v))
}

impl Lake {
    /// Opens (creating if needed) a lake for writing. In a folder, waits for
    /// another writer's lock, saying so, or with `wait` false fails at once;
    /// a bucket has no lock: of two writers, the second to commit fails.
    /// Cleans up what an interrupted writer left.
    pub(crate) fn open_for_write(location: &Location, zone: &Zone, wait: bool) -> Result<Lake> {
        let (lock, staging, temporary) = match location {
            Location::Folder(root) => {
                fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
                (Some(lock(root, wait)?), root.join(STAGING), None)
            }
            Location::Bucket(_) => {
                let dir = tempfile::Builder::new()
                    .prefix("motcua-staging-")
                    .tempdir()
                    .map_err(|e| Error::io(std::env::temp_dir(), e))?;
                (None, dir.path().to_path_buf(), Some(dir))
            }
        };
        let committed = read_committed(location)?;
        // Before anything is written: a server that ignores conditional
        // puts would let two writers overwrite each other's commits.
        location.check_conditional_writes(LOG)?;
        let mut lake = Lake {
            location: location.clone(),
            manifest: Manifest::new(zone),
            version: None,
            staging,
            _temporary: temporary,
            _lock: lock,
            index_names: Default::default(),
        };
        match committed {
            Some(committed) => {
                lake.manifest = committed.manifest;
                lake.version = committed.version;
            }
            None => {
                // A new lake: its empty manifest, then its first version.
                // Two writers making the same new bucket lake: the second
                // finds the first's empty version, which is the same.
                let empty = lake.manifest.clone();
                match lake.write_manifest(&empty) {
                    Ok(()) => {}
                    Err(Error::Conflict { .. }) => {
                        let committed = read_committed(location)?.ok_or_else(|| {
                            Error::lake(location.root_shown(), "the new lake's manifest vanished")
                        })?;
                        lake.manifest = committed.manifest;
                        lake.version = committed.version;
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        lake.manifest.check_zone(&location.root_shown(), zone)?;
        lake.remove_leftovers()?;
        Ok(lake)
    }

    pub fn location(&self) -> &Location {
        &self.location
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// A fresh staging directory for one transaction.
    pub(crate) fn staging_dir(&self) -> Result<PathBuf> {
        let dir = self
            .staging
            .join(format!("txn-{:06}", self.manifest.next_seq));
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(dir)
    }

    /// Deletes the staging area (only this writer writes there).
    pub(crate) fn remove_staging(&self) -> Result<()> {
        if self.staging.exists() {
            fs::remove_dir_all(&self.staging).map_err(|e| Error::io(&self.staging, e))?;
        }
        Ok(())
    }

    /// Deletes staging directories and any data file no manifest names: the
    /// remains of a writer that crashed before its commit. In a folder the
    /// lock says no one else is writing; in a bucket another writer may be,
    /// so only files older than any commit in progress go.
    fn remove_leftovers(&self) -> Result<()> {
        let min_age = match self.location {
            Location::Folder(_) => {
                self.remove_staging()?;
                0
            }
            Location::Bucket(_) => BUCKET_UNREFERENCED_SECS,
        };
        let mut unnamed = Vec::new();
        for dir in crate::spec::feeds::ALL_FEEDS
            .iter()
            .map(|d| d.name)
            .chain([QUARANTINE])
        {
            match self.location.list_all(dir) {
                Ok(files) => unnamed.extend(
                    files
                        .into_iter()
                        .filter(|f| f.rel.ends_with(".parquet") && f.age_secs >= min_age),
                ),
                Err(e) => tracing::warn!("leftovers not cleaned in {dir}: {e}"),
            }
        }
        if unnamed.is_empty() {
            return Ok(());
        }
        // Read again after listing: a commit since this writer opened the
        // lake names files this one had not seen.
        let latest = match read_committed(&self.location)? {
            Some(committed) => committed.manifest,
            None => self.manifest.clone(),
        };
        let committed = latest.all_paths();
        let mut removed = 0;
        for file in unnamed {
            if !committed.contains(file.rel.as_str()) {
                match self.location.delete(&file.rel) {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        }
        if removed > 0 {
            tracing::warn!(
                "removed {removed} uncommitted file(s) left in {} by an interrupted run",
                self.location.root_shown().display()
            );
        }
        Ok(())
    }

    pub(crate) fn next_seq(&self) -> u64 {
        self.manifest.next_seq
    }

    /// Records the fingerprint of `key` as the lake's PII key, for a lake
    /// from before motcua recorded one; false when it already holds this
    /// one. Another key already recorded is refused.
    pub(crate) fn record_pii_key(
        &mut self,
        key: &crate::validate::privacy::PiiKey,
    ) -> Result<bool> {
        match &self.manifest.pii_key_check {
            Some(check) if *check == key.fingerprint() => Ok(false),
            Some(_) => {
                self.manifest
                    .check_pii_key(&self.location.root_shown(), key)?;
                Ok(false)
            }
            None => {
                self.commit(Vec::new(), Vec::new(), None, Some(key.fingerprint()))?;
                Ok(true)
            }
        }
    }
}

/// Takes the folder's writer lock, waiting for it unless `wait` is false.
fn lock(root: &Path, wait: bool) -> Result<File> {
    let lock_path = root.join(LOCK);
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(&lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) if !wait => {
            return Err(Error::lake(
                root,
                "another motcua process is writing to this lake; try again when it is done (or leave out --no-wait to wait for it)",
            ));
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            tracing::warn!(
                "another motcua process is writing to {}; waiting for it to finish",
                root.display()
            );
            wait_for_lock(&lock, &lock_path)?;
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&lock_path, e)),
    }
    Ok(lock)
}

/// Waits for another writer's lock, polling, so that Ctrl-C still stops
/// the wait.
fn wait_for_lock(lock: &File, path: &Path) -> Result<()> {
    loop {
        match lock.try_lock() {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
        if crate::interrupt::requested() {
            return Err(Error::Interrupted {
                what: "stopped while waiting for another writer's lock; nothing was written".into(),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The columns of a quarantine file.
pub(crate) fn quarantine_schema() -> SchemaRef {
    std::sync::Arc::new(Schema::new(vec![
        Field::new("ingest_seq", DataType::Int64, false),
        Field::new("feed", DataType::Utf8, false),
        Field::new("source_file", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("column", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
    ]))
}
