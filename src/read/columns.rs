//! An export's header mapped to the feed's columns, and each record after
//! it sorted into those columns — the same for CSV and workbook rows.

use std::collections::HashSet;

use crate::read::footer::{Footer, footer_kind, trim_cell};
use crate::read::naming::Naming;
use crate::read::{ProblemKind, RawRecord, RecordProblem, set_value};

/// What Excel writes in a cell whose formula failed (and what its CSV
/// export keeps): an error, never a value.
const SPREADSHEET_ERRORS: [&str; 8] = [
    "#N/A", "#REF!", "#VALUE!", "#DIV/0!", "#NAME?", "#NULL!", "#NUM!", "#DATA!",
];

/// The spreadsheet error `value` is, if it is one.
fn spreadsheet_error(value: &str) -> Option<&str> {
    let value = value.trim();
    (value.starts_with('#') && SPREADSHEET_ERRORS.contains(&value.to_ascii_uppercase().as_str()))
        .then_some(value)
}

/// Where each field of an export's records goes.
#[derive(Clone)]
pub(crate) struct ColumnMap {
    /// For each input position: the feed column it feeds, if any.
    position_to_column: Vec<Option<usize>>,
    /// The export's headers as written (lower case), for messages.
    header_names: Vec<String>,
    /// Headers that feed no column, kept out of the lake.
    pub(crate) unknown: Vec<String>,
    columns: usize,
    /// Input positions of the feed's required columns.
    required_positions: Vec<usize>,
    /// How values are read (a profile's `[values]`, units by name).
    naming: Naming,
    /// The position whose values are units' names, looked up for codes.
    unit_names_at: Option<usize>,
    /// `--exported-at`, for an export without the column: (column, value).
    constant: Option<(usize, String)>,
    /// A signature block has begun: every row from it on that lacks data
    /// is footer.
    in_signatures: bool,
}

impl ColumnMap {
    /// Maps `headers`; `exported_at` is the column `--exported-at` fills and
    /// its value. Fails, in one sentence, on a header naming a column twice
    /// or lacking a required one.
    pub(crate) fn new(
        headers: &[String],
        naming: &Naming,
        exported_at: Option<(usize, String)>,
    ) -> Result<Self, String> {
        let feed = naming.feed;
        let mut position_to_column = Vec::with_capacity(headers.len());
        let mut header_names = Vec::with_capacity(headers.len());
        let mut unknown = Vec::new();
        let mut seen = HashSet::new();
        let mut mapped: Vec<(usize, String)> = Vec::new();
        // A unit's name is read only when its code is not there too.
        let coded: Vec<usize> = headers
            .iter()
            .filter(|h| !naming.names_units(h))
            .filter_map(|h| naming.column(h))
            .collect();
        let mut unit_names_at = None;
        for header in headers {
            let name = header.trim().to_lowercase();
            // Empty header cells (merged cells, Excel's trailing columns)
            // name nothing; their values are left out.
            if name.is_empty() {
                position_to_column.push(None);
                header_names.push(name);
                continue;
            }
            if !seen.insert(name.clone()) {
                return Err(format!("the header names column '{name}' twice"));
            }
            let mut column = naming.column(&name);
            if naming.names_units(&name) {
                // With the code there, or a first name column, this one
                // is left out.
                if column.is_some_and(|c| coded.contains(&c)) || unit_names_at.is_some() {
                    column = None;
                } else {
                    unit_names_at = Some(position_to_column.len());
                }
            }
            match column {
                None => unknown.push(name.clone()),
                Some(column) => {
                    if let Some((_, first)) = mapped.iter().find(|(c, _)| *c == column) {
                        return Err(format!(
                            "the header names column {} twice, as '{first}' and '{name}'; keep one",
                            feed.columns[column].name
                        ));
                    }
                    mapped.push((column, name.clone()));
                }
            }
            position_to_column.push(column);
            header_names.push(name);
        }
        let supplied = exported_at.as_ref().map(|(column, _)| *column);
        let missing: Vec<&str> = feed
            .columns
            .iter()
            .enumerate()
            .filter(|(i, c)| {
                c.required && !position_to_column.contains(&Some(*i)) && supplied != Some(*i)
            })
            .map(|(_, c)| c.name)
            .collect();
        if !missing.is_empty() {
            return Err(format!(
                "the header lacks required column(s) {} of feed {}",
                missing.join(", "),
                feed.name
            ));
        }
        if let Some(at) = unit_names_at
            && naming.unit_names.is_none()
        {
            return Err(format!(
                "the export names its units by name (column '{}'), which needs the units registry: ingest the units first, or export the unit codes",
                header_names[at]
            ));
        }
        // The file's own column wins over --exported-at.
        let constant =
            exported_at.filter(|(column, _)| !position_to_column.contains(&Some(*column)));
        let required_positions = position_to_column
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_some_and(|c| feed.columns[c].required))
            .map(|(p, _)| p)
            .collect();
        Ok(ColumnMap {
            position_to_column,
            header_names,
            unknown,
            columns: feed.columns.len(),
            required_positions,
            naming: naming.clone(),
            unit_names_at,
            constant,
            in_signatures: false,
        })
    }

    /// Whether a signature block has begun by the last record sorted.
    pub(crate) fn in_signatures(&self) -> bool {
        self.in_signatures
    }

    /// Sorts records from the middle of a file on: `in_signatures` says
    /// whether a signature block began before them.
    pub(crate) fn resume(&mut self, in_signatures: bool) {
        self.in_signatures = in_signatures;
    }

    /// Each export header and the feed column it feeds (None: left out).
    pub(crate) fn mapping(&self) -> Vec<(String, Option<&'static str>)> {
        self.header_names
            .iter()
            .zip(&self.position_to_column)
            .map(|(h, c)| (h.clone(), c.map(|c| self.naming.feed.columns[c].name)))
            .collect()
    }

    /// Fields an export's records have: one per header cell.
    pub(crate) fn width(&self) -> usize {
        self.position_to_column.len()
    }

    /// Sorts the record in `rec.bytes` into the feed's columns, or marks it
    /// as a footer row or a malformed one. A marked row's values are still
    /// sorted, as read, so that its personal ID is known and masked in
    /// quarantine.
    pub(crate) fn fill(&mut self, rec: &mut RawRecord) {
        let record = &rec.bytes;
        // A footer row lacks data: a row holding every required value is
        // data whatever its first cell says.
        let footer = footer_kind(record);
        self.in_signatures |= footer == Some(Footer::Signatures);
        let whole_row = if (footer.is_some() || self.in_signatures) && !self.holds_required(record)
        {
            Some(RecordProblem {
                column: None,
                reason: "footer".into(),
                kind: ProblemKind::Footer,
            })
        } else if record.len() != self.position_to_column.len() {
            Some(RecordProblem {
                kind: ProblemKind::Malformed,
                column: None,
                reason: format!(
                    "the row has {} field(s) but the header has {} (a truncated line or unbalanced quotes?)",
                    record.len(),
                    self.position_to_column.len()
                ),
            })
        } else {
            None
        };
        let fields = rec.bytes.len().min(self.position_to_column.len());
        for position in 0..fields {
            let Ok(value) = std::str::from_utf8(&rec.bytes[position]) else {
                rec.problem.get_or_insert(RecordProblem {
                    kind: ProblemKind::NotUtf8,
                    column: Some(self.header_names[position].clone()),
                    reason: "the value is not valid UTF-8; convert the file to UTF-8".into(),
                });
                continue;
            };
            let Some(column) = self.position_to_column[position] else {
                continue;
            };
            if whole_row.is_some() {
                set_value(&mut rec.text, &mut rec.spans, column, value);
                continue;
            }
            let name = self.naming.feed.columns[column].name;
            if let Some(error) = spreadsheet_error(value) {
                rec.problem.get_or_insert(RecordProblem {
                    kind: ProblemKind::Malformed,
                    column: Some(name.into()),
                    reason: format!(
                        "'{error}' is a spreadsheet error (a formula that failed), not a value; fix it in the workbook and export again"
                    ),
                });
                continue;
            }
            if Some(position) == self.unit_names_at && !value.trim().is_empty() {
                match self.unit_code(value) {
                    Ok(code) => set_value(&mut rec.text, &mut rec.spans, column, code),
                    Err(reason) => {
                        rec.problem.get_or_insert(RecordProblem {
                            kind: ProblemKind::Malformed,
                            column: Some(name.into()),
                            reason,
                        });
                    }
                }
                continue;
            }
            let value = self.naming.value(column, value);
            set_value(&mut rec.text, &mut rec.spans, column, value);
        }
        if let Some(problem) = whole_row {
            rec.problem = Some(problem);
            return;
        }
        if let Some((column, value)) = &self.constant {
            set_value(&mut rec.text, &mut rec.spans, *column, value);
        }
    }

    /// The code of the unit an export names.
    fn unit_code(&self, name: &str) -> std::result::Result<&str, String> {
        match &self.naming.unit_names {
            Some(names) => names.code_of(name),
            None => Err("no units registry to look the unit's name up in".into()),
        }
    }

    /// Whether every required column has a value in `record`.
    fn holds_required(&self, record: &::csv::ByteRecord) -> bool {
        self.required_positions
            .iter()
            .all(|&p| record.get(p).is_some_and(|v| !trim_cell(v).is_empty()))
    }

    /// The number of feed columns a record is sorted into.
    pub(crate) fn columns(&self) -> usize {
        self.columns
    }
}
