//! SPEC §4's duplicate rules: which rows the lake already holds.

use std::collections::HashSet;

use xxhash_rust::xxh3::xxh3_128;

use crate::error::Result;
use crate::lake::{DataFile, Manifest};
use crate::spec::feeds::{DedupRule, Feed, FeedDef};
use crate::storage::Location;
use crate::validate::row::Cell;

/// Hash of a row's stored values: the identity of a snapshot.
pub(crate) fn row_hash(row: &[Cell]) -> u128 {
    // One call over the row's bytes (the same bytes a streaming hasher would
    // be fed, so the same hash): a streaming update per field cost far more.
    thread_local! {
        static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BYTES.with_borrow_mut(|bytes| {
        bytes.clear();
        for cell in row {
            match cell {
                Cell::Null => bytes.push(0),
                Cell::Text(s) => hash_text(bytes, s),
                Cell::Key(k) => hash_text(bytes, &k.hex()),
                Cell::Enum(v) => bytes.extend_from_slice(&[2, *v]),
                Cell::Bool(v) => bytes.extend_from_slice(&[3, u8::from(*v)]),
                Cell::Int(v) | Cell::Ts(v) => {
                    bytes.push(4);
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
                Cell::Date(d) => {
                    bytes.push(6);
                    bytes.extend_from_slice(&d.to_le_bytes());
                }
                Cell::Target(v, _) => {
                    bytes.push(5);
                    bytes.extend_from_slice(&v.to_le_bytes());
                }
            }
        }
        xxh3_128(bytes)
    })
}

fn hash_text(bytes: &mut Vec<u8>, s: &str) {
    bytes.push(1);
    bytes.extend_from_slice(&(s.len() as u64).to_le_bytes());
    bytes.extend_from_slice(s.as_bytes());
}

/// A set of 128-bit keys that are already xxh3 hashes: SipHash over them
/// again only costs time, so their low 64 bits serve as the hash. Split in
/// shards by the top bits: a shard grows on its own, so growing never holds
/// two copies of the whole set at once.
pub(crate) struct KeySet {
    shards: Vec<HashSet<u128, std::hash::BuildHasherDefault<PassThroughHasher>>>,
}

const KEY_SHARDS_LOG2: u32 = 6;

impl Default for KeySet {
    fn default() -> Self {
        KeySet {
            shards: (0..1 << KEY_SHARDS_LOG2)
                .map(|_| HashSet::default())
                .collect(),
        }
    }
}

impl KeySet {
    fn shard(key: u128) -> usize {
        (key >> (128 - KEY_SHARDS_LOG2)) as usize
    }

    pub(crate) fn contains(&self, key: &u128) -> bool {
        self.shards[Self::shard(*key)].contains(key)
    }

    /// True when the key was not there.
    pub(crate) fn insert(&mut self, key: u128) -> bool {
        self.shards[Self::shard(key)].insert(key)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.shards.iter().all(HashSet::is_empty)
    }

    pub(crate) fn clear(&mut self) {
        self.shards.iter_mut().for_each(HashSet::clear);
    }

    /// Moves every key of `other` into this set.
    pub(crate) fn absorb(&mut self, other: &mut KeySet) {
        for (mine, theirs) in self.shards.iter_mut().zip(other.shards.iter_mut()) {
            mine.extend(theirs.drain());
        }
    }
}

#[derive(Default)]
struct PassThroughHasher(u64);

impl std::hash::Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only u128 keys are hashed; this is the fallback for anything else.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 = key as u64;
    }
}

/// The key a feed's rows are de-duplicated on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRule {
    rule: DedupRule,
    id_column: Option<usize>,
}

impl KeyRule {
    fn of(def: &FeedDef) -> Self {
        let id_column = match def.dedup {
            DedupRule::UniqueId(column) => def.column_index(column),
            _ => None,
        };
        KeyRule {
            rule: def.dedup,
            id_column,
        }
    }

    /// The row's key: its hash, or its ID's; None for a feed without
    /// duplicates (or a row without an ID).
    pub(crate) fn key_of(&self, row: &[Cell]) -> Option<u128> {
        match self.rule {
            DedupRule::IdenticalRow => Some(row_hash(row)),
            DedupRule::UniqueId(_) => match self.id_column.map(|i| &row[i]) {
                Some(Cell::Text(id)) => Some(xxh3_128(id.as_bytes())),
                _ => None,
            },
            DedupRule::None => None,
        }
    }
}

/// Which rows the lake already holds, for SPEC §4's duplicate rules. Keys are
/// 128-bit hashes; keys of the file being ingested stay pending until it
/// commits, so a failed file leaves no trace.
pub(crate) struct DedupIndex {
    pub(crate) feed: Feed,
    pub(crate) rule: DedupRule,
    keys: KeyRule,
    pub(crate) committed: KeySet,
    pub(crate) pending: KeySet,
    loaded_months: HashSet<String>,
    /// The month loaded or found loaded last.
    last_month: String,
    loaded_all: bool,
}

impl DedupIndex {
    pub(crate) fn new(def: &FeedDef) -> Self {
        DedupIndex {
            feed: def.feed,
            rule: def.dedup,
            keys: KeyRule::of(def),
            committed: KeySet::default(),
            pending: KeySet::default(),
            loaded_months: HashSet::new(),
            last_month: String::new(),
            loaded_all: false,
        }
    }

    /// The row hash, when `key` (from `key_of`) is one.
    pub(crate) fn row_hash(&self, key: Option<u128>) -> Option<u128> {
        key.filter(|_| matches!(self.rule, DedupRule::IdenticalRow))
    }

    /// How a row's key is made, for the threads that type rows.
    pub(crate) fn key_rule(&self) -> KeyRule {
        self.keys
    }

    /// Loads the committed keys a row's check needs: the row's month for
    /// identical-row rules (identical rows share a month), everything for ids.
    pub(crate) fn ensure_loaded(
        &mut self,
        manifest: &Manifest,
        location: &Location,
        month: Option<&str>,
    ) -> Result<()> {
        let (column, files): (&str, Vec<&DataFile>) = match self.rule {
            DedupRule::IdenticalRow => {
                let Some(month) = month else { return Ok(()) };
                // Asked once per row: no allocation unless the month is new,
                // and no hashing when it is the last row's.
                if self.last_month == month {
                    return Ok(());
                }
                self.last_month.clear();
                self.last_month.push_str(month);
                if self.loaded_months.contains(month) {
                    return Ok(());
                }
                self.loaded_months.insert(month.to_string());
                let feed = self.feed;
                (
                    crate::spec::feeds::ROW_HASH,
                    manifest
                        .data_files(feed)
                        .into_iter()
                        .filter(|f| f.month.as_deref() == Some(month))
                        .collect(),
                )
            }
            DedupRule::UniqueId(column) => {
                if self.loaded_all {
                    return Ok(());
                }
                self.loaded_all = true;
                let feed = self.feed;
                (column, manifest.data_files(feed))
            }
            DedupRule::None => return Ok(()),
        };
        for file in files {
            read_keys(location, &file.path, column, self.rule, &mut self.committed)?;
        }
        Ok(())
    }

    /// True when the key is new (and now taken).
    pub(crate) fn insert(&mut self, key: u128) -> bool {
        !self.committed.contains(&key) && self.pending.insert(key)
    }

    pub(crate) fn commit(&mut self) {
        // Moving the first file's keys instead of copying them: both sets at
        // once would double the keys' share of the ingest's peak memory.
        if self.committed.is_empty() {
            std::mem::swap(&mut self.committed, &mut self.pending);
        } else {
            self.committed.absorb(&mut self.pending);
        }
    }

    pub(crate) fn rollback(&mut self) {
        self.pending.clear();
    }
}

fn read_keys(
    location: &Location,
    rel: &str,
    column: &str,
    rule: DedupRule,
    into: &mut KeySet,
) -> Result<()> {
    use arrow::array::{Array, AsArray};
    let shown = location.shown(rel);
    let path = shown.as_path();
    for batch in crate::storage::parquet::read_columns(location, rel, &[column])? {
        let batch = batch?;
        let array = batch.column(0);
        match rule {
            DedupRule::IdenticalRow => {
                let hashes = array
                    .as_fixed_size_binary_opt()
                    .filter(|h| h.value_length() == 16 && h.null_count() == 0)
                    .ok_or_else(|| {
                        crate::storage::parquet::damaged(path, column, "16-byte hashes")
                    })?;
                for i in 0..hashes.len() {
                    let mut bytes = [0u8; 16];
                    bytes.copy_from_slice(hashes.value(i));
                    into.insert(u128::from_le_bytes(bytes));
                }
            }
            _ => {
                let ids = array
                    .as_string_opt::<i32>()
                    .ok_or_else(|| crate::storage::parquet::damaged(path, column, "text"))?;
                for id in ids.iter().flatten() {
                    into.insert(xxh3_128(id.as_bytes()));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_files_keys_leave_no_trace_and_committed_keys_stay() {
        let mut keys = DedupIndex::new(&crate::spec::feeds::SIGNATURES);
        assert!(keys.insert(1));
        assert!(!keys.insert(1), "a repeat within the file");
        keys.rollback();
        assert!(keys.insert(1), "the failed file claimed nothing");
        keys.commit();
        assert!(!keys.insert(1), "committed");
        assert!(keys.insert(u128::MAX));
        keys.commit();
        assert!(!keys.insert(u128::MAX) && !keys.insert(1));
    }
}
