//! The `berth` command line: parses arguments, installs logging, runs one command, and turns
//! its outcome into an exit code.

mod cli;
mod commands;
mod engine;
mod output;
mod progress;
mod project;

use std::process::ExitCode;

use clap::Parser;

// Loading a Compose project allocates many small tree nodes; mimalloc makes that (and freeing
// them) markedly cheaper than glibc's allocator (see ARCHITECTURE.md, Dependencies).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(cli.global.log_level.as_deref());
    match commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(output::exit_code(&err))
        }
    }
}

/// Library crates only emit `tracing` events; the binary decides where they go. `BERTH_LOG`
/// (or `--log-level`) takes an env-filter directive; the default shows warnings and errors.
fn init_logging(level: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new("warn")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .with_target(false)
        .init();
}
