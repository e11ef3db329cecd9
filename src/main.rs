//! The `motcua` command: parses arguments, calls the library, prints one
//! sentence per failure and exits with the code the README documents.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use motcua::error::{Error, Result};
use motcua::feeds::Feed;
use motcua::ingest::{self, FileReport, IngestOptions};
use motcua::privacy::{self, PiiKey};
use motcua::reader::Format;
use motcua::time::Zone;
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
    #[arg(long, global = true, default_value = motcua::time::DEFAULT_ZONE, env = "MOTCUA_TZ")]
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
    },
    /// Show what the lake holds.
    Lake,
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
        } => {
            let feed: Feed = feed.parse()?;
            let format = format.map(|f| f.parse::<Format>()).transpose()?;
            let options = IngestOptions {
                zone,
                pii_key: PiiKey::from_env(&cli.lake)?,
                strict,
                format,
            };
            ingest::ingest_files(&cli.lake, feed, &paths, &options, &mut print_report)?;
            Ok(())
        }
        Command::Lake => {
            let manifest = lake::read_manifest(&cli.lake)?;
            print!("{}", lake::render_summary(&cli.lake, &manifest));
            Ok(())
        }
        Command::Feeds => {
            print!("{}", motcua::feeds::render_markdown());
            Ok(())
        }
        Command::Kpis => {
            print!("{}", motcua::kpi::render_markdown());
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
        Command::Demo { dir, dossiers } => demo(&dir, dossiers, zone),
    }
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
    };
    let feeds = [
        (Feed::Units, "units.csv"),
        (Feed::Targets, "targets.csv"),
        (Feed::Dossiers, "dossiers.csv"),
        (Feed::PortalEvents, "portal_events.ndjson"),
        (Feed::Signatures, "signatures.csv"),
    ];
    for (feed, file) in feeds {
        ingest::ingest_files(
            &lake_dir,
            feed,
            &[exports.join(file)],
            &options,
            &mut print_report,
        )?;
    }
    println!("3/3 the lake now holds:");
    let manifest = lake::read_manifest(&lake_dir)?;
    print!("{}", lake::render_summary(&lake_dir, &manifest));
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
