//! A `unit_changes` file checked against the lake's units registry (SPEC
//! §2.1): each change joins a unit that exists the day before it to one
//! that exists on its first day, and an old unit's shares make a whole.

use std::collections::{BTreeMap, HashMap};

use crate::spec::feeds::UNIT_CHANGES;
use crate::validate::row::Cell;
use crate::validate::time::date_from_days;

/// A unit of the lake's registry and the days it exists ([from, to), None
/// unbounded).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RegisteredUnit {
    pub(crate) code: String,
    pub(crate) name: String,
    pub(crate) from: Option<i32>,
    pub(crate) to: Option<i32>,
}

impl RegisteredUnit {
    fn valid_on(&self, day: i32) -> bool {
        self.from.is_none_or(|from| from <= day) && self.to.is_none_or(|to| day < to)
    }
}

/// Shares of one old unit at one change may miss 1 by rounding only.
const SHARE_TOLERANCE: f64 = 1e-9;
/// Problems named in the refusal; the rest are counted.
const SHOWN: usize = 5;

#[derive(Debug)]
struct ChangeRow {
    old: String,
    new: String,
    on: i32,
    share: f64,
    line: u64,
}

/// The whole-file rules of a `unit_changes` file.
pub(crate) struct ChangesCheck {
    /// The lake's registry; None when it has none.
    registry: Option<Vec<RegisteredUnit>>,
    rows: Vec<ChangeRow>,
}

impl ChangesCheck {
    pub(crate) fn new(registry: Option<Vec<RegisteredUnit>>) -> Self {
        ChangesCheck {
            registry,
            rows: Vec::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The registry to check against (a units file's, before it is committed).
    pub(crate) fn set_registry(&mut self, units: Vec<RegisteredUnit>) {
        self.registry = Some(units);
    }

    /// A change as the lake holds it, to check against a new registry.
    pub(crate) fn add_change(&mut self, old: &str, new: &str, on: i32, share: f64, line: u64) {
        self.rows.push(ChangeRow {
            old: old.to_string(),
            new: new.to_string(),
            on,
            share,
            line,
        });
    }

    pub(crate) fn add(&mut self, row: &[Cell], line: u64) {
        let at = |name: &str| UNIT_CHANGES.column_index(name).map(|i| &row[i]);
        if let (Some(Cell::Text(old)), Some(Cell::Text(new)), Some(Cell::Date(on))) =
            (at("old_code"), at("new_code"), at("effective_on"))
        {
            let share = match at("share") {
                Some(Cell::Target(share, _)) => *share,
                _ => 1.0,
            };
            self.rows.push(ChangeRow {
                old: old.to_string(),
                new: new.to_string(),
                on: *on,
                share,
                line,
            });
        }
    }

    /// Why the changes cannot stand, in one sentence; Ok when they can.
    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        if self.rows.is_empty() {
            return Err("it has no valid change rows; the changes were left as they were".into());
        }
        let Some(registry) = &self.registry else {
            return Err(
                "the lake holds no units registry to check the changes against; ingest the units, with valid_from and valid_to, first"
                    .into(),
            );
        };
        // By code: a national changes file has thousands of rows.
        let mut by_code: HashMap<&str, Vec<&RegisteredUnit>> = HashMap::new();
        for unit in registry {
            by_code.entry(&unit.code).or_default().push(unit);
        }
        let exists = |code: &str, day: i32| {
            by_code
                .get(code)
                .is_some_and(|units| units.iter().any(|u| u.valid_on(day)))
        };
        let mut problems: Vec<String> = Vec::new();
        for row in &self.rows {
            let before = row.on - 1;
            if !exists(&row.old, before) {
                problems.push(format!(
                    "old_code {} names no unit on {}, the day before the change (line {})",
                    row.old,
                    date_from_days(before),
                    row.line
                ));
            }
            if !exists(&row.new, row.on) {
                problems.push(format!(
                    "new_code {} names no unit on {} (line {})",
                    row.new,
                    date_from_days(row.on),
                    row.line
                ));
            }
        }
        let mut shares: BTreeMap<(&str, i32), (f64, Vec<u64>)> = BTreeMap::new();
        for row in &self.rows {
            let entry = shares.entry((&row.old, row.on)).or_default();
            entry.0 += row.share;
            entry.1.push(row.line);
        }
        for ((old, on), (sum, lines)) in &shares {
            if (sum - 1.0).abs() > SHARE_TOLERANCE {
                let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
                problems.push(format!(
                    "the shares of {old} on {} sum to {}, not 1 (lines {})",
                    date_from_days(*on),
                    (sum * 1e9).round() / 1e9,
                    lines.join(", ")
                ));
            }
        }
        if problems.is_empty() {
            return Ok(());
        }
        let more = problems.len().saturating_sub(SHOWN);
        let mut why = problems
            .into_iter()
            .take(SHOWN)
            .collect::<Vec<_>>()
            .join("; ");
        if more > 0 {
            why.push_str(&format!("; and {more} more"));
        }
        Err(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::time::days_since_epoch;

    fn day(text: &str) -> i32 {
        days_since_epoch(text.parse().expect("a date"))
    }

    fn unit(code: &str, from: Option<&str>, to: Option<&str>) -> RegisteredUnit {
        RegisteredUnit {
            code: code.into(),
            name: code.into(),
            from: from.map(day),
            to: to.map(day),
        }
    }

    fn check(
        registry: Vec<RegisteredUnit>,
        rows: &[(&str, &str, &str, f64)],
    ) -> Result<(), String> {
        let mut c = ChangesCheck::new(Some(registry));
        for (line, (old, new, on, share)) in (2..).zip(rows) {
            c.rows.push(ChangeRow {
                old: old.to_string(),
                new: new.to_string(),
                on: day(on),
                share: *share,
                line,
            });
        }
        c.check()
    }

    #[test]
    fn a_change_joins_units_that_exist_and_its_shares_make_a_whole() {
        let july = Some("2025-07-01");
        // Cửa Nam split three ways; Hàng Trống's code reused by Hoàn Kiếm.
        let registry = vec![
            unit("00082", None, july),
            unit("00004", july, None),
            unit("00070", None, july),
            unit("00070", july, None),
            unit("00082", july, None),
        ];
        let split = [
            ("00082", "00004", "2025-07-01", 0.2),
            ("00082", "00070", "2025-07-01", 0.3),
            ("00082", "00082", "2025-07-01", 0.5),
            ("00070", "00070", "2025-07-01", 1.0),
        ];
        assert_eq!(check(registry.clone(), &split), Ok(()));
        assert_eq!(
            check(
                registry.clone(),
                &[
                    ("00082", "00004", "2025-07-01", 0.2),
                    ("00082", "00070", "2025-07-01", 0.3)
                ]
            ),
            Err("the shares of 00082 on 2025-07-01 sum to 0.5, not 1 (lines 2, 3)".into())
        );
        assert_eq!(
            check(registry.clone(), &[("00004", "00070", "2025-07-01", 1.0)]),
            Err(
                "old_code 00004 names no unit on 2025-06-30, the day before the change (line 2)"
                    .into()
            )
        );
        assert_eq!(
            check(registry, &[("00070", "09999", "2025-07-01", 1.0)]),
            Err("new_code 09999 names no unit on 2025-07-01 (line 2)".into())
        );
    }
}
