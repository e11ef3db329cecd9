//! Export profiles (SPEC §4.5): a TOML file saying how one office's export
//! names the feed's columns and values, for layouts the built-in headers
//! and values do not cover.
//!
//! ```toml
//! feed = "dossiers"
//! delimiter = ";"          # optional: , ; tab |
//! sheet = "Sổ theo dõi"    # optional: the workbook sheet
//! header_row = 4           # optional: the header's line or sheet row
//!
//! [columns]                # export header → feed column
//! "Số biên nhận" = "dossier_id"
//!
//! [values.status]          # export value → feed value
//! "Đã xong" = "resolved"
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::read::layout::HEADER_SEARCH_ROWS;
use crate::spec::feeds::{ColumnType, Feed, FeedDef};
use crate::spec::token::normalize_token;

/// A profile as its file is written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    feed: String,
    delimiter: Option<String>,
    sheet: Option<String>,
    header_row: Option<u64>,
    #[serde(default)]
    columns: BTreeMap<String, String>,
    #[serde(default)]
    values: BTreeMap<String, BTreeMap<String, String>>,
}

/// A checked profile: every column and value it names exists.
#[derive(Debug, Clone)]
pub struct Profile {
    pub(crate) delimiter: Option<u8>,
    pub(crate) sheet: Option<String>,
    pub(crate) header_row: Option<u64>,
    /// Export headers, normalized, and the column each names.
    pub(crate) columns: Vec<(String, usize)>,
    /// Per column: export values, normalized, and the feed value each means.
    pub(crate) values: Vec<(usize, Vec<(String, &'static str)>)>,
}

impl Profile {
    /// Reads and checks the profile at `path` for an ingest of `feed`; a
    /// file that is not TOML, names another feed, a column the feed does
    /// not have or a value no column takes is refused in one sentence.
    pub fn load(path: &Path, feed: Feed) -> Result<Profile> {
        let bad = |reason: String| Error::BadFile {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let file: ProfileFile = toml::from_str(&text).map_err(|e| {
            bad(format!(
                "not a profile: {}",
                e.to_string().trim().replace('\n', " ")
            ))
        })?;
        Profile::check(file, feed).map_err(bad)
    }

    fn check(file: ProfileFile, feed: Feed) -> std::result::Result<Profile, String> {
        if file.feed != feed.name() {
            return Err(format!(
                "the profile is for feed '{}', not {}",
                file.feed,
                feed.name()
            ));
        }
        let def = feed.def();
        let delimiter = file.delimiter.as_deref().map(delimiter).transpose()?;
        if file.header_row == Some(0) {
            return Err("header_row counts from 1, as a spreadsheet shows rows".into());
        }
        if let Some(row) = file.header_row
            && row > HEADER_SEARCH_ROWS as u64
        {
            return Err(format!(
                "header_row {row} is below the first {HEADER_SEARCH_ROWS} rows, where the header is read; delete the rows above it"
            ));
        }
        let mut columns = Vec::new();
        for (header, column) in &file.columns {
            columns.push((
                normalize_token(header.trim()),
                column_of(def, column, "[columns]")?,
            ));
        }
        let mut values = Vec::new();
        for (column, mapping) in &file.values {
            let index = column_of(def, column, "[values]")?;
            let allowed = feed_values(def, index)
                .ok_or_else(|| format!("[values.{column}]: {column} is not a column of named values (an enum or a yes/no)"))?;
            let mut pairs = Vec::new();
            for (export, value) in mapping {
                let canonical = allowed.iter().find(|v| **v == value.as_str()).ok_or_else(|| {
                    format!(
                        "[values.{column}] maps '{export}' to '{value}', which {column} does not take (its values: {})",
                        allowed.join(", ")
                    )
                })?;
                pairs.push((normalize_token(export.trim()), *canonical));
            }
            values.push((index, pairs));
        }
        Ok(Profile {
            delimiter,
            sheet: file.sheet,
            header_row: file.header_row,
            columns,
            values,
        })
    }

    /// The column a header names by this profile, if it names one.
    pub(crate) fn column(&self, header: &str) -> Option<usize> {
        if self.columns.is_empty() {
            return None;
        }
        let wanted = normalize_token(header.trim());
        self.columns
            .iter()
            .find(|(h, _)| *h == wanted)
            .map(|(_, c)| *c)
    }

    /// The export values this profile gives column `column`, if any.
    pub(crate) fn values_of(&self, column: usize) -> Option<&[(String, &'static str)]> {
        self.values
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, pairs)| pairs.as_slice())
    }
}

/// The column of `def` named `name`, or why not.
fn column_of(def: &FeedDef, name: &str, table: &str) -> std::result::Result<usize, String> {
    def.column_index(name).ok_or_else(|| {
        let names: Vec<&str> = def.columns.iter().map(|c| c.name).collect();
        format!(
            "{table} names column '{name}', which feed {} does not have (its columns: {})",
            def.name,
            names.join(", ")
        )
    })
}

/// The values column `index` takes, when it takes named ones.
fn feed_values(def: &FeedDef, index: usize) -> Option<Vec<&'static str>> {
    match def.columns[index].ty {
        ColumnType::Enum(e) => Some(e.values.iter().map(|(v, _)| *v).collect()),
        ColumnType::Bool => Some(vec!["true", "false"]),
        _ => None,
    }
}

/// A profile's `delimiter`.
fn delimiter(text: &str) -> std::result::Result<u8, String> {
    match text {
        "," => Ok(b','),
        ";" => Ok(b';'),
        "|" => Ok(b'|'),
        "tab" | "\t" => Ok(b'\t'),
        other => Err(format!(
            "delimiter '{other}' is not one of ',', ';', 'tab', '|'"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> std::result::Result<Profile, String> {
        let file: ProfileFile = toml::from_str(text).map_err(|e| e.to_string())?;
        Profile::check(file, Feed::Dossiers)
    }

    #[test]
    fn a_profile_names_only_columns_and_values_the_feed_has() {
        let good = load(
            "feed = \"dossiers\"\ndelimiter = \"tab\"\n[columns]\n\"Số biên nhận\" = \"dossier_id\"\n[values.status]\n\"Đã xong\" = \"resolved\"\n",
        )
        .unwrap();
        assert_eq!(good.delimiter, Some(b'\t'));
        assert_eq!(good.column("SỐ BIÊN NHẬN "), Some(0));
        assert_eq!(
            good.values_of(5),
            Some(&[("da_xong".to_string(), "resolved")][..])
        );
        for (text, why) in [
            (
                "feed = \"units\"",
                "the profile is for feed 'units', not dossiers",
            ),
            (
                "feed = \"dossiers\"\n[columns]\n\"Số\" = \"dossier_no\"",
                "[columns] names column 'dossier_no', which feed dossiers does not have (its columns: dossier_id, ",
            ),
            (
                "feed = \"dossiers\"\n[values.status]\n\"Xong\" = \"done\"",
                "[values.status] maps 'Xong' to 'done', which status does not take (its values: received, ",
            ),
            (
                "feed = \"dossiers\"\n[values.fee_vnd]\n\"x\" = \"1\"",
                "[values.fee_vnd]: fee_vnd is not a column of named values",
            ),
            (
                "feed = \"dossiers\"\ndelimiter = \"::\"",
                "delimiter '::' is not one of",
            ),
            (
                "feed = \"dossiers\"\nheader_row = 0",
                "header_row counts from 1",
            ),
            (
                "feed = \"dossiers\"\nsheets = \"a\"",
                "unknown field `sheets`",
            ),
        ] {
            let got = load(text).map(|_| ()).unwrap_err();
            assert!(got.contains(why), "{text}: {got}");
        }
    }
}
