//! `motcua lake`.

use clap::Args;

use super::print;
use super::{LakeDir, ZoneArg};
use crate::error::{Error, Result};
use crate::lake::{self, Lake};
use crate::spec::feeds::Feed;
use crate::validate::privacy::{self, PiiKey};
use crate::validate::time::Zone;

/// Show what the lake holds: each feed's ingests, rows and files, and the
/// activity rows whose unit codes the registry does not hold.
#[derive(Args)]
#[command(after_help = "Examples:
  motcua lake --lake /data/motcua/lake
  MOTCUA_PII_KEY_FILE=/etc/motcua/pii.key motcua lake --record-pii-key")]
pub(super) struct LakeArgs {
    /// Record the configured PII key as the key this lake's applicant
    /// keys were made with (a lake from before motcua recorded it).
    #[arg(long)]
    record_pii_key: bool,
    #[command(flatten)]
    lake: LakeDir,
    #[command(flatten)]
    zone: ZoneArg,
}

pub(super) fn run(args: LakeArgs) -> Result<()> {
    let root = &args.lake.path;
    if args.record_pii_key {
        return record_key(root, args.zone.zone);
    }
    let manifest = lake::read_manifest(root)?;
    print!("{}", lake::render_summary(&root.root_shown(), &manifest));
    if manifest.data_files(Feed::Units).is_empty() {
        println!("unit codes: not checked, the lake has no units registry yet");
    } else {
        // The counts are a summary: a failure to get them is said, not fatal.
        match super::runtime()?.block_on(crate::sql::unknown_units(root)) {
            Ok(unknown) => println!("{}", print::unknown_units(&unknown)),
            Err(e) => println!("unit codes: could not be counted ({e})"),
        }
    }
    Ok(())
}

/// `motcua lake --record-pii-key`.
fn record_key(root: &crate::Location, zone: Zone) -> Result<()> {
    let Some(key) = PiiKey::from_env(root.folder())? else {
        return Err(Error::PiiKey(format!(
            "--record-pii-key records the configured key; set {} or {} first",
            privacy::KEY_ENV,
            privacy::KEY_FILE_ENV
        )));
    };
    // Only an existing lake: opening for write would create one.
    lake::read_manifest(root)?;
    let mut lake = Lake::open_for_write(root, &zone, true)?;
    if lake.record_pii_key(&key)? {
        println!(
            "recorded the PII key from {} as the key of lake {}",
            key.source,
            root.root_shown().display()
        );
    } else {
        println!(
            "lake {} already records the PII key from {}",
            root.root_shown().display(),
            key.source
        );
    }
    Ok(())
}
