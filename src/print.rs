//! Printing query results and the saved-query list.

use std::io::Write;
use std::path::Path;

use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::query::{QueryResult, SavedQuery};

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

impl OutputFormat {
    /// The format a file name asks for: `.csv`, `.json`/`.ndjson`/`.jsonl`,
    /// `.parquet`, `.txt` (a table).
    pub fn from_extension(path: &Path) -> Result<Self> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("csv") => Ok(OutputFormat::Csv),
            Some("json" | "ndjson" | "jsonl") => Ok(OutputFormat::Json),
            Some("parquet") => Ok(OutputFormat::Parquet),
            Some("txt") => Ok(OutputFormat::Table),
            _ => Err(Error::Usage(format!(
                "--output {}: cannot tell the format from the name; end it in .csv, .json, .parquet or .txt, or pass --format",
                path.display()
            ))),
        }
    }
}

/// Writes a result in `format` to `output`, or to standard output. A file
/// is written whole or not at all, readable by other users (dashboards run
/// as another user); an empty result keeps its columns (a CSV header, a
/// Parquet schema).
pub fn write(result: &QueryResult, format: OutputFormat, output: Option<&Path>) -> Result<()> {
    let batches = &result.batches;
    if format == OutputFormat::Parquet {
        let Some(path) = output else {
            return Err(Error::Usage("--format parquet needs --output FILE".into()));
        };
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
        crate::output::write_parquet(tmp.path(), result.schema.clone(), batches)?;
        crate::lake::make_readable(tmp.as_file(), tmp.path())?;
        tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
        return Ok(());
    }
    let mut bytes = Vec::new();
    match format {
        OutputFormat::Table => {
            let table = arrow::util::pretty::pretty_format_batches_with_schema(
                result.schema.clone(),
                batches,
            )?;
            writeln!(bytes, "{table}").map_err(|e| Error::io("output", e))?;
        }
        OutputFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut bytes);
            // The header comes with the first batch, even an empty one.
            writer.write(&RecordBatch::new_empty(result.schema.clone()))?;
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
        out.push_str(&format!(
            "{} ({})\n    {}\n",
            q.name,
            q.origin(),
            q.description
        ));
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

/// `motcua lake`'s line on activity whose unit codes the registry does not
/// hold (per feed: rows).
pub fn unknown_units(per_feed: &[(String, u64)]) -> String {
    let total: u64 = per_feed.iter().map(|(_, rows)| rows).sum();
    if total == 0 {
        return "unit codes: every row names a unit of the registry".to_string();
    }
    let parts: Vec<String> = per_feed
        .iter()
        .map(|(feed, rows)| format!("{feed} {rows}"))
        .collect();
    format!(
        "unit codes: {total} row(s) name units the registry does not hold ({}); they count toward no unit — see `motcua query dq_unknown_units`",
        parts.join(", ")
    )
}
