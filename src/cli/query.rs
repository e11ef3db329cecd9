//! `motcua query`.

use std::path::{Path, PathBuf};

use clap::Args;

use super::LakeDir;
use super::print::{self, OutputFormat, Style};
use super::value::{self, Named, Param};
use crate::error::{Error, Result};
use crate::report::format::Lang;
use crate::sql::{self, QuerySource};

/// Run a saved query (by name or .sql file) or ad-hoc SQL, read-only.
#[derive(Args)]
#[command(after_help = "Examples:
  motcua query --list
  motcua query ranking --param kpi=on_time_rate --param period=2025-01-01
  motcua query --sql \"SELECT unit_code, count(*) FROM dossiers GROUP BY 1\" --output counts.csv
  motcua query goal_summary --param period=2025-06-01 --output goals.xlsx
  motcua query --sql \"SELECT * FROM units\" --output units.csv --bom")]
pub(super) struct QueryArgs {
    /// A saved query's name (see --list) or a .sql file.
    query: Option<String>,
    /// Ad-hoc SQL instead of a saved query.
    #[arg(long, conflicts_with = "query")]
    sql: Option<String>,
    /// A parameter value, as name=value; repeatable.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = value::param)]
    params: Vec<Param>,
    /// The result's format; by default from the --output file's extension,
    /// else a table.
    #[arg(long, value_parser = Named::<OutputFormat>::new())]
    format: Option<OutputFormat>,
    /// Write the result to this file (whole or not at all) instead of
    /// standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Start a CSV with a byte-order mark, so that Excel opens Vietnamese
    /// text correctly.
    #[arg(long)]
    bom: bool,
    /// The language of an xlsx workbook's headers: vi or en.
    #[arg(long, default_value = "vi", value_parser = Named::<Lang>::new())]
    lang: Lang,
    /// List the saved queries with their descriptions and parameters.
    #[arg(long)]
    list: bool,
    /// A folder of your own saved queries: they add to the shipped ones
    /// and replace one of the same name.
    #[arg(long, value_name = "DIR", env = "MOTCUA_QUERIES")]
    queries: Option<PathBuf>,
    /// The folder (or s3:// prefix) `motcua kpi --out` publishes to: its
    /// kpi_values is the table kpi_values.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "out",
        alias = "out",
        value_parser = super::value::location
    )]
    published: crate::Location,
    #[command(flatten)]
    lake: LakeDir,
    #[cfg(feature = "distributed")]
    #[command(flatten)]
    cluster: super::ClusterArg,
}

pub(super) fn run(args: QueryArgs) -> Result<()> {
    if args.list {
        print!(
            "{}",
            print::query_list(&sql::list(args.queries.as_deref())?)
        );
        return Ok(());
    }
    let lake = &args.lake.path;
    let format = match (args.format, &args.output) {
        (Some(format), _) => format,
        (None, Some(path)) => OutputFormat::from_extension(path)?,
        (None, None) => OutputFormat::Table,
    };
    if let (Some(path), Some(folder)) = (&args.output, lake.folder()) {
        refuse_inside(path, folder)?;
    }
    if args.bom && format != OutputFormat::Csv {
        return Err(Error::Usage(format!(
            "--bom is for csv output, not {}",
            format.name()
        )));
    }
    let source = match (args.query, args.sql) {
        (_, Some(sql)) => QuerySource::Sql(sql),
        (Some(name), None) => QuerySource::Saved(sql::find(args.queries.as_deref(), &name)?),
        (None, None) => {
            return Err(Error::Usage(
                "name a saved query, a .sql file or --sql TEXT (see `motcua query --list`)".into(),
            ));
        }
    };
    let params: Vec<(String, String)> =
        args.params.into_iter().map(|p| (p.name, p.value)).collect();
    super::runtime()?.block_on(async {
        let options = crate::sql::session::SessionOptions {
            #[cfg(feature = "distributed")]
            cluster: args.cluster.cluster,
            ..Default::default()
        };
        let (rows, zone) = sql::stream(lake, &args.published, &source, &params, &options).await?;
        let style = Style {
            bom: args.bom,
            lang: args.lang,
            zone: Some(zone),
        };
        print::write_stream(rows, format, args.output.as_deref(), &style).await
    })
}

/// `--output` may not write into the lake.
fn refuse_inside(output: &Path, lake: &Path) -> Result<()> {
    let lake = lake.canonicalize().unwrap_or_else(|_| lake.to_path_buf());
    let parent = output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let parent = parent
        .canonicalize()
        .unwrap_or_else(|_| parent.to_path_buf());
    if parent.starts_with(&lake) {
        return Err(Error::Usage(format!(
            "--output {} is inside the lake {}; write query results elsewhere",
            output.display(),
            lake.display()
        )));
    }
    Ok(())
}
