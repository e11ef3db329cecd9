//! The commit: staged files put in place, then one new manifest version.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lake::manifest::IndexVersion;
use crate::lake::manifest::IngestEntry;
use crate::lake::manifest::Manifest;
use crate::lake::{
    BUCKET_UNREFERENCED_SECS, CURRENT_DIR, FORMAT_VERSION, KEEP_UNREFERENCED_SECS,
    KEEP_VERSION_SECS, KEEP_VERSIONS, LOG, Lake, MANIFEST, version_rel,
};
use crate::spec::feeds::Retention;
use crate::storage::location::{Created, Location};
use crate::storage::{sync_dir, warn_on_error};

/// What one command has staged for the lake and commits in one manifest
/// replace: ingest entries, the files they name, a new version of the index
/// of current dossiers, and the PII key the entries' applicant keys were
/// made with. Files are written under [`Transaction::staging`] until then.
pub(crate) struct Transaction {
    staging: PathBuf,
    entries: Vec<IngestEntry>,
    staged: Vec<Staged>,
    index: Option<IndexVersion>,
    pii_key_check: Option<String>,
}

impl Transaction {
    /// Starts one in a fresh staging folder of `lake`.
    pub(crate) fn begin(lake: &Lake, pii_key_check: Option<String>) -> Result<Self> {
        Ok(Transaction {
            staging: lake.staging_dir()?,
            entries: Vec::new(),
            staged: Vec::new(),
            index: None,
            pii_key_check,
        })
    }

    /// Where files are written until the commit.
    pub(crate) fn staging(&self) -> &Path {
        &self.staging
    }

    /// The entries staged so far.
    pub(crate) fn entries(&self) -> &[IngestEntry] {
        &self.entries
    }

    /// Adds an ingest and the files it names.
    pub(crate) fn add(&mut self, entry: IngestEntry, staged: Vec<Staged>) {
        self.entries.push(entry);
        self.staged.extend(staged);
    }

    /// Makes `version`, staged as `staged`, the index of current dossiers.
    pub(crate) fn set_index(&mut self, version: IndexVersion, staged: Staged) {
        self.index = Some(version);
        self.staged.push(staged);
    }

    /// Commits what is staged so far; the transaction goes on empty, in
    /// the same staging folder.
    pub(crate) fn commit(&mut self, lake: &mut Lake) -> Result<()> {
        lake.commit(
            std::mem::take(&mut self.entries),
            std::mem::take(&mut self.staged),
            self.index.take(),
            self.pii_key_check.clone(),
        )
    }
}

impl Lake {
    /// Puts staged files in place and commits the entries in one new
    /// manifest version. `dossier_index`, when given, names staged files and
    /// becomes the index of current dossiers; `pii_key_check`, when given,
    /// records the key the entries' applicant keys were made with.
    pub(crate) fn commit(
        &mut self,
        mut entries: Vec<IngestEntry>,
        staged: Vec<Staged>,
        mut dossier_index: Option<IndexVersion>,
        pii_key_check: Option<String>,
    ) -> Result<()> {
        let placed = self.place(&staged)?;
        if !placed.is_empty() {
            rename_all(&placed, &mut entries, dossier_index.as_mut());
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
        self.write_manifest(&next).inspect_err(|e| {
            // Certainly not committed: nothing names the files, and no one
            // else will. (An error of unknown outcome leaves them for the
            // clean-up of unnamed files.)
            if let Error::Conflict { .. } = e {
                for rel in placed.values() {
                    warn_on_error(self.location.delete(rel));
                }
            }
        })?;
        if self.manifest.current_index().is_some() {
            self.remove_unreferenced_index();
        }
        Ok(())
    }

    /// Puts `staged` in the lake: in a folder, renamed into place and the
    /// folders synced; in a bucket, uploaded under names of their own
    /// (returned, by the name they were staged for).
    fn place(&self, staged: &[Staged]) -> Result<BTreeMap<String, String>> {
        match &self.location {
            Location::Folder(root) => {
                for file in staged {
                    let to = root.join(&file.rel);
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
                    sync_dir(&root.join(parent))?;
                }
                Ok(BTreeMap::new())
            }
            Location::Bucket(_) => {
                let tag = crate::storage::unique_tag();
                let mut placed: BTreeMap<String, String> = BTreeMap::new();
                for file in staged {
                    let rel = tagged(&file.rel, &tag);
                    if let Err(e) = self.location.upload(&file.path, &rel) {
                        for rel in placed.values() {
                            warn_on_error(self.location.delete(rel));
                        }
                        return Err(e);
                    }
                    placed.insert(file.rel.clone(), rel);
                }
                Ok(placed)
            }
        }
    }

    /// Commits `manifest` as the next version, created only if no version
    /// of that number exists: one that does is another writer's, a
    /// [`Error::Conflict`]. Any other error leaves the outcome unknown.
    /// Once committed, the rest is housekeeping: its failures are warnings.
    pub(crate) fn write_manifest(&mut self, manifest: &Manifest) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(manifest)
            .map_err(|e| Error::lake(self.location.root_shown(), e.to_string()))?;
        let version = match self.version {
            None => 0,
            Some(base) => self.next_after(base)?,
        };
        if self.version.is_none() {
            // Before the first version: the state it starts from, as a
            // format-4 manifest, which older motcuas refuse by its format.
            let mut base = self.manifest.clone();
            base.format_version = FORMAT_VERSION;
            self.location
                .put(MANIFEST, &to_json(&self.location, &base)?)?;
        }
        let rel = version_rel(version);
        let created = match self.location.create(&rel, &bytes) {
            Ok(created) => created,
            // A put that failed may still have landed: see what is there.
            Err(e) => match self.location.read(&rel) {
                Ok(Some(found)) if found == bytes => Created::Written,
                Ok(Some(_)) => Created::Exists,
                _ => return Err(e),
            },
        };
        // A retried put finds its own first attempt.
        let ours = created == Created::Written
            || self
                .location
                .read(&rel)?
                .is_some_and(|found| found == bytes);
        if !ours {
            return Err(Error::Conflict {
                path: self.location.root_shown(),
                version,
            });
        }
        let first = self.version.is_none();
        self.version = Some(version);
        self.manifest = manifest.clone();
        if first {
            // Nothing but the format and where the manifest is kept now.
            let moved = Manifest {
                format_version: FORMAT_VERSION,
                timezone: manifest.timezone.clone(),
                next_seq: 0,
                ingests: Vec::new(),
                current: Default::default(),
                dossier_index: None,
                dossier_index_delta: None,
                pii_key_check: None,
                kept_in: Some(format!("{LOG}/")),
            };
            let written = to_json(&self.location, &moved)
                .and_then(|bytes| self.location.put(MANIFEST, &bytes));
            warn_on_error(written);
        }
        self.remove_old_versions(version);
        Ok(())
    }

    /// The version after `base`, unless `base` is no longer the latest.
    /// Creating `base + 1` only if absent is not enough alone: a writer far
    /// behind may find that number free again, deleted by the clean-up of
    /// old versions, and commit below the newest, where no reader looks.
    fn next_after(&self, base: u64) -> Result<u64> {
        let behind = |version: u64| Error::Conflict {
            path: self.location.root_shown(),
            version,
        };
        match super::latest_version(&self.location)? {
            Some(latest) if latest > base => Err(behind(latest)),
            _ => base.checked_add(1).ok_or_else(|| behind(base)),
        }
    }

    /// Deletes manifest versions well behind `current`, oldest first, once
    /// no reader can still be reading them: a version is retired by how
    /// long ago the next one replaced it, not by its own age (a reader may
    /// have opened an old version just before a burst of commits).
    fn remove_old_versions(&self, current: u64) {
        let versions = match super::versions(&self.location) {
            Ok(versions) => versions,
            Err(e) => return tracing::warn!("old manifest versions kept: {e}"),
        };
        for pair in versions.windows(2) {
            let [(version, _), (_, replaced_secs_ago)] = pair else {
                continue;
            };
            if version.saturating_add(KEEP_VERSIONS) < current
                && *replaced_secs_ago >= KEEP_VERSION_SECS
            {
                warn_on_error(self.location.delete(&version_rel(*version)));
            }
        }
    }

    /// Deletes index files that no kept manifest version names and no
    /// writer (in a bucket, one still uploading) can still need. A reader
    /// on an older version may not have loaded its index yet — a cluster's
    /// executors load it at their first task — so every version kept for
    /// readers keeps its index files.
    fn remove_unreferenced_index(&mut self) {
        let min_age = unreferenced_min_age(&self.location);
        let listed = match self.location.list(CURRENT_DIR) {
            Ok(listed) => listed,
            Err(e) => return tracing::warn!("old index versions kept: {e}"),
        };
        let current: Vec<String> = self
            .manifest
            .current_index()
            .map(|index| index.files().map(str::to_string).collect())
            .unwrap_or_default();
        let candidates: Vec<&str> = listed
            .iter()
            .filter(|file| file.age_secs >= min_age && !current.contains(&file.rel))
            .map(|file| file.rel.as_str())
            .collect();
        if candidates.is_empty() {
            return;
        }
        let named = match self.named_index_files() {
            Ok(named) => named,
            Err(e) => return tracing::warn!("old index versions kept: {e}"),
        };
        for rel in candidates {
            if !named.contains(rel) {
                warn_on_error(self.location.delete(rel));
            }
        }
    }

    /// The index files the current manifest and every older version still
    /// in `_manifest/` name. A version never changes once written, so what
    /// each names is read once per writer (an ingest of many files commits
    /// once per file).
    fn named_index_files(&mut self) -> Result<BTreeSet<String>> {
        let mut named: BTreeSet<String> = self
            .manifest
            .current_index()
            .iter()
            .flat_map(|index| index.files().map(str::to_string).collect::<Vec<_>>())
            .collect();
        let kept = super::versions(&self.location)?;
        self.index_names
            .retain(|version, _| kept.iter().any(|(v, _)| v == version));
        for (version, _) in kept {
            if Some(version) == self.version {
                continue;
            }
            if !self.index_names.contains_key(&version) {
                // A version deleted since the listing names nothing a reader can open.
                let Some(bytes) = self.location.read(&version_rel(version))? else {
                    continue;
                };
                let manifest = super::parse_manifest(&self.location, &bytes)?;
                let files = manifest
                    .current_index()
                    .map(|index| index.files().map(str::to_string).collect())
                    .unwrap_or_default();
                self.index_names.insert(version, files);
            }
            named.extend(self.index_names[&version].iter().cloned());
        }
        Ok(named)
    }
}

/// How old a file no manifest names must be before it is deleted. In a
/// bucket it may be another writer's upload, not committed yet.
fn unreferenced_min_age(location: &Location) -> u64 {
    match location {
        Location::Folder(_) => KEEP_UNREFERENCED_SECS,
        Location::Bucket(_) => BUCKET_UNREFERENCED_SECS,
    }
}

fn to_json(location: &Location, manifest: &Manifest) -> Result<Vec<u8>> {
    serde_json::to_vec_pretty(manifest)
        .map_err(|e| Error::lake(location.root_shown(), e.to_string()))
}

/// `dir/f000007-000.parquet` as `dir/f000007-000-TAG.parquet`.
fn tagged(rel: &str, tag: &str) -> String {
    match rel.strip_suffix(".parquet") {
        Some(stem) => format!("{stem}-{tag}.parquet"),
        None => format!("{rel}-{tag}"),
    }
}

/// Renames the files the entries and the index name, as placed.
fn rename_all(
    placed: &BTreeMap<String, String>,
    entries: &mut [IngestEntry],
    index: Option<&mut IndexVersion>,
) {
    let rename = |rel: &mut String| {
        if let Some(to) = placed.get(rel.as_str()) {
            *rel = to.clone();
        }
    };
    for entry in entries {
        entry
            .data_files
            .iter_mut()
            .for_each(|f| rename(&mut f.path));
        if let Some(q) = entry.quarantine_file.as_mut() {
            rename(q);
        }
    }
    if let Some(index) = index {
        rename(&mut index.base);
        if let Some(delta) = index.delta.as_mut() {
            rename(delta);
        }
    }
}

/// A file written under staging, synced, and the path it takes in the lake
/// once committed. `Staged::sync` is the only way to make one, so every file
/// a manifest names is durable before the manifest that names it.
#[derive(Debug)]
pub(crate) struct Staged {
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
