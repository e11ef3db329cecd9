//! The `motcua` command: parses arguments, calls the library, prints one
//! sentence per failure and exits with the code the README documents.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use motcua::error::{Error, Result};
use motcua::ingest::{self, FileReport, IngestOptions, RejectLimit};
use motcua::kpi_job::{self, KpiJob};
use motcua::publish::print::{self, OutputFormat};
use motcua::read::Format;
use motcua::spec::feeds::Feed;
use motcua::sql::session::SessionOptions;
use motcua::sql::{self, QuerySource};
use motcua::validate::privacy::{self, PiiKey};
use motcua::validate::time::Zone;
use motcua::{lake, sample};

#[derive(Parser)]
#[command(
    name = "motcua",
    version,
    about = "KPIs of one-stop shops and the online public-service portal, from their log exports"
)]
struct Cli {
    /// The lake directory.
    #[arg(long, global = true, default_value = "lake", env = "MOTCUA_LAKE")]
    lake: PathBuf,
    /// IANA zone that local times and calendar periods are read in.
    #[arg(long, global = true, default_value = motcua::validate::time::DEFAULT_ZONE, env = "MOTCUA_TZ")]
    tz: String,
    /// More log output (-v info, -vv debug); -q for errors only.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate log exports and add them to the lake.
    Ingest {
        /// dossiers, portal_events, signatures, units or targets.
        feed: String,
        /// CSV or NDJSON files, ingested in this order.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// csv or ndjson; by default chosen from each file's extension.
        #[arg(long)]
        format: Option<String>,
        /// Fail, committing nothing, if any row is rejected.
        #[arg(long)]
        strict: bool,
        /// Fail at once if another process is writing to the lake, instead of waiting.
        #[arg(long)]
        no_wait: bool,
        /// Validate and count (accepted, quarantined, duplicates against the
        /// lake) without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// Fail a file whose share of rejected rows is larger, e.g. 5% or
        /// 0.05, committing nothing of it (exit 7).
        #[arg(long, value_name = "RATE")]
        max_rejected: Option<RejectLimit>,
    },
    /// Show what the lake holds.
    Lake {
        /// Record the configured PII key as the key this lake's applicant
        /// keys were made with (a lake from before motcua recorded it).
        #[arg(long)]
        record_pii_key: bool,
    },
    /// Run a saved query (by name or .sql file) or ad-hoc SQL, read-only.
    Query {
        /// A saved query's name (see --list) or a .sql file.
        query: Option<String>,
        /// Ad-hoc SQL instead of a saved query.
        #[arg(long, conflicts_with = "query")]
        sql: Option<String>,
        /// A parameter value, as name=value; repeatable.
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        /// table, csv, json or parquet; by default from the --output file's
        /// extension, else a table.
        #[arg(long)]
        format: Option<String>,
        /// Write the result here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
        /// List the saved queries with their descriptions and parameters.
        #[arg(long)]
        list: bool,
        /// A folder of your own saved queries: they add to the shipped ones
        /// and replace one of the same name.
        #[arg(long, env = "MOTCUA_QUERIES")]
        queries: Option<PathBuf>,
        /// Also register OUT/kpi_values as table kpi_values.
        #[arg(long, default_value = "out")]
        out: PathBuf,
    },
    /// Compute every KPI for every unit and period; publish OUT/kpi_values.
    Kpi {
        /// day, week, month, quarter or year.
        #[arg(long, default_value = "month")]
        grain: String,
        /// First period start to compute (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Last period start to compute (YYYY-MM-DD).
        #[arg(long)]
        to: String,
        /// Where kpi_values is published.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// A folder of your own saved queries; its kpi_values.sql and
        /// kpi_touched.sql, if any, replace the shipped ones.
        #[arg(long, env = "MOTCUA_QUERIES")]
        queries: Option<PathBuf>,
        /// Memory the engine may use before spilling, e.g. 2GiB, 512MiB or 2GB.
        #[arg(long)]
        memory_limit: Option<String>,
        /// Recompute only the periods that ingests since the published run
        /// can have changed, and those it does not hold yet; keep the rest.
        #[arg(long)]
        incremental: bool,
    },
    /// Print the feeds' columns, types, aliases and rules (Markdown).
    Feeds,
    /// Print the KPI catalog (Markdown).
    Kpis,
    /// Generate realistic sample exports of all five feeds.
    Sample {
        #[arg(long)]
        out: PathBuf,
        /// How many dossiers (each exported as one or more snapshots).
        #[arg(long, default_value_t = 10_000)]
        dossiers: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Sample data → lake, in DIR: the quickest look at what motcua does.
    Demo {
        #[arg(long, default_value = "demo")]
        dir: PathBuf,
        #[arg(long, default_value_t = 20_000)]
        dossiers: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MOTCUA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("motcua={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
}

fn run(cli: Cli) -> Result<()> {
    let zone: Zone = cli.tz.parse()?;
    match cli.command {
        Command::Ingest {
            feed,
            paths,
            format,
            strict,
            no_wait,
            dry_run,
            max_rejected,
        } => {
            let feed: Feed = feed.parse()?;
            let format = format.map(|f| f.parse::<Format>()).transpose()?;
            motcua::interrupt::install()?;
            let options = IngestOptions {
                zone,
                pii_key: PiiKey::from_env(&cli.lake)?,
                strict,
                format,
                no_wait,
                max_rejected,
                run_records: None,
            };
            if dry_run {
                ingest::dry_run(&cli.lake, feed, &paths, &options, &mut print_report)?;
            } else {
                ingest::ingest_files(&cli.lake, feed, &paths, &options, &mut print_report)?;
            }
            Ok(())
        }
        Command::Lake { record_pii_key } => {
            if record_pii_key {
                return record_key(&cli.lake, zone);
            }
            let manifest = lake::read_manifest(&cli.lake)?;
            print!("{}", lake::render_summary(&cli.lake, &manifest));
            if manifest.data_files(Feed::Units).is_empty() {
                println!("unit codes: not checked, the lake has no units registry yet");
            } else {
                // The counts are a summary: a failure to get them is said, not fatal.
                match runtime()?.block_on(sql::unknown_units(&cli.lake)) {
                    Ok(unknown) => println!("{}", print::unknown_units(&unknown)),
                    Err(e) => println!("unit codes: could not be counted ({e})"),
                }
            }
            Ok(())
        }
        Command::Query {
            query,
            sql,
            params,
            format,
            output,
            list,
            queries,
            out,
        } => {
            if list {
                print!("{}", print::query_list(&sql::list(queries.as_deref())?));
                return Ok(());
            }
            let format: OutputFormat = match (format, &output) {
                (Some(format), _) => format.parse()?,
                (None, Some(path)) => OutputFormat::from_extension(path)?,
                (None, None) => OutputFormat::Table,
            };
            if let Some(path) = &output {
                refuse_inside(path, &cli.lake)?;
            }
            let source = match (query, sql) {
                (_, Some(sql)) => QuerySource::Sql(sql),
                (Some(name), None) => QuerySource::Saved(sql::find(queries.as_deref(), &name)?),
                (None, None) => {
                    return Err(Error::Usage(
                        "name a saved query, a .sql file or --sql TEXT (see `motcua query --list`)"
                            .into(),
                    ));
                }
            };
            let params = parse_params(&params)?;
            runtime()?.block_on(async {
                let rows = sql::stream(&cli.lake, &out, &source, &params).await?;
                print::write_stream(rows, format, output.as_deref()).await
            })
        }
        Command::Kpi {
            grain,
            from,
            to,
            out,
            queries,
            memory_limit,
            incremental,
        } => {
            motcua::interrupt::install()?;
            let job = KpiJob {
                grain,
                from: parse_date("--from", &from)?,
                to: parse_date("--to", &to)?,
                out,
                queries,
                session: SessionOptions {
                    memory_limit: memory_limit.map(|m| parse_bytes(&m)).transpose()?,
                    ..Default::default()
                },
                incremental,
            };
            let report = runtime()?.block_on(kpi_job::run(&cli.lake, &job))?;
            let dataset = job.out.join(motcua::publish::dataset::DATASET);
            // Only an incremental run can find nothing to compute.
            if report.periods == 0 {
                println!(
                    "kpi_values: every {} slice from {} to {} is up to date with the lake → {}",
                    job.grain,
                    job.from,
                    job.to,
                    dataset.display()
                );
            } else {
                println!(
                    "kpi_values: {} {} period(s) from {} to {}, {} rows → {} ({:.1} s)",
                    report.periods,
                    job.grain,
                    report.from,
                    job.to,
                    report.rows,
                    dataset.display(),
                    report.seconds
                );
            }
            Ok(())
        }
        Command::Feeds => {
            print!("{}", motcua::spec::feeds::render_markdown());
            Ok(())
        }
        Command::Kpis => {
            print!("{}", motcua::spec::kpis::render_markdown());
            Ok(())
        }
        Command::Sample {
            out,
            dossiers,
            seed,
        } => {
            let report = sample::generate(&out, dossiers, seed)?;
            println!(
                "wrote {} units, {} targets, {} dossiers ({} snapshot rows), {} portal events, {} signature events to {}",
                report.units,
                report.targets,
                report.dossiers,
                report.dossier_rows,
                report.portal_events,
                report.signatures,
                out.display()
            );
            Ok(())
        }
        Command::Demo { dir, dossiers } => {
            motcua::interrupt::install()?;
            demo(&dir, dossiers, zone)
        }
    }
}

/// `motcua lake --record-pii-key`.
fn record_key(root: &Path, zone: Zone) -> Result<()> {
    let Some(key) = PiiKey::from_env(root)? else {
        return Err(Error::PiiKey(format!(
            "--record-pii-key records the configured key; set {} or {} first",
            privacy::KEY_ENV,
            privacy::KEY_FILE_ENV
        )));
    };
    // Only an existing lake: opening for write would create one.
    lake::read_manifest(root)?;
    let mut lake = lake::Lake::open_for_write(root, &zone, true)?;
    if lake.record_pii_key(&key)? {
        println!(
            "recorded the PII key from {} as the key of lake {}",
            key.source,
            root.display()
        );
    } else {
        println!(
            "lake {} already records the PII key from {}",
            root.display(),
            key.source
        );
    }
    Ok(())
}

/// `name=value` pairs from repeated `--param`.
fn parse_params(params: &[String]) -> Result<Vec<(String, String)>> {
    params
        .iter()
        .map(|p| {
            p.split_once('=')
                .map(|(n, v)| (n.trim().trim_start_matches('$').to_string(), v.to_string()))
                .ok_or_else(|| Error::Usage(format!("--param {p}: write it as name=value")))
        })
        .collect()
}

fn parse_date(flag: &str, text: &str) -> Result<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| Error::Usage(format!("{flag} {text}: write a date as YYYY-MM-DD")))
}

/// `2GiB`, `512MiB`, `1.5GB` (decimal: 10^9), or plain bytes; more than 0.
fn parse_bytes(text: &str) -> Result<usize> {
    let bad = || {
        Error::Usage(format!(
            "--memory-limit {text}: use a positive size such as 2GiB, 512MiB or 2GB"
        ))
    };
    let t = text.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let factor: f64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let value: f64 = number.trim().parse().map_err(|_| bad())?;
    let bytes = value * factor;
    if !bytes.is_finite() || bytes < 1.0 || bytes > usize::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as usize)
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

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("tokio runtime", e))
}

fn print_report(report: &FileReport) {
    println!("{}", report.summary_line());
    for r in &report.rejections {
        let column = r.column.as_deref().unwrap_or("row");
        eprintln!("  line {}: {column}: {}", r.line, r.reason);
    }
    if report.quarantined > report.rejections.len() as u64 {
        eprintln!(
            "  … {} more in quarantine",
            report.quarantined - report.rejections.len() as u64
        );
    }
    if report.rejected_share() > ingest::WARN_REJECTED_SHARE && !report.refused {
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
            if report.unknown_unit_codes.len() < ingest::SHOWN_UNKNOWN_UNITS {
                ""
            } else {
                ", …"
            }
        );
    }
    let activity = report
        .feed
        .is_some_and(|f| f != Feed::Units && f.def().column_index("unit_code").is_some());
    if activity && !report.units_checked && report.accepted > 0 {
        eprintln!(
            "  note: the lake has no units registry yet, so unit codes were not checked; ingest units first"
        );
    }
}

/// Generates sample exports, ingests all five feeds into DIR/lake and prints
/// what the lake holds. Uses the configured PII key, or a demo key it keeps in
/// DIR (outside the lake).
fn demo(dir: &Path, dossiers: u64, zone: Zone) -> Result<()> {
    let exports = dir.join("exports");
    let lake_dir = dir.join("lake");
    println!(
        "1/3 generating {dossiers} sample dossiers in {}",
        exports.display()
    );
    let report = sample::generate(&exports, dossiers, 1)?;
    println!(
        "    {} units, {} dossier snapshots, {} portal events, {} signature events",
        report.units, report.dossier_rows, report.portal_events, report.signatures
    );
    let pii_key = match PiiKey::from_env(&lake_dir)? {
        Some(key) => key,
        None => demo_key(dir)?,
    };
    println!("2/3 ingesting into {}", lake_dir.display());
    let options = IngestOptions {
        zone,
        pii_key: Some(pii_key),
        strict: false,
        format: None,
        no_wait: false,
        max_rejected: None,
        run_records: None,
    };
    for (feed, file) in sample::FILES {
        ingest::ingest_files(
            &lake_dir,
            feed,
            &[exports.join(file)],
            &options,
            &mut print_report,
        )?;
    }
    let manifest = lake::read_manifest(&lake_dir)?;
    print!("{}", lake::render_summary(&lake_dir, &manifest));

    let out = dir.join("out");
    println!(
        "3/3 computing every KPI for every unit, month by month, into {}",
        out.display()
    );
    let job = KpiJob {
        grain: "month".into(),
        from: parse_date("--from", "2024-01-01")?,
        to: parse_date("--to", "2025-01-01")?,
        out: out.clone(),
        queries: None,
        session: SessionOptions::default(),
        incremental: false,
    };
    let runtime = runtime()?;
    let report = runtime.block_on(kpi_job::run(&lake_dir, &job))?;
    println!(
        "    {} rows for {} months in {:.1} s",
        report.rows, report.periods, report.seconds
    );
    for (kpi, title) in [
        ("on_time_rate", "on-time rate"),
        ("cashless_rate", "cashless rate"),
    ] {
        let sql = "SELECT rank, rank_change, unit_name, round(value * 100, 1) AS percent, \
                   round(target * 100, 1) AS target, status \
                   FROM kpi_values WHERE period_grain = 'month' AND period_start = DATE '2025-01-01' \
                   AND unit_level = 'district' AND kpi = $kpi AND rank IS NOT NULL \
                   ORDER BY rank, unit_code";
        let source = QuerySource::Sql(sql.to_string());
        let params = [("kpi".to_string(), kpi.to_string())];
        let result = runtime.block_on(sql::run(&lake_dir, &out, &source, &params))?;
        let all: Vec<_> = result
            .batches
            .iter()
            .flat_map(|b| (0..b.num_rows()).map(move |i| b.slice(i, 1)))
            .collect();
        let shown: Vec<_> = if all.len() > 6 {
            all[..3]
                .iter()
                .chain(&all[all.len() - 3..])
                .cloned()
                .collect()
        } else {
            all
        };
        println!("\nDistricts by {title}, January 2025 (top 3 and bottom 3):");
        let shown = sql::QueryResult {
            schema: result.schema.clone(),
            batches: shown,
        };
        print::write(&shown, OutputFormat::Table, None)?;
    }
    println!(
        "\nTry: cargo run -- --lake {} query ranking --param kpi=full_online_rate --param period=2025-01-01 --out {}",
        lake_dir.display(),
        out.display()
    );
    Ok(())
}

/// A random key kept in the demo directory, so the demo runs without setup.
fn demo_key(dir: &Path) -> Result<PiiKey> {
    let path = dir.join("demo-pii.key");
    if !path.exists() {
        let mut seed = [0u8; 32];
        let mut urandom =
            std::fs::File::open("/dev/urandom").map_err(|e| Error::io("/dev/urandom", e))?;
        std::io::Read::read_exact(&mut urandom, &mut seed)
            .map_err(|e| Error::io("/dev/urandom", e))?;
        std::fs::write(&path, hex_encode(&seed)).map_err(|e| Error::io(&path, e))?;
        println!(
            "    no {} set: using a demo key kept in {}",
            privacy::KEY_ENV,
            path.display()
        );
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    PiiKey::new(bytes.trim_ascii(), path.display().to_string())
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn memory_limit_sizes_are_read_as_written_and_must_be_positive() {
        assert_eq!(parse_bytes("2GB").unwrap(), 2_000_000_000);
        assert_eq!(parse_bytes("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1.5 mb").unwrap(), 1_500_000);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        for bad in ["-1GiB", "0", "0.1", "2 parsecs", "", "NaNGB"] {
            let err = parse_bytes(bad).unwrap_err().to_string();
            assert!(err.contains("use a positive size"), "{bad}: {err}");
        }
    }
}
