//! The Compose side of the command line when a project is in effect (a `-f` or `-p` flag, or
//! a Compose file in the current directory) and the command names its services: here `ls`,
//! `images` and the container commands on services (`start`, `stop`, `restart`, `kill`, `rm`,
//! `pause`, `top`, `wait`, `port`, `exec`, `cp`); `up.rs` the commands that make or end
//! containers; `events.rs` the project's events. `ps` and `logs` of a project are beside
//! those of containers (`commands/ps.rs`, `commands/logs.rs`). The work is the engine's
//! reconciler (`berth_engine::project`); these modules load the project through the command's
//! one [`Scope`], pull what is missing, and print.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use berth_engine::container::store::Container;
use berth_engine::container::{Status, remove};
use berth_engine::project::{self, Report};
use berth_engine::store::Store;

use super::scope::Scope;
use crate::cli::{KillArgs, RmArgs, StopArgs};
use crate::format::{Columns, Format};
use crate::report::Lines;
use crate::{engine, output};

pub(crate) mod events;
mod up;
mod viz;

pub use events::events;
pub use up::{build, create, down, down_with_volumes, pull, push, run, scale, up, up_detached, watch};
pub use viz::{Shown, viz};

pub fn ls(all: bool, quiet: bool, format: Option<&str>) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let projects: Vec<_> = project::list_projects(&store)?
        .into_iter()
        .filter(|(_, status, _)| all || status.contains("running"))
        .collect();
    let rows: Vec<serde_json::Value> =
        projects.iter().map(|(n, s, f)| serde_json::json!({"Name": n, "Status": s, "ConfigFiles": f})).collect();
    if quiet {
        projects.iter().for_each(|(n, _, _)| println!("{n}"));
    } else if format == Some("json") {
        // Docker Compose prints the projects as one array.
        println!("{}", serde_json::to_string(&rows)?);
    } else {
        Format::parse(format, &PROJECTS)?.print(&rows, &PROJECTS)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `ls`'s columns, as Docker Compose names them.
const PROJECTS: Columns = Columns {
    default: "table {{.Name}}\t{{.Status}}\t{{.ConfigFiles}}",
    headers: &[("Name", "NAME"), ("Status", "STATUS"), ("ConfigFiles", "CONFIG FILES")],
};

/// `exec SERVICE CMD`: in the service's container number `--index`.
pub fn exec(scope: &Scope, mut args: crate::cli::ExecArgs) -> anyhow::Result<ExitCode> {
    args.container = replica_id(scope, &args.container, args.index)?;
    // As Docker Compose: at a terminal, exec is interactive with a terminal unless -T.
    if at_terminal() && !args.no_tty && !args.detach {
        args.tty = true;
        args.interactive = true;
    }
    crate::commands::containers::exec(args)
}

/// The ID of replica `index` of `service`.
pub fn replica_id(scope: &Scope, service: &str, index: u64) -> anyhow::Result<String> {
    Ok(replica(scope, service, index)?.config.id)
}

pub fn stop(scope: &Scope, args: StopArgs) -> anyhow::Result<ExitCode> {
    let (store, _, project, cs) = scope.containers(&args.containers)?;
    if let Some(p) = &project {
        let graph = berth_compose::Graph::new(p);
        for s in &args.containers {
            let affected: Vec<String> =
                graph.dependents(s).into_iter().filter(|d| !args.containers.contains(d)).collect();
            if !affected.is_empty() {
                output::warn(&format!("stopping {s} affects the services that depend on it: {}", affected.join(", ")));
            }
        }
    }
    project::stop_containers(&store, project, &cs, args.time, &Lines)?;
    Ok(ExitCode::SUCCESS)
}

pub fn start(scope: &Scope, services: &[String]) -> anyhow::Result<ExitCode> {
    let project = scope.project()?;
    let store = engine::store()?;
    let services = project::selected(project, services, true)?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    project::start(&store, project, &services, &exe, &Lines)?;
    Ok(ExitCode::SUCCESS)
}

/// Stops and starts the services, and the dependents that ask for it (`depends_on` with
/// `restart: true`), which come back after their dependency meets its condition again.
pub fn restart(scope: &Scope, args: StopArgs) -> anyhow::Result<ExitCode> {
    let project = scope.project()?;
    let mut services = args.containers.clone();
    if !services.is_empty() {
        services.extend(berth_compose::graph::restart_dependents(project, &services));
    }
    stop(scope, StopArgs { containers: services.clone(), time: args.time })?;
    start(scope, &services)
}

/// Runs `f` on each of the services' containers, with a progress line in Compose's shape.
fn each_container(
    scope: &Scope,
    services: &[String],
    done: &str,
    f: impl Fn(&Store, &Container) -> anyhow::Result<bool>,
) -> anyhow::Result<ExitCode> {
    let (store, _, _, cs) = scope.containers(services)?;
    let mut failed = false;
    for c in &cs {
        match f(&store, c) {
            Ok(true) => Lines.event("Container", &c.config.name, done),
            Ok(false) => {}
            Err(e) => {
                output::print_error(&e.context(format!("container {}", c.config.name)));
                failed = true;
            }
        }
    }
    Ok(if failed { ExitCode::from(output::EXIT_FAILURE) } else { ExitCode::SUCCESS })
}

pub fn kill(scope: &Scope, args: KillArgs) -> anyhow::Result<ExitCode> {
    let signal = berth_engine::container::shim::signal_by_name(&args.signal)
        .with_context(|| format!("invalid signal {:?}", args.signal))?;
    each_container(scope, &args.containers, "Killed", |store, c| {
        if !remove::is_live(c) {
            return Ok(false);
        }
        remove::kill(store, c, signal as i32)?;
        Ok(true)
    })
}

/// `rm [SERVICE...]`: the stopped containers of the services (running ones too with `-s`,
/// stopped first). As in Docker Compose, `-f` only means there is no question to answer.
pub fn rm(scope: &Scope, args: RmArgs) -> anyhow::Result<ExitCode> {
    each_container(scope, &args.containers, "Removed", |store, c| {
        if remove::is_live(c) {
            if !args.stop {
                return Ok(false);
            }
            remove::stop(store, c, c.config.stop_timeout)?;
            remove::wait_for_shim_exit(c, Duration::from_secs(5));
        }
        let c = store.load_container(&c.config.id)?;
        remove::remove(store, &c, true)?;
        Ok(true)
    })
}

pub fn pause(scope: &Scope, services: &[String], pause: bool) -> anyhow::Result<ExitCode> {
    each_container(scope, services, if pause { "Paused" } else { "Unpaused" }, |store, c| {
        let wanted = if pause { Status::Running } else { Status::Paused };
        if c.state.status != wanted || !remove::is_live(c) {
            return Ok(false);
        }
        remove::pause(store, c, pause)?;
        Ok(true)
    })
}

pub fn top(scope: &Scope, services: &[String]) -> anyhow::Result<ExitCode> {
    let (_, _, _, cs) = scope.containers(services)?;
    let names: Vec<String> = cs.iter().filter(|c| remove::is_live(c)).map(|c| c.config.id.clone()).collect();
    if names.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    crate::commands::containers::top(&names)
}

pub fn wait(scope: &Scope, services: &[String]) -> anyhow::Result<ExitCode> {
    let (_, _, _, cs) = scope.containers(services)?;
    let ids: Vec<String> = cs.iter().map(|c| c.config.id.clone()).collect();
    if ids.is_empty() {
        anyhow::bail!(
            "no containers for {}",
            if services.is_empty() { "this project".into() } else { services.join(", ") }
        );
    }
    crate::commands::containers::wait(&ids)
}

/// The running container number `index` of `service`.
fn replica(scope: &Scope, service: &str, index: u64) -> anyhow::Result<Container> {
    let (_, _, _, cs) = scope.containers(&[service.to_string()])?;
    cs.into_iter()
        .filter(remove::is_live)
        .find(|c| project::number_of(c) == index)
        .with_context(|| format!("service {service:?} is not running"))
}

pub fn port(scope: &Scope, service: &str, port: Option<&str>, index: u64) -> anyhow::Result<ExitCode> {
    let c = replica(scope, service, index)?;
    crate::commands::network::print_ports(&c.config.network.ports, port, service)
}

/// `images`: the images the project's containers were made from.
pub fn images(scope: &Scope, quiet: bool) -> anyhow::Result<ExitCode> {
    let (store, _, _, cs) = scope.containers(&[])?;
    let mut table = output::Table::new(&["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]);
    for c in &cs {
        let id = c.config.image_id.to_string();
        let short = c.config.image_id.short().to_string();
        if quiet {
            println!("{short}");
            continue;
        }
        let (repo, tag) = match berth_engine::reference::ImageRef::parse(&c.config.image) {
            Ok(r) => (crate::commands::images::repository(&r), r.tag.clone().unwrap_or_else(|| "<none>".into())),
            Err(_) => (c.config.image.clone(), "<none>".into()),
        };
        let size = store
            .find_image(&id)
            .ok()
            .and_then(|(_, r)| store.config_of(&r).ok())
            .map(|cfg| cfg.rootfs.diff_ids.iter().map(|d| store.snapshot_size(d)).sum::<u64>())
            .unwrap_or(0);
        table.row(vec![c.config.name.clone(), repo, tag, short, output::human_size(size)]);
    }
    if !quiet {
        print!("{table}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether this command's standard input and output are both a terminal.
pub(crate) fn at_terminal() -> bool {
    rustix::termios::isatty(std::io::stdin()) && rustix::termios::isatty(std::io::stdout())
}

/// `cp SERVICE:PATH HOST` and `cp HOST SERVICE:PATH`: the service's container number
/// `--index`; any other name is a container's.
pub fn cp(scope: &Scope, source: &str, destination: &str, index: u64, follow: bool) -> anyhow::Result<ExitCode> {
    let project = scope.project().ok();
    let resolve = |side: &str| -> anyhow::Result<String> {
        match side.split_once(':') {
            Some((service, path)) if project.as_ref().is_some_and(|p| p.services.contains_key(service)) => {
                Ok(format!("{}:{path}", replica(scope, service, index)?.config.id))
            }
            _ => Ok(side.to_string()),
        }
    };
    crate::commands::containers::cp(&resolve(source)?, &resolve(destination)?, follow)
}
