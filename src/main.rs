//! The `motcua` command: parses the arguments, runs the command (see
//! `motcua::cli`), prints one sentence per failure and exits with the code
//! the README documents.

use std::process::ExitCode;

use clap::Parser;
use motcua::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => match cli::refused(&e) {
            // A flag value motcua refused: its own sentence and exit code.
            Some(error) => return fail(error),
            None => e.exit(),
        },
    };
    init_logging(cli.verbose, cli.quiet);
    match cli::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &motcua::Error) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(error.exit_code() as u8)
}

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, _) => "debug",
    };
    // Ballista's own messages (through `log`) say why a cluster's process
    // or job failed.
    #[cfg(feature = "distributed")]
    let directives = format!(
        "motcua={level},ballista_core={level},ballista_scheduler={level},ballista_executor={level}"
    );
    #[cfg(not(feature = "distributed"))]
    let directives = format!("motcua={level}");
    let filter = tracing_subscriber::EnvFilter::try_from_env("MOTCUA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(directives));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Above a progress bar, when one is drawn.
        .with_writer(|| cli::LogWriter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .init();
}
