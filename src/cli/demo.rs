//! `motcua demo`: sample data → lake → KPIs, the quickest look at motcua.

use std::path::{Path, PathBuf};

use clap::Args;

use super::ZoneArg;
use super::print::{self, OutputFormat};
use super::value::Named;
use crate::error::{Error, Result};
use crate::ingest::{self, IngestOptions};
use crate::kpi_job::{self, KpiJob};
use crate::lake;
use crate::sample::{self, Style};
use crate::spec::grain::Grain;
use crate::sql::session::SessionOptions;
use crate::sql::{self, QueryResult, QuerySource};
use crate::validate::privacy::{self, PiiKey};

/// Sample data → lake → KPIs, in DIR: the quickest look at what motcua does.
#[derive(Args)]
#[command(after_help = "Examples:
  motcua demo
  motcua demo --dir /tmp/motcua-demo --dossiers 100000
  motcua demo --style field      the exports as offices make them: an .xlsx tracking book…")]
pub(super) struct DemoArgs {
    /// The folder the exports, the lake and the published KPIs go to.
    #[arg(long, value_name = "DIR", default_value = "demo")]
    dir: PathBuf,
    /// How many sample dossiers to generate.
    #[arg(long, default_value_t = 20_000)]
    dossiers: u64,
    /// How the sample exports look: `system`, or `field` (an .xlsx tracking
    /// book and a Vietnamese `;` register, as report screens export them).
    #[arg(long, default_value = "system", value_parser = Named::<Style>::new())]
    style: Style,
    #[command(flatten)]
    zone: ZoneArg,
}

/// Generates sample exports, ingests every feed into DIR/lake, computes every
/// KPI into DIR/out as reported and restated on the units of 30 June 2026,
/// and shows two rankings and one ward's series across the change of units.
/// Uses the configured PII key, or a demo key it keeps in DIR (outside the
/// lake).
pub(super) fn run(args: DemoArgs) -> Result<()> {
    crate::interrupt::install()?;
    let dir = &args.dir;
    let exports = dir.join("exports");
    let lake_dir = dir.join("lake");
    let out = dir.join("out");
    println!(
        "1/5 generating {} sample dossiers in {}",
        args.dossiers,
        exports.display()
    );
    let report = sample::generate_styled(&exports, args.dossiers, 1, args.style)?;
    println!(
        "    {} units, {} dossier snapshots, {} portal events, {} signature events",
        report.units, report.dossier_rows, report.portal_events, report.signatures
    );
    let pii_key = match PiiKey::from_env(Some(&lake_dir))? {
        Some(key) => key,
        None => demo_key(dir)?,
    };
    println!("2/5 ingesting into {}", lake_dir.display());
    let lake = crate::Location::Folder(lake_dir.clone());
    let published = crate::Location::Folder(out.clone());
    let options = IngestOptions {
        zone: args.zone.zone,
        pii_key: Some(pii_key),
        ..Default::default()
    };
    for (feed, file) in &report.files {
        let files = [file.clone()];
        ingest::ingest_files(&lake, *feed, &files, &options, &mut print::file_report)?;
    }
    let manifest = lake::read_manifest(&lake)?;
    print!("{}", lake::render_summary(&lake_dir, &manifest));
    println!(
        "3/5 computing every KPI for every unit, month by month, each month on its own units, into {}",
        out.display()
    );
    let runtime = super::runtime()?;
    let job = KpiJob {
        grain: Grain::Month,
        from: super::value::from_date("2024-01-01")?,
        to: super::value::to_date("2026-06-01")?,
        out: published.clone(),
        queries: None,
        session: SessionOptions::default(),
        incremental: false,
        units_as_of: None,
    };
    let report = runtime.block_on(kpi_job::run(&lake, &job))?;
    println!(
        "    {} rows for {} months in {:.1} s",
        report.rows, report.periods, report.seconds
    );
    println!("4/5 the same, every month restated on the units of {AS_OF}");
    let restated = KpiJob {
        units_as_of: Some(super::value::units_as_of(AS_OF)?),
        ..job
    };
    let report = runtime.block_on(kpi_job::run(&lake, &restated))?;
    println!(
        "    {} rows for {} months in {:.1} s",
        report.rows, report.periods, report.seconds
    );
    for (kpi, title) in [
        ("on_time_rate", "on-time rate"),
        ("cashless_rate", "cashless rate"),
    ] {
        let source = QuerySource::Sql(RANKING.to_string());
        let params = [("kpi".to_string(), kpi.to_string())];
        let result = runtime.block_on(sql::run(&lake, &published, &source, &params))?;
        println!("\nCommunes and wards by {title}, June 2026 (top 3 and bottom 3):");
        print::write(
            &ends(result, 3),
            OutputFormat::Table,
            None,
            &Default::default(),
        )?;
    }
    println!(
        "\nPhường Hoàn Kiếm (00070), dossiers received: as reported (until July 2025 the code named Phường Hàng Trống) and restated on the units of {AS_OF} (Hàng Trống's part, Cửa Nam's quarter, Lý Thái Tổ, …):"
    );
    let series = QuerySource::Sql(SERIES.to_string());
    let result = runtime.block_on(sql::run(&lake, &published, &series, &[]))?;
    print::write(&result, OutputFormat::Table, None, &Default::default())?;
    let page = dir.join("report.html");
    println!("\n5/5 the report a director reads: Hà Nội and its wards and communes, June 2026");
    let request = crate::report::Request {
        unit: "01".to_string(),
        grain: Grain::Month,
        period: Grain::Month.parse_period("2026-06")?,
        lang: crate::report::format::Lang::Vi,
        series: crate::publish::dataset::Series::AsReported,
        min_dossiers: 30,
    };
    let page_report = runtime.block_on(crate::report::Report::read(&published, request))?;
    crate::storage::write_atomic(&page, page_report.html()?.as_bytes())?;
    println!("    open {}", page.display());
    println!(
        "\nTry: cargo run -- query ranking --lake {lake} --param kpi=full_online_rate --param period=2026-06-01 --param level=commune --published {out}\n     cargo run -- query restated_series --lake {lake} --param unit=00070 --param kpi=on_time_rate --param units_as_of={AS_OF} --published {out}\n     cargo run -- report --unit 01 --period 2026-06 --lang en --published {out} --output report-en.html",
        lake = lake_dir.display(),
        out = out.display()
    );
    Ok(())
}

/// The day the demo restates every month on.
const AS_OF: &str = "2026-06-30";

/// The communes and wards of one KPI in June 2026, best first.
const RANKING: &str = "SELECT rank, rank_change, unit_name, round(value * 100, 1) AS percent, \
    round(target * 100, 1) AS target, status \
    FROM kpi_values WHERE period_grain = 'month' AND period_start = DATE '2026-06-01' \
    AND unit_level = 'commune' AND kpi = $kpi AND rank IS NOT NULL \
    ORDER BY rank, unit_code";

/// Phường Hoàn Kiếm's dossiers received, the months around the change.
const SERIES: &str = "SELECT r.period_start AS month, a.unit_name AS reported_unit, \
    a.value AS reported, round(r.value, 2) AS restated, r.estimated \
    FROM kpi_values_restated r LEFT JOIN kpi_values a \
      ON a.period_grain = r.period_grain AND a.period_start = r.period_start \
     AND a.unit_code = r.unit_code AND a.kpi = r.kpi \
    WHERE r.units_as_of = DATE '2026-06-30' AND r.period_grain = 'month' \
      AND r.unit_code = '00070' AND r.kpi = 'received' \
      AND r.period_start BETWEEN DATE '2025-03-01' AND DATE '2025-10-01' \
    ORDER BY r.period_start";

/// The first and last `n` rows of a result (all of them when that is fewer).
fn ends(result: QueryResult, n: usize) -> QueryResult {
    let all: Vec<_> = result
        .batches
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |i| b.slice(i, 1)))
        .collect();
    let batches = if all.len() > 2 * n {
        all[..n]
            .iter()
            .chain(&all[all.len() - n..])
            .cloned()
            .collect()
    } else {
        all
    };
    QueryResult {
        schema: result.schema,
        batches,
    }
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
        std::fs::write(&path, hex::encode(seed)).map_err(|e| Error::io(&path, e))?;
        println!(
            "    no {} set: using a demo key kept in {}",
            privacy::KEY_ENV,
            path.display()
        );
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    PiiKey::new(bytes.trim_ascii(), path.display().to_string())
}
