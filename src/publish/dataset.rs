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

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::publish::parquet::write_parquet;
use crate::storage::{sync_dir, write_atomic};

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
    out.join(format!(".{dataset}"))
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
    pub(crate) out: PathBuf,
    pub(crate) series: Series,
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) schema: SchemaRef,
    pub(crate) written: BTreeMap<String, usize>,
    pub(crate) committed: bool,
}

impl Drop for Version {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// The run manifest of the version `OUT/<dataset>` points at, if any.
pub fn run_manifest<T: serde::de::DeserializeOwned>(
    out: &Path,
    dataset: &str,
) -> Result<Option<T>> {
    let Some(dir) = current_version(&out.join(dataset))? else {
        return Ok(None);
    };
    // A version published before the manifest moved out keeps it inside.
    for path in [manifest_path(&dir), dir.join("_run.json")] {
        match fs::read(&path) {
            Ok(bytes) => {
                return serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| Error::lake(&path, format!("is not readable JSON ({e})")));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Ok(None)
}

/// A version's run manifest: beside its directory.
fn manifest_path(version_dir: &Path) -> PathBuf {
    version_dir.with_extension("json")
}

impl Version {
    /// Starts a version that keeps every slice of the current one except the
    /// `replaced` ones (paths such as `period_grain=month/2024-03-01.parquet`).
    pub fn begin(
        out: &Path,
        series: Series,
        schema: SchemaRef,
        replaced: &[String],
    ) -> Result<Version> {
        let versions = versions_dir(out, series.dataset());
        fs::create_dir_all(&versions).map_err(|e| Error::io(&versions, e))?;
        let current = current_version(&out.join(series.dataset()))?;
        let number = existing_versions(&versions)?
            .last()
            .map_or(1, |(n, _)| n + 1);
        let name = format!("v{number:06}");
        let dir = versions.join(&name);
        fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        if let Some(current) = &current {
            let kept: Vec<PathBuf> = parquet_files(current)?
                .into_iter()
                .filter(|f| !replaced.contains(&crate::storage::relative(current, f)))
                .collect();
            refuse_other_columns(current, &kept, &schema, &out.join(series.dataset()))?;
            for file in kept {
                let rel = crate::storage::relative(current, &file);
                let to = dir.join(&rel);
                if let Some(parent) = to.parent() {
                    fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                // A hard link shares the bytes: unchanged slices cost nothing.
                fs::hard_link(&file, &to)
                    .or_else(|_| fs::copy(&file, &to).map(|_| ()))
                    .map_err(|e| Error::io(&to, e))?;
            }
        }
        Ok(Version {
            out: out.to_path_buf(),
            series,
            name,
            dir,
            schema,
            written: BTreeMap::new(),
            committed: false,
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

    /// Stores the run manifest and `_SUCCESS`, then swaps the symlink.
    pub fn commit(mut self, run_manifest: &impl serde::Serialize) -> Result<PathBuf> {
        let manifest = serde_json::to_vec_pretty(run_manifest)
            .map_err(|e| Error::lake(&self.out, e.to_string()))?;
        write_atomic(&manifest_path(&self.dir), &manifest)?;
        write_atomic(&self.dir.join("_SUCCESS"), b"")?;
        for dir in sub_dirs(&self.dir)? {
            sync_dir(&dir)?;
        }
        sync_dir(&self.dir)?;
        let dataset = self.series.dataset();
        let link = self.out.join(dataset);
        let tmp_link = self.out.join(format!(".{dataset}.tmp"));
        let _ = fs::remove_file(&tmp_link);
        let versions = versions_dir(Path::new(""), dataset);
        std::os::unix::fs::symlink(versions.join(&self.name), &tmp_link)
            .map_err(|e| Error::io(&tmp_link, e))?;
        fs::rename(&tmp_link, &link).map_err(|e| Error::io(&link, e))?;
        self.committed = true;
        sync_dir(&self.out)?;
        // Versions older than the one kept for readers that opened it.
        let all = existing_versions(&versions_dir(&self.out, dataset))?;
        let keep_from = all.len().saturating_sub(1 + KEEP_OLD_VERSIONS);
        for (_, dir) in &all[..keep_from] {
            fs::remove_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            let _ = fs::remove_file(manifest_path(dir));
        }
        Ok(self.dir.clone())
    }
}

/// The version directory `OUT/<dataset>` points at (or that path, when
/// nothing is published yet).
pub fn current_dir(out: &Path, dataset: &str) -> Result<PathBuf> {
    let link = out.join(dataset);
    Ok(current_version(&link)?.unwrap_or(link))
}

/// The version directory `OUT/kpi_values` points at, if any.
fn current_version(link: &Path) -> Result<Option<PathBuf>> {
    match fs::symlink_metadata(link) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(link, e)),
        Ok(meta) if meta.file_type().is_symlink() => {
            let target = fs::read_link(link).map_err(|e| Error::io(link, e))?;
            let parent = link.parent().unwrap_or(Path::new("."));
            Ok(Some(parent.join(target)))
        }
        Ok(_) => Err(Error::lake(
            link,
            "is not the symlink motcua maintains; move it away or choose another --out",
        )),
    }
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
    current: &Path,
    kept: &[PathBuf],
    schema: &SchemaRef,
    link: &Path,
) -> Result<()> {
    let columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    for file in kept {
        let found = crate::storage::parquet::column_names(file)?;
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
                current.join(crate::storage::relative(current, file)),
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
                    current.parent().unwrap_or(current).display(),
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

/// Every slice file below `dir`.
fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for sub in sub_dirs(dir)? {
        found.extend(
            entries(&sub, false)?
                .into_iter()
                .filter(|f| f.extension().is_some_and(|e| e == "parquet")),
        );
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
