//! What commands print: query results (to standard output or, whole or
//! not at all, to a file), the saved-query list, file reports and summaries.

use crate::sql::registry::{UnitChange, UnitVersion};
use std::io::Write;
use std::path::Path;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::{Error, Result};
use crate::ingest::{FileReport, SHOWN_UNKNOWN_UNITS, WARN_REJECTED_SHARE};
use crate::kpi_job::{KpiJob, KpiReport};
use crate::read::InputLayout;
use crate::report::format::Lang;
use crate::sql::run::QueryResult;
use crate::sql::saved::SavedQuery;
use crate::validate::time::Zone;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputFormat {
    Table,
    Csv,
    Json,
    Parquet,
    Xlsx,
}

/// How a result is written besides its format.
#[derive(Debug, Clone, Default)]
pub(crate) struct Style {
    /// A CSV starts with a byte-order mark, so that Excel reads it as UTF-8.
    pub bom: bool,
    /// The language of a workbook's headers.
    pub lang: Lang,
    /// The zone a table and a workbook show timestamps in.
    pub zone: Option<Zone>,
}

impl std::str::FromStr for OutputFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "table" => Ok(OutputFormat::Table),
            "csv" => Ok(OutputFormat::Csv),
            "json" | "ndjson" => Ok(OutputFormat::Json),
            "parquet" => Ok(OutputFormat::Parquet),
            "xlsx" => Ok(OutputFormat::Xlsx),
            _ => Err(Error::Usage(format!(
                "unknown output format '{s}'; use table, csv, json, parquet or xlsx"
            ))),
        }
    }
}

impl OutputFormat {
    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Csv => "csv",
            OutputFormat::Json => "json",
            OutputFormat::Parquet => "parquet",
            OutputFormat::Xlsx => "xlsx",
        }
    }

    /// The format a file name asks for: `.csv`, `.json`/`.ndjson`/`.jsonl`,
    /// `.parquet`, `.txt` (a table).
    pub(crate) fn from_extension(path: &Path) -> Result<Self> {
        let extension = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase());
        match extension.as_deref() {
            Some("csv") => Ok(OutputFormat::Csv),
            Some("json" | "ndjson" | "jsonl") => Ok(OutputFormat::Json),
            Some("parquet") => Ok(OutputFormat::Parquet),
            Some("xlsx") => Ok(OutputFormat::Xlsx),
            Some("txt") => Ok(OutputFormat::Table),
            _ => Err(Error::Usage(format!(
                "--output {}: cannot tell the format from the name; end it in .csv, .json, .parquet, .xlsx or .txt, or pass --format",
                path.display()
            ))),
        }
    }
}

/// Writes a result in `format` to `output`, or to standard output. A file
/// is written whole or not at all, readable by other users (dashboards run
/// as another user); an empty result keeps its columns (a CSV header, a
/// Parquet schema).
pub(crate) fn write(
    result: &QueryResult,
    format: OutputFormat,
    output: Option<&Path>,
    style: &Style,
) -> Result<()> {
    let mut sink = Sink::open(format, &result.schema, output, style)?;
    for batch in &result.batches {
        sink.write(batch)?;
    }
    sink.finish()
}

/// `write` for rows that arrive batch by batch: each is written as it comes
/// (a table, which must measure every row first, and a workbook are the
/// exceptions).
pub(crate) async fn write_stream(
    mut stream: datafusion::execution::SendableRecordBatchStream,
    format: OutputFormat,
    output: Option<&Path>,
    style: &Style,
) -> Result<()> {
    use futures::StreamExt;
    let mut sink = Sink::open(format, &stream.schema(), output, style)?;
    while let Some(batch) = stream.next().await {
        sink.write(&batch.map_err(crate::sql::plan::sql_error)?)?;
    }
    sink.finish()
}

/// Where rows go: a temporary file beside `--output` (renamed over it once
/// whole) or standard output.
pub(crate) enum Target {
    File {
        tmp: tempfile::NamedTempFile,
        path: std::path::PathBuf,
    },
    Stdout,
}

/// A result being written in one format.
struct Sink {
    pub(crate) target: Target,
    pub(crate) writer: Writer,
    pub(crate) style: Style,
}

pub(crate) enum Writer {
    /// A table is laid out once every row is known.
    Table(SchemaRef, Vec<RecordBatch>),
    Csv(arrow::csv::Writer<Box<dyn Write>>),
    Json(arrow::json::LineDelimitedWriter<Box<dyn Write>>),
    Parquet(crate::publish::parquet::ParquetFile),
    /// A workbook is laid out once every row is known.
    Xlsx(SchemaRef, Vec<RecordBatch>),
}

impl Sink {
    pub(crate) fn open(
        format: OutputFormat,
        schema: &SchemaRef,
        output: Option<&Path>,
        style: &Style,
    ) -> Result<Self> {
        let target = match output {
            Some(path) => {
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
                Target::File {
                    tmp,
                    path: path.to_path_buf(),
                }
            }
            None if matches!(format, OutputFormat::Parquet | OutputFormat::Xlsx) => {
                return Err(Error::Usage(format!(
                    "--format {} needs --output FILE",
                    format.name()
                )));
            }
            None => Target::Stdout,
        };
        let out = || -> Result<Box<dyn Write>> {
            Ok(match &target {
                Target::File { tmp, .. } => Box::new(std::io::BufWriter::new(
                    tmp.reopen().map_err(|e| Error::io(tmp.path(), e))?,
                )),
                Target::Stdout => Box::new(std::io::BufWriter::new(std::io::stdout())),
            })
        };
        let writer = match format {
            OutputFormat::Table => Writer::Table(schema.clone(), Vec::new()),
            OutputFormat::Csv => {
                let mut out = out()?;
                if style.bom {
                    out.write_all("\u{feff}".as_bytes())
                        .map_err(|e| Error::io("the CSV output", e))?;
                }
                let mut writer = arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(out);
                // The header comes with the first batch, even an empty one.
                writer.write(&RecordBatch::new_empty(schema.clone()))?;
                Writer::Csv(writer)
            }
            OutputFormat::Json => Writer::Json(arrow::json::LineDelimitedWriter::new(out()?)),
            OutputFormat::Parquet => {
                let Target::File { tmp, .. } = &target else {
                    unreachable!("refused above without --output")
                };
                let file = tmp.reopen().map_err(|e| Error::io(tmp.path(), e))?;
                Writer::Parquet(crate::publish::parquet::ParquetFile::new(file, schema)?)
            }
            OutputFormat::Xlsx => Writer::Xlsx(schema.clone(), Vec::new()),
        };
        Ok(Sink {
            target,
            writer,
            style: style.clone(),
        })
    }

    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.writer {
            Writer::Table(_, batches) => batches.push(batch.clone()),
            Writer::Xlsx(_, batches) => {
                // Refused as soon as it cannot fit, not once all is held.
                let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                crate::report::xlsx::check_rows(rows + batch.num_rows())?;
                batches.push(batch.clone());
            }
            Writer::Csv(writer) => writer.write(batch)?,
            Writer::Json(writer) => writer.write(batch)?,
            Writer::Parquet(writer) => writer.write(batch)?,
        }
        Ok(())
    }

    /// Ends the output: flushes it, and moves a file into place.
    pub(crate) fn finish(self) -> Result<()> {
        let name = match &self.target {
            Target::File { path, .. } => path.display().to_string(),
            Target::Stdout => "standard output".to_string(),
        };
        let flush = |w: &mut dyn Write| w.flush().map_err(|e| Error::io(&name, e));
        match self.writer {
            Writer::Table(schema, batches) => {
                let zone = self.style.zone.as_ref();
                let shown = batches
                    .iter()
                    .map(|b| super::table::readable(b, zone))
                    .collect::<Result<Vec<_>>>()?;
                let table = arrow::util::pretty::pretty_format_batches_with_schema(
                    super::table::text_schema(&schema),
                    &shown,
                )?;
                let mut out: Box<dyn Write> = match &self.target {
                    Target::File { tmp, .. } => {
                        Box::new(tmp.reopen().map_err(|e| Error::io(tmp.path(), e))?)
                    }
                    Target::Stdout => Box::new(std::io::stdout()),
                };
                writeln!(out, "{table}").map_err(|e| Error::io(&name, e))?;
                flush(&mut out)?;
            }
            Writer::Csv(writer) => flush(&mut writer.into_inner())?,
            Writer::Json(mut writer) => {
                writer.finish()?;
                flush(&mut writer.into_inner())?;
            }
            Writer::Parquet(writer) => {
                writer.finish(Path::new(&name))?;
            }
            Writer::Xlsx(schema, batches) => {
                let Target::File { tmp, .. } = &self.target else {
                    unreachable!("refused in open without --output")
                };
                let sheet = crate::report::xlsx::Sheet {
                    name: "motcua",
                    schema,
                    batches: &batches,
                };
                let bytes = crate::report::xlsx::workbook(
                    &[sheet],
                    self.style.lang,
                    self.style.zone.as_ref(),
                )?;
                let mut file = tmp.reopen().map_err(|e| Error::io(tmp.path(), e))?;
                file.write_all(&bytes).map_err(|e| Error::io(&name, e))?;
            }
        }
        match self.target {
            Target::File { tmp, path } => {
                crate::storage::make_readable(tmp.as_file(), tmp.path())?;
                tmp.as_file()
                    .sync_all()
                    .map_err(|e| Error::io(tmp.path(), e))?;
                tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
                let dir = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                crate::storage::sync_dir(dir)
            }
            Target::Stdout => Ok(()),
        }
    }
}

/// `motcua query --list`: every saved query with its description and parameters.
pub(crate) fn query_list(queries: &[SavedQuery]) -> String {
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
pub(crate) fn unknown_units(per_feed: &[(String, u64)]) -> String {
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

/// What `ingest` prints after each file: its summary line on standard
/// output; the first rejections and any warning on standard error.
pub(crate) fn file_report(report: &FileReport) {
    println!("{}", report.summary_line());
    let notable = report
        .layout
        .as_ref()
        .filter(|l| report.dry_run && l.is_notable());
    if let Some(layout) = notable {
        print!("{}", layout_lines(layout));
    }
    for r in &report.rejections {
        let column = r.column.as_deref().unwrap_or("row");
        eprintln!("  line {}: {column}: {}", r.line, r.reason);
    }
    let rejected = report.quarantined - report.footer_rows;
    if rejected > report.rejections.len() as u64 {
        eprintln!(
            "  … {} more in quarantine",
            rejected - report.rejections.len() as u64
        );
    }
    if report.footer_rows > 0 {
        eprintln!(
            "  {} footer row(s) (totals, signatures) in quarantine",
            report.footer_rows
        );
    }
    if report.rejected_share() > WARN_REJECTED_SHARE && !report.refused {
        eprintln!(
            "  warning: {:.1}% of the rows were rejected; read why with `motcua query dq_quarantine`",
            report.rejected_share() * 100.0
        );
    }
    if report.unknown_units > 0 {
        eprintln!(
            "  warning: {} row(s) name unit codes the units registry does not hold ({}{}); they are kept but count toward no unit — see `motcua query dq_unknown_units`",
            report.unknown_units,
            report.unknown_unit_codes.join(", "),
            if report.unknown_unit_codes.len() < SHOWN_UNKNOWN_UNITS {
                ""
            } else {
                ", …"
            }
        );
    }
    let activity = report
        .feed
        .is_some_and(|f| crate::validate::registry::UnitCheck::applies(f.def()));
    if activity && !report.units_checked && report.accepted > 0 {
        eprintln!(
            "  note: the lake has no units registry yet, so unit codes were not checked; ingest units first"
        );
    }
}

/// How a dry run says an export was read: its sheet, header row and
/// delimiter, and the feed column each header fed.
fn layout_lines(layout: &InputLayout) -> String {
    let columns: Vec<String> = layout
        .columns
        .iter()
        .map(|(header, column)| match column {
            Some(column) => format!("{header} → {column}"),
            None => format!("{header} → left out"),
        })
        .collect();
    let mut found = match &layout.sheet {
        Some(sheet) => format!("  sheet '{sheet}', header on row {}", layout.header_line),
        None => format!("  header on line {}", layout.header_line),
    };
    if layout.header_rows > 1 {
        found.push_str(&format!(" and the {} below it", layout.header_rows - 1));
    }
    found.push_str(&format!(" ({} row(s) above it skipped)", layout.title_rows));
    if let Some(delimiter) = &layout.delimiter {
        found.push_str(&format!("; fields split on {delimiter}"));
    }
    format!("{found}\n  columns: {}\n", columns.join("; "))
}

/// The line `kpi` prints when it is done.
pub(crate) fn kpi_report(job: &KpiJob, report: &KpiReport, dataset: &Path) -> String {
    // Only an incremental run can find nothing to compute.
    if report.periods == 0 {
        format!(
            "kpi_values: every {} slice from {} to {} is up to date with the lake → {}",
            job.grain,
            job.from,
            job.to,
            dataset.display()
        )
    } else {
        format!(
            "kpi_values: {} {} period(s) from {} to {}, {} rows → {} ({:.1} s)",
            report.periods,
            job.grain,
            report.from,
            job.to,
            report.rows,
            dataset.display(),
            report.seconds
        )
    }
}

/// `motcua units --at DAY`: the units valid on the day, each under its
/// parent, two spaces a level.
pub(crate) fn unit_tree(day: chrono::NaiveDate, versions: &[UnitVersion]) -> String {
    let valid: Vec<&UnitVersion> = versions.iter().filter(|v| v.valid_on(day)).collect();
    let codes: std::collections::HashSet<&str> = valid.iter().map(|v| v.code.as_str()).collect();
    // Children by parent, in code order as `versions` comes; roots: no
    // parent, or one that does not exist that day (the registry refuses
    // that; shown rather than hidden).
    let mut children: std::collections::HashMap<Option<&str>, Vec<&UnitVersion>> =
        std::collections::HashMap::new();
    for unit in &valid {
        let parent = unit.parent.as_deref().filter(|p| codes.contains(p));
        children.entry(parent).or_default().push(unit);
    }
    let below = |parent: Option<&str>, depth: usize| -> Vec<(&UnitVersion, usize)> {
        children.get(&parent).map_or_else(Vec::new, |units| {
            units.iter().rev().map(|unit| (*unit, depth)).collect()
        })
    };
    let mut out = format!("{} unit(s) valid on {day}\n", valid.len());
    let mut stack = below(None, 0);
    while let Some((unit, depth)) = stack.pop() {
        out.push_str(&format!(
            "{}{} {} ({})\n",
            "  ".repeat(depth),
            unit.code,
            unit.name,
            unit.level
        ));
        stack.extend(below(Some(unit.code.as_str()), depth + 1));
    }
    out
}

/// `motcua units --history CODE`: every unit that had the code, with its
/// days, and the changes into and out of it.
pub(crate) fn unit_history(code: &str, versions: &[UnitVersion], changes: &[UnitChange]) -> String {
    let days = |v: &UnitVersion| match (v.from, v.to) {
        (None, None) => "always".to_string(),
        (Some(from), None) => format!("from {from}"),
        (None, Some(to)) => format!("until {to}"),
        (Some(from), Some(to)) => format!("from {from} until {to}"),
    };
    let mut out = String::new();
    for v in versions.iter().filter(|v| v.code == code) {
        let parent = v
            .parent
            .as_deref()
            .map_or(String::new(), |p| format!(", under {p}"));
        out.push_str(&format!(
            "{} {} ({}{parent}), {}\n",
            v.code,
            v.name,
            v.level,
            days(v)
        ));
    }
    let detail = |c: &UnitChange| {
        let mut parts = vec![format!("share {}", c.share)];
        parts.extend(c.basis.clone());
        parts.extend(c.legal_ref.clone());
        parts.join(", ")
    };
    for c in changes.iter().filter(|c| c.new == code && c.old != code) {
        out.push_str(&format!("  {} ← {} ({})\n", c.on, c.old, detail(c)));
    }
    for c in changes.iter().filter(|c| c.old == code) {
        out.push_str(&format!("  {} → {} ({})\n", c.on, c.new, detail(c)));
    }
    out
}
