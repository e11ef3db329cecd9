//! Read-only planning: SQL with typed parameters, nothing that writes.

use std::collections::HashMap;

use arrow::datatypes::DataType;
use datafusion::common::ParamValues;
use datafusion::dataframe::DataFrame;
use datafusion::execution::context::SQLOptions;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use crate::error::{Error, Result};
use crate::sql::saved::typed_value;
use crate::validate::time::Zone;

/// What analysts may run: queries only. DDL (CREATE, DROP, external tables
/// that would reach other files), DML (INSERT, COPY) and statements (SET)
/// are refused before anything runs.
fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Plans `sql` read-only without binding its parameters: the schema a
/// prepared statement answers with, and the types of its placeholders
/// (`$1`, `$2`, … in order).
pub(crate) async fn plan_unbound(
    ctx: &SessionContext,
    sql: &str,
) -> Result<(DataFrame, Vec<(String, Option<DataType>)>)> {
    let df = ctx
        .sql_with_options(sql, read_only())
        .await
        .map_err(sql_error)?;
    let mut wanted: Vec<(String, Option<DataType>)> = df
        .logical_plan()
        .get_parameter_types()
        .map_err(sql_error)?
        .into_iter()
        .collect();
    // `$2` before `$10`: by number where the names are numbers.
    wanted.sort_by_key(|(name, _)| {
        let number = name
            .trim_start_matches('$')
            .parse::<u64>()
            .unwrap_or(u64::MAX);
        (number, name.clone())
    });
    Ok((df, wanted))
}

/// Plans `sql` read-only and binds named parameters. Declared types win;
/// for ad-hoc SQL, each value takes the type the query's context gives its
/// placeholder.
pub async fn plan(
    ctx: &SessionContext,
    sql: &str,
    declared: Vec<(String, ScalarValue)>,
    adhoc: &[(String, String)],
    zone: &Zone,
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
        values.insert(name.clone(), typed_value(name, text, &ty, zone)?);
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
pub(crate) fn sql_error(e: datafusion::error::DataFusionError) -> Error {
    // The root cause says what is wrong; wrappers ("Optimizer rule … failed") do not.
    let root = e.find_root();
    if let datafusion::error::DataFusionError::ResourcesExhausted(detail) = root {
        // The pool lists the largest holders one per line: keep them, on one line.
        let detail: Vec<&str> = detail
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        return Error::OutOfMemory(detail.join(" "));
    }
    let text = root.strip_backtrace();
    let text = text
        .trim_start_matches("Error during planning: ")
        .trim_start_matches("SQL error: ")
        .trim_start_matches("This feature is not implemented: ");
    Error::Sql(text.lines().next().unwrap_or_default().to_string())
}
