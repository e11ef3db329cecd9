//! The commit: staged files put in place, then one new manifest version.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lake::manifest::IndexVersion;
use crate::lake::manifest::IngestEntry;
use crate::lake::manifest::Manifest;
use crate::lake::{
    CURRENT_DIR, FORMAT_VERSION, KEEP_UNREFERENCED_SECS, KEEP_VERSIONS, LOG, Lake, MANIFEST,
    version_rel,
};
use crate::spec::feeds::Retention;
use crate::storage::location::{Created, Location};
use crate::storage::sync_dir;

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
        if let Err(e) = self.write_manifest(&next) {
            // Nothing names them: no reader will look, and they would only
            // wait for the next writer's clean-up.
            for rel in placed.values() {
                let _ = self.location.delete(rel);
            }
            return Err(e);
        }
        if let Some(index) = next.current_index() {
            self.remove_unreferenced(CURRENT_DIR, &index.files().collect::<Vec<_>>());
        }
        self.manifest = next;
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
                let tag = writer_tag();
                let mut placed: BTreeMap<String, String> = BTreeMap::new();
                for file in staged {
                    let rel = tagged(&file.rel, &tag);
                    if let Err(e) = self.location.upload(&file.path, &rel) {
                        for rel in placed.values() {
                            let _ = self.location.delete(rel);
                        }
                        return Err(e);
                    }
                    placed.insert(file.rel.clone(), rel);
                }
                Ok(placed)
            }
        }
    }

    /// Creates the next manifest version; another writer's version of the
    /// same number is a [`Error::Conflict`]. The first version of format 4
    /// also leaves `_manifest.json` saying so, for older motcuas to refuse.
    pub(crate) fn write_manifest(&mut self, manifest: &Manifest) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(manifest)
            .map_err(|e| Error::lake(self.location.root_shown(), e.to_string()))?;
        let version = self.version.map_or(0, |v| v + 1);
        let conflict = |version| Error::Conflict {
            path: self.location.root_shown(),
            version,
        };
        if self.location.create(&version_rel(version), &bytes)? == Created::Exists {
            return Err(conflict(version));
        }
        // A writer slower than the clean-up of old versions could create a
        // number deleted long ago: behind the latest, no reader would see
        // it, so it is withdrawn.
        if let Some(latest) = super::latest_version(&self.location)?
            && latest > version
        {
            let _ = self.location.delete(&version_rel(version));
            return Err(conflict(latest));
        }
        if self.version.is_none() {
            self.location.put(MANIFEST, &pointer(manifest))?;
        }
        self.version = Some(version);
        self.remove_old_versions(version);
        Ok(())
    }

    /// Deletes manifest versions well behind `current` that no reader can
    /// still be reading.
    fn remove_old_versions(&self, current: u64) {
        let Ok(listed) = self.location.list(LOG) else {
            return;
        };
        for file in listed {
            let old = file
                .rel
                .rsplit('/')
                .next()
                .and_then(|name| name.strip_suffix(".json"))
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|v| v + KEEP_VERSIONS < current);
            if old && file.age_secs >= KEEP_UNREFERENCED_SECS {
                let _ = self.location.delete(&file.rel);
            }
        }
    }

    /// Deletes files in `dir` other than `keep` that no reader can still
    /// need.
    fn remove_unreferenced(&self, dir: &str, keep: &[&str]) {
        let Ok(listed) = self.location.list(dir) else {
            return;
        };
        for file in listed {
            if !keep.contains(&file.rel.as_str())
                && file.age_secs >= KEEP_UNREFERENCED_SECS
                && self.location.delete(&file.rel).is_ok()
            {
                tracing::debug!("removed old dossier index {}", file.rel);
            }
        }
    }
}

/// What `_manifest.json` holds from format 4 on: enough for a motcua of
/// formats 1–3 to read it and refuse the format by name.
fn pointer(manifest: &Manifest) -> Vec<u8> {
    let pointer = serde_json::json!({
        "format_version": FORMAT_VERSION,
        "timezone": manifest.timezone,
        "next_seq": 0,
        "ingests": [],
        "see": "_manifest/: from format 4 the manifest is kept there, one file per version",
    });
    serde_json::to_vec_pretty(&pointer).unwrap_or_default()
}

/// A tag no other writer picks: the name a bucket writer's files carry.
fn writer_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{nanos}-{}-{:p}", std::process::id(), &nanos);
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(seed.as_bytes()))
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
