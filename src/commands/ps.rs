//! `ps`: containers, or a project's, as a table, IDs or JSON lines.

use std::process::ExitCode;

use berth_engine::container::store::Container;
use berth_engine::container::{Status, remove};
use berth_engine::project;

use crate::cli::{Format, PsArgs};
use crate::commands::filter::Filters;
use crate::commands::scope::Scope;
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
    all.retain(|c| args.all || !args.status.is_empty() || filters.by_status() || remove::is_live(c));
    all.retain(|c| args.status.is_empty() || args.status.contains(&c.state.status.to_string()));
    all.retain(|c| filters.matches(c, &every));
    all.reverse();
    if args.quiet {
        for c in &all {
            println!("{}", &c.config.id[..12]);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.format == Some(Format::Json) {
        for c in &all {
            let line = serde_json::json!({
                "ID": &c.config.id[..12], "Image": c.config.image, "Command": format!("\"{}\"", c.config.args.join(" ")),
                "CreatedAt": c.config.created, "State": c.state.status.to_string(), "Status": status_text(c),
                "Names": c.config.name, "Labels": c.config.labels, "ExitCode": c.state.exit_code,
            });
            println!("{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = output::Table::new(&["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]);
    for c in &all {
        table.row(vec![
            c.config.id[..12].to_string(),
            c.config.image.clone(),
            short_command(&c.config.args),
            output::since(Some(&c.config.created)),
            status_text(c),
            c.config.network.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
            c.config.name.clone(),
        ]);
    }
    print!("{table}");
    Ok(ExitCode::SUCCESS)
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
    cs.retain(|c| args.all || !args.status.is_empty() || filters.by_status() || remove::is_live(c));
    cs.retain(|c| args.status.is_empty() || args.status.contains(&c.state.status.to_string()));
    cs.retain(|c| filters.matches(c, &every));
    if args.quiet {
        cs.iter().for_each(|c| println!("{}", c.config.id));
        return Ok(ExitCode::SUCCESS);
    }
    let ports = |c: &Container| c.config.network.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", ");
    if args.format == Some(Format::Json) {
        for c in &cs {
            let line = serde_json::json!({
                "ID": &c.config.id[..12], "Name": c.config.name, "Image": c.config.image,
                "Command": format!("\"{}\"", c.config.args.join(" ")), "Project": c.config.labels.get(berth_engine::labels::PROJECT),
                "Service": project::service_of(c), "CreatedAt": c.config.created, "State": c.state.status.to_string(),
                "Health": c.state.health.as_ref().map(|h| h.status.to_string()).unwrap_or_default(),
                "ExitCode": c.state.exit_code.unwrap_or(0), "Status": status_text(c),
                "Publishers": c.config.network.ports, "Labels": c.config.labels,
            });
            println!("{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = output::Table::new(&["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]);
    for c in &cs {
        table.row(vec![
            c.config.name.clone(),
            c.config.image.clone(),
            short_command(&c.config.args),
            project::service_of(c).to_string(),
            output::since(Some(&c.config.created)),
            status_text(c),
            ports(c),
        ]);
    }
    print!("{table}");
    Ok(ExitCode::SUCCESS)
}
