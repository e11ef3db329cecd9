//! Where activity counts when units change (SPEC §2.1), as the tables the
//! session registers:
//!
//! - `unit_closure`: on which days a unit holds another below it;
//! - `unit_lineage`: which unit of an as-of day an activity's unit counts
//!   toward, with the product of the shares along the way;
//! - `unit_era(day)`: the era an activity's day falls in, the key that
//!   joins activity to `unit_lineage` without a range join.
//!
//! An *era* is a run of days on which nothing in the registry changes: eras
//! start on every `valid_from`, `valid_to` and `effective_on`. Days are
//! clipped to the calendar's, [2000-01-01, 2060-01-01): every instant motcua
//! stores lies in it, so its bounds stand for "unbounded".

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::sql::registry::{UnitChange, UnitVersion};
use crate::validate::time::{FIRST_YEAR, LAST_YEAR, days_since_epoch};

/// The first day activity can have.
pub(crate) fn first_day() -> i32 {
    days_since_epoch(NaiveDate::from_ymd_opt(FIRST_YEAR, 1, 1).unwrap_or_default())
}

/// The day after the last day activity can have.
pub(crate) fn end_day() -> i32 {
    days_since_epoch(NaiveDate::from_ymd_opt(LAST_YEAR + 1, 1, 1).unwrap_or_default())
}

/// One row of `unit_closure`: `ancestor` holds `descendant` (itself at
/// depth 0) on the days [from, to).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClosureRow {
    pub(crate) ancestor: usize,
    pub(crate) descendant: usize,
    pub(crate) depth: i64,
    pub(crate) from: i32,
    pub(crate) to: i32,
}

/// One row of `unit_lineage`: activity of unit `unit` on a day in
/// [active_from, active_to) counts toward `as_of_unit` with `share`, on an
/// as-of day in [as_of_from, as_of_to). `whole`: the as-of unit with the
/// largest share (on a tie, the smaller code), the one a dossier's
/// processing time counts for whole.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LineageRow {
    pub(crate) unit: usize,
    pub(crate) active_from: i32,
    pub(crate) active_to: i32,
    pub(crate) as_of_from: i32,
    pub(crate) as_of_to: i32,
    pub(crate) as_of_unit: usize,
    pub(crate) share: f64,
    pub(crate) whole: bool,
}

/// Activity carried as far as some as-of days: toward `unit` with `share`
/// for an as-of day in [from, to).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Piece {
    from: i32,
    to: i32,
    unit: usize,
    share: f64,
}

/// The registry's versions and changes, indexed for the walks below.
pub(crate) struct Registry<'a> {
    pub(crate) versions: &'a [UnitVersion],
    /// Each version's days, clipped to the calendar.
    days: Vec<(i32, i32)>,
    /// A code's versions, by first day.
    by_code: HashMap<&'a str, Vec<usize>>,
    /// The changes out of a version on a day: (new version, share).
    changes: BTreeMap<(usize, i32), Vec<(usize, f64)>>,
    /// Each version's change days, ascending.
    change_days: Vec<Vec<i32>>,
    /// The first day of every era, ascending.
    eras: Vec<i32>,
}

impl<'a> Registry<'a> {
    /// Indexes the versions and changes; a change whose units are not in
    /// the registry (ingest refuses such a file) is an error here too.
    pub(crate) fn new(versions: &'a [UnitVersion], changes: &[UnitChange]) -> Result<Self> {
        let (first, end) = (first_day(), end_day());
        let clip = |day: Option<NaiveDate>, unbounded: i32| {
            day.map_or(unbounded, |d| days_since_epoch(d).clamp(first, end))
        };
        let days: Vec<(i32, i32)> = versions
            .iter()
            .map(|v| (clip(v.from, first), clip(v.to, end)))
            .collect();
        let mut by_code: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, v) in versions.iter().enumerate() {
            by_code.entry(v.code.as_str()).or_default().push(i);
        }
        for ids in by_code.values_mut() {
            ids.sort_by_key(|&i| days[i].0);
        }
        let mut registry = Registry {
            versions,
            days,
            by_code,
            changes: BTreeMap::new(),
            change_days: vec![Vec::new(); versions.len()],
            eras: Vec::new(),
        };
        for change in changes {
            let on = days_since_epoch(change.on);
            // A change outside the calendar moves no activity it holds.
            if !(first < on && on < end) {
                continue;
            }
            let missing = |code: &str, day: i32| {
                Error::Sql(format!(
                    "unit_changes names unit {code} on {}, and the registry holds no unit {code} that day; ingest the units and unit_changes files that belong together",
                    crate::validate::time::date_from_days(day)
                ))
            };
            let old = registry
                .version_on(&change.old, on - 1)
                .ok_or_else(|| missing(&change.old, on - 1))?;
            let new = registry
                .version_on(&change.new, on)
                .ok_or_else(|| missing(&change.new, on))?;
            registry
                .changes
                .entry((old, on))
                .or_default()
                .push((new, change.share));
        }
        for &(old, on) in registry.changes.keys() {
            registry.change_days[old].push(on);
        }
        let mut eras: Vec<i32> = registry
            .days
            .iter()
            .flat_map(|&(from, to)| [from, to])
            .chain(registry.changes.keys().map(|&(_, on)| on))
            .chain([first])
            .filter(|&day| day < end)
            .collect();
        eras.sort_unstable();
        eras.dedup();
        registry.eras = eras;
        Ok(registry)
    }

    /// The version of `code` valid on `day`.
    fn version_on(&self, code: &str, day: i32) -> Option<usize> {
        self.by_code.get(code)?.iter().copied().find(|&i| {
            let (from, to) = self.days[i];
            from <= day && day < to
        })
    }

    /// The first day of every era, ascending: `unit_era` maps a day to the
    /// last of them on or before it.
    pub(crate) fn eras(&self) -> &[i32] {
        &self.eras
    }

    /// Every (ancestor, descendant) pair with the days it holds.
    pub(crate) fn closure(&self) -> Vec<ClosureRow> {
        let mut rows = Vec::new();
        for descendant in 0..self.versions.len() {
            let (from, to) = self.days[descendant];
            self.ancestors(descendant, descendant, 0, from, to, &mut rows);
        }
        rows
    }

    fn ancestors(
        &self,
        unit: usize,
        descendant: usize,
        depth: i64,
        from: i32,
        to: i32,
        rows: &mut Vec<ClosureRow>,
    ) {
        rows.push(ClosureRow {
            ancestor: unit,
            descendant,
            depth,
            from,
            to,
        });
        // Ingest refuses cycles; the bound guards the walk anyway.
        if depth as usize > self.versions.len() {
            return;
        }
        let Some(parents) = self.versions[unit]
            .parent
            .as_deref()
            .and_then(|code| self.by_code.get(code))
        else {
            return;
        };
        for &parent in parents {
            let (parent_from, parent_to) = self.days[parent];
            let (from, to) = (from.max(parent_from), to.min(parent_to));
            if from < to {
                self.ancestors(parent, descendant, depth + 1, from, to, rows);
            }
        }
    }

    /// Every row of `unit_lineage`: for each version, each era of its
    /// days, where its activity counts on each as-of day.
    pub(crate) fn lineage(&self) -> Vec<LineageRow> {
        let mut memo = HashMap::new();
        let mut rows = Vec::new();
        for unit in 0..self.versions.len() {
            let (from, to) = self.days[unit];
            // Activity before the version's n-th change day meets that change first.
            let mut start = from;
            for (next, end) in self.change_days[unit]
                .iter()
                .copied()
                .chain([to])
                .enumerate()
            {
                if start < end {
                    let pieces = self.carry(unit, next, &mut memo);
                    let carried = settle(&pieces, self.versions);
                    for (era_from, era_to) in self.eras_within(start, end) {
                        rows.extend(carried.iter().map(|row| LineageRow {
                            unit,
                            active_from: era_from,
                            active_to: era_to,
                            ..row.clone()
                        }));
                    }
                }
                start = end;
            }
        }
        rows
    }

    /// The eras that make up the days [from, to).
    fn eras_within(&self, from: i32, to: i32) -> Vec<(i32, i32)> {
        let end = end_day();
        let at = self.eras.partition_point(|&e| e < from);
        self.eras[at..]
            .iter()
            .take_while(|&&e| e < to)
            .enumerate()
            .map(|(i, &e)| (e, self.eras.get(at + i + 1).copied().unwrap_or(end).min(to)))
            .collect()
    }

    /// Where activity of `unit` counts, when the first of its changes still
    /// ahead is its `next`-th: it stays until that change, then goes on
    /// with each new unit's share.
    fn carry(
        &self,
        unit: usize,
        next: usize,
        memo: &mut HashMap<(usize, usize), Vec<Piece>>,
    ) -> Vec<Piece> {
        if let Some(pieces) = memo.get(&(unit, next)) {
            return pieces.clone();
        }
        let (from, to) = self.days[unit];
        let change = self.change_days[unit].get(next).copied();
        let stays_to = change.unwrap_or(to);
        let mut pieces = Vec::new();
        if from < stays_to {
            pieces.push(Piece {
                from,
                to: stays_to,
                unit,
                share: 1.0,
            });
        }
        if let Some(on) = change {
            for &(new, share) in self.changes.get(&(unit, on)).into_iter().flatten() {
                // The new unit's own changes on that day are this one.
                let its_next = self.change_days[new].partition_point(|&d| d <= on);
                for piece in self.carry(new, its_next, memo) {
                    let from = piece.from.max(on);
                    if from < piece.to {
                        pieces.push(Piece {
                            from,
                            share: piece.share * share,
                            ..piece
                        });
                    }
                }
            }
        }
        memo.insert((unit, next), pieces.clone());
        pieces
    }
}

/// Pieces that may overlap (two paths into one unit) as rows without
/// overlap: shares summed per as-of day and unit, the largest marked
/// whole, and runs of as-of days with the same outcome joined. The
/// activity's own days are left to the caller.
fn settle(pieces: &[Piece], versions: &[UnitVersion]) -> Vec<LineageRow> {
    let mut bounds: Vec<i32> = pieces.iter().flat_map(|p| [p.from, p.to]).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut rows: Vec<LineageRow> = Vec::new();
    // The rows of the previous run of as-of days, to extend when equal.
    let mut open: Vec<usize> = Vec::new();
    for span in bounds.windows(2) {
        let (from, to) = (span[0], span[1]);
        let mut shares: BTreeMap<usize, f64> = BTreeMap::new();
        for p in pieces.iter().filter(|p| p.from <= from && to <= p.to) {
            *shares.entry(p.unit).or_default() += p.share;
        }
        // Shares compared as the KPI job sums them, to 12 places: 0.1 + 0.2
        // ties with 0.3, and the smaller code wins.
        let whole = shares
            .iter()
            .max_by(|(a, x), (b, y)| {
                twelve_places(**x)
                    .cmp(&twelve_places(**y))
                    .then_with(|| versions[**b].code.cmp(&versions[**a].code))
            })
            .map(|(unit, _)| *unit);
        let same_as_open = open.len() == shares.len()
            && open.iter().all(|&r| {
                let row = &rows[r];
                row.as_of_to == from
                    && shares.get(&row.as_of_unit) == Some(&row.share)
                    && (Some(row.as_of_unit) == whole) == row.whole
            });
        if same_as_open {
            for &r in &open {
                rows[r].as_of_to = to;
            }
            continue;
        }
        open.clear();
        for (unit, share) in shares {
            open.push(rows.len());
            rows.push(LineageRow {
                unit: usize::MAX,
                active_from: 0,
                active_to: 0,
                as_of_from: from,
                as_of_to: to,
                as_of_unit: unit,
                share,
                whole: Some(unit) == whole,
            });
        }
    }
    rows
}

/// A share as the KPI job carries it, a decimal of 12 places.
fn twelve_places(share: f64) -> i64 {
    (share * 1e12).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn unit(code: &str, parent: Option<&str>, from: Option<&str>, to: Option<&str>) -> UnitVersion {
        UnitVersion {
            code: code.into(),
            name: code.into(),
            level: "commune".into(),
            parent: parent.map(Into::into),
            from: from.map(day),
            to: to.map(day),
        }
    }

    fn change(old: &str, new: &str, on: &str, share: f64) -> UnitChange {
        UnitChange {
            old: old.into(),
            new: new.into(),
            on: day(on),
            share,
            basis: None,
            legal_ref: None,
        }
    }

    /// (activity code, activity day, as-of day) → [(as-of code, share, whole)]
    fn counts_toward(
        registry: &Registry,
        code: &str,
        on: &str,
        as_of: &str,
    ) -> Vec<(String, f64, bool)> {
        let (on, as_of) = (days_since_epoch(day(on)), days_since_epoch(day(as_of)));
        let era = registry.eras[registry.eras.partition_point(|&e| e <= on) - 1];
        let mut found: Vec<_> = registry
            .lineage()
            .into_iter()
            .filter(|r| {
                registry.versions[r.unit].code == code
                    && r.active_from == era
                    && r.as_of_from <= as_of
                    && as_of < r.as_of_to
            })
            .map(|r| {
                (
                    registry.versions[r.as_of_unit].code.clone(),
                    r.share,
                    r.whole,
                )
            })
            .collect();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found
    }

    #[test]
    fn an_undated_registry_counts_every_unit_toward_itself() {
        let versions = vec![
            unit("1", None, None, None),
            unit("2", Some("1"), None, None),
        ];
        let registry = Registry::new(&versions, &[]).unwrap();
        assert_eq!(registry.eras(), &[first_day()]);
        let lineage = registry.lineage();
        assert_eq!(lineage.len(), 2);
        assert!(lineage.iter().all(|r| r.unit == r.as_of_unit
            && r.share == 1.0
            && r.whole
            && (r.active_from, r.active_to) == (first_day(), end_day())
            && (r.as_of_from, r.as_of_to) == (first_day(), end_day())));
        let closure: Vec<_> = registry
            .closure()
            .into_iter()
            .map(|r| (r.ancestor, r.descendant, r.depth))
            .collect();
        assert_eq!(closure, vec![(0, 0, 0), (1, 1, 0), (0, 1, 1)]);
    }

    #[test]
    fn a_split_then_a_merge_multiplies_and_sums_shares() {
        // X splits into Y (0.25) and Z (0.75) on 2025-07-01; Y and Z merge
        // into W on 2026-01-01; X's code is reused by another unit.
        let versions = vec![
            unit("X", None, None, Some("2025-07-01")),
            unit("Y", None, Some("2025-07-01"), Some("2026-01-01")),
            unit("Z", None, Some("2025-07-01"), Some("2026-01-01")),
            unit("W", None, Some("2026-01-01"), None),
            unit("X", None, Some("2026-03-01"), None),
        ];
        let changes = vec![
            change("X", "Y", "2025-07-01", 0.25),
            change("X", "Z", "2025-07-01", 0.75),
            change("Y", "W", "2026-01-01", 1.0),
            change("Z", "W", "2026-01-01", 1.0),
        ];
        let registry = Registry::new(&versions, &changes).unwrap();
        let at = |code, on, as_of| counts_toward(&registry, code, on, as_of);
        assert_eq!(
            at("X", "2025-06-30", "2025-06-30"),
            vec![("X".into(), 1.0, true)]
        );
        assert_eq!(
            at("X", "2025-06-30", "2025-07-01"),
            vec![("Y".into(), 0.25, false), ("Z".into(), 0.75, true)]
        );
        assert_eq!(
            at("X", "2024-01-05", "2026-06-30"),
            vec![("W".into(), 1.0, true)]
        );
        // Activity under the reused code is the new unit's, and only from its first day.
        assert_eq!(
            at("X", "2026-04-01", "2026-06-30"),
            vec![("X".into(), 1.0, true)]
        );
        assert_eq!(at("X", "2026-04-01", "2025-06-30"), vec![]);
        // An as-of day before the activity's: no change is carried.
        assert_eq!(
            at("Y", "2025-08-01", "2025-07-15"),
            vec![("Y".into(), 1.0, true)]
        );
    }

    #[test]
    fn a_unit_that_keeps_its_identity_gives_part_of_its_earlier_activity_away() {
        let versions = vec![
            unit("A", None, None, None),
            unit("B", None, Some("2025-07-01"), None),
        ];
        let changes = vec![
            change("A", "A", "2025-07-01", 0.5),
            change("A", "B", "2025-07-01", 0.5),
        ];
        let registry = Registry::new(&versions, &changes).unwrap();
        let at = |code, on, as_of| counts_toward(&registry, code, on, as_of);
        // A tie: the smaller code counts whole.
        assert_eq!(
            at("A", "2025-06-30", "2025-07-01"),
            vec![("A".into(), 0.5, true), ("B".into(), 0.5, false)]
        );
        assert_eq!(
            at("A", "2025-07-01", "2025-07-01"),
            vec![("A".into(), 1.0, true)]
        );
    }

    #[test]
    fn shares_that_tie_to_twelve_places_leave_the_whole_to_the_smaller_code() {
        // X splits five ways; A and B then merge into Z, whose 0.1 + 0.2 is
        // 0.30000000000000004 in floating point: a tie with C's 0.3.
        let versions = vec![
            unit("X", None, None, Some("2025-07-01")),
            unit("A", None, Some("2025-07-01"), Some("2026-01-01")),
            unit("B", None, Some("2025-07-01"), Some("2026-01-01")),
            unit("C", None, Some("2025-07-01"), None),
            unit("D", None, Some("2025-07-01"), None),
            unit("E", None, Some("2025-07-01"), None),
            unit("Z", None, Some("2026-01-01"), None),
        ];
        let mut changes: Vec<UnitChange> =
            [("A", 0.1), ("B", 0.2), ("C", 0.3), ("D", 0.2), ("E", 0.2)]
                .iter()
                .map(|(new, share)| change("X", new, "2025-07-01", *share))
                .collect();
        changes.push(change("A", "Z", "2026-01-01", 1.0));
        changes.push(change("B", "Z", "2026-01-01", 1.0));
        let registry = Registry::new(&versions, &changes).unwrap();
        let whole: Vec<String> = counts_toward(&registry, "X", "2025-06-01", "2026-06-30")
            .into_iter()
            .filter(|(_, _, whole)| *whole)
            .map(|(code, _, _)| code)
            .collect();
        assert_eq!(whole, ["C"]);
    }

    #[test]
    fn an_abolished_unit_counts_toward_nothing_after_its_end() {
        let versions = vec![unit("D", None, None, Some("2025-07-01"))];
        let registry = Registry::new(&versions, &[]).unwrap();
        assert_eq!(
            counts_toward(&registry, "D", "2025-01-01", "2025-06-30"),
            vec![("D".into(), 1.0, true)]
        );
        assert_eq!(
            counts_toward(&registry, "D", "2025-01-01", "2025-07-01"),
            vec![]
        );
    }

    #[test]
    fn a_child_moves_to_another_parent_on_the_day_its_parent_ends() {
        let versions = vec![
            unit("P", None, None, None),
            unit("D", Some("P"), None, Some("2025-07-01")),
            unit("C", Some("D"), None, Some("2025-07-01")),
            unit("C", Some("P"), Some("2025-07-01"), None),
        ];
        let registry = Registry::new(&versions, &[]).unwrap();
        let closure: Vec<_> = registry
            .closure()
            .into_iter()
            .filter(|r| r.descendant == 2 || r.descendant == 3)
            .map(|r| {
                (
                    versions[r.ancestor].code.as_str(),
                    r.descendant,
                    r.depth,
                    r.to,
                )
            })
            .collect();
        let july = days_since_epoch(day("2025-07-01"));
        assert_eq!(
            closure,
            vec![
                ("C", 2, 0, july),
                ("D", 2, 1, july),
                ("P", 2, 2, july),
                ("C", 3, 0, end_day()),
                ("P", 3, 1, end_day()),
            ]
        );
    }
}
