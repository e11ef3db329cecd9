//! The commit: staged files moved into place, then one manifest replace.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::lake::CURRENT_DIR;
use crate::lake::FORMAT_VERSION;
use crate::lake::KEEP_UNREFERENCED_SECS;
use crate::lake::Lake;
use crate::lake::MANIFEST;
use crate::lake::manifest::IndexVersion;
use crate::lake::manifest::IngestEntry;
use crate::lake::manifest::Manifest;
use crate::spec::feeds::Retention;
use crate::storage::relative;
use crate::storage::sync_dir;
use crate::storage::write_atomic;

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
    /// Moves staged files into place and commits the entries in one manifest
    /// replace. `dossier_index`, when given, names staged files and becomes
    /// the index of current dossiers; `pii_key_check`, when given, records
    /// the key the entries' applicant keys were made with.
    pub(crate) fn commit(
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

    pub(crate) fn write_manifest(&self, manifest: &Manifest) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(manifest)
            .map_err(|e| Error::lake(&self.root, e.to_string()))?;
        write_atomic(&self.root.join(MANIFEST), &bytes)
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
