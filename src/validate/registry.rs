//! Checks against the units registry (SPEC §2).

use std::collections::{HashMap, HashSet};

use crate::spec::feeds::{Feed, FeedDef};
use crate::validate::row::Cell;

/// Activity's unit codes checked against the lake's units registry: a code
/// the registry does not hold (`3` where Excel dropped the zeros of `003`)
/// is kept, as SPEC §2 says, but counted and named in the file's report.
pub(crate) struct UnitCheck {
    column: usize,
    known: HashSet<String>,
    /// The last code seen and whether it is known: rows of one unit come together.
    last: Option<(String, bool)>,
}

impl UnitCheck {
    /// The check of `def`'s rows against the codes of the registry; None
    /// for the units feed itself or a feed without unit codes.
    pub(crate) fn new(def: &FeedDef, registry: HashSet<String>) -> Option<Self> {
        if !Self::applies(def) {
            return None;
        }
        let column = def.column_index("unit_code")?;
        let mut known = registry;
        if def.feed == Feed::Targets {
            known.insert(crate::spec::feeds::EVERY_UNIT.to_string());
        }
        Some(UnitCheck {
            column,
            known,
            last: None,
        })
    }

    /// Whether rows of `def` name a unit the registry should hold.
    pub(crate) fn applies(def: &FeedDef) -> bool {
        def.feed != Feed::Units && def.column_index("unit_code").is_some()
    }

    /// The row's unit code when the registry does not hold it.
    pub(crate) fn unknown<'r>(&mut self, row: &[Cell<'r>]) -> Option<&'r str> {
        let Cell::Text(code) = row[self.column] else {
            return None;
        };
        let known = match &self.last {
            Some((last, known)) if last == code => *known,
            _ => {
                let known = self.known.contains(code);
                self.last = Some((code.to_string(), known));
                known
            }
        };
        (!known).then_some(code)
    }
}

/// One row of a units file, as the registry rules see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UnitRow {
    pub(crate) code: String,
    pub(crate) parent: Option<String>,
    pub(crate) line: u64,
    /// The days the unit exists: [from, to), None unbounded (SPEC §2.1).
    pub(crate) from: Option<i32>,
    pub(crate) to: Option<i32>,
}

impl UnitRow {
    fn overlaps(&self, other: &UnitRow) -> bool {
        min_end(self.to, other.to).after_cursor(self.from.max(other.from))
    }
}

/// The earlier of two exclusive ends, None being unbounded.
fn min_end(a: Option<i32>, b: Option<i32>) -> Option<i32> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// `Option<i32>` orders None first: as a start that is right (unbounded
/// before); as an end, None is after every day.
trait End {
    fn after(self, day: i32) -> bool;
}

impl End for Option<i32> {
    fn after(self, day: i32) -> bool {
        self.is_none_or(|end| end > day)
    }
}

fn day(days: i32) -> String {
    crate::validate::time::date_from_days(days).to_string()
}

/// SPEC §2's whole-file rules for a units registry, with §2.1's validity.
#[derive(Default)]
pub(crate) struct RegistryCheck {
    pub(crate) units: Vec<UnitRow>,
}

impl RegistryCheck {
    pub(crate) fn add(&mut self, row: &[Cell], line: u64) {
        let units = &crate::spec::feeds::UNITS;
        let at = |name: &str| units.column_index(name).map(|i| &row[i]);
        let text = |name: &str| match at(name) {
            Some(Cell::Text(s)) => Some(s.to_string()),
            _ => None,
        };
        let date = |name: &str| match at(name) {
            Some(Cell::Date(d)) => Some(*d),
            _ => None,
        };
        if let Some(code) = text("unit_code") {
            self.units.push(UnitRow {
                code,
                parent: text("parent_code"),
                line,
                from: date("valid_from"),
                to: date("valid_to"),
            });
        }
    }

    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        if self.units.is_empty() {
            return Err("it has no valid unit rows; the registry was left as it was".into());
        }
        self.check_spans()?;
        self.check_codes()?;
        self.check_parents()?;
        self.check_cycles()
    }

    fn check_spans(&self) -> std::result::Result<(), String> {
        let empty: Vec<String> = self
            .units
            .iter()
            .filter_map(|u| match (u.from, u.to) {
                (Some(from), Some(to)) if to <= from => Some(format!(
                    "{} (line {}: valid_to {} is not after valid_from {})",
                    u.code,
                    u.line,
                    day(to),
                    day(from)
                )),
                _ => None,
            })
            .collect();
        match empty.is_empty() {
            true => Ok(()),
            false => Err(format!("a unit valid on no day: {}", empty.join("; "))),
        }
    }

    /// On any day, a code names one unit.
    fn check_codes(&self) -> std::result::Result<(), String> {
        let mut by_code: HashMap<&str, Vec<&UnitRow>> = HashMap::new();
        for unit in &self.units {
            by_code.entry(&unit.code).or_default().push(unit);
        }
        let mut clashes: Vec<String> = Vec::new();
        for (code, units) in &by_code {
            let overlapping: Vec<(&UnitRow, &UnitRow)> = units
                .iter()
                .enumerate()
                .flat_map(|(i, a)| units[i + 1..].iter().map(move |b| (*a, *b)))
                .filter(|(a, b)| a.overlaps(b))
                .collect();
            let Some((a, b)) = overlapping.first() else {
                continue;
            };
            let mut lines: Vec<u64> = units.iter().map(|u| u.line).collect();
            lines.sort_unstable();
            let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
            clashes.push(match a.from.max(b.from) {
                None if a.to.is_none() && b.to.is_none() => {
                    format!("{code} (lines {})", lines.join(", "))
                }
                first => format!(
                    "{code} names two units on {} (lines {}, {})",
                    first.map_or_else(
                        || "every day before ".to_string()
                            + &min_end(a.to, b.to).map(day).unwrap_or_default(),
                        day
                    ),
                    a.line.min(b.line),
                    a.line.max(b.line)
                ),
            });
        }
        if clashes.is_empty() {
            return Ok(());
        }
        clashes.sort();
        Err(format!("duplicate unit_code: {}", clashes.join("; ")))
    }

    /// A unit's parent code names a unit on every day the unit exists.
    fn check_parents(&self) -> std::result::Result<(), String> {
        let mut by_code: HashMap<&str, Vec<&UnitRow>> = HashMap::new();
        for unit in &self.units {
            by_code.entry(&unit.code).or_default().push(unit);
        }
        let mut orphans: Vec<String> = Vec::new();
        let mut gaps: Vec<String> = Vec::new();
        for unit in &self.units {
            let Some(parent) = unit.parent.as_deref() else {
                continue;
            };
            let Some(versions) = by_code.get(parent) else {
                orphans.push(format!("{} → {parent} (line {})", unit.code, unit.line));
                continue;
            };
            if let Some(missing) = first_uncovered(unit, versions) {
                let when = missing.map_or_else(
                    || "before its first day".to_string(),
                    |d| format!("on {}", day(d)),
                );
                gaps.push(format!(
                    "{} → {parent} {when} (line {})",
                    unit.code, unit.line
                ));
            }
        }
        if !orphans.is_empty() {
            orphans.sort();
            return Err(format!(
                "parent_code not in the file: {}",
                orphans.join("; ")
            ));
        }
        if !gaps.is_empty() {
            gaps.sort();
            return Err(format!(
                "parent_code names no unit on a day its child exists: {}",
                gaps.join("; ")
            ));
        }
        Ok(())
    }

    /// Walks up from every code; a walk longer than the registry is a cycle.
    fn check_cycles(&self) -> std::result::Result<(), String> {
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
        for unit in &self.units {
            let entry = parents.entry(&unit.code).or_default();
            if let Some(parent) = unit.parent.as_deref()
                && !entry.contains(&parent)
            {
                entry.push(parent);
            }
        }
        let mut in_cycle: Vec<&str> = Vec::new();
        for code in parents.keys() {
            // Depth-first over every parent any version names.
            let mut stack: Vec<(&str, usize)> = vec![(code, 0)];
            while let Some((current, depth)) = stack.pop() {
                if depth > parents.len() {
                    break;
                }
                for parent in parents.get(current).into_iter().flatten() {
                    if parent == code {
                        in_cycle.push(code);
                        stack.clear();
                        break;
                    }
                    stack.push((parent, depth + 1));
                }
            }
        }
        if in_cycle.is_empty() {
            return Ok(());
        }
        in_cycle.sort();
        in_cycle.dedup();
        Err(format!(
            "parent_code forms a cycle through: {}",
            in_cycle.join(", ")
        ))
    }
}

/// The first day of `unit`'s validity that none of `parents` covers (None
/// inside: unbounded before), or None when they cover it all.
fn first_uncovered(unit: &UnitRow, parents: &[&UnitRow]) -> Option<Option<i32>> {
    let mut spans: Vec<(Option<i32>, Option<i32>)> =
        parents.iter().map(|p| (p.from, p.to)).collect();
    spans.sort();
    // `cursor`: the first day not yet covered (None: unbounded before).
    let mut cursor = unit.from;
    for (from, to) in spans {
        if !unit.to.after_cursor(cursor) {
            return None;
        }
        if from > cursor {
            return Some(cursor);
        }
        if to.is_some_and(|to| cursor.is_some_and(|c| to <= c)) {
            continue;
        }
        match to {
            None => return None,
            Some(to) => cursor = Some(to),
        }
    }
    unit.to.after_cursor(cursor).then_some(cursor)
}

trait Cursor {
    /// Whether the span ending at `self` still has days at or after `cursor`.
    fn after_cursor(self, cursor: Option<i32>) -> bool;
}

impl Cursor for Option<i32> {
    fn after_cursor(self, cursor: Option<i32>) -> bool {
        match cursor {
            None => true,
            Some(day) => self.after(day),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn registry(units: &[(&str, Option<&str>)]) -> RegistryCheck {
        let dated: Vec<_> = units.iter().map(|(c, p)| (*c, *p, None, None)).collect();
        dated_registry(&dated)
    }

    type Dated<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

    fn dated_registry(units: &[Dated]) -> RegistryCheck {
        let days = |d: Option<&str>| {
            d.map(|d| crate::validate::time::days_since_epoch(d.parse().expect("a date")))
        };
        RegistryCheck {
            units: units
                .iter()
                .zip(2..)
                .map(|((code, parent, from, to), line)| UnitRow {
                    code: code.to_string(),
                    parent: parent.map(str::to_string),
                    line,
                    from: days(*from),
                    to: days(*to),
                })
                .collect(),
        }
    }

    #[test]
    fn a_code_names_one_unit_a_day_and_a_parent_covers_its_childs_days() {
        let july = Some("2025-07-01");
        // Hàng Trống until July 2025, its code then reused by Hoàn Kiếm.
        let reused = [
            ("01", None, None, None),
            ("002", Some("01"), None, july),
            ("00070", Some("002"), None, july),
            ("00070", Some("01"), july, None),
        ];
        assert_eq!(dated_registry(&reused).check(), Ok(()));
        let clash = [
            ("01", None, None, None),
            ("00070", Some("01"), None, Some("2025-07-02")),
            ("00070", Some("01"), july, None),
        ];
        assert_eq!(
            dated_registry(&clash).check(),
            Err("duplicate unit_code: 00070 names two units on 2025-07-01 (lines 3, 4)".into())
        );
        // The district ends in July; a commune under it goes on.
        let orphaned = [
            ("01", None, None, None),
            ("002", Some("01"), None, july),
            ("00070", Some("002"), None, None),
        ];
        assert_eq!(
            dated_registry(&orphaned).check(),
            Err("parent_code names no unit on a day its child exists: 00070 → 002 on 2025-07-01 (line 4)".into())
        );
        // A parent that begins after its child.
        let late = [("01", None, july, None), ("00070", Some("01"), None, None)];
        assert_eq!(
            dated_registry(&late).check(),
            Err("parent_code names no unit on a day its child exists: 00070 → 01 before its first day (line 3)".into())
        );
        // Consecutive versions of a parent cover a child's days together.
        let versions = [
            ("01", None, None, july),
            ("01", None, july, None),
            ("00070", Some("01"), None, None),
        ];
        assert_eq!(dated_registry(&versions).check(), Ok(()));
        let empty = [("01", None, july, july)];
        assert_eq!(
            dated_registry(&empty).check(),
            Err("a unit valid on no day: 01 (line 2: valid_to 2025-07-01 is not after valid_from 2025-07-01)".into())
        );
    }
    #[test]
    fn a_registry_is_a_tree_of_unique_codes() {
        assert_eq!(registry(&[("P", None), ("D", Some("P"))]).check(), Ok(()));
        assert_eq!(
            registry(&[]).check(),
            Err("it has no valid unit rows; the registry was left as it was".into())
        );
        assert_eq!(
            registry(&[("P", None), ("D", Some("P")), ("P", None)]).check(),
            Err("duplicate unit_code: P (lines 2, 4)".into())
        );
        assert_eq!(
            registry(&[("D", Some("X"))]).check(),
            Err("parent_code not in the file: D → X (line 2)".into())
        );
        assert_eq!(
            registry(&[("A", Some("B")), ("B", Some("A")), ("C", Some("A"))]).check(),
            Err("parent_code forms a cycle through: A, B".into())
        );
    }
}
