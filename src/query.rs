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
//! `@param` line gives a name, a type (`text`, `int`, `float`, `bool`,
//! `date`, `timestamp`), a default or `required`, and a description.
//! Parameters are bound as typed values through DataFusion's parameter API,
//! never pasted into the SQL text.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use arrow::datatypes::DataType;
use datafusion::common::ParamValues;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    Text,
    Int,
    Float,
    Bool,
    Date,
    Timestamp,
}

impl ParamType {
    fn parse(word: &str) -> Option<Self> {
        Some(match word.to_ascii_lowercase().as_str() {
            "text" | "string" => ParamType::Text,
            "int" | "integer" | "bigint" => ParamType::Int,
            "float" | "double" => ParamType::Float,
            "bool" | "boolean" => ParamType::Bool,
            "date" => ParamType::Date,
            "timestamp" => ParamType::Timestamp,
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
        }
    }

    fn data_type(self) -> DataType {
        match self {
            ParamType::Text => DataType::Utf8,
            ParamType::Int => DataType::Int64,
            ParamType::Float => DataType::Float64,
            ParamType::Bool => DataType::Boolean,
            ParamType::Date => DataType::Date32,
            ParamType::Timestamp => crate::feeds::timestamp_type(),
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

    /// Binds `given` (name, text) over the declared parameters and defaults.
    pub fn bind(&self, given: &[(String, String)]) -> Result<Vec<(String, ScalarValue)>> {
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
                Ok((
                    p.name.clone(),
                    typed_value(&p.name, &text, &p.ty.data_type())?,
                ))
            })
            .collect()
    }
}

/// Converts a parameter's text to a value of `ty`, with a clear sentence
/// when it does not fit.
pub fn typed_value(name: &str, text: &str, ty: &DataType) -> Result<ScalarValue> {
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
            crate::values::parse_bool(text).map_err(|_| bad("a boolean"))?,
        )),
        DataType::Date32 => {
            let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .map_err(|_| bad("a date (YYYY-MM-DD)"))?;
            ScalarValue::Date32(Some(crate::time::days_since_epoch(date)))
        }
        DataType::Timestamp(_, _) => {
            let micros = crate::time::parse_timestamp(text, &crate::time::Zone::default(), false)
                .map_err(|_| bad("a timestamp"))?;
            ScalarValue::TimestampMicrosecond(Some(micros), Some("UTC".into())).cast_to(ty)?
        }
        other => ScalarValue::Utf8(Some(text.to_string()))
            .cast_to(other)
            .map_err(|_| bad(&format!("a {other}")))?,
    })
}

/// What analysts may run: queries only. DDL (CREATE, DROP, external tables
/// that would reach other files), DML (INSERT, COPY) and statements (SET)
/// are refused before anything runs.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Plans `sql` read-only and binds named parameters. Declared types win;
/// for ad-hoc SQL, each value takes the type the query's context gives its
/// placeholder.
pub async fn plan(
    ctx: &SessionContext,
    sql: &str,
    declared: Vec<(String, ScalarValue)>,
    adhoc: &[(String, String)],
) -> Result<DataFrame> {
    let df = ctx
        .sql_with_options(sql, read_only())
        .await
        .map_err(sql_error)?;
    let wanted = df.logical_plan().get_parameter_types().map_err(sql_error)?;
    let mut values: HashMap<String, ScalarValue> = declared.into_iter().collect();
    for (name, text) in adhoc {
        let ty = wanted
            .get(name)
            .or_else(|| wanted.get(&format!("${name}")))
            .ok_or_else(|| Error::Usage(format!("the SQL has no parameter ${name}")))?
            .clone()
            .unwrap_or(DataType::Utf8);
        values.insert(name.clone(), typed_value(name, text, &ty)?);
    }
    for placeholder in wanted.keys() {
        let name = placeholder.trim_start_matches('$');
        if !values.contains_key(name) {
            return Err(Error::Usage(format!(
                "the SQL uses ${name} but no value was given; add --param {name}=…"
            )));
        }
    }
    if values.is_empty() {
        return Ok(df);
    }
    df.with_param_values(ParamValues::from(values.into_iter().collect::<Vec<_>>()))
        .map_err(sql_error)
}

/// One sentence for a SQL failure, without DataFusion's nested prefixes.
pub fn sql_error(e: datafusion::error::DataFusionError) -> Error {
    // The root cause says what is wrong; wrappers ("Optimizer rule … failed") do not.
    let root = e.find_root();
    if let datafusion::error::DataFusionError::ResourcesExhausted(detail) = root {
        // The pool lists the largest holders one per line: keep them, on one line.
        let detail: Vec<&str> = detail
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return Error::Sql(format!(
            "the query needs more memory than --memory-limit allows ({}); raise the limit",
            detail.join(" ")
        ));
    }
    let text = root.strip_backtrace();
    let text = text
        .trim_start_matches("Error during planning: ")
        .trim_start_matches("SQL error: ")
        .trim_start_matches("This feature is not implemented: ");
    Error::Sql(text.lines().next().unwrap_or_default().to_string())
}

/// The saved queries in `dir`, sorted by name.
pub fn list(dir: &Path) -> Result<Vec<SavedQuery>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut queries = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "sql") {
            queries.push(SavedQuery::load(&path)?);
        }
    }
    queries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(queries)
}

/// Finds a saved query by name in `dir`, or reads a `.sql` file.
pub fn find(dir: &Path, name_or_file: &str) -> Result<SavedQuery> {
    let as_path = Path::new(name_or_file);
    if name_or_file.ends_with(".sql") {
        return SavedQuery::load(as_path);
    }
    let path = dir.join(format!("{name_or_file}.sql"));
    if path.exists() {
        return SavedQuery::load(&path);
    }
    let known: Vec<String> = list(dir)
        .map(|qs| qs.into_iter().map(|q| q.name).collect())
        .unwrap_or_default();
    Err(Error::Usage(format!(
        "no saved query '{name_or_file}' in {}; known: {}",
        dir.display(),
        known.join(", ")
    )))
}

/// What `motcua query` runs.
#[derive(Debug, Clone)]
pub enum QuerySource {
    Saved(SavedQuery),
    Sql(String),
}

/// Runs a query read-only over the lake at `lake`. When `out` holds a
/// published `kpi_values`, it is a table too.
pub async fn run(
    lake: &Path,
    out: &Path,
    source: &QuerySource,
    params: &[(String, String)],
) -> Result<Vec<arrow::record_batch::RecordBatch>> {
    let (ctx, _) = crate::catalog::open(lake, &crate::catalog::SessionOptions::default()).await?;
    crate::catalog::register_outputs(&ctx, out).await?;
    let planned = match source {
        QuerySource::Saved(saved) => plan(&ctx, &saved.sql, saved.bind(params)?, &[]).await,
        QuerySource::Sql(sql) => plan(&ctx, sql, Vec::new(), params).await,
    };
    let df = match planned {
        Err(Error::Sql(message)) if message.contains("kpi_values' not found") => {
            return Err(Error::Usage(format!(
                "kpi_values is not published in {} yet; run `motcua kpi --from … --to …` first, or point --out at its directory",
                out.display()
            )));
        }
        other => other?,
    };
    df.collect().await.map_err(sql_error)
}
