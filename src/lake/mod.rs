//! The Parquet lake: its layout on disk, its manifest, its lock, and atomic
//! commits.
//!
//! ```text
//! LAKE/
//!   _manifest.json                       the truth: what is committed
//!   _lock                                held by a writer (ingest)
//!   _staging/                            files being written; never read
//!   dossiers/month=2024-03/f000007-000.parquet
//!   portal_events/month=2024-03/…        partitioned by local month
//!   signatures/month=2024-03/…
//!   units/f000003.parquet                one file per registry version
//!   targets/f000004.parquet
//!   quarantine/dossiers/f000007.parquet  rejected rows of ingest 7
//! ```
//!
//! A file is written under `_staging`, renamed into place, and becomes part
//! of the lake only when the manifest that lists it is renamed over the old
//! one. Readers go by the manifest, so a crash at any point leaves the lake
//! as it was; the next writer deletes what the crash left behind.

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
use crate::storage::relative;
use crate::validate::time::Zone;

pub(crate) const MANIFEST: &str = "_manifest.json";
const LOCK: &str = "_lock";
const STAGING: &str = "_staging";
pub(crate) const QUARANTINE: &str = "quarantine";
/// Where versions of the index of current dossiers live (`current/`).
pub(crate) const CURRENT_DIR: &str = "current";
/// Index versions no manifest names are deleted once this old: a reader that
/// opened an older manifest has long since loaded its index by then.
pub(crate) const KEEP_UNREFERENCED_SECS: u64 = 15 * 60;

/// The manifest format this motcua writes. 2 added `dossier_index_delta`: a
/// motcua that reads only format 1 would ignore the delta and see a stale
/// current state, so it must refuse the lake instead. 3 added
/// `pii_key_check`: a motcua that ignored it would hash applicant IDs under
/// any key. Formats 1 and 2 are still read and become 3 on the next commit.
pub const FORMAT_VERSION: u32 = 3;
const OLDEST_READ_FORMAT: u32 = 1;

/// A lake opened for writing: holds the lock until dropped.
pub struct Lake {
    pub(crate) root: PathBuf,
    pub(crate) manifest: Manifest,
    pub(crate) _lock: File,
}

/// Reads the committed manifest without taking the lock. A writer replaces
/// the manifest by rename, so this sees one whole version.
pub fn read_manifest(root: &Path) -> Result<Manifest> {
    let path = root.join(MANIFEST);
    let text = fs::read_to_string(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::lake(
                root,
                "no lake here (no _manifest.json); create one with `motcua ingest`",
            )
        } else {
            Error::io(&path, e)
        }
    })?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| Error::lake(root, format!("_manifest.json is not readable: {e}")))?;
    if !(OLDEST_READ_FORMAT..=FORMAT_VERSION).contains(&manifest.format_version) {
        return Err(Error::lake(
            root,
            format!(
                "manifest format {} is not one this motcua reads ({OLDEST_READ_FORMAT} to {FORMAT_VERSION}): use the motcua that wrote the lake, or a newer one",
                manifest.format_version
            ),
        ));
    }
    Ok(manifest)
}

impl Lake {
    /// Opens (creating if needed) a lake for writing. Waits for another
    /// writer's lock, saying so, or with `wait` false fails at once. Cleans
    /// up what an interrupted writer left.
    pub(crate) fn open_for_write(root: &Path, zone: &Zone, wait: bool) -> Result<Lake> {
        fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
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
        let manifest = if root.join(MANIFEST).exists() {
            read_manifest(root)?
        } else {
            Manifest::new(zone)
        };
        manifest.check_zone(root, zone)?;
        let lake = Lake {
            root: root.to_path_buf(),
            manifest,
            _lock: lock,
        };
        if !root.join(MANIFEST).exists() {
            lake.write_manifest(&lake.manifest)?;
        }
        lake.remove_leftovers()?;
        Ok(lake)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// A fresh staging directory for one transaction.
    pub(crate) fn staging_dir(&self) -> Result<PathBuf> {
        let dir = self
            .root
            .join(STAGING)
            .join(format!("txn-{:06}", self.manifest.next_seq));
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(dir)
    }

    /// Deletes the staging area (only the lock holder writes there).
    pub(crate) fn remove_staging(&self) -> Result<()> {
        let staging = self.root.join(STAGING);
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        }
        Ok(())
    }

    /// Deletes staging directories and any data file no manifest names: the
    /// remains of a writer that crashed before its commit.
    fn remove_leftovers(&self) -> Result<()> {
        self.remove_staging()?;
        let committed = self.manifest.all_paths();
        let mut dirs: Vec<PathBuf> = crate::spec::feeds::ALL_FEEDS
            .iter()
            .map(|d| self.root.join(d.name))
            .collect();
        dirs.push(self.root.join(QUARANTINE));
        let mut removed = 0;
        while let Some(dir) = dirs.pop() {
            let Ok(entries) = fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "parquet") {
                    let rel = relative(&self.root, &path);
                    if !committed.contains(rel.as_str()) {
                        fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
                        removed += 1;
                    }
                }
            }
        }
        if removed > 0 {
            tracing::warn!(
                "removed {removed} uncommitted file(s) left in {} by an interrupted run",
                self.root.display()
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
                self.manifest.check_pii_key(&self.root, key)?;
                Ok(false)
            }
            None => {
                self.commit(Vec::new(), Vec::new(), None, Some(key.fingerprint()))?;
                Ok(true)
            }
        }
    }
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
