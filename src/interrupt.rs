//! SIGINT and SIGTERM: long work stops at its next safe point — an ingest
//! between rows, the KPI job between batches — drops what it staged, says
//! what was committed and what was not, and exits 130. A second signal ends
//! the process at once (the next writer cleans what it left).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, Result};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler; the CLI calls it once at start.
pub fn install() -> Result<()> {
    ctrlc::set_handler(|| {
        if REQUESTED.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("motcua: stopping at the next safe point (press Ctrl-C again to quit at once)");
    })
    .map_err(|e| Error::Usage(format!("cannot install the signal handler: {e}")))
}

/// Whether a stop was asked for.
pub(crate) fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// Resolves once a stop is asked for: long async work (a DataFusion plan,
/// which may compute for minutes before its first batch) races against it,
/// and dropping the work cancels it.
pub async fn stopped() {
    while !requested() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
