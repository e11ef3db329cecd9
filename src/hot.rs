//! The hot paths of an ingest, callable from the micro-benchmarks in
//! `benches/micro` (a package of their own). Not an API: each function runs
//! one path over prepared input and returns something the benchmark keeps,
//! so that the work cannot be optimized away.

use std::path::Path;

use crate::current::{self, Collector, Latest};
use crate::dedupe::{self, KeySet};
use crate::error::Result;
use crate::ingest::{self, IngestOptions};
use crate::lake::{IndexVersion, Staged};
use crate::read::Format;
use crate::spec::enums::CHANNEL;
use crate::spec::feeds::Feed;
use crate::validate::row::Cell;
use crate::validate::time::{self, Zone};
use crate::validate::values::EnumMatcher;

/// Parses each text as a timestamp in `zone`; the count parsed.
pub fn parse_timestamps(texts: &[String], zone: &Zone) -> usize {
    texts
        .iter()
        .filter(|t| time::parse_timestamp(t, zone, false).is_ok())
        .count()
}

/// Matches each text against the `channel` enum and its aliases; the sum
/// of the codes matched.
pub fn match_channels(texts: &[String]) -> u64 {
    let mut matcher = EnumMatcher::new(&CHANNEL);
    texts
        .iter()
        .filter_map(|t| matcher.parse(t))
        .map(u64::from)
        .sum()
}

/// The row hash of each row of text cells, folded.
pub fn hash_rows(rows: &[Vec<String>]) -> u128 {
    rows.iter()
        .map(|row| {
            let cells: Vec<Cell> = row.iter().map(|s| Cell::Text(s)).collect();
            dedupe::row_hash(&cells)
        })
        .fold(0, |acc, h| acc ^ h)
}

/// Inserts every key into a fresh key set; how many were new.
pub fn insert_keys(keys: &[u128]) -> usize {
    let mut set = KeySet::default();
    keys.iter().filter(|k| set.insert(**k)).count()
}

/// The whole parsing path of an ingest over `bytes` as a dry run (read,
/// type, validate, de-duplicate, build batches); the rows accepted.
pub fn dry_run_rows(feed: Feed, format: Format, bytes: &[u8], zone: Zone) -> Result<u64> {
    let options = IngestOptions {
        zone,
        pii_key: Some(crate::validate::privacy::PiiKey::new(
            b"a micro-benchmark key of 32 bytes",
            "bench",
        )?),
        ..Default::default()
    };
    Ok(ingest::check_bytes(feed, format, bytes, &options)?.accepted)
}

/// An index of current dossiers in `dir` to merge claims into.
pub struct IndexFixture {
    root: std::path::PathBuf,
    base: IndexVersion,
}

impl IndexFixture {
    /// Writes a base index of `dossiers` entries under `dir`.
    pub fn new(dir: &Path, dossiers: u64) -> Result<Self> {
        let claims = (0..dossiers).map(|i| claim(i, 1, i));
        let (base, staged) = merge(dir, None, claims, 1)?;
        move_in(dir, &staged)?;
        Ok(IndexFixture {
            root: dir.to_path_buf(),
            base,
        })
    }

    /// Merges `claims` new snapshots (every other one of a dossier the base
    /// holds) into the base, as a delta or a new base as the index would;
    /// the entries of the version written.
    pub fn merge(&self, claims: u64) -> Result<String> {
        let new = (0..claims).map(|i| claim(i * 2, 2, i));
        let (version, staged) = merge(&self.root, Some(&self.base), new, 2)?;
        std::fs::remove_file(staged.path()).map_err(|e| crate::Error::io(staged.path(), e))?;
        Ok(version.delta.unwrap_or(version.base))
    }
}

fn claim(dossier: u64, seq: u64, line: u64) -> Latest {
    Latest {
        key: current::key(&format!("D{dossier:09}")),
        updated_at: seq as i64,
        seq,
        line,
    }
}

fn merge(
    root: &Path,
    previous: Option<&IndexVersion>,
    claims: impl Iterator<Item = Latest>,
    seq: u64,
) -> Result<(IndexVersion, Staged)> {
    let staging = root.join("staging");
    std::fs::create_dir_all(&staging).map_err(|e| crate::Error::io(&staging, e))?;
    let mut collector = Collector::new(&staging, current::RUN_RECORDS);
    for latest in claims {
        collector.push(latest)?;
    }
    let location = crate::Location::Folder(root.to_path_buf());
    let update = current::update(&location, previous, collector, &staging, seq)?;
    Ok((update.version, update.staged))
}

fn move_in(root: &Path, staged: &Staged) -> Result<()> {
    let to = root.join(staged.rel());
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).map_err(|e| crate::Error::io(parent, e))?;
    }
    std::fs::rename(staged.path(), &to).map_err(|e| crate::Error::io(&to, e))
}
