//! `system boot`, `system install` and the hidden `shim` command: what the host's init and
//! the engine run, not people.

use std::os::fd::AsFd;
use std::process::ExitCode;

use anyhow::Context;
use berth_engine::container::shim;

use crate::{engine, output};

/// `berth system boot`: after a reboot (or a crash of every shim), starts the containers whose
/// restart policy says so, projects in dependency order (`project::boot`).
pub fn boot() -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    let failures = berth_engine::project::boot(&store, &exe, &crate::output::Lines)?;
    for why in &failures {
        output::print_error(&anyhow::anyhow!("{why}"));
    }
    Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(output::EXIT_FAILURE) })
}

/// `berth system install`: the systemd unit that runs `berth system boot` once at boot.
/// `system df`: the space each kind of object takes, as Docker's table shows it.
pub fn df(format: Option<&str>) -> anyhow::Result<ExitCode> {
    let json = match format {
        None | Some("table") => false,
        Some("json") => true,
        Some(other) => anyhow::bail!("invalid --format {other:?}: use table or json"),
    };
    let store = engine::store()?;
    let usage =
        berth_engine::usage::disk_usage(&store).map_err(|e| anyhow::anyhow!("cannot measure the disk usage: {e}"))?;
    let reclaimable = |u: &berth_engine::usage::Usage| {
        let size = crate::output::human_size(u.reclaimable);
        match (u.kind, u.size) {
            ("Build Cache", _) => size,
            (_, 0) => format!("{size} (0%)"),
            (_, total) => format!("{size} ({}%)", u.reclaimable * 100 / total),
        }
    };
    if json {
        for u in &usage {
            let line = serde_json::json!({
                "Active": u.active.to_string(), "Reclaimable": reclaimable(u),
                "Size": crate::output::human_size(u.size), "TotalCount": u.total.to_string(), "Type": u.kind,
            });
            println!("{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = crate::output::Table::new(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]);
    for u in &usage {
        let row = [u.kind.to_string(), u.total.to_string(), u.active.to_string(), crate::output::human_size(u.size)];
        table.row(row.into_iter().chain([reclaimable(u)]).collect());
    }
    print!("{table}");
    Ok(ExitCode::SUCCESS)
}

pub fn install(unit_dir: &std::path::Path, completion_dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    let root = berth_engine::store::default_root();
    let unit = format!(
        "[Unit]\nDescription=Start berth containers whose restart policy says so\nAfter=network-online.target local-fs.target\n\
         Wants=network-online.target\n\n[Service]\nType=oneshot\nEnvironment=BERTH_ROOT={}\nExecStart={} system boot\n\
         RemainAfterExit=yes\n# The shims it starts outlive this unit.\nKillMode=process\n\n[Install]\nWantedBy=multi-user.target\n",
        root.display(),
        exe.display()
    );
    std::fs::create_dir_all(unit_dir).with_context(|| format!("cannot create {}", unit_dir.display()))?;
    let path = unit_dir.join("berth-boot.service");
    std::fs::write(&path, unit).with_context(|| format!("cannot write {}", path.display()))?;
    println!("Wrote {}", path.display());
    println!("Enable it with: systemctl daemon-reload && systemctl enable berth-boot.service");
    let mut script = Vec::new();
    let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
    clap_complete::generate(clap_complete::Shell::Bash, &mut command, "berth", &mut script);
    std::fs::create_dir_all(completion_dir).with_context(|| format!("cannot create {}", completion_dir.display()))?;
    let path = completion_dir.join("berth");
    std::fs::write(&path, script).with_context(|| format!("cannot write {}", path.display()))?;
    println!("Wrote {} (bash completion)", path.display());
    Ok(ExitCode::SUCCESS)
}

/// `berth shim ID`: standard output is the pipe to the command that started it; it becomes
/// the shim's channel to that command, and standard output itself goes to /dev/null.
pub fn shim(id: &str, attach: Option<&str>) -> anyhow::Result<ExitCode> {
    use std::os::fd::AsRawFd;
    let ready =
        std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned().context("cannot keep the start pipe")?);
    // With --attach, standard input is a connection of an attached client.
    let attached = match attach {
        Some(words) => {
            let streams = berth_engine::container::attach::Streams::parse(words)
                .with_context(|| format!("invalid --attach {words:?}: use in, out or in,out"))?;
            let fd = std::io::stdin().as_fd().try_clone_to_owned().context("cannot take the attached connection")?;
            Some((std::os::unix::net::UnixStream::from(fd), streams))
        }
        None => None,
    };
    let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").context("cannot open /dev/null")?;
    nix::unistd::dup2(null.as_raw_fd(), 0).context("cannot redirect standard input")?;
    nix::unistd::dup2(null.as_raw_fd(), 1).context("cannot redirect standard output")?;
    let store = engine::store()?;
    let code = shim::run(&store, id, ready, attached);
    Ok(ExitCode::from(code as u8))
}
