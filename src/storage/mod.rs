//! Files on disk written whole or not at all, and durably: the lake's and the
//! published outputs' one way to write.

pub(crate) mod location;
pub(crate) mod parquet;

pub use location::Location;

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// `path` relative to `root`, with `/` separators.
pub(crate) fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Writes a file so that readers see the old content or the new, never a
/// part: a temporary file in the same directory, synced, then renamed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
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
pub(crate) fn make_readable(file: &File, path: &Path) -> Result<()> {
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
        .map_err(|e| Error::io(path, e))
}

/// Makes a rename durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Housekeeping that failed after the work it follows was committed: said,
/// not fatal.
pub(crate) fn warn_on_error(outcome: Result<()>) {
    if let Err(e) = outcome {
        tracing::warn!("{e}");
    }
}

/// A tag no other writer picks: the name a bucket writer's files carry, so
/// that two writers never write one name. 64 random bits (the standard
/// library's per-process random hash keys) over the time and the process.
pub(crate) fn unique_tag() -> String {
    use std::hash::{BuildHasher, Hasher};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    format!("{:016x}", hasher.finish())
}
