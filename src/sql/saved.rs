//! Saved queries (`queries/*.sql`) and read-only SQL over the lake.
//!
//! A saved query is a plain SQL file whose leading comment lines describe it:
//!
//! ```sql
//! -- On-time rate of every district in one month, best first.
//! -- @param month date 2024-03-01   First day of the month
//! -- @param level text district     Unit level to rank
//! SELECT … WHERE period_start = $month AND unit_level = $level
//! ```
//!
//! Comment lines before the first `@param` are the description. Each
//! `@param` line gives a name, a type, a default, `required` or `null` (a
//! null unless given), and a description. Types: `text`, `int`, `float`, `bool`, `date`, `timestamp`
//! (local time in the lake's zone), and the checked ones — `kpi` (an id of
//! the catalog), `grain`, `level` (a unit level) and `period` (a date that
//! starts a period of the query's `grain`, and, when the query reads
//! `kpi_values`, one that is published). A value that does not fit is
//! refused in one sentence that says what is valid: a typo must not come
//! back as an empty table. Parameters are bound as typed values through
//! DataFusion's parameter API, never pasted into the SQL text.
//!
//! Every query of `queries/` is shipped inside the binary, so they run from
//! any folder; a user folder (`--queries`, `$MOTCUA_QUERIES`) adds queries
//! and overrides shipped ones by name.

use std::path::{Path, PathBuf};

use arrow::datatypes::DataType;
use datafusion::scalar::ScalarValue;

use crate::error::{Error, Result};
use crate::spec::grain::Grain;
use crate::validate::time::Zone;

/// A shipped query: its name and text, compiled in.
macro_rules! shipped {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../queries/", $name, ".sql")),
        )
    };
}

/// The saved queries shipped inside the binary (every file of `queries/`;
/// a test keeps the list complete).
pub const SHIPPED: &[(&str, &str)] = &[
    shipped!("cashless_payments"),
    shipped!("digital_signatures"),
    shipped!("dq_quarantine"),
    shipped!("dq_timelines"),
    shipped!("dq_unknown_units"),
    shipped!("dq_unmapped_units"),
    shipped!("goal_summary"),
    shipped!("kpi_touched"),
    shipped!("kpi_values"),
    shipped!("online_take_up"),
    shipped!("portal"),
    shipped!("processing"),
    shipped!("ranking"),
    shipped!("restated_series"),
    shipped!("satisfaction"),
];

/// The default of a parameter that is null unless given (not `none`: that
/// is a value of `online_level`).
const NULL: &str = "null";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Text,
    Int,
    Float,
    Bool,
    Date,
    Timestamp,
    /// A KPI id of the catalog.
    Kpi,
    /// day, week, month, quarter or year.
    Grain,
    /// A unit level.
    Level,
    /// The first day of a period of the query's `grain` parameter.
    Period,
}

impl ParamType {
    pub(crate) fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "text" | "string" => ParamType::Text,
            "int" | "integer" | "bigint" => ParamType::Int,
            "float" | "double" => ParamType::Float,
            "bool" | "boolean" => ParamType::Bool,
            "date" => ParamType::Date,
            "timestamp" => ParamType::Timestamp,
            "kpi" => ParamType::Kpi,
            "grain" => ParamType::Grain,
            "level" => ParamType::Level,
            "period" => ParamType::Period,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ParamType::Text => "text",
            ParamType::Int => "int",
            ParamType::Float => "float",
            ParamType::Bool => "bool",
            ParamType::Date => "date",
            ParamType::Timestamp => "timestamp",
            ParamType::Kpi => "kpi",
            ParamType::Grain => "grain",
            ParamType::Level => "level",
            ParamType::Period => "period",
        }
    }

    pub(crate) fn data_type(self) -> DataType {
        match self {
            ParamType::Text | ParamType::Kpi | ParamType::Grain | ParamType::Level => {
                DataType::Utf8
            }
            ParamType::Int => DataType::Int64,
            ParamType::Float => DataType::Float64,
            ParamType::Bool => DataType::Boolean,
            ParamType::Date | ParamType::Period => DataType::Date32,
            ParamType::Timestamp => crate::spec::feeds::timestamp_type(),
        }
    }

    /// The value's text as the query should see it, or why it is not one
    /// of the declared values.
    pub(crate) fn check(self, name: &str, text: &str) -> Result<String> {
        let refuse = |what: String| Error::Usage(format!("parameter {name}: {what}"));
        match self {
            ParamType::Kpi => match crate::spec::kpis::find(text.trim()) {
                Some(kpi) => Ok(kpi.id.to_string()),
                None => {
                    let ids: Vec<&str> = crate::spec::kpis::CATALOG.iter().map(|k| k.id).collect();
                    Err(refuse(format!(
                        "'{text}' is not a KPI; the KPIs are {} (see `motcua kpis`)",
                        ids.join(", ")
                    )))
                }
            },
            ParamType::Grain | ParamType::Level => {
                let def = if self == ParamType::Grain {
                    &crate::spec::enums::GRAIN
                } else {
                    &crate::spec::enums::UNIT_LEVEL
                };
                let mut matcher = crate::validate::values::EnumMatcher::new(def);
                match matcher.parse(text) {
                    Some(v) => Ok(def.canonical(v).to_string()),
                    None => Err(refuse(matcher.error(text))),
                }
            }
            _ => Ok(text.to_string()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    pub name: String,
    pub ty: ParamType,
    pub default: Option<String>,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SavedQuery {
    pub name: String,
    /// The file it was read from; None for a query shipped in the binary.
    pub path: Option<PathBuf>,
    pub description: String,
    pub params: Vec<ParamDef>,
    pub sql: String,
}

impl SavedQuery {
    /// Reads the header of a saved query.
    pub fn parse(name: &str, path: Option<PathBuf>, text: &str) -> Result<Self> {
        let mut description = Vec::new();
        let mut params = Vec::new();
        let where_ = || {
            path.as_ref()
                .map_or(name.to_string(), |p| p.display().to_string())
        };
        for line in text.lines() {
            let Some(comment) = line.trim_start().strip_prefix("--") else {
                if line.trim().is_empty() {
                    continue;
                }
                break;
            };
            let comment = comment.trim();
            if let Some(spec) = comment.strip_prefix("@param") {
                let mut words = spec.split_whitespace();
                let (Some(param), Some(ty), Some(default)) =
                    (words.next(), words.next(), words.next())
                else {
                    return Err(Error::Usage(format!(
                        "{}: '@param' needs a name, a type and a default (or `required`): {comment}",
                        where_()
                    )));
                };
                let ty = ParamType::parse(ty).ok_or_else(|| {
                    Error::Usage(format!(
                        "{}: parameter {param} has unknown type '{ty}' (text, int, float, bool, date, timestamp)",
                        where_()
                    ))
                })?;
                params.push(ParamDef {
                    name: param.trim_start_matches('$').to_string(),
                    ty,
                    default: (default != "required").then(|| default.to_string()),
                    description: words.collect::<Vec<_>>().join(" "),
                });
            } else if params.is_empty() && !comment.is_empty() {
                description.push(comment.to_string());
            }
        }
        Ok(SavedQuery {
            name: name.to_string(),
            path,
            description: description.join(" "),
            params,
            sql: text.to_string(),
        })
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        SavedQuery::parse(&name, Some(path.to_path_buf()), &text)
    }

    /// Where it comes from, for `query --list`.
    pub fn origin(&self) -> String {
        match &self.path {
            Some(path) => path.display().to_string(),
            None => "shipped".to_string(),
        }
    }

    /// The declared parameter of type `ty`, if any.
    fn param_of(&self, ty: ParamType) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.ty == ty)
    }

    /// Binds `given` (name, text) over the declared parameters and
    /// defaults; timestamps are local times in `zone`.
    pub fn bind(
        &self,
        given: &[(String, String)],
        zone: &Zone,
    ) -> Result<Vec<(String, ScalarValue)>> {
        for (name, _) in given {
            if !self.params.iter().any(|p| &p.name == name) {
                let known: Vec<&str> = self.params.iter().map(|p| p.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "query {} has no parameter '{name}'; its parameters are: {}",
                    self.name,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
        }
        self.params
            .iter()
            .map(|p| {
                let text = given
                    .iter()
                    .rev()
                    .find(|(name, _)| name == &p.name)
                    .map(|(_, v)| v.clone())
                    .or_else(|| p.default.clone())
                    .ok_or_else(|| {
                        Error::Usage(format!(
                            "query {} needs --param {}=<{}>",
                            self.name,
                            p.name,
                            p.ty.name()
                        ))
                    })?;
                if p.default.as_deref() == Some(NULL) && text == NULL {
                    return Ok((p.name.clone(), ScalarValue::try_from(&p.ty.data_type())?));
                }
                let text = p.ty.check(&p.name, &text)?;
                Ok((
                    p.name.clone(),
                    typed_value(&p.name, &text, &p.ty.data_type(), zone)?,
                ))
            })
            .collect::<Result<Vec<_>>>()
            .and_then(|values| {
                self.check_period(&values)?;
                Ok(values)
            })
    }

    /// The bound `period` parameter of a query that has one and a `grain`:
    /// its declaration, its day and the grain's value.
    pub(crate) fn period_of<'a>(
        &'a self,
        values: &[(String, ScalarValue)],
    ) -> Option<(&'a ParamDef, chrono::NaiveDate, Grain)> {
        let period = self.param_of(ParamType::Period)?;
        let grain = self.param_of(ParamType::Grain)?;
        let value = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| v);
        match (value(&period.name)?, value(&grain.name)?) {
            (ScalarValue::Date32(Some(days)), ScalarValue::Utf8(Some(grain))) => Some((
                period,
                crate::validate::time::date_from_days(*days),
                grain.parse().ok()?,
            )),
            _ => None,
        }
    }

    /// A `period` parameter must start a period of the query's `grain`.
    fn check_period(&self, values: &[(String, ScalarValue)]) -> Result<()> {
        let Some((period, day, grain)) = self.period_of(values) else {
            return Ok(());
        };
        let start = grain.period_start(day);
        if start != day {
            return Err(Error::Usage(format!(
                "parameter {}: {day} does not start a {grain}; the {grain} holding it starts on {start}",
                period.name
            )));
        }
        Ok(())
    }
}

/// Converts a parameter's text to a value of `ty`, with a clear sentence
/// when it does not fit.
pub(crate) fn typed_value(
    name: &str,
    text: &str,
    ty: &DataType,
    zone: &Zone,
) -> Result<ScalarValue> {
    let bad = |what: &str| Error::Usage(format!("parameter {name}: '{text}' is not {what}"));
    Ok(match ty {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            ScalarValue::Utf8(Some(text.to_string()))
        }
        DataType::Int64 | DataType::Int32 => ScalarValue::Int64(Some(
            text.trim().parse().map_err(|_| bad("a whole number"))?,
        ))
        .cast_to(ty)?,
        DataType::Float64 => {
            ScalarValue::Float64(Some(text.trim().parse().map_err(|_| bad("a number"))?))
        }
        DataType::Boolean => ScalarValue::Boolean(Some(
            crate::validate::values::parse_bool(text).map_err(|_| bad("a boolean"))?,
        )),
        DataType::Date32 => {
            let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| bad("a date (YYYY-MM-DD)"))?;
            ScalarValue::Date32(Some(crate::validate::time::days_since_epoch(date)))
        }
        DataType::Timestamp(_, _) => {
            let micros = crate::validate::time::parse_timestamp(text, zone, false)
                .map_err(|_| bad("a timestamp"))?;
            ScalarValue::TimestampMicrosecond(Some(micros), Some("UTC".into())).cast_to(ty)?
        }
        other => ScalarValue::Utf8(Some(text.to_string()))
            .cast_to(other)
            .map_err(|_| bad(&format!("a {other}")))?,
    })
}

/// The saved queries: the shipped ones, then those of the user folder
/// `dir` (adding to them, or replacing one of the same name); by name.
pub fn list(dir: Option<&Path>) -> Result<Vec<SavedQuery>> {
    let mut queries: std::collections::BTreeMap<String, SavedQuery> = SHIPPED
        .iter()
        .map(|(name, text)| Ok((name.to_string(), SavedQuery::parse(name, None, text)?)))
        .collect::<Result<_>>()?;
    if let Some(dir) = dir {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| Error::io(dir, e))?.path();
            if path.extension().is_some_and(|e| e == "sql") {
                let query = SavedQuery::load(&path)?;
                queries.insert(query.name.clone(), query);
            }
        }
    }
    Ok(queries.into_values().collect())
}

/// A saved query by name — from the user folder `dir` first, else shipped
/// — or a `.sql` file.
pub fn find(dir: Option<&Path>, name_or_file: &str) -> Result<SavedQuery> {
    if name_or_file.ends_with(".sql") {
        return SavedQuery::load(Path::new(name_or_file));
    }
    if let Some(dir) = dir {
        let path = dir.join(format!("{name_or_file}.sql"));
        if path.exists() {
            return SavedQuery::load(&path);
        }
    }
    if let Some((name, text)) = SHIPPED.iter().find(|(name, _)| *name == name_or_file) {
        return SavedQuery::parse(name, None, text);
    }
    let known: Vec<String> = list(dir)
        .map(|qs| qs.into_iter().map(|q| q.name).collect())
        .unwrap_or_default();
    Err(Error::Usage(format!(
        "no saved query '{name_or_file}'; the saved queries are {} (`motcua query --list`)",
        known.join(", ")
    )))
}
