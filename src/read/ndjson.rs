//! NDJSON exports.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::read::Decoded;
use crate::read::Input;
use crate::read::RawRecord;
use crate::read::RecordSource;
use crate::read::decoded;
use crate::read::naming::Naming;
use crate::read::{Overrides, ProblemKind, RecordProblem};
use crate::spec::feeds::FeedDef;

pub(crate) struct NdjsonSource {
    pub(crate) path: PathBuf,
    pub(crate) reader: BufReader<Decoded>,
    pub(crate) line: Vec<u8>,
    line_number: u64,
    key_to_column: HashMap<String, Option<usize>>,
    pub(crate) feed: &'static FeedDef,
    naming: Naming,
    pub(crate) unknown: Vec<String>,
    /// `--exported-at`: fills its column in a row that has no value there.
    exported_at: Option<(usize, String)>,
}

impl NdjsonSource {
    pub fn open(path: &Path, input: Input, naming: Naming, overrides: &Overrides) -> Self {
        let feed = naming.feed;
        NdjsonSource {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 20, decoded(input)),
            line: Vec::new(),
            line_number: 0,
            key_to_column: HashMap::new(),
            feed,
            naming,
            unknown: Vec::new(),
            exported_at: overrides.exported_at(feed),
        }
    }

    fn column_of(&mut self, key: &str) -> Option<usize> {
        if let Some(hit) = self.key_to_column.get(key) {
            return *hit;
        }
        let lower = key.trim().to_lowercase();
        // System exports give unit codes: a unit's name is no key here.
        let column = match self.naming.names_units(&lower) {
            true => None,
            false => self.naming.column(&lower),
        };
        if column.is_none() && !self.unknown.contains(&lower) {
            self.unknown.push(lower);
        }
        self.key_to_column.insert(key.to_string(), column);
        column
    }
}

/// A JSON scalar as the text the CSV path would have seen.
fn json_scalar_text(value: &serde_json::Value) -> std::result::Result<Option<String>, String> {
    use serde_json::Value;
    Ok(match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => format!("{}", f as i64),
            _ => n.to_string(),
        }),
        Value::Array(_) | Value::Object(_) => {
            return Err("holds a JSON array or object where a single value belongs".into());
        }
    })
}

impl RecordSource for NdjsonSource {
    fn next_record(&mut self, rec: &mut RawRecord) -> Result<bool> {
        loop {
            rec.reset(self.feed.columns.len());
            self.line.clear();
            let n = self
                .reader
                .read_until(b'\n', &mut self.line)
                .map_err(|e| Error::io(&self.path, e))?;
            if n == 0 {
                return Ok(false);
            }
            self.line_number += 1;
            rec.line = self.line_number;
            let trimmed = self.line.trim_ascii();
            if trimmed.is_empty() {
                continue;
            }
            let text = match std::str::from_utf8(trimmed) {
                Ok(text) => text.to_string(),
                Err(_) => {
                    rec.raw = String::from_utf8_lossy(trimmed).into_owned();
                    rec.problem = Some(RecordProblem {
                        kind: ProblemKind::NotUtf8,
                        column: None,
                        reason: "the line is not valid UTF-8; convert the file to UTF-8".into(),
                    });
                    return Ok(true);
                }
            };
            rec.raw.push_str(&text);
            let object = match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(map)) => map,
                Ok(_) => {
                    rec.problem = Some(RecordProblem {
                        kind: ProblemKind::Malformed,
                        column: None,
                        reason: "the line is JSON but not an object".into(),
                    });
                    return Ok(true);
                }
                Err(e) => {
                    rec.problem = Some(RecordProblem {
                        kind: ProblemKind::Malformed,
                        column: None,
                        reason: format!("the line is not valid JSON: {e}"),
                    });
                    return Ok(true);
                }
            };
            let mut named: Vec<(usize, &str)> = Vec::new();
            for (key, value) in &object {
                let Some(column) = self.column_of(key) else {
                    continue;
                };
                // Two keys naming one column (`dossier_id`, `Số hồ sơ`): which
                // value is meant cannot be told, so the row is rejected.
                if let Some((_, first)) = named.iter().find(|(c, _)| *c == column) {
                    rec.problem = Some(RecordProblem {
                        kind: ProblemKind::Malformed,
                        column: Some(self.feed.columns[column].name.to_string()),
                        reason: format!(
                            "keys '{first}' and '{key}' both name column {}; keep one",
                            self.feed.columns[column].name
                        ),
                    });
                    return Ok(true);
                }
                named.push((column, key));
                match json_scalar_text(value) {
                    Ok(Some(text)) => rec.set(column, self.naming.value(column, &text)),
                    Ok(None) => {}
                    Err(why) => {
                        if rec.problem.is_none() {
                            rec.problem = Some(RecordProblem {
                                kind: ProblemKind::Malformed,
                                column: Some(self.feed.columns[column].name.to_string()),
                                reason: why,
                            });
                        }
                    }
                }
            }
            if let Some((column, value)) = &self.exported_at
                && rec.get(*column).is_none()
            {
                rec.set(*column, value);
            }
            return Ok(true);
        }
    }

    fn unknown_columns(&self) -> Vec<String> {
        self.unknown.clone()
    }
}
