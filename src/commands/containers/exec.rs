//! `exec`: another process in a running container, with this command's streams or a
//! terminal of its own.

use std::process::ExitCode;

use anyhow::Context;
use berth_engine::container::store::Container;
use berth_engine::store::Store;

use crate::{engine, output};

pub fn exec(args: crate::cli::ExecArgs) -> anyhow::Result<ExitCode> {
    use berth_engine::container::exec::{self as executor, ExecOptions};
    let store = engine::store()?;
    let c = store.find_container(&args.container)?;
    let opts = ExecOptions {
        args: args.command.clone(),
        env: args.env.clone(),
        working_dir: args.workdir.clone(),
        user: args.user.clone(),
        privileged: args.privileged,
    };
    if args.tty && !args.no_tty && !args.detach {
        return exec_terminal(&store, &c, &opts, args.interactive);
    }
    if args.detach {
        let null =
            || std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").map(std::os::fd::OwnedFd::from);
        executor::spawn(&store, &c, &opts, [null()?, null()?, null()?])?;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.interactive {
        // Without -i the process gets no input, as with Docker.
        let null = std::fs::File::open("/dev/null")?;
        nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0)?;
    }
    match executor::run(&store, &c, &opts) {
        Ok(code) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
        Err(e) => {
            output::print_error(&anyhow::anyhow!("cannot exec in {}: {e}", c.config.name));
            Ok(ExitCode::from(e.exit_code().clamp(0, 255) as u8))
        }
    }
}

/// `exec -t`: the process gets a terminal of its own, joined to this command's.
fn exec_terminal(
    store: &Store,
    c: &Container,
    opts: &berth_engine::container::exec::ExecOptions,
    input: bool,
) -> anyhow::Result<ExitCode> {
    use berth_engine::container::exec;
    nix::sys::prctl::set_child_subreaper(true).context("cannot become the subreaper")?;
    let (pid, master) = match exec::spawn_terminal(store, c, opts, crate::commands::attach::window_size()) {
        Ok(x) => x,
        Err(e) => {
            output::print_error(&anyhow::anyhow!("cannot exec in {}: {e}", c.config.name));
            return Ok(ExitCode::from(e.exit_code().clamp(0, 255) as u8));
        }
    };
    let terminal = master.try_clone().context("cannot set up the terminal")?;
    let how = crate::commands::attach::Relay { input, terminal: true };
    let resize = |rows, cols| {
        let _ = berth_engine::container::attach::resize(&terminal, rows, cols);
    };
    let ended = crate::commands::attach::relay(master, how, resize)?;
    if ended == crate::commands::attach::Ended::Detached {
        return Ok(ExitCode::SUCCESS);
    }
    let code = exec::wait(c, pid)?;
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}
