//! Printing query results and the saved-query list.

use std::io::Write;
use std::path::Path;

use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::query::SavedQuery;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

impl std::str::FromStr for OutputFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(OutputFormat::Table),
            "csv" => Ok(OutputFormat::Csv),
            "json" | "ndjson" => Ok(OutputFormat::Json),
            "parquet" => Ok(OutputFormat::Parquet),
            _ => Err(Error::Usage(format!(
                "unknown output format '{s}'; use table, csv, json or parquet"
            ))),
        }
    }
}

/// Writes `batches` in `format` to `output`, or to standard output. A file
/// is written whole or not at all.
pub fn write(batches: &[RecordBatch], format: OutputFormat, output: Option<&Path>) -> Result<()> {
    if format == OutputFormat::Parquet {
        let Some(path) = output else {
            return Err(Error::Usage("--format parquet needs --output FILE".into()));
        };
        let schema = match batches.first() {
            Some(b) => b.schema(),
            None => std::sync::Arc::new(arrow::datatypes::Schema::empty()),
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
        crate::output::write_parquet(tmp.path(), schema, batches)?;
        tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
        return Ok(());
    }
    let mut bytes = Vec::new();
    match format {
        OutputFormat::Table => {
            let table = arrow::util::pretty::pretty_format_batches(batches)?;
            writeln!(bytes, "{table}").map_err(|e| Error::io("output", e))?;
        }
        OutputFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut bytes);
            for batch in batches {
                writer.write(batch)?;
            }
        }
        OutputFormat::Json => {
            let mut writer = arrow::json::LineDelimitedWriter::new(&mut bytes);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        OutputFormat::Parquet => unreachable!("handled above"),
    }
    match output {
        Some(path) => crate::lake::write_atomic(path, &bytes),
        None => std::io::stdout()
            .write_all(&bytes)
            .map_err(|e| Error::io("standard output", e)),
    }
}

/// `motcua query --list`: every saved query with its description and parameters.
pub fn query_list(queries: &[SavedQuery]) -> String {
    let mut out = String::new();
    for q in queries {
        out.push_str(&format!("{}\n    {}\n", q.name, q.description));
        for p in &q.params {
            let default = p.default.as_deref().unwrap_or("required");
            out.push_str(&format!(
                "    --param {}=<{}> (default: {default}) {}\n",
                p.name,
                p.ty.name(),
                p.description
            ));
        }
    }
    out
}
