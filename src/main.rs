//! The `berth` command line: parses arguments, installs logging, runs one command, and turns
//! its outcome into an exit code.

mod api;
mod cli;
mod commands;
mod engine;
mod format;
mod output;
mod progress;
mod project;
mod report;

use std::process::ExitCode;

use clap::Parser;

// Loading a Compose project allocates many small tree nodes; mimalloc makes that (and freeing
// them) markedly cheaper than glibc's allocator (see ARCHITECTURE.md, Dependencies).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let (result, run_like) = match shim_args(std::env::args_os().skip(1).collect()) {
        Some((id, attach)) => {
            berth_engine::process::close_inherited();
            init_logging(None, true);
            (commands::shim(&id, attach.as_deref()), false)
        }
        None => command(cli::Cli::parse()),
    };
    report::finish();
    match result {
        Ok(code) => code,
        Err(err) => {
            output::print_error(&err);
            ExitCode::from(if run_like { output::EXIT_BERTH } else { output::exit_code(&err) })
        }
    }
}

/// Runs the command the line asks for; tells whether it is `run`-like, whose own failures exit
/// 125 as Docker's do (the command's own status is theirs otherwise), other commands 1.
fn command(cli: cli::Cli) -> (anyhow::Result<ExitCode>, bool) {
    if matches!(cli.command, cli::Command::Dns) {
        berth_engine::process::close_inherited();
    } else {
        sigpipe(nix::sys::signal::SigHandler::SigDfl);
    }
    init_logging(cli.global.log_level.as_deref(), false);
    let run_like = matches!(cli.command, cli::Command::Run(_) | cli::Command::Create(_));
    report::set(cli.global.progress);
    // The API service is a client of the commands, never the reverse.
    let result = match cli.command {
        cli::Command::System(cli::SystemCommand::Service { socket, timeout, tcp }) => {
            lean_allocator();
            // Clients that go away must not end the service: writes to them fail instead.
            sigpipe(nix::sys::signal::SigHandler::SigIgn);
            api::serve(&socket, tcp, std::time::Duration::from_secs(timeout))
        }
        _ => commands::run(cli),
    };
    (result, run_like)
}

/// The arguments of `berth shim ID [--attach STREAMS]`, the per-container supervisor, which
/// only berth starts (`container::launch`), always in that shape. They are read without the
/// command line's parser: building that parser for every subcommand cost each shim about a
/// millisecond, a tenth of its own work in starting a container.
fn shim_args(args: Vec<std::ffi::OsString>) -> Option<(String, Option<String>)> {
    let args: Vec<&str> = args.iter().map(|a| a.to_str()).collect::<Option<_>>()?;
    match args.as_slice() {
        ["shim", id] => Some((id.to_string(), None)),
        ["shim", id, "--attach", streams] => Some((id.to_string(), Some(streams.to_string()))),
        _ => None,
    }
}

/// The API service lives long and mostly waits: it runs with the allocator settings of the
/// shims, which mimalloc reads at start, by executing itself again once with them.
fn lean_allocator() {
    use std::os::unix::process::CommandExt;
    let (name, _) = berth_engine::process::LEAN_ALLOCATOR[0];
    if std::env::var_os(name).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .envs(berth_engine::process::LEAN_ALLOCATOR)
        .exec();
    tracing::warn!("cannot start again with the lean allocator settings: {err}");
}

/// Sets what SIGPIPE does. A command whose output is cut short (`berth ps | head -1`) ends
/// quietly as other Unix tools do, rather than failing on every later write (Rust ignores the
/// signal by default); the long-lived helpers, and the relays that write to a container's
/// socket (which handle the error), keep ignoring it.
pub(crate) fn sigpipe(handler: nix::sys::signal::SigHandler) {
    // SAFETY: changing a signal's disposition to the default or to ignore installs no handler
    // code and touches no memory.
    unsafe {
        let _ = nix::sys::signal::signal(nix::sys::signal::Signal::SIGPIPE, handler);
    }
}

/// Library crates only emit `tracing` events; the binary decides where they go. `BERTH_LOG`
/// (or `--log-level`) takes an env-filter directive; the default shows warnings and errors.
///
/// The shim logs to its own copy of the standard error it was started with (its log file):
/// the container's init is forked from the shim and later points file descriptor 2 at the
/// container's output, and the runtime's messages from there must not land in the container's
/// log.
fn init_logging(level: Option<&str>, shim: bool) {
    use std::os::fd::AsFd;
    use tracing_subscriber::EnvFilter;
    // libcontainer warns on every call about what this host lacks (hugetlb, net_cls...);
    // berth reports missing features itself, once.
    let default =
        if shim { "info,libcontainer=error,libcgroups=error" } else { "warn,libcontainer=error,libcgroups=error" };
    let filter = match level {
        Some(l) => EnvFilter::new(l),
        None => EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new(default)),
    };
    // A log that cannot be written (a full disk) must not end the process: tracing's fallback
    // reports the failure with eprintln!, which panics when standard error fails too.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).log_internal_errors(false);
    if shim {
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            let file = std::sync::Mutex::new(std::fs::File::from(fd));
            builder.with_writer(file).with_ansi(false).init();
            return;
        }
    }
    let colour = std::io::IsTerminal::is_terminal(&std::io::stderr());
    builder.with_writer(std::io::stderr).with_ansi(colour).without_time().init();
}
