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

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::feeds::{Feed, Retention};
use crate::time::Zone;

pub const MANIFEST: &str = "_manifest.json";
const LOCK: &str = "_lock";
const STAGING: &str = "_staging";
pub const QUARANTINE: &str = "quarantine";
/// Where versions of the index of current dossiers live (`current.rs`).
pub const CURRENT_DIR: &str = "current";
/// Index versions no manifest names are deleted once this old: a reader that
/// opened an older manifest has long since loaded its index by then.
const KEEP_UNREFERENCED_SECS: u64 = 15 * 60;

/// The manifest format this motcua writes. 2 added `dossier_index_delta`: a
/// motcua that reads only format 1 would ignore the delta and see a stale
/// current state, so it must refuse the lake instead. 3 added
/// `pii_key_check`: a motcua that ignored it would hash applicant IDs under
/// any key. Formats 1 and 2 are still read and become 3 on the next commit.
pub const FORMAT_VERSION: u32 = 3;
const OLDEST_READ_FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DataFile {
    /// Relative to the lake root, with `/` separators.
    pub path: String,
    pub rows: u64,
    /// `YYYY-MM` for partitioned feeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
}

/// One ingested input file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IngestEntry {
    pub seq: u64,
    pub feed: Feed,
    pub source: String,
    pub content_hash: String,
    pub bytes: u64,
    pub ingested_at: String,
    pub rows_read: u64,
    pub accepted: u64,
    pub quarantined: u64,
    pub duplicates: u64,
    pub data_files: Vec<DataFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quarantine_file: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format_version: u32,
    /// The zone local times were read in and months partitioned by.
    pub timezone: String,
    pub next_seq: u64,
    pub ingests: Vec<IngestEntry>,
    /// For feeds that replace the whole table: the seq of the current version.
    #[serde(default)]
    pub current: BTreeMap<Feed, u64>,
    /// The index of every dossier's current snapshot (`current.rs`), once
    /// the lake has dossiers; relative to the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dossier_index: Option<String>,
    /// The entries of the index that changed since `dossier_index` was
    /// written, with the ones they replace (`current.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dossier_index_delta: Option<String>,
    /// The fingerprint of the PII key the lake's `applicant_key`s were made
    /// with (`PiiKey::fingerprint`; never the key): an ingest under another
    /// key is refused, so two keys never mix in one lake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_key_check: Option<String>,
}

impl serde::Serialize for Feed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Feed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl Manifest {
    /// The manifest of a lake with nothing in it yet.
    pub fn new(zone: &Zone) -> Self {
        Manifest {
            format_version: FORMAT_VERSION,
            timezone: zone.to_string(),
            next_seq: 1,
            ingests: Vec::new(),
            current: BTreeMap::new(),
            dossier_index: None,
            dossier_index_delta: None,
            pii_key_check: None,
        }
    }

    /// The zone the lake keeps local times in.
    pub fn zone(&self) -> Result<Zone> {
        self.timezone.parse()
    }

    /// Refuses `zone` unless it is the zone the lake keeps local times in
    /// (an alias such as Asia/Saigon for Asia/Ho_Chi_Minh is the same zone).
    pub fn check_zone(&self, root: &Path, zone: &Zone) -> Result<()> {
        let same = self.zone().is_ok_and(|lake_zone| lake_zone.same_as(zone));
        if same {
            return Ok(());
        }
        Err(Error::lake(
            root,
            format!(
                "this lake keeps local times in {}, not {zone}; pass --tz {} (or use another lake)",
                self.timezone, self.timezone
            ),
        ))
    }

    /// Refuses `key` when the lake's applicant keys were made with another,
    /// or when the lake holds dossiers from before it recorded its key: the
    /// key cannot be checked, so the operator confirms it once
    /// (`motcua lake --record-pii-key`).
    pub fn check_pii_key(&self, root: &Path, key: &crate::privacy::PiiKey) -> Result<()> {
        match &self.pii_key_check {
            Some(check) if *check != key.fingerprint() => Err(Error::PiiKey(format!(
                "the PII key from {} is not the key this lake's applicant keys were made with (lake {}); set the lake's key, or start a new lake to use a new one (README: rotating the PII key)",
                key.source,
                root.display()
            ))),
            None if !self.data_files(Feed::Dossiers).is_empty() => Err(Error::PiiKey(format!(
                "lake {} holds dossiers from before motcua recorded which PII key made their applicant keys; if the key from {} is that key, record it once with `motcua lake --record-pii-key`, then ingest again",
                root.display(),
                key.source
            ))),
            _ => Ok(()),
        }
    }

    /// The committed index of current dossiers, if the lake has one.
    pub fn current_index(&self) -> Option<IndexVersion> {
        self.dossier_index.as_ref().map(|base| IndexVersion {
            base: base.clone(),
            delta: self.dossier_index_delta.clone(),
        })
    }

    /// The committed data files of a feed, in ingest order: every file for
    /// an appending feed, the current version's for a replacing one.
    pub fn data_files(&self, feed: Feed) -> Vec<&DataFile> {
        let current = self.current.get(&feed);
        self.ingests
            .iter()
            .filter(|e| e.feed == feed)
            .filter(|e| feed.def().retention == Retention::Append || Some(&e.seq) == current)
            .flat_map(|e| e.data_files.iter())
            .collect()
    }

    pub fn quarantine_files(&self) -> Vec<&str> {
        self.ingests
            .iter()
            .filter_map(|e| e.quarantine_file.as_deref())
            .collect()
    }

    /// An earlier ingest with the same content, when re-ingesting it would
    /// change nothing: any earlier one for an appending feed, the current
    /// version for a replacing one.
    pub fn already_ingested(&self, feed: Feed, content_hash: &str) -> Option<&IngestEntry> {
        let current = self.current.get(&feed);
        self.ingests.iter().find(|e| {
            e.feed == feed
                && e.content_hash == content_hash
                && (feed.def().retention == Retention::Append || Some(&e.seq) == current)
        })
    }

    fn all_paths(&self) -> BTreeSet<&str> {
        self.ingests
            .iter()
            .flat_map(|e| {
                e.data_files
                    .iter()
                    .map(|f| f.path.as_str())
                    .chain(e.quarantine_file.as_deref())
            })
            .collect()
    }
}

/// The committed index of current dossiers, relative to the lake root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexVersion {
    pub base: String,
    /// The entries that changed since `base` was written.
    pub delta: Option<String>,
}

impl IndexVersion {
    pub(crate) fn files(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.base.as_str()).chain(self.delta.as_deref())
    }
}

/// A lake opened for writing: holds the lock until dropped.
pub struct Lake {
    root: PathBuf,
    manifest: Manifest,
    _lock: File,
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
    pub fn open_for_write(root: &Path, zone: &Zone, wait: bool) -> Result<Lake> {
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
    pub fn staging_dir(&self) -> Result<PathBuf> {
        let dir = self
            .root
            .join(STAGING)
            .join(format!("txn-{:06}", self.manifest.next_seq));
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(dir)
    }

    /// Deletes the staging area (only the lock holder writes there).
    pub fn remove_staging(&self) -> Result<()> {
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
        let mut dirs: Vec<PathBuf> = crate::feeds::ALL_FEEDS
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

    pub fn next_seq(&self) -> u64 {
        self.manifest.next_seq
    }

    /// Records the fingerprint of `key` as the lake's PII key, for a lake
    /// from before motcua recorded one; false when it already holds this
    /// one. Another key already recorded is refused.
    pub fn record_pii_key(&mut self, key: &crate::privacy::PiiKey) -> Result<bool> {
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

    /// Moves staged files into place and commits the entries in one manifest
    /// replace. `dossier_index`, when given, names staged files and becomes
    /// the index of current dossiers; `pii_key_check`, when given, records
    /// the key the entries' applicant keys were made with.
    pub fn commit(
        &mut self,
        entries: Vec<IngestEntry>,
        staged: Vec<Staged>,
        dossier_index: Option<IndexVersion>,
        pii_key_check: Option<String>,
    ) -> Result<()> {
        for file in &staged {
            let to = self.root.join(&file.rel);
            if let Some(parent) = to.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
            }
            fs::rename(&file.path, &to).map_err(|e| Error::io(&to, e))?;
        }
        let parents: BTreeSet<&Path> = staged
            .iter()
            .filter_map(|file| Path::new(&file.rel).parent())
            .collect();
        for parent in parents {
            sync_dir(&self.root.join(parent))?;
        }
        let mut next = self.manifest.clone();
        next.format_version = FORMAT_VERSION;
        for entry in entries {
            next.next_seq = next.next_seq.max(entry.seq + 1);
            if entry.feed.def().retention == Retention::Replace {
                next.current.insert(entry.feed, entry.seq);
            }
            next.ingests.push(entry);
        }
        if let Some(index) = dossier_index {
            next.dossier_index = Some(index.base);
            next.dossier_index_delta = index.delta;
        }
        if pii_key_check.is_some() {
            next.pii_key_check = pii_key_check;
        }
        self.write_manifest(&next)?;
        if let Some(index) = next.current_index() {
            remove_old_index_versions(&self.root, &index);
        }
        self.manifest = next;
        Ok(())
    }

    fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(manifest)
            .map_err(|e| Error::lake(&self.root, e.to_string()))?;
        write_atomic(&self.root.join(MANIFEST), &bytes)
    }
}

/// A file written under staging, synced, and the path it takes in the lake
/// once committed. `Staged::sync` is the only way to make one, so every file
/// a manifest names is durable before the manifest that names it.
#[derive(Debug)]
pub struct Staged {
    path: PathBuf,
    rel: String,
}

impl Staged {
    /// Syncs `file`, written at `path`, which the commit moves to `rel`.
    pub fn sync(file: &File, path: PathBuf, rel: String) -> Result<Staged> {
        file.sync_all().map_err(|e| Error::io(&path, e))?;
        Ok(Staged { path, rel })
    }

    /// Where the file is in the lake once committed.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// Where it is written until the commit.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The error for a column of a lake file that is not of its declared type.
pub fn damaged(path: &Path, column: &str, expected: &str) -> Error {
    Error::lake(
        path,
        format!(
            "its {column} column is not {expected}: the file is damaged; restore it from a backup"
        ),
    )
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

/// Deletes index files other than `keep`'s that no reader can still need.
fn remove_old_index_versions(root: &Path, keep: &IndexVersion) {
    let Ok(entries) = std::fs::read_dir(root.join(CURRENT_DIR)) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = relative(root, &path);
        if keep.files().any(|f| f == rel) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age.as_secs() >= KEEP_UNREFERENCED_SECS);
        if old && std::fs::remove_file(&path).is_ok() {
            tracing::debug!("removed old dossier index {}", path.display());
        }
    }
}

/// `path` relative to `root`, with `/` separators.
pub fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Writes a file so that readers see the old content or the new, never a
/// part: a temporary file in the same directory, synced, then renamed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    // A bare file name's parent is "": the current directory.
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    make_readable(tmp.as_file(), tmp.path())?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    sync_dir(dir)
}

/// Gives a temporary file (created 0600) the mode of an ordinary output,
/// 0644: readers such as dashboards and other users must be able to open it.
pub fn make_readable(file: &File, path: &Path) -> Result<()> {
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .map_err(|e| Error::io(path, e))
}

/// Makes a rename durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// What the lake holds, per feed: for `motcua lake` and the demo.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSummary {
    pub feed: Feed,
    pub ingests: usize,
    pub rows: u64,
    pub quarantined: u64,
    pub duplicates: u64,
    pub files: usize,
    pub first_month: Option<String>,
    pub last_month: Option<String>,
}

pub fn summarize(manifest: &Manifest) -> Vec<FeedSummary> {
    crate::feeds::ALL_FEEDS
        .iter()
        .map(|def| {
            let feed = def.feed;
            let files = manifest.data_files(feed);
            let months: BTreeSet<&str> = files.iter().filter_map(|f| f.month.as_deref()).collect();
            let entries = manifest.ingests.iter().filter(|e| e.feed == feed);
            FeedSummary {
                feed,
                ingests: entries.clone().count(),
                rows: files.iter().map(|f| f.rows).sum(),
                quarantined: entries.clone().map(|e| e.quarantined).sum(),
                duplicates: entries.map(|e| e.duplicates).sum(),
                files: files.len(),
                first_month: months.first().map(|m| m.to_string()),
                last_month: months.last().map(|m| m.to_string()),
            }
        })
        .collect()
}

/// The summary as a small table for the terminal.
pub fn render_summary(root: &Path, manifest: &Manifest) -> String {
    let mut out = format!(
        "lake {} (zone {}, {} ingest(s))\n",
        root.display(),
        manifest.timezone,
        manifest.ingests.len()
    );
    out.push_str(&format!(
        "{:<14} {:>8} {:>12} {:>12} {:>11} {:>6}  {}\n",
        "feed", "ingests", "rows", "quarantined", "duplicates", "files", "months"
    ));
    for s in summarize(manifest) {
        let months = match (&s.first_month, &s.last_month) {
            (Some(a), Some(b)) if a == b => a.clone(),
            (Some(a), Some(b)) => format!("{a} … {b}"),
            _ => "-".into(),
        };
        out.push_str(&format!(
            "{:<14} {:>8} {:>12} {:>12} {:>11} {:>6}  {}\n",
            s.feed.name(),
            s.ingests,
            s.rows,
            s.quarantined,
            s.duplicates,
            s.files,
            months
        ));
    }
    out
}

/// Rows per Parquet row group: small enough that a month's scan can skip by
/// statistics, large enough for good compression.
const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Parquet settings shared by every file motcua writes.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("motcua {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The columns of a quarantine file.
pub fn quarantine_schema() -> SchemaRef {
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

/// Registers the committed lake in a DataFusion session: one table per feed
/// (named as the feed) over exactly the files the manifest lists, with the
/// declared schema, and `quarantine` over every quarantine file.
pub async fn register_tables(
    ctx: &datafusion::prelude::SessionContext,
    root: &Path,
    manifest: &Manifest,
) -> Result<()> {
    for def in crate::feeds::ALL_FEEDS {
        let files: Vec<&str> = manifest
            .data_files(def.feed)
            .into_iter()
            .map(|f| f.path.as_str())
            .collect();
        register_parquet(ctx, root, def.name, &files, read_schema(def))?;
    }
    register_parquet(
        ctx,
        root,
        QUARANTINE,
        &manifest.quarantine_files(),
        quarantine_schema(),
    )?;
    Ok(())
}

/// A table over a fixed list of Parquet files; empty when there are none.
pub fn register_parquet(
    ctx: &datafusion::prelude::SessionContext,
    root: &Path,
    name: &str,
    files: &[&str],
    schema: arrow::datatypes::SchemaRef,
) -> Result<()> {
    ctx.deregister_table(name)?;
    ctx.register_table(name, parquet_table(root, files, schema)?)?;
    Ok(())
}

/// A table over Parquet files under `root`; empty when there are none.
pub fn parquet_table(
    root: &Path,
    files: &[&str],
    schema: arrow::datatypes::SchemaRef,
) -> Result<std::sync::Arc<dyn datafusion::catalog::TableProvider>> {
    use datafusion::datasource::MemTable;
    use datafusion::datasource::file_format::parquet::ParquetFormat;
    use datafusion::datasource::listing::{
        ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
    };
    use std::sync::Arc;

    if files.is_empty() {
        return Ok(Arc::new(MemTable::try_new(schema, vec![vec![]])?));
    }
    let root = root.canonicalize().map_err(|e| Error::io(root, e))?;
    let urls = files
        .iter()
        .map(|f| ListingTableUrl::parse(root.join(f).to_string_lossy()))
        .collect::<datafusion::error::Result<Vec<_>>>()?;
    let options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// The schema a feed's table is read with. Dossier text is read as
/// `Utf8View`: the Parquet reader then leaves short strings in place instead
/// of copying every value into one buffer per column (the KPI job at 1 M:
/// 3.72 → 3.48 s CPU). The event logs keep `Utf8`: their ids are hash-join keys,
/// and a join's build side of filtered views holds every decoded buffer they
/// point into — at 10 M dossiers the KPI job then failed under a 2 GiB limit.
/// Files motcua writes hold plain `Utf8` either way.
pub fn read_schema(def: &crate::feeds::FeedDef) -> SchemaRef {
    let schema = def.lake_schema();
    if def.feed == Feed::Dossiers {
        with_text_as(&schema, &DataType::Utf8, &DataType::Utf8View)
    } else {
        schema
    }
}

/// `schema` with every column of text type `from` typed `to`.
pub fn with_text_as(schema: &Schema, from: &DataType, to: &DataType) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| {
            if f.data_type() == from {
                f.as_ref().clone().with_data_type(to.clone())
            } else {
                f.as_ref().clone()
            }
        })
        .collect();
    std::sync::Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Rows per batch when motcua reads its own files column by column.
const READ_BATCH_ROWS: usize = 64 * 1024;

/// The named columns of a Parquet file, in the file's order (read them by
/// name, or name them in that order).
pub fn read_columns(path: &Path, names: &[&str]) -> Result<ParquetRecordBatchReader> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let mut roots = Vec::new();
    for name in names {
        roots.push(
            builder
                .schema()
                .index_of(name)
                .map_err(|_| Error::lake(path, format!("has no column {name}")))?,
        );
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    Ok(builder
        .with_projection(mask)
        .with_batch_size(READ_BATCH_ROWS)
        .build()?)
}
