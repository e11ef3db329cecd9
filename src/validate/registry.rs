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

/// SPEC §2's whole-file rules for a units registry.
#[derive(Default)]
pub(crate) struct RegistryCheck {
    pub(crate) units: Vec<(String, Option<String>, u64)>,
}

impl RegistryCheck {
    pub(crate) fn add(&mut self, row: &[Cell], line: u64) {
        let text = |i: usize| match &row[i] {
            Cell::Text(s) => Some(s.to_string()),
            _ => None,
        };
        let code_column = crate::spec::feeds::UNITS.column_index("unit_code");
        let parent_column = crate::spec::feeds::UNITS.column_index("parent_code");
        if let (Some(code), Some(parent)) = (code_column, parent_column)
            && let Some(code) = text(code)
        {
            self.units.push((code, text(parent), line));
        }
    }

    pub(crate) fn check(&self) -> std::result::Result<(), String> {
        if self.units.is_empty() {
            return Err("it has no valid unit rows; the registry was left as it was".into());
        }
        let mut lines: HashMap<&str, Vec<u64>> = HashMap::new();
        for (code, _, line) in &self.units {
            lines.entry(code).or_default().push(*line);
        }
        let mut duplicates: Vec<String> = lines
            .iter()
            .filter(|(_, l)| l.len() > 1)
            .map(|(code, l)| {
                let l: Vec<String> = l.iter().map(u64::to_string).collect();
                format!("{code} (lines {})", l.join(", "))
            })
            .collect();
        if !duplicates.is_empty() {
            duplicates.sort();
            return Err(format!("duplicate unit_code: {}", duplicates.join("; ")));
        }
        let parents: HashMap<&str, Option<&str>> = self
            .units
            .iter()
            .map(|(code, parent, _)| (code.as_str(), parent.as_deref()))
            .collect();
        let mut orphans: Vec<String> = self
            .units
            .iter()
            .filter_map(|(code, parent, line)| {
                let parent = parent.as_deref()?;
                (!parents.contains_key(parent)).then(|| format!("{code} → {parent} (line {line})"))
            })
            .collect();
        if !orphans.is_empty() {
            orphans.sort();
            return Err(format!(
                "parent_code not in the file: {}",
                orphans.join("; ")
            ));
        }
        // Walk up from every unit; a walk longer than the registry is a cycle.
        let mut in_cycle: Vec<&str> = Vec::new();
        for (code, _, _) in &self.units {
            let mut current = code.as_str();
            let mut steps = 0;
            while let Some(Some(parent)) = parents.get(current) {
                current = parent;
                steps += 1;
                if current == code {
                    in_cycle.push(code);
                    break;
                }
                if steps > parents.len() {
                    break;
                }
            }
        }
        if !in_cycle.is_empty() {
            in_cycle.sort();
            return Err(format!(
                "parent_code forms a cycle through: {}",
                in_cycle.join(", ")
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn registry(units: &[(&str, Option<&str>)]) -> RegistryCheck {
        RegistryCheck {
            units: units
                .iter()
                .zip(2..)
                .map(|((code, parent), line)| (code.to_string(), parent.map(str::to_string), line))
                .collect(),
        }
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
