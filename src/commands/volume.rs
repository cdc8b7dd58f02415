//! `volume ls|inspect|create|rm|prune`, and the mounts of `run -v/--mount`.

use std::process::ExitCode;

use anyhow::Context;
use berth_engine::store::Store;
use berth_engine::volume;

use crate::cli::{Format, RunArgs, VolumeCommand};
use crate::{engine, output};

pub fn run(command: VolumeCommand) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let vs = volume::volumes(&store);
    match command {
        VolumeCommand::Ls { quiet, format } => {
            let all = vs.list()?;
            if quiet {
                all.iter().for_each(|v| println!("{}", v.name));
            } else if format == Some(Format::Json) {
                for v in &all {
                    let line = serde_json::json!({
                        "Name": v.name, "Driver": v.driver, "Scope": "local", "Labels": v.labels,
                        "Mountpoint": vs.data(&v.name), "CreatedAt": v.created,
                    });
                    println!("{line}");
                }
            } else {
                let mut table = output::Table::new(&["DRIVER", "VOLUME NAME"]);
                all.iter().for_each(|v| table.row(vec![v.driver.clone(), v.name.clone()]));
                print!("{table}");
            }
        }
        VolumeCommand::Inspect(a) => {
            let mut out = Vec::new();
            for name in &a.names {
                let v = vs.get(name)?.with_context(|| format!("volume {name} not found"))?;
                out.push(serde_json::json!({
                    "Name": v.name, "Driver": v.driver, "Mountpoint": vs.data(&v.name), "CreatedAt": v.created,
                    "Labels": v.labels, "Options": v.options, "Scope": "local",
                    "UsedBy": volume::users(&store, name)?,
                }));
            }
            super::inspect::print(&out, a.format.as_deref())?;
        }
        VolumeCommand::Create { name, driver, options, labels } => {
            let v = volume::create(
                &store,
                &name,
                driver.as_deref(),
                super::key_values(&labels),
                super::key_values(&options),
            )?;
            println!("{}", v.name);
        }
        VolumeCommand::Rm { volumes } => {
            let mut failed = false;
            for name in &volumes {
                match volume::remove(&store, name) {
                    Ok(()) => println!("{name}"),
                    Err(e) => {
                        output::print_error(&e.into());
                        failed = true;
                    }
                }
            }
            return Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS });
        }
        VolumeCommand::Prune { all, force: _ } => prune(&store, all)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Removes unused volumes: anonymous ones, or all of them with `all` (as Docker 23+).
fn prune(store: &Store, all: bool) -> anyhow::Result<()> {
    let mut removed = Vec::new();
    for v in volume::volumes(store).list()? {
        if (all || v.labels.contains_key(volume::ANONYMOUS)) && volume::users(store, &v.name)?.is_empty() {
            volume::remove(store, &v.name)?;
            removed.push(v.name);
        }
    }
    if !removed.is_empty() {
        println!("Deleted Volumes:\n{}", removed.join("\n"));
    }
    Ok(())
}

/// The mounts of `run -v` and `--mount`; relative host paths resolve against the current
/// directory.
pub fn mounts_for_run(args: &RunArgs) -> anyhow::Result<Vec<berth_engine::volume::Mount>> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let mut out = Vec::new();
    for v in &args.volumes {
        out.push(berth_engine::volume::parse_volume_flag(v, &cwd, home.as_deref())?);
    }
    for m in &args.mounts {
        out.push(berth_engine::volume::parse_mount_flag(m, &cwd)?);
    }
    Ok(out)
}
