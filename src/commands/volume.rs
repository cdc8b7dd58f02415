//! `volume ls|inspect|create|rm|prune`, and the mounts of `run -v/--mount`.

use std::process::ExitCode;

use anyhow::Context;
use berth_engine::container::store::Container;
use berth_engine::volume;

use crate::cli::{RunArgs, VolumeCommand};
use crate::commands::filter::{self, KeyFilters};
use crate::format::{Columns, Format};
use crate::{engine, output};

/// `volume ls`'s columns, as Docker names them.
const VOLUMES: Columns = Columns {
    default: "table {{.Driver}}\t{{.Name}}",
    headers: &[
        ("Driver", "DRIVER"),
        ("Name", "VOLUME NAME"),
        ("Scope", "SCOPE"),
        ("Mountpoint", "MOUNTPOINT"),
        ("Labels", "LABELS"),
    ],
};

pub fn run(command: VolumeCommand) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let vs = volume::volumes(&store);
    match command {
        VolumeCommand::Ls { quiet, filter, format } => {
            let filters = KeyFilters::parse(&filter, FILTER_KEYS)?;
            let mut all = vs.list()?;
            let containers = store.list_containers()?;
            all.retain(|v| filters.matches(|key, value| matches(key, value, v, &containers)));
            if quiet {
                all.iter().for_each(|v| println!("{}", v.name));
                return Ok(ExitCode::SUCCESS);
            }
            let rows: Vec<serde_json::Value> = all
                .iter()
                .map(|v| {
                    let row = serde_json::json!({
                        "Name": v.name, "Driver": v.driver, "Scope": "local", "Mountpoint": vs.data(&v.name),
                        "Labels": crate::format::labels_text(&v.labels),
                        "CreatedAt": output::docker_time(&v.created), "Size": "N/A", "Links": "N/A",
                    });
                    crate::format::with_label_method(row, &v.labels)
                })
                .collect();
            Format::parse(format.as_deref(), &VOLUMES)?.print(&rows, &VOLUMES)?;
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
        VolumeCommand::Prune { all, prune } => return super::prune::volumes(all, &prune),
    }
    Ok(ExitCode::SUCCESS)
}

/// What `volume ls --filter` takes.
pub(crate) const FILTER_KEYS: &[&str] = &["dangling", "driver", "label", "label!", "name"];

/// One `volume ls --filter`.
pub(crate) fn matches(key: &str, value: &str, v: &volume::Volume, containers: &[Container]) -> bool {
    match key {
        "dangling" => filter::truth(value) != containers.iter().any(|c| volume::mounts(&c.config, &v.name)),
        "driver" => v.driver == value,
        "label" => filter::label(&v.labels, value),
        "name" => v.name.contains(value),
        _ => false,
    }
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
