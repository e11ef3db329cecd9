//! A raw record → a typed row, or the reasons it is rejected.

use std::collections::HashSet;

use crate::read::RawRecord;
use crate::spec::feeds::{ColumnDef, ColumnType, FeedDef, RowRule};
use crate::spec::kpis::{self, KpiKind};
use crate::validate::privacy::{ApplicantKey, PiiKey};
use crate::validate::time::{self, Zone};
use crate::validate::values::{self, EnumMatcher};

/// A rejected row as its file's report and quarantine record it: the line,
/// the column at fault (none for a whole-row problem) and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

/// A parsed value, borrowing text from the record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Text(&'a str),
    Enum(u8),
    Bool(bool),
    Int(i64),
    Ts(i64),
    /// A target and whether it was written as a percentage.
    Target(f64, bool),
    /// The keyed hash that replaces a personal ID.
    Key(ApplicantKey),
    /// A local date, as days since 1970-01-01.
    Date(i32),
}

impl Cell<'_> {
    /// The value without its borrow of the record; None for text, which
    /// stays in the record.
    fn detached(self) -> Option<Cell<'static>> {
        Some(match self {
            Cell::Text(_) => return None,
            Cell::Null => Cell::Null,
            Cell::Enum(v) => Cell::Enum(v),
            Cell::Bool(v) => Cell::Bool(v),
            Cell::Int(v) => Cell::Int(v),
            Cell::Ts(v) => Cell::Ts(v),
            Cell::Target(v, p) => Cell::Target(v, p),
            Cell::Key(k) => Cell::Key(k),
            Cell::Date(d) => Cell::Date(d),
        })
    }
}

/// A record's values as typed on a reading thread, per column (None: the
/// record's own text), with what was made of the row there (`R`), or why
/// the record is rejected.
pub(crate) type Detached<R> = std::result::Result<(Vec<Option<Cell<'static>>>, R), RowErrors>;

/// The row of `record` from its detached values.
pub(crate) fn attach<'a>(
    cells: Vec<Option<Cell<'static>>>,
    record: &'a RawRecord,
) -> Vec<Cell<'a>> {
    cells
        .into_iter()
        .enumerate()
        .map(|(i, cell)| match cell {
            Some(cell) => cell,
            None => record.get(i).map_or(Cell::Null, Cell::Text),
        })
        .collect()
}

/// Why one value is not accepted.
#[derive(Debug)]
enum ValueError {
    /// The row is rejected, for this reason.
    Invalid(String),
    /// A personal ID and no key configured: fatal for the whole file.
    NoPiiKey,
}

impl From<String> for ValueError {
    fn from(reason: String) -> Self {
        ValueError::Invalid(reason)
    }
}

pub(crate) struct ColumnParser {
    pub(crate) def: &'static ColumnDef,
    pub(crate) matcher: Option<EnumMatcher>,
    /// The last personal ID seen and its key.
    last_key: Option<(String, ApplicantKey)>,
}

/// A feed's `RowRule` with column names resolved to indexes and enum
/// values to their codes.
pub(crate) enum CompiledRule {
    NotBefore {
        later: usize,
        earlier: usize,
    },
    RequiredWhen {
        column: usize,
        when: usize,
        values: Vec<u8>,
    },
    ForbiddenWhen {
        column: usize,
        forbidden: u8,
        when: usize,
        values: Vec<u8>,
    },
    TargetFitsKpi {
        target: usize,
        kpi: usize,
    },
    Share {
        column: usize,
    },
}

pub(crate) struct RowParser {
    pub(crate) def: &'static FeedDef,
    pub(crate) columns: Vec<ColumnParser>,
    pub(crate) defaults: Vec<Option<Cell<'static>>>,
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) zone: Zone,
    pub(crate) key: Option<PiiKey>,
}

/// Why a row is not accepted.
pub(crate) enum RowErrors {
    /// Rejected: each problem, with its column where it has one.
    Rejected(Vec<(Option<String>, String)>),
    /// It carries a personal ID and no key is configured.
    NoPiiKey,
}

impl RowParser {
    pub(crate) fn new(def: &'static FeedDef, zone: Zone, key: Option<PiiKey>) -> Self {
        let mut columns: Vec<ColumnParser> = def
            .columns
            .iter()
            .map(|c| ColumnParser {
                def: c,
                matcher: match c.ty {
                    ColumnType::Enum(e) => Some(EnumMatcher::new(e)),
                    _ => None,
                },
                last_key: None,
            })
            .collect();
        let defaults = def
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                c.default.map(|text| {
                    parse_value(&mut columns[i], text, &zone, None)
                        .expect("declared defaults parse")
                })
            })
            .collect();
        let index = |name: &str| def.column_index(name).expect("rules name declared columns");
        let enum_values = |column: usize, values: &[&str]| -> Vec<u8> {
            let ColumnType::Enum(e) = def.columns[column].ty else {
                panic!("rule on a non-enum column");
            };
            values.iter().filter_map(|v| e.index_of(v)).collect()
        };
        let rules = def
            .rules
            .iter()
            .map(|rule| match *rule {
                RowRule::NotBefore { later, earlier } => CompiledRule::NotBefore {
                    later: index(later),
                    earlier: index(earlier),
                },
                RowRule::RequiredWhen {
                    column,
                    when,
                    values,
                } => CompiledRule::RequiredWhen {
                    column: index(column),
                    when: index(when),
                    values: enum_values(index(when), values),
                },
                RowRule::ForbiddenWhen {
                    column,
                    forbidden,
                    when,
                    values,
                } => CompiledRule::ForbiddenWhen {
                    column: index(column),
                    forbidden: enum_values(index(column), &[forbidden])[0],
                    when: index(when),
                    values: enum_values(index(when), values),
                },
                RowRule::TargetFitsKpi { target, kpi } => CompiledRule::TargetFitsKpi {
                    target: index(target),
                    kpi: index(kpi),
                },
                RowRule::Share { column } => CompiledRule::Share {
                    column: index(column),
                },
            })
            .collect();
        RowParser {
            def,
            columns,
            defaults,
            rules,
            zone,
            key,
        }
    }

    pub(crate) fn parse<'a>(
        &mut self,
        record: &'a RawRecord,
    ) -> std::result::Result<Vec<Cell<'a>>, RowErrors> {
        let mut row = Vec::with_capacity(self.columns.len());
        let mut errors = Vec::new();
        for i in 0..self.columns.len() {
            let cell = match record.get(i) {
                None => match &self.defaults[i] {
                    Some(default) => Ok(default.clone()),
                    None if self.columns[i].def.required => {
                        Err(ValueError::Invalid("a value is required".to_string()))
                    }
                    None => Ok(Cell::Null),
                },
                Some(raw) => parse_value(&mut self.columns[i], raw, &self.zone, Some(&self.key)),
            };
            match cell {
                Ok(cell) => row.push(cell),
                Err(ValueError::NoPiiKey) => return Err(RowErrors::NoPiiKey),
                Err(ValueError::Invalid(reason)) => {
                    errors.push((Some(self.columns[i].def.name.to_string()), reason));
                    row.push(Cell::Null);
                }
            }
        }
        let failed: HashSet<&str> = errors.iter().filter_map(|(c, _)| c.as_deref()).collect();
        let mut rule_errors = Vec::new();
        for rule in &self.rules {
            if let Some((column, reason)) = self.check(rule, &row)
                && !failed.contains(column)
            {
                rule_errors.push((Some(column.to_string()), reason));
            }
        }
        errors.extend(rule_errors);
        if errors.is_empty() {
            Ok(row)
        } else {
            Err(RowErrors::Rejected(errors))
        }
    }

    /// `parse`, and what `with` makes of the row, with each value detached
    /// from the record (text read from the record itself is left for
    /// `attach`; a default's is kept).
    pub(crate) fn parse_detached<R>(
        &mut self,
        record: &RawRecord,
        with: impl FnOnce(&[Cell]) -> R,
    ) -> Detached<R> {
        let row = self.parse(record)?;
        let made = with(&row);
        let cells = row
            .into_iter()
            .enumerate()
            .map(|(i, cell)| match cell {
                Cell::Text(_) if record.get(i).is_none() => self.defaults[i].clone(),
                cell => cell.detached(),
            })
            .collect();
        Ok((cells, made))
    }

    pub(crate) fn name(&self, i: usize) -> &'static str {
        self.def.columns[i].name
    }

    fn enum_name(&self, i: usize, v: u8) -> &'static str {
        match self.columns[i].matcher.as_ref() {
            Some(m) => m.def().canonical(v),
            None => "",
        }
    }

    /// The column a rule faults and why, when the row breaks it.
    pub(crate) fn check(
        &self,
        rule: &CompiledRule,
        row: &[Cell],
    ) -> Option<(&'static str, String)> {
        match rule {
            CompiledRule::NotBefore { later, earlier } => match (&row[*later], &row[*earlier]) {
                (Cell::Ts(l), Cell::Ts(e)) if l < e => Some((
                    self.name(*later),
                    format!(
                        "{} ({}) is before {} ({})",
                        self.name(*later),
                        time::format_utc(*l),
                        self.name(*earlier),
                        time::format_utc(*e)
                    ),
                )),
                _ => None,
            },
            CompiledRule::RequiredWhen {
                column,
                when,
                values,
            } => match (&row[*column], &row[*when]) {
                (Cell::Null, Cell::Enum(v)) if values.contains(v) => Some((
                    self.name(*column),
                    format!(
                        "{} is required when {} is {}",
                        self.name(*column),
                        self.name(*when),
                        self.enum_name(*when, *v)
                    ),
                )),
                _ => None,
            },
            CompiledRule::ForbiddenWhen {
                column,
                forbidden,
                when,
                values,
            } => match (&row[*column], &row[*when]) {
                (Cell::Enum(c), Cell::Enum(v)) if c == forbidden && values.contains(v) => Some((
                    self.name(*column),
                    format!(
                        "{} cannot be {} when {} is {}",
                        self.name(*column),
                        self.enum_name(*column, *c),
                        self.name(*when),
                        self.enum_name(*when, *v)
                    ),
                )),
                _ => None,
            },
            CompiledRule::TargetFitsKpi { target, kpi } => self.check_target(*target, *kpi, row),
            CompiledRule::Share { column } => match row[*column] {
                Cell::Target(share, _) if !(share > 0.0 && share <= 1.0) => Some((
                    self.name(*column),
                    format!("a share is more than 0 and at most 1 (100%); {share} is not"),
                )),
                _ => None,
            },
        }
    }

    /// A target names a KPI of the catalog and is written as its kind asks.
    fn check_target(
        &self,
        target: usize,
        kpi_column: usize,
        row: &[Cell],
    ) -> Option<(&'static str, String)> {
        let Cell::Text(id) = row[kpi_column] else {
            return None;
        };
        let Some(kpi) = kpis::find(id) else {
            return Some((
                self.name(kpi_column),
                format!("'{id}' is not a KPI of SPEC §5 (see `motcua kpis`)"),
            ));
        };
        let Cell::Target(value, percent) = row[target] else {
            return None;
        };
        let why = if value < 0.0 {
            Some("a target cannot be negative".to_string())
        } else if kpi.kind == KpiKind::Rate && !percent && value > 1.0 {
            Some(format!(
                "{id} is a rate: write its target as a fraction (0.95) or a percentage (95%), not {value}"
            ))
        } else if kpi.kind != KpiKind::Rate && percent {
            Some(format!(
                "{id} is not a rate: its target is a plain number, not a percentage"
            ))
        } else {
            None
        };
        why.map(|why| (self.name(target), why))
    }
}

fn parse_value<'a>(
    column: &mut ColumnParser,
    raw: &'a str,
    zone: &Zone,
    key: Option<&Option<PiiKey>>,
) -> std::result::Result<Cell<'a>, ValueError> {
    Ok(match column.def.ty {
        ColumnType::Text => Cell::Text(raw),
        ColumnType::Enum(_) => {
            let matcher = column
                .matcher
                .as_mut()
                .expect("enum columns have a matcher");
            Cell::Enum(matcher.parse(raw).ok_or_else(|| matcher.error(raw))?)
        }
        ColumnType::Bool => Cell::Bool(values::parse_bool(raw)?),
        ColumnType::Int { min } => {
            let value = values::parse_int(raw)?;
            match min {
                Some(min) if value < min => {
                    return Err(format!("{value} is below the minimum {min}").into());
                }
                _ => Cell::Int(value),
            }
        }
        ColumnType::Timestamp { deadline } => Cell::Ts(time::parse_timestamp(raw, zone, deadline)?),
        ColumnType::Target => {
            let (value, percent) = values::parse_target(raw)?;
            Cell::Target(value, percent)
        }
        ColumnType::Date => Cell::Date(time::parse_date(raw, zone)?),
        // Excel shows a long ID as `1.23457E+11`: its digits are gone, and
        // hashing it would give different people one key.
        ColumnType::PersonalId { .. } if values::is_scientific(raw) => {
            return Err(format!(
                "'{raw}' is in scientific notation, as Excel shows long numbers: the ID's digits are lost; format the column as text in the workbook and export it again"
            )
            .into());
        }
        ColumnType::PersonalId { .. } => match key.and_then(|k| k.as_ref()) {
            Some(key) => {
                // A dossier's snapshots usually follow each other: the same
                // applicant again costs no second HMAC.
                if let Some((id, hashed)) = &column.last_key
                    && id == raw
                {
                    return Ok(Cell::Key(*hashed));
                }
                let hashed = key.applicant_digest(raw);
                match &mut column.last_key {
                    Some((id, last)) => {
                        id.clear();
                        id.push_str(raw);
                        *last = hashed;
                    }
                    None => column.last_key = Some((raw.to_string(), hashed)),
                }
                Cell::Key(hashed)
            }
            None => return Err(ValueError::NoPiiKey),
        },
    })
}
