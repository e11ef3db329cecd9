//! `motcua sample`.

use std::path::PathBuf;

use clap::Args;

use super::value::Named;
use crate::error::Result;
use crate::sample::{self, Style};

/// Generate realistic sample exports of all five feeds.
#[derive(Args)]
#[command(after_help = "Examples:
  motcua sample --out exports
  motcua sample --out big --dossiers 1000000 --seed 7
  motcua sample --out field --style field")]
pub(super) struct SampleArgs {
    /// The folder the five export files are written to.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// How many dossiers (each exported as one or more snapshots).
    #[arg(long, default_value_t = 10_000)]
    dossiers: u64,
    /// The generator's seed: the same seed and size give the same bytes.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How the files look: `system` (each feed's own headers, values in
    /// mixed forms), `canonical` (the same files, every value in its
    /// canonical form: ISO times with offsets, codes), `field` (dossiers as an .xlsx tracking book with titles,
    /// a two-row header and a footer; units as a Vietnamese `;` register) or
    /// `field-csv` (that tracking book as a vi-VN `;` CSV). The same
    /// activity in every style.
    #[arg(long, default_value = "system", value_parser = Named::<Style>::new())]
    style: Style,
}

pub(super) fn run(args: SampleArgs) -> Result<()> {
    let spinner = super::progress::Spinner::start(&format!(
        "writing {} dossiers to {}",
        args.dossiers,
        args.out.display()
    ));
    let report = sample::generate_styled(&args.out, args.dossiers, args.seed, args.style);
    drop(spinner);
    let report = report?;
    println!(
        "wrote {} units, {} targets, {} dossiers ({} snapshot rows), {} portal events, {} signature events to {}",
        report.units,
        report.targets,
        report.dossiers,
        report.dossier_rows,
        report.portal_events,
        report.signatures,
        args.out.display()
    );
    Ok(())
}
