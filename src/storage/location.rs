//! Where a lake lives: a folder, or a prefix in an S3-compatible bucket.
//!
//! The lake's files never change once written (every name is new), so the
//! lake needs few operations of its storage: read a file whole, list a
//! folder, put a file, create a file only if it is absent (the commit), and
//! delete. A bucket is reached through `object_store`'s S3 client, configured
//! by the standard `AWS_*` variables (`AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use crate::error::{Error, Result};

/// A lake's (or an output folder's) place.
#[derive(Clone, Debug)]
pub enum Location {
    Folder(PathBuf),
    Bucket(Bucket),
}

/// A prefix in an S3-compatible bucket.
#[derive(Clone)]
pub struct Bucket {
    /// `s3://bucket/prefix`, without a trailing `/`.
    url: String,
    /// `s3://bucket`: the store's address for DataFusion.
    store_url: String,
    prefix: Key,
    store: Arc<dyn ObjectStore>,
}

impl fmt::Debug for Bucket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// What a create-if-absent found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Created {
    Written,
    /// Another writer created the file first; nothing was written.
    Exists,
}

/// What a conditional replace found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replaced {
    Done,
    /// The file was no longer the version read: another writer replaced it.
    Lost,
}

/// A file listed in a folder of a location.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    /// Relative to the location, with `/` separators.
    pub rel: String,
    /// Seconds since it was last written.
    pub age_secs: u64,
}

impl From<PathBuf> for Location {
    fn from(folder: PathBuf) -> Location {
        Location::Folder(folder)
    }
}

impl From<&Path> for Location {
    fn from(folder: &Path) -> Location {
        Location::Folder(folder.to_path_buf())
    }
}

impl Location {
    /// A folder path, or `s3://bucket/prefix`. Other URL schemes are
    /// refused: a path such as `gs://x` would otherwise become a folder.
    pub fn parse(text: &str) -> Result<Location> {
        match text.split_once("://") {
            None => Ok(Location::Folder(PathBuf::from(text))),
            Some(("s3", rest)) => Bucket::open(rest).map(Location::Bucket),
            Some((scheme, _)) => Err(Error::Usage(format!(
                "{text}: motcua keeps lakes and outputs in a folder or an s3:// bucket (an S3-compatible server through AWS_ENDPOINT_URL), not {scheme}://"
            ))),
        }
    }

    /// The folder, when the location is one.
    pub fn folder(&self) -> Option<&Path> {
        match self {
            Location::Folder(path) => Some(path),
            Location::Bucket(_) => None,
        }
    }

    /// How `rel` is named in messages: a path, or a URL.
    pub fn shown(&self, rel: &str) -> PathBuf {
        match self {
            Location::Folder(root) if rel.is_empty() => root.clone(),
            Location::Folder(root) => root.join(rel),
            Location::Bucket(b) if rel.is_empty() => PathBuf::from(&b.url),
            Location::Bucket(b) => PathBuf::from(format!("{}/{rel}", b.url)),
        }
    }

    /// The location itself, as given, for messages.
    pub fn root_shown(&self) -> PathBuf {
        self.shown("")
    }

    /// The file `rel` whole; `None` when there is none.
    pub(crate) fn read(&self, rel: &str) -> Result<Option<Bytes>> {
        match self {
            Location::Folder(root) => match std::fs::read(root.join(rel)) {
                Ok(bytes) => Ok(Some(Bytes::from(bytes))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(Error::io(root.join(rel), e)),
            },
            Location::Bucket(_) => Ok(self.read_tagged(rel)?.map(|(bytes, _)| bytes)),
        }
    }

    /// The last `len` bytes of the file `rel` (all of it when it is
    /// shorter) and the file's size; `None` when there is none. From a
    /// bucket: its size, then a bounded range (servers differ on a suffix
    /// range longer than the object), not the whole object.
    pub(crate) fn read_tail(&self, rel: &str, len: u64) -> Result<Option<(Bytes, u64)>> {
        match self {
            Location::Folder(root) => {
                use std::io::{Read, Seek, SeekFrom};
                let path = root.join(rel);
                let mut file = match std::fs::File::open(&path) {
                    Ok(file) => file,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => return Err(Error::io(path, e)),
                };
                let size = file.metadata().map_err(|e| Error::io(&path, e))?.len();
                let mut tail = Vec::with_capacity(len.min(size) as usize);
                file.seek(SeekFrom::Start(size.saturating_sub(len)))
                    .and_then(|_| file.read_to_end(&mut tail))
                    .map_err(|e| Error::io(&path, e))?;
                Ok(Some((Bytes::from(tail), size)))
            }
            Location::Bucket(b) => {
                let (store, key) = (b.store.clone(), b.key(rel));
                let got = block(async move {
                    let size = match store.head(&key).await {
                        Ok(meta) => meta.size,
                        Err(object_store::Error::NotFound { .. }) => return Ok(None),
                        Err(e) => return Err(e),
                    };
                    if size == 0 {
                        return Ok(Some((Bytes::new(), 0)));
                    }
                    let range = size.saturating_sub(len)..size;
                    let bytes = store.get_range(&key, range).await?;
                    Ok(Some((bytes, size)))
                })?;
                got.map_err(|e| b.error(rel, e))
            }
        }
    }

    /// The files directly in folder `dir` (relative), by name.
    pub(crate) fn list(&self, dir: &str) -> Result<Vec<Listed>> {
        let mut listed = match self {
            Location::Folder(root) => list_folder(root, dir)?,
            Location::Bucket(b) => {
                let (store, key) = (b.store.clone(), b.key(dir));
                let found = block(async move { store.list_with_delimiter(Some(&key)).await })?
                    .map_err(|e| b.error(dir, e))?;
                b.listed(found.objects)
            }
        };
        listed.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(listed)
    }

    /// Every file under folder `dir` (relative), at any depth.
    pub(crate) fn list_all(&self, dir: &str) -> Result<Vec<Listed>> {
        match self {
            Location::Folder(_) => {
                let mut all = Vec::new();
                let mut dirs = vec![dir.to_string()];
                while let Some(dir) = dirs.pop() {
                    all.extend(self.list(&dir)?);
                    if let Some(root) = self.folder() {
                        dirs.extend(subfolders(root, &dir)?);
                    }
                }
                Ok(all)
            }
            Location::Bucket(b) => {
                use futures::TryStreamExt;
                let (store, key) = (b.store.clone(), b.key(dir));
                let found =
                    block(async move { store.list(Some(&key)).try_collect::<Vec<_>>().await })?
                        .map_err(|e| b.error(dir, e))?;
                Ok(b.listed(found))
            }
        }
    }

    /// Puts the local file `from` in the location as `rel`: in a folder by
    /// rename (the caller syncs the folder), in a bucket by upload, in parts
    /// when it is large. The bucket shows the object only once it is whole.
    pub(crate) fn upload(&self, from: &Path, rel: &str) -> Result<()> {
        match self {
            Location::Folder(root) => {
                let to = root.join(rel);
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                std::fs::rename(from, &to).map_err(|e| Error::io(&to, e))
            }
            Location::Bucket(b) => {
                let (store, key, from) = (b.store.clone(), b.key(rel), from.to_path_buf());
                block(async move { upload(store, key, &from).await })?.map_err(|e| match e {
                    Upload::Read(path, e) => Error::io(path, e),
                    Upload::Store(e) => b.error(rel, e),
                })
            }
        }
    }

    /// Writes `bytes` as `rel` unless a file of that name exists. In a
    /// folder the file is synced, then moved into place only if the name is
    /// free, and the folder synced; in a bucket it is one conditional put.
    /// Either way a reader sees the whole file or none.
    pub(crate) fn create(&self, rel: &str, bytes: &[u8]) -> Result<Created> {
        match self {
            Location::Folder(root) => create_in_folder(&root.join(rel), bytes),
            Location::Bucket(b) => {
                let (store, key) = (b.store.clone(), b.key(rel));
                let payload = PutPayload::from(bytes.to_vec());
                let options = PutOptions::from(PutMode::Create);
                match block(async move { store.put_opts(&key, payload, options).await })? {
                    Ok(_) => Ok(Created::Written),
                    Err(object_store::Error::AlreadyExists { .. }) => Ok(Created::Exists),
                    Err(e) => Err(b.error(rel, e)),
                }
            }
        }
    }

    /// Writes `bytes` as `rel`, replacing any file of that name whole.
    pub(crate) fn put(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        match self {
            Location::Folder(root) => crate::storage::write_atomic(&root.join(rel), bytes),
            Location::Bucket(b) => {
                let (store, key) = (b.store.clone(), b.key(rel));
                let payload = PutPayload::from(bytes.to_vec());
                block(async move { store.put(&key, payload).await })?
                    .map(|_| ())
                    .map_err(|e| b.error(rel, e))
            }
        }
    }

    /// The file `rel` with its version tag (a bucket's ETag; none in a
    /// folder), for a later [`Location::replace`]; `None` when there is none.
    pub(crate) fn read_tagged(&self, rel: &str) -> Result<Option<(Bytes, Option<String>)>> {
        match self {
            Location::Folder(_) => Ok(self.read(rel)?.map(|bytes| (bytes, None))),
            Location::Bucket(b) => {
                let (store, key) = (b.store.clone(), b.key(rel));
                let got = block(async move {
                    match store.get(&key).await {
                        Ok(got) => {
                            let tag = got.meta.e_tag.clone();
                            got.bytes().await.map(|bytes| Some((bytes, tag)))
                        }
                        Err(object_store::Error::NotFound { .. }) => Ok(None),
                        Err(e) => Err(e),
                    }
                })?;
                got.map_err(|e| b.error(rel, e))
            }
        }
    }

    /// Replaces `rel` with `bytes` only if it is still the version `tag`
    /// read (`None`: only if there is no file yet); `Lost` when another
    /// writer replaced it first. In a folder the file is replaced whole,
    /// unconditionally.
    pub(crate) fn replace(&self, rel: &str, bytes: &[u8], tag: Option<&str>) -> Result<Replaced> {
        let Location::Bucket(b) = self else {
            self.put(rel, bytes)?;
            return Ok(Replaced::Done);
        };
        let (store, key) = (b.store.clone(), b.key(rel));
        let payload = PutPayload::from(bytes.to_vec());
        let mode = match tag {
            None => PutMode::Create,
            Some(tag) => PutMode::Update(object_store::UpdateVersion {
                e_tag: Some(tag.to_string()),
                version: None,
            }),
        };
        match block(async move { store.put_opts(&key, payload, mode.into()).await })? {
            Ok(_) => Ok(Replaced::Done),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(Replaced::Lost),
            Err(e) => Err(b.error(rel, e)),
        }
    }

    /// Copies `from` to `to` inside the location (a bucket copies on the
    /// server; a folder links, or copies where it cannot).
    pub(crate) fn copy(&self, from: &str, to: &str) -> Result<()> {
        match self {
            Location::Folder(root) => {
                let (from, to) = (root.join(from), root.join(to));
                if let Some(parent) = to.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
                }
                std::fs::hard_link(&from, &to)
                    .or_else(|_| std::fs::copy(&from, &to).map(|_| ()))
                    .map_err(|e| Error::io(&to, e))
            }
            Location::Bucket(b) => {
                let (store, from_key, to_key) = (b.store.clone(), b.key(from), b.key(to));
                block(async move { store.copy(&from_key, &to_key).await })?
                    .map_err(|e| b.error(to, e))
            }
        }
    }

    /// Refuses a bucket whose server does not honour conditional writes
    /// (create-if-absent, replace-if-unchanged): two writers could then
    /// overwrite each other's commits, both exiting 0. Tried on a probe
    /// object in folder `dir`; a folder needs no check.
    pub(crate) fn check_conditional_writes(&self, dir: &str) -> Result<()> {
        if self.folder().is_some() {
            return Ok(());
        }
        let probe = format!("{dir}/probe-{}", crate::storage::unique_tag());
        let created = (self.create(&probe, b"1")?, self.create(&probe, b"2")?);
        let replaced = self.replace(&probe, b"3", Some("\"not-its-etag\""))?;
        if let Err(e) = self.delete(&probe) {
            tracing::warn!("{e}");
        }
        if created == (Created::Written, Created::Exists) && replaced == Replaced::Lost {
            return Ok(());
        }
        Err(Error::lake(
            self.root_shown(),
            "the server does not honour conditional writes (If-None-Match: * and If-Match on a put), so two writers could overwrite each other's commits; use a server that does (AWS S3, MinIO, SeaweedFS 4)",
        ))
    }

    /// Deletes `rel`; a file already gone is not an error.
    pub(crate) fn delete(&self, rel: &str) -> Result<()> {
        match self {
            Location::Folder(root) => match std::fs::remove_file(root.join(rel)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(Error::io(root.join(rel), e))
                }
                _ => Ok(()),
            },
            Location::Bucket(b) => {
                let (store, key) = (b.store.clone(), b.key(rel));
                match block(async move { store.delete(&key).await })? {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(b.error(rel, e)),
                }
            }
        }
    }
}

impl Bucket {
    /// `rest` is `bucket/prefix` (the part after `s3://`).
    fn open(rest: &str) -> Result<Bucket> {
        let rest = rest.trim_end_matches('/');
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(Error::Usage(format!(
                "s3://{rest}: name the bucket, as in s3://BUCKET/PREFIX"
            )));
        }
        let url = format!("s3://{rest}");
        let store_url = format!("s3://{bucket}");
        Ok(Bucket {
            store: Arc::new(s3_store(&store_url, &url)?),
            url,
            store_url,
            prefix: Key::from(prefix),
        })
    }

    /// `s3://bucket`, under which DataFusion finds [`Bucket::new_store`].
    pub(crate) fn store_url(&self) -> &str {
        &self.store_url
    }

    /// A client of its own for DataFusion's scans: a client's connections
    /// belong to the runtime that made them, and DataFusion's is not the one
    /// motcua's own reads run on.
    pub(crate) fn new_store(&self) -> Result<Arc<dyn ObjectStore>> {
        Ok(Arc::new(s3_store(&self.store_url, &self.url)?))
    }

    /// The URL of `rel` for DataFusion.
    pub(crate) fn url_of(&self, rel: &str) -> String {
        format!("{}/{}", self.store_url, self.key(rel))
    }

    fn key(&self, rel: &str) -> Key {
        if self.prefix.as_ref().is_empty() {
            Key::from(rel)
        } else {
            Key::from(format!("{}/{rel}", self.prefix))
        }
    }

    /// Objects as listed files: relative to the prefix, with their age.
    fn listed(&self, objects: Vec<object_store::ObjectMeta>) -> Vec<Listed> {
        let now = chrono::Utc::now();
        objects
            .into_iter()
            .map(|o| Listed {
                rel: self.rel_of(&o.location),
                age_secs: (now - o.last_modified).num_seconds().max(0) as u64,
            })
            .collect()
    }

    fn rel_of(&self, key: &Key) -> String {
        let key = key.as_ref();
        let prefix = self.prefix.as_ref();
        if prefix.is_empty() {
            key.to_string()
        } else {
            key.strip_prefix(prefix)
                .map(|k| k.trim_start_matches('/'))
                .unwrap_or(key)
                .to_string()
        }
    }

    fn error(&self, rel: &str, e: object_store::Error) -> Error {
        Error::lake(
            format!("{}/{rel}", self.url),
            format!(
                "the bucket refused the request ({e}); check AWS_ENDPOINT_URL, the keys in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and that the bucket exists"
            ),
        )
    }
}

/// An S3 client configured from the `AWS_*` variables.
pub(crate) fn s3_store(store_url: &str, url: &str) -> Result<object_store::aws::AmazonS3> {
    object_store::aws::AmazonS3Builder::from_env()
        .with_url(store_url)
        .build()
        .map_err(|e| Error::Usage(format!("{url}: {e}; set AWS_ENDPOINT_URL, AWS_REGION and the AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY pair")))
}

fn list_folder(root: &Path, dir: &str) -> Result<Vec<Listed>> {
    let path = root.join(dir);
    let entries = match std::fs::read_dir(&path) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let mut listed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&path, e))?;
        let Ok(meta) = entry.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let age_secs = meta
            .modified()
            .ok()
            .and_then(|t| t.elapsed().ok())
            .map_or(0, |age| age.as_secs());
        let name = entry.file_name().to_string_lossy().into_owned();
        listed.push(Listed {
            rel: if dir.is_empty() {
                name
            } else {
                format!("{dir}/{name}")
            },
            age_secs,
        });
    }
    Ok(listed)
}

/// The folders directly in `dir` under `root`, relative to `root`.
fn subfolders(root: &Path, dir: &str) -> Result<Vec<String>> {
    let path = root.join(dir);
    let Ok(entries) = std::fs::read_dir(&path) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&path, e))?;
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.push(format!("{dir}/{}", entry.file_name().to_string_lossy()));
        }
    }
    Ok(found)
}

/// Files up to this size go up in one request; larger ones in parts.
const ONE_PUT_BYTES: u64 = 32 << 20;
const PART_BYTES: usize = 16 << 20;

enum Upload {
    Read(PathBuf, std::io::Error),
    Store(object_store::Error),
}

async fn upload(store: Arc<dyn ObjectStore>, key: Key, from: &Path) -> Result<(), Upload> {
    use std::io::Read;
    let read = |e| Upload::Read(from.to_path_buf(), e);
    let mut file = std::fs::File::open(from).map_err(read)?;
    let size = file.metadata().map_err(read)?.len();
    if size <= ONE_PUT_BYTES {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).map_err(read)?;
        store
            .put(&key, PutPayload::from(bytes))
            .await
            .map_err(Upload::Store)?;
        return Ok(());
    }
    let mut parts = store.put_multipart(&key).await.map_err(Upload::Store)?;
    let outcome = async {
        loop {
            let mut part = Vec::with_capacity(PART_BYTES);
            (&mut file)
                .take(PART_BYTES as u64)
                .read_to_end(&mut part)
                .map_err(read)?;
            if part.is_empty() {
                break;
            }
            parts
                .put_part(PutPayload::from(part))
                .await
                .map_err(Upload::Store)?;
        }
        parts.complete().await.map_err(Upload::Store).map(|_| ())
    }
    .await;
    if outcome.is_err() {
        // The parts uploaded so far are kept (and billed) until aborted.
        let _ = parts.abort().await;
    }
    outcome
}

/// Create-if-absent in a folder: a synced temporary file moved to the name
/// only if the name is free, then the folder synced.
fn create_in_folder(path: &Path, bytes: &[u8]) -> Result<Created> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(tmp.path(), e))?;
    crate::storage::make_readable(tmp.as_file(), tmp.path())?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(tmp.path(), e))?;
    // A rename that refuses an existing name (or a link, where the file
    // system has no such rename).
    let created = match tmp.persist_noclobber(path) {
        Ok(_) => Created::Written,
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => Created::Exists,
        Err(e) => return Err(Error::io(path, e.error)),
    };
    crate::storage::sync_dir(dir)?;
    Ok(created)
}

/// Runs a bucket request to completion from synchronous code, on a runtime
/// of its own: the callers (an ingest, a session opening inside DataFusion's
/// runtime) may or may not be on one, and a runtime cannot block inside
/// another.
fn block<T: Send + 'static>(
    request: impl std::future::Future<Output = T> + Send + 'static,
) -> Result<T> {
    static IO: OnceLock<std::result::Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    let runtime = IO
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("motcua-bucket")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| Error::io("bucket client runtime", std::io::Error::other(e.clone())))?;
    let (tx, rx) = std::sync::mpsc::channel();
    runtime.spawn(async move {
        let _ = tx.send(request.await);
    });
    rx.recv().map_err(|_| {
        Error::io(
            "bucket client",
            std::io::Error::other("a bucket request stopped without an answer"),
        )
    })
}
