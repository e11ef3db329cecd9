//! Progress bars on standard error (indicatif) for long work: ingest, the
//! KPI job, `sample`. Drawn only when standard error is a terminal and
//! without `-q`: a log file or a pipe gets the summary lines alone.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::ingest::Progress;
use crate::kpi_job::Watch;

static QUIET: AtomicBool = AtomicBool::new(false);

/// The bar being drawn, if any: log lines go above it.
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn show(bar: &ProgressBar) {
    if let Ok(mut active) = ACTIVE.lock() {
        *active = Some(bar.clone());
    }
}

fn hide(bar: &ProgressBar) {
    bar.finish_and_clear();
    if let Ok(mut active) = ACTIVE.lock() {
        *active = None;
    }
}

/// Standard error for log lines (`tracing`): written above the bar being
/// drawn, so that a warning and a bar never share a line.
pub struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let active = ACTIVE.lock().ok().and_then(|bar| bar.clone());
        match active {
            Some(bar) => bar.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// `-q`: no bars.
pub(super) fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Whether bars are drawn: standard error is a terminal and no `-q`.
pub(super) fn drawn() -> bool {
    !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// The bar of one `ingest` command: bytes read of all its files, rows per
/// second, time left, and the file being read.
pub(super) struct IngestBar {
    bar: ProgressBar,
    files: Vec<PathBuf>,
    done: usize,
    stop: Arc<AtomicBool>,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl IngestBar {
    /// A bar over `files`, fed by `counters`; None when not drawn.
    pub(super) fn start(files: &[PathBuf], counters: &Arc<Progress>) -> Option<IngestBar> {
        if !drawn() {
            return None;
        }
        let total: u64 = files
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok())
            .map(|m| m.len())
            .sum();
        let bar = ProgressBar::new(total).with_style(style(
            "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} · {prefix} · {eta} left",
        ));
        show(&bar);
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (bar, counters, stop) = (bar.clone(), counters.clone(), stop.clone());
            std::thread::spawn(move || {
                let started = std::time::Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    bar.set_position(counters.bytes.load(Ordering::Relaxed));
                    let rows = counters.rows.load(Ordering::Relaxed);
                    let per_second = rows as f64 / started.elapsed().as_secs_f64().max(0.001);
                    bar.set_prefix(format!("{rows} rows, {per_second:.0} rows/s"));
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        let this = IngestBar {
            bar,
            files: files.to_vec(),
            done: 0,
            stop,
            ticker: Some(ticker),
        };
        this.name_file();
        Some(this)
    }

    fn name_file(&self) {
        if self.done >= self.files.len() {
            self.bar.set_message("committing");
            return;
        }
        let name = self
            .files
            .get(self.done)
            .and_then(|f| f.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.bar
            .set_message(format!("{name} ({}/{})", self.done + 1, self.files.len()));
    }

    /// Prints a file's report above the bar and moves on to the next file.
    pub(super) fn file_done(&mut self, print: impl FnOnce()) {
        self.bar.suspend(print);
        self.done += 1;
        self.name_file();
    }
}

impl Drop for IngestBar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(ticker) = self.ticker.take() {
            let _ = ticker.join();
        }
        hide(&self.bar);
    }
}

/// The KPI job's stages and the periods it has written.
pub(super) struct JobBar(Option<ProgressBar>);

impl JobBar {
    pub(super) fn start() -> JobBar {
        JobBar(drawn().then(|| {
            let bar = ProgressBar::new(0).with_style(style(
                "{spinner} {elapsed:>4} {msg} [{bar:30}] {pos}/{len} period(s)",
            ));
            bar.enable_steady_tick(Duration::from_millis(120));
            show(&bar);
            bar
        }))
    }
}

impl Watch for JobBar {
    fn stage(&self, what: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(what.to_string());
        }
    }

    fn periods(&self, total: usize) {
        if let Some(bar) = &self.0 {
            bar.set_length(total as u64);
        }
    }

    fn period_written(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }
}

impl Drop for JobBar {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            hide(bar);
        }
    }
}

/// A spinner with the time spent, for work with no measure of its own
/// (`sample`); cleared when dropped.
pub(super) struct Spinner(Option<ProgressBar>);

impl Spinner {
    pub(super) fn start(what: &str) -> Spinner {
        Spinner(drawn().then(|| {
            let bar = ProgressBar::new_spinner().with_style(style("{spinner} {elapsed:>4} {msg}"));
            bar.set_message(what.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            show(&bar);
            bar
        }))
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            hide(bar);
        }
    }
}
