//! `ps`: containers, or a project's, as a table, IDs or JSON lines.

use std::process::ExitCode;

use berth_engine::container::Status;
use berth_engine::container::store::Container;
use berth_engine::project;

use berth_engine::volume::MountKind;

use crate::cli::PsArgs;
use crate::commands::filter::Filters;
use crate::commands::scope::Scope;
use crate::format::{Columns, Format, labels_text, with_label_method};
use crate::{engine, output};

/// A command as `ps` shows it: quoted, on one line, cut to 20 characters.
pub fn short_command(args: &[String]) -> String {
    let mut command = args.join(" ").replace(['\n', '\r', '\t'], " ");
    if command.chars().count() > 20 {
        command = command.chars().take(19).collect::<String>() + "…";
    }
    format!("\"{command}\"")
}

pub fn status_text(c: &Container) -> String {
    let s = &c.state;
    match s.status {
        Status::Running => {
            let health = match s.health.as_ref().map(|h| h.status) {
                Some(berth_engine::container::HealthStatus::Starting) => " (health: starting)".to_string(),
                Some(status) => format!(" ({status})"),
                None => String::new(),
            };
            format!("Up {}{health}", output::up_for(s.started_at.as_deref()))
        }
        Status::Exited => match s.finished_at.as_deref() {
            Some(t) => format!("Exited ({}) {}", s.exit_code.unwrap_or(0), output::since(Some(t))),
            None => "Created".into(),
        },
        Status::Restarting => {
            format!("Restarting ({}) {}", s.exit_code.unwrap_or(0), output::since(s.finished_at.as_deref()))
        }
        Status::Created => "Created".into(),
        Status::Paused => "Up (Paused)".into(),
        Status::Dead => "Dead".into(),
    }
}

pub fn ps(args: PsArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    if !args.services.is_empty() || args.list_services {
        anyhow::bail!("services are a project's: give -f or -p, or run this where compose.yaml is");
    }
    let filters = Filters::parse(&args.filter)?;
    let every = store.list_containers()?;
    let mut all = every.clone();
    all.retain(|c| args.all || !args.status.is_empty() || filters.by_status() || c.was_live());
    all.retain(|c| args.status.is_empty() || args.status.contains(&c.state.status.to_string()));
    all.retain(|c| filters.matches(c, &every));
    all.reverse();
    if args.quiet {
        for c in &all {
            println!("{}", &c.config.id[..12]);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<serde_json::Value> = all.iter().map(|c| container_row(c, args.no_trunc)).collect();
    Format::parse(args.format.as_deref(), &CONTAINERS)?.print(&rows, &CONTAINERS)?;
    Ok(ExitCode::SUCCESS)
}

/// `ps`'s columns, as Docker names them.
pub const CONTAINERS: Columns = Columns {
    default: "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}",
    headers: &[
        ("ID", "CONTAINER ID"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("CreatedAt", "CREATED AT"),
        ("RunningFor", "CREATED"),
        ("Ports", "PORTS"),
        ("State", "STATE"),
        ("Status", "STATUS"),
        ("Size", "SIZE"),
        ("Names", "NAMES"),
        ("Labels", "LABELS"),
        ("Mounts", "MOUNTS"),
        ("Networks", "NETWORKS"),
        ("LocalVolumes", "LOCAL VOLUMES"),
    ],
};

/// A container as `ps --format` sees it: Docker's fields, as text (and `ExitCode`).
fn container_row(c: &Container, no_trunc: bool) -> serde_json::Value {
    let id = if no_trunc { c.config.id.as_str() } else { &c.config.id[..12] };
    let command = if no_trunc { format!("\"{}\"", c.config.args.join(" ")) } else { short_command(&c.config.args) };
    let row = serde_json::json!({
        "Command": command,
        "CreatedAt": output::docker_time(&c.config.created),
        "ID": id,
        "Image": c.config.image,
        "Labels": labels_text(&c.config.labels),
        "LocalVolumes": c.config.mounts.iter().filter(|m| m.kind == MountKind::Volume).count().to_string(),
        "Mounts": mounts_text(c),
        "Names": c.config.name,
        "Networks": c.config.network.endpoints.iter().map(|e| e.network.as_str()).collect::<Vec<_>>().join(","),
        "Ports": ports_text(c),
        "RunningFor": output::since(Some(&c.config.created)),
        "Size": "0B",
        "State": c.state.status.to_string(),
        "Status": status_text(c),
        "ExitCode": c.state.exit_code,
    });
    with_label_method(row, &c.config.labels)
}

/// The volumes' names and the binds' sources, as Docker's `ps` lists mounts.
fn mounts_text(c: &Container) -> String {
    c.config.mounts.iter().filter_map(|m| m.source.clone()).collect::<Vec<_>>().join(",")
}

fn ports_text(c: &Container) -> String {
    c.config.network.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ")
}

pub fn project_ps(scope: &Scope, args: PsArgs) -> anyhow::Result<ExitCode> {
    let (_, _, project, mut cs) = scope.containers(&args.services)?;
    if args.list_services {
        let mut names: Vec<String> = match &project {
            Some(p) => project::selected(p, &args.services, true)?,
            None => cs.iter().map(|c| project::service_of(c).to_string()).collect(),
        };
        names.dedup();
        names.iter().for_each(|n| println!("{n}"));
        return Ok(ExitCode::SUCCESS);
    }
    let filters = Filters::parse(&args.filter)?;
    let every = cs.clone();
    cs.retain(|c| args.all || !args.status.is_empty() || filters.by_status() || c.was_live());
    cs.retain(|c| args.status.is_empty() || args.status.contains(&c.state.status.to_string()));
    cs.retain(|c| filters.matches(c, &every));
    if args.quiet {
        cs.iter().for_each(|c| println!("{}", c.config.id));
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<serde_json::Value> = cs.iter().map(|c| service_row(c, args.no_trunc)).collect();
    Format::parse(args.format.as_deref(), &SERVICES)?.print(&rows, &SERVICES)?;
    Ok(ExitCode::SUCCESS)
}

/// A project's `ps` columns, as Docker Compose names them.
const SERVICES: Columns = Columns {
    default: "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}",
    headers: &[
        ("Name", "NAME"),
        ("Image", "IMAGE"),
        ("Command", "COMMAND"),
        ("Service", "SERVICE"),
        ("RunningFor", "CREATED"),
        ("Status", "STATUS"),
        ("Ports", "PORTS"),
    ],
};

/// A service's container as Docker Compose's `ps --format json` shows it.
fn service_row(c: &Container, no_trunc: bool) -> serde_json::Value {
    let mut row = container_row(c, no_trunc);
    let extra = serde_json::json!({
        "Name": c.config.name,
        "Project": c.config.labels.get(berth_engine::labels::PROJECT),
        "Service": project::service_of(c),
        "Health": c.state.health.as_ref().map(|h| h.status.to_string()).unwrap_or_default(),
        "ExitCode": c.state.exit_code.unwrap_or(0),
        "Publishers": c.config.network.ports,
    });
    if let (Some(row), serde_json::Value::Object(extra)) = (row.as_object_mut(), extra) {
        row.extend(extra);
    }
    row
}
