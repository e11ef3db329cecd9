//! The output datasets `kpi_values` and `kpi_values_restated` (SPEC §7,
//! §2.1), replaced atomically.
//!
//! ```text
//! OUT/kpi_values -> .kpi_values/v000007       a symlink: what readers open
//! OUT/.kpi_values/v000007/
//!     period_grain=month/2024-03-01.parquet   one file per (grain, period): a slice
//!     _SUCCESS                                empty, as Spark writes it
//! OUT/.kpi_values/v000007.json                the run manifest of that version
//! OUT/kpi_values_restated -> .kpi_values_restated/v000002
//! OUT/.kpi_values_restated/v000002/
//!     units_as_of=2026-06-30/period_grain=month/2024-03-01.parquet
//! ```
//!
//! The run manifest lives beside the version, not in it: a reader that opens
//! `OUT/kpi_values` by folder name (Polars, DuckDB, pyarrow) takes every
//! file in it for data, and Polars refuses a folder holding a JSON file.
//!
//! A run builds a new version directory: it hard-links every slice of the
//! current version it does not recompute, writes the slices it does, then
//! swaps the symlink with one rename. A reader sees the old complete version
//! or the new one, never a mix; the previous version stays on disk for
//! readers that opened it.
//!
//! A bucket has no symlinks: there `OUT/kpi_values.version` names the
//! current version's folder (`.kpi_values/v000007-TAG`), and a run replaces
//! it only if it still names the version the run started from (a
//! conditional put); a run that lost to another fails with nothing of it
//! visible. Unchanged slices are copied on the server.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::publish::parquet::write_parquet;
use crate::storage::Location;
use crate::storage::location::{Listed, Replaced};
use crate::storage::{sync_dir, warn_on_error, write_atomic};

pub(crate) const DATASET: &str = "kpi_values";
pub(crate) const RESTATED: &str = "kpi_values_restated";

/// Which KPI values a run publishes: on each period's own units (as
/// reported), or on the units of one day for every period (restated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    AsReported,
    Restated { units_as_of: chrono::NaiveDate },
}

impl Series {
    /// The dataset's folder under OUT.
    pub fn dataset(self) -> &'static str {
        match self {
            Series::AsReported => DATASET,
            Series::Restated { .. } => RESTATED,
        }
    }

    /// Where a slice lives inside a version.
    pub(crate) fn slice_path(self, grain: &str, period_start: &str) -> String {
        match self {
            Series::AsReported => format!("period_grain={grain}/{period_start}.parquet"),
            Series::Restated { units_as_of } => {
                format!("units_as_of={units_as_of}/period_grain={grain}/{period_start}.parquet")
            }
        }
    }

    /// A grain's key in the run manifest's coverage.
    pub(crate) fn coverage_key(self, grain: &str) -> String {
        match self {
            Series::AsReported => grain.to_string(),
            Series::Restated { units_as_of } => format!("units_as_of={units_as_of}/{grain}"),
        }
    }
}

/// The hidden folder of a dataset's versions.
fn versions_dir(out: &Path, dataset: &str) -> PathBuf {
    out.join(versions_rel(dataset))
}

/// The same, relative to OUT.
fn versions_rel(dataset: &str) -> String {
    format!(".{dataset}")
}

/// In a bucket, the object that names the current version's folder.
fn pointer_rel(dataset: &str) -> String {
    format!("{dataset}.version")
}

/// Versions kept besides the current one, for readers still on them.
const KEEP_OLD_VERSIONS: usize = 1;

/// One (grain, period) slice to write: its rows, sorted.
pub(crate) struct Slice {
    pub grain: String,
    /// `YYYY-MM-DD`
    pub period_start: String,
    pub batches: Vec<RecordBatch>,
}

impl Slice {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

/// A new version of a dataset being built. Dropped before its commit (an
/// error, an interrupt), it removes what it wrote.
pub(crate) struct Version {
    pub(crate) series: Series,
    pub(crate) name: String,
    /// Where the slices are written: the version's folder in OUT, or for a
    /// bucket a local folder uploaded at the commit.
    pub(crate) dir: PathBuf,
    pub(crate) schema: SchemaRef,
    pub(crate) written: BTreeMap<String, usize>,
    pub(crate) committed: bool,
    target: Target,
}

/// Where a version is published.
enum Target {
    Folder(PathBuf),
    Bucket(InBucket),
}

/// What a version bound for a bucket needs at its commit.
struct InBucket {
    out: Location,
    _staging: tempfile::TempDir,
    /// The current version's folder (relative to OUT), and the slices of it
    /// kept (relative to that folder).
    current: Option<String>,
    kept: Vec<String>,
    /// The version tag of the pointer this run started from (`None`: there
    /// was none); the commit replaces only that.
    pointer_tag: Option<String>,
}

impl Drop for Version {
    fn drop(&mut self) {
        // A bucket's version is local until its commit: its TempDir goes.
        if !self.committed && matches!(self.target, Target::Folder(_)) {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The run manifest of the version `OUT/<dataset>` points at, if any.
pub fn run_manifest<T: serde::de::DeserializeOwned>(
    out: &Location,
    dataset: &str,
) -> Result<Option<T>> {
    match current_version(out, dataset)? {
        Some(version) => run_manifest_of(out, &version),
        None => Ok(None),
    }
}

/// The run manifest of `version` (a folder relative to OUT), if it has one.
pub(crate) fn run_manifest_of<T: serde::de::DeserializeOwned>(
    out: &Location,
    version: &str,
) -> Result<Option<T>> {
    // A version published before the manifest moved out keeps it inside.
    for rel in [format!("{version}.json"), format!("{version}/_run.json")] {
        if let Some(bytes) = out.read(&rel)? {
            return serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::lake(out.shown(&rel), format!("is not readable JSON ({e})")));
        }
    }
    Ok(None)
}

/// A version's run manifest: beside its folder.
fn manifest_path(version_dir: &Path) -> PathBuf {
    version_dir.with_extension("json")
}

impl Version {
    /// Starts a version that keeps every slice of the current one except the
    /// `replaced` ones (paths such as `period_grain=month/2024-03-01.parquet`).
    /// `based_on` is the version the run planned from (its coverage): if
    /// another run has published since, the slices kept would not be the
    /// ones the plan describes, and the run is a [`Error::Conflict`].
    pub fn begin(
        out: &Location,
        series: Series,
        schema: SchemaRef,
        replaced: &[String],
        based_on: Option<&str>,
    ) -> Result<Version> {
        let dataset = series.dataset();
        // In a bucket, the version kept from and the tag the commit checks
        // come from one read of the pointer.
        let (current, pointer_tag) = match out {
            Location::Folder(_) => (current_version(out, dataset)?, None),
            Location::Bucket(_) => match out.read_tagged(&pointer_rel(dataset))? {
                None => (None, None),
                Some((bytes, Some(tag))) => (Some(pointer_text(&bytes)), Some(tag)),
                Some((_, None)) => {
                    return Err(Error::lake(
                        out.shown(&pointer_rel(dataset)),
                        "the bucket gave no ETag for it, and without one a run cannot replace the output safely; use a server that returns ETags",
                    ));
                }
            },
        };
        if let Some(planned) = based_on
            && current.as_deref() != Some(planned)
        {
            return Err(Error::Conflict {
                path: out.shown(dataset),
                version: current
                    .as_deref()
                    .and_then(version_number)
                    .unwrap_or_default(),
            });
        }
        let kept: Vec<String> = match &current {
            Some(current) => out
                .list_all(current)?
                .into_iter()
                .filter_map(|f| {
                    let rel = f
                        .rel
                        .strip_prefix(current.as_str())?
                        .trim_start_matches('/');
                    (rel.ends_with(".parquet") && !replaced.iter().any(|r| r == rel))
                        .then(|| rel.to_string())
                })
                .collect(),
            None => Vec::new(),
        };
        if let Some(current) = &current {
            refuse_other_columns(out, current, &kept, &schema, &out.shown(dataset))?;
        }
        let (name, dir, target) = match out {
            Location::Folder(root) => {
                let versions = versions_dir(root, dataset);
                fs::create_dir_all(&versions).map_err(|e| Error::io(&versions, e))?;
                let number = existing_versions(&versions)?
                    .last()
                    .map_or(1, |(n, _)| n + 1);
                let name = format!("v{number:06}");
                let dir = versions.join(&name);
                fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                if let Some(current) = &current {
                    for rel in &kept {
                        // A hard link shares the bytes: unchanged slices cost nothing.
                        out.copy(
                            &format!("{current}/{rel}"),
                            &format!("{}/{name}/{rel}", versions_rel(dataset)),
                        )?;
                    }
                }
                (name, dir, Target::Folder(root.clone()))
            }
            Location::Bucket(_) => {
                out.check_conditional_writes(&versions_rel(dataset))?;
                let number = bucket_versions(out, dataset)?
                    .last()
                    .map_or(1, |(n, _)| n + 1);
                let name = format!("v{number:06}-{}", crate::storage::unique_tag());
                let staging = tempfile::Builder::new()
                    .prefix("motcua-publish-")
                    .tempdir()
                    .map_err(|e| Error::io(std::env::temp_dir(), e))?;
                let dir = staging.path().to_path_buf();
                let target = Target::Bucket(InBucket {
                    out: out.clone(),
                    _staging: staging,
                    current: current.clone(),
                    kept,
                    pointer_tag,
                });
                (name, dir, target)
            }
        };
        Ok(Version {
            series,
            name,
            dir,
            schema,
            written: BTreeMap::new(),
            committed: false,
            target,
        })
    }

    pub(crate) fn write_slice(&mut self, slice: &Slice) -> Result<()> {
        let rel = self.series.slice_path(&slice.grain, &slice.period_start);
        write_parquet(&self.dir.join(&rel), self.schema.clone(), &slice.batches)?;
        self.written.insert(rel, slice.rows());
        Ok(())
    }

    /// Rows written per slice.
    pub fn written(&self) -> &BTreeMap<String, usize> {
        &self.written
    }

    /// Stores the run manifest and `_SUCCESS`, then makes the version the
    /// current one; returns where it is.
    pub fn commit(mut self, run_manifest: &impl serde::Serialize) -> Result<PathBuf> {
        let manifest = serde_json::to_vec_pretty(run_manifest)
            .map_err(|e| Error::Render(format!("the run manifest: {e}")))?;
        match std::mem::replace(&mut self.target, Target::Folder(PathBuf::new())) {
            Target::Folder(root) => {
                self.target = Target::Folder(root.clone());
                self.commit_in_folder(&root, &manifest)
            }
            Target::Bucket(bucket) => {
                // Nothing of it is local to remove: from here on, a failure
                // leaves in the bucket what the clean-up deletes.
                self.committed = true;
                self.commit_in_bucket(&bucket, &manifest)
            }
        }
    }

    /// Syncs the version, then swaps the symlink with one rename.
    fn commit_in_folder(&mut self, out: &Path, manifest: &[u8]) -> Result<PathBuf> {
        write_atomic(&manifest_path(&self.dir), manifest)?;
        write_atomic(&self.dir.join("_SUCCESS"), b"")?;
        for dir in sub_dirs(&self.dir)? {
            sync_dir(&dir)?;
        }
        sync_dir(&self.dir)?;
        let dataset = self.series.dataset();
        let link = out.join(dataset);
        let tmp_link = out.join(format!(".{dataset}.tmp"));
        let _ = fs::remove_file(&tmp_link);
        let versions = versions_dir(Path::new(""), dataset);
        std::os::unix::fs::symlink(versions.join(&self.name), &tmp_link)
            .map_err(|e| Error::io(&tmp_link, e))?;
        fs::rename(&tmp_link, &link).map_err(|e| Error::io(&link, e))?;
        // Current now: a later failure must not remove it.
        self.committed = true;
        sync_dir(out)?;
        // Versions older than the one kept for readers that opened it.
        let all = existing_versions(&versions_dir(out, dataset))?;
        let keep_from = all.len().saturating_sub(1 + KEEP_OLD_VERSIONS);
        for (_, dir) in &all[..keep_from] {
            fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            let _ = fs::remove_file(manifest_path(dir));
        }
        Ok(self.dir.clone())
    }

    /// Uploads the version, copies the kept slices on the server, then
    /// replaces the pointer if it still names the version this run started
    /// from. A run that loses that race leaves its version to the next
    /// run's clean-up of old versions: a put retried after it landed may
    /// have made it current for a moment.
    fn commit_in_bucket(&self, bucket: &InBucket, manifest: &[u8]) -> Result<PathBuf> {
        let out = &bucket.out;
        let dataset = self.series.dataset();
        let version = format!("{}/{}", versions_rel(dataset), self.name);
        let mut placed = Vec::new();
        let pointer = pointer_rel(dataset);
        if let Err(e) = self.place_in_bucket(bucket, &version, manifest, &mut placed) {
            // The pointer was never touched: no reader can be on these.
            for rel in &placed {
                warn_on_error(out.delete(rel));
            }
            // A slice to copy may be gone because another run published
            // and cleaned up: that is a conflict to retry, not a bad bucket.
            if let Ok(now) = out.read(&pointer) {
                let now = now.map(|b| pointer_text(&b));
                if now != bucket.current {
                    tracing::warn!("{e}");
                    return Err(Error::Conflict {
                        path: out.shown(&pointer),
                        version: now.as_deref().and_then(version_number).unwrap_or_default(),
                    });
                }
            }
            return Err(e);
        }
        let swapped = out.replace(&pointer, version.as_bytes(), bucket.pointer_tag.as_deref());
        if !matches!(swapped, Ok(Replaced::Done)) {
            // A put that failed, or was retried after landing, may still be
            // ours: the pointer says.
            let now = out.read(&pointer).ok().flatten().map(|b| pointer_text(&b));
            if now.as_deref() != Some(version.as_str()) {
                // Not current; left for the clean-up of old versions, in
                // case a reader saw it current for a moment.
                return Err(match (swapped, now.as_deref().and_then(version_number)) {
                    (Err(e), _) => e,
                    (_, winner) => Error::Conflict {
                        path: out.shown(&pointer),
                        version: winner.unwrap_or_default(),
                    },
                });
            }
        }
        // Versions older than the previous one, which readers may still be
        // on; the run has published, so failures here are warnings.
        let keep = [Some(version.as_str()), bucket.current.as_deref()];
        let number = version_number(&version).unwrap_or_default();
        match bucket_versions(out, dataset) {
            Ok(versions) => {
                remove_abandoned(out, dataset, &versions, &keep);
                for (n, old) in versions {
                    if n < number && !keep.contains(&Some(old.as_str())) {
                        remove_version(out, &old);
                    }
                }
            }
            Err(e) => tracing::warn!("old versions kept: {e}"),
        }
        Ok(out.shown(&version))
    }

    /// Puts the version's files in the bucket, noting each in `placed`.
    fn place_in_bucket(
        &self,
        bucket: &InBucket,
        version: &str,
        manifest: &[u8],
        placed: &mut Vec<String>,
    ) -> Result<()> {
        let out = &bucket.out;
        for file in local_files(&self.dir)? {
            let to = format!("{version}/{}", crate::storage::relative(&self.dir, &file));
            out.upload(&file, &to)?;
            placed.push(to);
        }
        if let Some(current) = &bucket.current {
            for rel in &bucket.kept {
                let to = format!("{version}/{rel}");
                out.copy(&format!("{current}/{rel}"), &to)?;
                placed.push(to);
            }
        }
        for (rel, bytes) in [
            (format!("{version}/_SUCCESS"), &b""[..]),
            (format!("{version}.json"), manifest),
        ] {
            out.put(&rel, bytes)?;
            placed.push(rel);
        }
        Ok(())
    }
}

/// The version folder `OUT/<dataset>` points at (or that path, when
/// nothing is published yet).
pub fn current_dir(out: &Location, dataset: &str) -> Result<PathBuf> {
    Ok(out.shown(&current_version(out, dataset)?.unwrap_or_else(|| dataset.to_string())))
}

/// The version folder `OUT/<dataset>` points at, relative to OUT, if any:
/// a folder's symlink, a bucket's pointer.
pub(crate) fn current_version(out: &Location, dataset: &str) -> Result<Option<String>> {
    let root = match out {
        Location::Folder(root) => root,
        Location::Bucket(_) => {
            return Ok(out.read(&pointer_rel(dataset))?.map(|b| pointer_text(&b)));
        }
    };
    let link = root.join(dataset);
    match fs::symlink_metadata(&link) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&link, e)),
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = fs::read_link(&link).map_err(|e| Error::io(&link, e))?;
            Ok(Some(crate::storage::relative(root, &root.join(target))))
        }
        Ok(_) => Err(Error::lake(
            link,
            "is not the symlink motcua maintains; move it away or choose another --out",
        )),
    }
}

/// The version folder a bucket's pointer names.
fn pointer_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_string()
}

/// Deletes an old version in a bucket, its files and its run manifest.
fn remove_version(out: &Location, version: &str) {
    match out.list_all(version) {
        Ok(files) => files.iter().for_each(|f| warn_on_error(out.delete(&f.rel))),
        Err(e) => return tracing::warn!("{e}"),
    }
    warn_on_error(out.delete(&format!("{version}.json")));
}

/// Deletes the version folders in a bucket that have no run manifest: a
/// run killed while uploading left them. A young one may be a run still
/// uploading, so only those a day old go, as in the lake.
fn remove_abandoned(
    out: &Location,
    dataset: &str,
    finished: &[(u64, String)],
    keep: &[Option<&str>],
) {
    match out.list_all(&versions_rel(dataset)) {
        Ok(files) => {
            let min_age = crate::lake::BUCKET_UNREFERENCED_SECS;
            for folder in abandoned(&files, &versions_rel(dataset), finished, min_age) {
                if !keep.contains(&Some(folder.as_str())) {
                    remove_version(out, &folder);
                }
            }
        }
        Err(e) => tracing::warn!("unfinished versions kept: {e}"),
    }
}

/// The version folders among `files` (everything below `root`) that no
/// finished version names and whose youngest file is `min_age` old.
fn abandoned(
    files: &[Listed],
    root: &str,
    finished: &[(u64, String)],
    min_age: u64,
) -> Vec<String> {
    let mut youngest: BTreeMap<String, u64> = BTreeMap::new();
    for file in files {
        let Some(inside) = file.rel.strip_prefix(&format!("{root}/")) else {
            continue;
        };
        // Run manifests sit beside the folders, not in them.
        let Some((folder, _)) = inside.split_once('/') else {
            continue;
        };
        let age = youngest
            .entry(format!("{root}/{folder}"))
            .or_insert(u64::MAX);
        *age = (*age).min(file.age_secs);
    }
    youngest
        .into_iter()
        .filter(|(folder, age)| *age >= min_age && !finished.iter().any(|(_, f)| f == folder))
        .map(|(folder, _)| folder)
        .collect()
}

/// A version's number, from its folder's name (`…/v000007` or
/// `…/v000007-TAG`).
fn version_number(version: &str) -> Option<u64> {
    let name = version.rsplit('/').next()?;
    let name = name.strip_suffix(".json").unwrap_or(name);
    name.strip_prefix('v')?.split('-').next()?.parse().ok()
}

/// A bucket's versions of `dataset`: (number, folder relative to OUT), by
/// number; each has its run manifest beside it.
fn bucket_versions(out: &Location, dataset: &str) -> Result<Vec<(u64, String)>> {
    let mut found: Vec<(u64, String)> = out
        .list(&versions_rel(dataset))?
        .into_iter()
        .filter_map(|f| {
            let folder = f.rel.strip_suffix(".json")?.to_string();
            Some((version_number(&folder)?, folder))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Every file below the local folder `dir`.
fn local_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = entries(dir, false)?;
    for sub in sub_dirs(dir)? {
        found.extend(entries(&sub, false)?);
    }
    Ok(found)
}

fn existing_versions(versions: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for dir in read_dirs(versions)? {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(n) = name.strip_prefix('v').and_then(|n| n.parse::<u64>().ok()) {
            found.push((n, dir));
        }
    }
    found.sort();
    Ok(found)
}

fn read_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    entries(dir, true)
}

/// A version mixing slices with different columns would break readers that
/// take one file's schema for all (DuckDB, Polars): a slice to keep that was
/// written with other columns — by an older motcua, or another query — is
/// refused, naming it.
fn refuse_other_columns(
    out: &Location,
    current: &str,
    kept: &[String],
    schema: &SchemaRef,
    link: &Path,
) -> Result<()> {
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    for rel in kept {
        let rel = format!("{current}/{rel}");
        let found = crate::storage::parquet::column_names(out, &rel)?;
        if found != columns {
            let missing: Vec<&str> = columns
                .iter()
                .filter(|c| !found.contains(c))
                .map(String::as_str)
                .collect();
            let extra: Vec<&str> = found
                .iter()
                .filter(|c| !columns.contains(c))
                .map(String::as_str)
                .collect();
            return Err(Error::lake(
                out.shown(&rel),
                format!(
                    "was published with other columns (missing: {}; not computed now: {}), and one output must not mix them; compute into a new --out, or move {} and {} away first",
                    if missing.is_empty() {
                        "none".to_string()
                    } else {
                        missing.join(", ")
                    },
                    if extra.is_empty() {
                        "none".to_string()
                    } else {
                        extra.join(", ")
                    },
                    link.display(),
                    out.shown(current).parent().unwrap_or(link).display(),
                ),
            ));
        }
    }
    Ok(())
}

/// Every folder below `dir`, each before the folders inside it.
fn sub_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for sub in read_dirs(dir)? {
        found.push(sub.clone());
        found.extend(sub_dirs(&sub)?);
    }
    Ok(found)
}

pub(crate) fn entries(dir: &Path, dirs: bool) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() == dirs {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(rel: &str, age_secs: u64) -> Listed {
        Listed {
            rel: rel.to_string(),
            age_secs,
        }
    }

    #[test]
    fn only_old_folders_without_a_run_manifest_are_abandoned() {
        let root = ".kpi_values";
        let files = [
            // Finished: its manifest beside it.
            file(
                ".kpi_values/v000001-a/period_grain=month/2024-01-01.parquet",
                90_000,
            ),
            file(".kpi_values/v000001-a.json", 90_000),
            // Killed while uploading, two days ago.
            file(
                ".kpi_values/v000002-b/period_grain=month/2024-01-01.parquet",
                200_000,
            ),
            file(
                ".kpi_values/v000002-b/period_grain=month/2024-02-01.parquet",
                180_000,
            ),
            // Uploading now, or a day old only in its first file.
            file(
                ".kpi_values/v000003-c/period_grain=month/2024-01-01.parquet",
                100_000,
            ),
            file(
                ".kpi_values/v000003-c/period_grain=month/2024-02-01.parquet",
                30,
            ),
            // Another dataset's, whose name starts the same.
            file(".kpi_values_restated/v000009-d/x.parquet", 200_000),
        ];
        let finished = [(1, ".kpi_values/v000001-a".to_string())];
        assert_eq!(
            abandoned(&files, root, &finished, 86_400),
            vec![".kpi_values/v000002-b".to_string()]
        );
        assert_eq!(
            abandoned(&files, root, &finished, 10),
            vec![
                ".kpi_values/v000002-b".to_string(),
                ".kpi_values/v000003-c".to_string()
            ]
        );
    }
}
