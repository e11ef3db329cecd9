//! `motcua units`: the registry of a day, or one unit's history.

use chrono::NaiveDate;
use clap::Args;

use super::LakeDir;
use super::print;
use crate::error::{Error, Result};

/// Show the units registry as it stood on a day, or a unit's versions and
/// the changes that made and ended them (SPEC §2.1).
#[derive(Args)]
#[command(after_help = "Examples:
  motcua units --at 2025-06-30
  motcua units --history 00070")]
pub(super) struct UnitsArgs {
    /// The day whose tree of units to show (YYYY-MM-DD); by default today,
    /// in the lake's zone.
    #[arg(long, value_name = "DATE", value_parser = super::value::parsed::<Day>)]
    at: Option<Day>,
    /// The unit code whose versions and changes to show.
    #[arg(long, value_name = "CODE", conflicts_with = "at")]
    history: Option<String>,
    #[command(flatten)]
    lake: LakeDir,
}

/// `--at YYYY-MM-DD`.
#[derive(Debug, Clone, Copy)]
struct Day(NaiveDate);

impl std::str::FromStr for Day {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map(Day)
            .map_err(|_| Error::Usage(format!("--at {text}: write a date as YYYY-MM-DD")))
    }
}

pub(super) fn run(args: UnitsArgs) -> Result<()> {
    let root = &args.lake.path;
    let (versions, changes) = super::runtime()?.block_on(crate::sql::registry::read(root))?;
    if versions.is_empty() {
        return Err(Error::lake(
            root.root_shown(),
            "holds no units registry; ingest one first (`motcua ingest units units.csv`)",
        ));
    }
    if let Some(code) = &args.history {
        if !versions.iter().any(|v| &v.code == code) {
            return Err(Error::Usage(format!(
                "--history {code}: no unit of the registry has that code"
            )));
        }
        print!("{}", print::unit_history(code, &versions, &changes));
        return Ok(());
    }
    let day = match args.at {
        Some(Day(day)) => day,
        None => {
            let zone = crate::lake::read_manifest(root)?.zone()?;
            let now = chrono::Utc::now().timestamp_micros();
            zone.to_local(now).date()
        }
    };
    print!("{}", print::unit_tree(day, &versions));
    Ok(())
}
