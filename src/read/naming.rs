//! How an export's headers and values name a feed's columns and values: a
//! profile's `[columns]` and `[values]` first (SPEC §4.5), then the feed's
//! own names and headers.

use std::collections::HashMap;
use std::sync::Arc;

use crate::read::profile::Profile;
use crate::spec::feeds::FeedDef;
use crate::spec::token::normalize_token;

/// What header searches, header mappings and value readers go by.
#[derive(Debug, Clone)]
pub(crate) struct Naming {
    pub(crate) feed: &'static FeedDef,
    pub(crate) profile: Option<Arc<Profile>>,
    /// The registry's units by name, for exports that name units.
    pub(crate) unit_names: Option<Arc<UnitNames>>,
}

impl Naming {
    pub(crate) fn new(feed: &'static FeedDef, profile: Option<Arc<Profile>>) -> Self {
        Naming {
            feed,
            profile,
            unit_names: None,
        }
    }

    /// The feed's own names and headers, without a profile.
    #[cfg(test)]
    pub(crate) fn of(feed: &'static FeedDef) -> Self {
        Naming::new(feed, None)
    }

    /// The column an export header names, if any: by a profile, by the
    /// feed's own headers, or a unit column by the unit's name.
    pub(crate) fn column(&self, header: &str) -> Option<usize> {
        self.profile
            .as_ref()
            .and_then(|p| p.column(header))
            .or_else(|| self.feed.column_for_header(header))
            .or_else(|| self.feed.unit_name_column(header))
    }

    /// Whether `header` names units by name rather than by code.
    pub(crate) fn names_units(&self, header: &str) -> bool {
        self.profile
            .as_ref()
            .and_then(|p| p.column(header))
            .is_none()
            && self.feed.column_for_header(header).is_none()
            && self.feed.unit_name_column(header).is_some()
    }

    /// `value` of column `column` as the feed writes it, when the profile
    /// says what it means; otherwise `value` itself.
    pub(crate) fn value<'s>(&'s self, column: usize, value: &'s str) -> &'s str {
        let Some(pairs) = self.profile.as_ref().and_then(|p| p.values_of(column)) else {
            return value;
        };
        let key = normalize_token(value.trim());
        pairs
            .iter()
            .find(|(export, _)| *export == key)
            .map_or(value, |(_, feed_value)| feed_value)
    }
}

/// The registry's units by their names, normalized (SPEC §4.5 "unit by
/// name"). Exports write a unit's full name (`Phường Hàng Trống`), often
/// after `UBND`, or its name without the level word (`Hàng Trống`); a name
/// with a level word never matches a unit of another level (`Phường Hoàn
/// Kiếm` is not `Quận Hoàn Kiếm`).
#[derive(Debug, Default)]
pub(crate) struct UnitNames {
    /// By name without its level word: (level word, code, name as written).
    by_name: HashMap<String, Vec<Unit>>,
}

#[derive(Debug)]
struct Unit {
    level_word: Option<&'static str>,
    code: String,
    name: String,
}

/// Level words a unit's name begins with, normalized.
const LEVEL_WORDS: [&str; 8] = [
    "thanh_pho_",
    "thi_xa_",
    "thi_tran_",
    "phuong_",
    "xa_",
    "quan_",
    "huyen_",
    "tinh_",
];
/// What a one-stop shop puts before a unit's name: its People's Committee.
const COMMITTEE: [&str; 2] = ["uy_ban_nhan_dan_", "ubnd_"];

/// A name normalized, without `UBND`, split into its level word and the rest.
fn split_name(name: &str) -> (Option<&'static str>, String) {
    let mut key = normalize_token(name.trim());
    if let Some(rest) = COMMITTEE.iter().find_map(|w| key.strip_prefix(w)) {
        key = rest.to_string();
    }
    for word in LEVEL_WORDS {
        if let Some(rest) = key.strip_prefix(word) {
            return (Some(word), rest.to_string());
        }
    }
    (None, key)
}

impl UnitNames {
    /// From the registry's (code, name) pairs.
    pub(crate) fn new<'a>(units: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut by_name: HashMap<String, Vec<Unit>> = HashMap::new();
        for (code, name) in units {
            let (level_word, key) = split_name(name);
            by_name.entry(key).or_default().push(Unit {
                level_word,
                code: code.to_string(),
                name: name.to_string(),
            });
        }
        UnitNames { by_name }
    }

    /// The code of the one unit named `name`; or why there is none, naming
    /// the candidates when there are several.
    pub(crate) fn code_of(&self, name: &str) -> Result<&str, String> {
        let (level_word, key) = split_name(name);
        let candidates: Vec<&Unit> = self
            .by_name
            .get(&key)
            .into_iter()
            .flatten()
            // A level word in the export must be the unit's own (or the
            // registry must write the name without one).
            .filter(|u| {
                level_word.is_none() || u.level_word.is_none() || u.level_word == level_word
            })
            .collect();
        match candidates.as_slice() {
            [unit] => Ok(&unit.code),
            [] => Err(format!(
                "no unit in the registry is named '{name}'; give the unit's code, or ingest the units file that names it"
            )),
            several => Err(format!(
                "'{name}' names {} units in the registry: {}; give the unit's code",
                several.len(),
                several
                    .iter()
                    .map(|u| format!("{} ({})", u.name, u.code))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_is_found_by_its_name_with_or_without_its_level_word() {
        let names = UnitNames::new([
            ("00037", "Phường Hàng Trống"),
            ("10", "Tỉnh Lào Cai"),
            ("080", "Thành phố Lào Cai"),
        ]);
        assert_eq!(names.code_of("Phường Hàng Trống"), Ok("00037"));
        assert_eq!(names.code_of(" UBND phường Hàng Trống "), Ok("00037"));
        assert_eq!(names.code_of("Hàng Trống"), Ok("00037"));
        assert_eq!(names.code_of("Thành phố Lào Cai"), Ok("080"));
        assert_eq!(
            names.code_of("Lào Cai"),
            Err("'Lào Cai' names 2 units in the registry: Tỉnh Lào Cai (10), Thành phố Lào Cai (080); give the unit's code".into())
        );
        // Another level's unit of the same name is not this one.
        assert_eq!(
            names.code_of("Phường Lào Cai"),
            Err("no unit in the registry is named 'Phường Lào Cai'; give the unit's code, or ingest the units file that names it".into())
        );
        let committees = UnitNames::new([("00040", "UBND phường Tràng Tiền")]);
        assert_eq!(committees.code_of("Phường Tràng Tiền"), Ok("00040"));
        assert_eq!(
            names.code_of("Xã Tả Van"),
            Err("no unit in the registry is named 'Xã Tả Van'; give the unit's code, or ingest the units file that names it".into())
        );
    }
}
