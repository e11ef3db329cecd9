//! The manifest: what the lake holds, by ingest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::lake::FORMAT_VERSION;
use crate::spec::feeds::{Feed, Retention};
use crate::validate::time::Zone;

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
    pub(crate) content_hash: String,
    pub bytes: u64,
    pub(crate) ingested_at: String,
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
    pub(crate) timezone: String,
    pub(crate) next_seq: u64,
    pub ingests: Vec<IngestEntry>,
    /// For feeds that replace the whole table: the seq of the current version.
    #[serde(default)]
    pub current: BTreeMap<Feed, u64>,
    /// The index of every dossier's current snapshot (`current/`), once
    /// the lake has dossiers; relative to the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dossier_index: Option<String>,
    /// The entries of the index that changed since `dossier_index` was
    /// written, with the ones they replace (`current/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dossier_index_delta: Option<String>,
    /// The fingerprint of the PII key the lake's `applicant_key`s were made
    /// with (`PiiKey::fingerprint`; never the key): an ingest under another
    /// key is refused, so two keys never mix in one lake.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_key_check: Option<String>,
    /// Set only in the `_manifest.json` a format-4 lake leaves for older
    /// motcuas once its versions are in `_manifest/`: that file then holds
    /// no manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kept_in: Option<String>,
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
            kept_in: None,
        }
    }

    /// The zone the lake keeps local times in.
    pub fn zone(&self) -> Result<Zone> {
        self.timezone.parse()
    }

    /// Refuses `zone` unless it is the zone the lake keeps local times in
    /// (an alias such as Asia/Saigon for Asia/Ho_Chi_Minh is the same zone).
    pub(crate) fn check_zone(&self, root: &Path, zone: &Zone) -> Result<()> {
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
    pub(crate) fn check_pii_key(
        &self,
        root: &Path,
        key: &crate::validate::privacy::PiiKey,
    ) -> Result<()> {
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

    pub(crate) fn quarantine_files(&self) -> Vec<&str> {
        self.ingests
            .iter()
            .filter_map(|e| e.quarantine_file.as_deref())
            .collect()
    }

    /// An earlier ingest with the same content, when re-ingesting it would
    /// change nothing: any earlier one for an appending feed, the current
    /// version for a replacing one.
    pub(crate) fn already_ingested(&self, feed: Feed, content_hash: &str) -> Option<&IngestEntry> {
        let current = self.current.get(&feed);
        self.ingests.iter().find(|e| {
            e.feed == feed
                && e.content_hash == content_hash
                && (feed.def().retention == Retention::Append || Some(&e.seq) == current)
        })
    }

    pub(crate) fn all_paths(&self) -> BTreeSet<&str> {
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
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
