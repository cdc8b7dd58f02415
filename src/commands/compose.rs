//! The Compose side of the command line: `up`, `down`, `ls`, `scale`, and the container
//! commands (`ps`, `logs`, `start`, `stop`, `restart`, `kill`, `rm`, `pause`, `top`, `wait`,
//! `port`, `exec`, `run`, `images`, `pull`) when a project is in effect (a `-f` or `-p` flag,
//! or a Compose file in the current directory) and they name its services. The work is the engine's reconciler (`berth_engine::project`);
//! this module loads the project, pulls what is missing, and prints.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use berth_compose::Project;
use berth_engine::container::store::Container;
use berth_engine::container::{Status, remove};
use berth_engine::project::{self, DownOptions, Report, UpOptions};
use berth_engine::store::Store;

use super::containers::{Follower, Show, skip_lines};
use crate::cli::{DownArgs, Format, GlobalArgs, KillArgs, LogsArgs, PsArgs, RmArgs, StopArgs, UpArgs};
use crate::output::Lines;
use crate::{engine, output};

/// Whether the command line names a project: `-f`, `-p`, or a Compose file here.
pub fn in_project(global: &GlobalArgs) -> bool {
    if !global.files.is_empty() || global.project_name.is_some() {
        return true;
    }
    let Ok(cwd) = std::env::current_dir() else { return false };
    ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"].iter().any(|f| cwd.join(f).is_file())
}

fn load(global: &GlobalArgs) -> anyhow::Result<Project> {
    let opts = crate::project::options(global)?;
    Ok(crate::project::load(&opts)?.project)
}

/// The project's name: from `-p` alone (a project that is only labels now), or from the file.
fn project_name(global: &GlobalArgs) -> anyhow::Result<(String, Option<Project>)> {
    match load(global) {
        Ok(p) => Ok((p.name.clone(), Some(p))),
        Err(e) => match &global.project_name {
            Some(name) if global.files.is_empty() => Ok((name.clone(), None)),
            _ => Err(e),
        },
    }
}

/// Pulls the images the services need, as `--pull` says.
fn pull_images(store: &Store, project: &Project, services: &[String], policy: &str) -> anyhow::Result<()> {
    for name in services {
        let service = &project.services[name];
        // A service built here is built, not pulled (`up` builds it first when missing).
        if service.build.is_some() {
            continue;
        }
        let Some(image) = &service.image else { continue };
        let policy = service.pull_policy.as_deref().filter(|_| policy == "missing").unwrap_or(policy);
        let missing = store.find_image(image).is_err();
        let pull = match policy {
            "always" => true,
            "missing" | "if_not_present" => missing,
            "never" => {
                if missing {
                    anyhow::bail!("service {name}: image {image} is not here and --pull is never");
                }
                false
            }
            other => anyhow::bail!("invalid pull policy {other:?}: use missing, always or never"),
        };
        if pull {
            super::images::pull_one(store, image)?;
        }
    }
    Ok(())
}

pub fn up(global: &GlobalArgs, args: UpArgs) -> anyhow::Result<ExitCode> {
    if args.watch && (args.detach || args.wait) {
        anyhow::bail!("--watch shows the services' output: it cannot go with -d or --wait");
    }
    let project = load(global)?;
    let store = engine::store()?;
    let mut scale = BTreeMap::new();
    for s in &args.scale {
        let (name, n) = s.split_once('=').with_context(|| format!("invalid --scale {s:?}: use SERVICE=N"))?;
        scale.insert(name.to_string(), n.parse().with_context(|| format!("invalid --scale {s:?}: use SERVICE=N"))?);
    }
    let opts = UpOptions {
        services: args.services.clone(),
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        no_deps: args.no_deps,
        remove_orphans: args.remove_orphans,
        scale,
        renew_anon_volumes: args.renew_anon_volumes,
        timeout: args.timeout,
    };
    let report = Lines;
    // Two `up`s of one project at once take turns rather than trip over each other's names.
    let turn = project::lock(&store, &project.name)?;
    let selected = project::selected(&project, &opts.services, opts.no_deps)?;
    project::check(&store, &project, &selected)?;
    pull_images(&store, &project, &selected, &args.pull)?;
    super::build::before_up(&project, &selected, args.build, args.no_build)?;
    let services = project::converge(&store, &project, &opts, &report)?;
    if args.no_start {
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    project::start(&store, &project, &services, &exe, &report)?;
    drop(turn);
    if args.wait {
        project::wait_ready(&store, &project.name, &services, args.wait_timeout.map(Duration::from_secs))?;
        return Ok(ExitCode::SUCCESS);
    }
    if args.detach {
        return Ok(ExitCode::SUCCESS);
    }
    if args.watch {
        let (project, store, only) = (project.clone(), engine::store()?, args.services.clone());
        std::thread::spawn(move || {
            if let Err(e) = super::watch::watch(&store, &project, &only, &exe) {
                output::print_error(&e);
            }
        });
    }
    attached(&store, &project, &services, &args)
}

/// `watch [SERVICE...]`: `up -d` (unless `--no-up`), then the develop.watch rules until
/// interrupted.
pub fn watch(global: &GlobalArgs, services: &[String], no_up: bool) -> anyhow::Result<ExitCode> {
    let project = load(global)?;
    let store = engine::store()?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    if !no_up {
        let selected = project::selected(&project, services, false)?;
        project::check(&store, &project, &selected)?;
        pull_images(&store, &project, &selected, "missing")?;
        let opts = UpOptions { services: services.to_vec(), ..UpOptions::default() };
        let order = project::converge(&store, &project, &opts, &Lines)?;
        project::start(&store, &project, &order, &exe, &Lines)?;
    }
    super::watch::watch(&store, &project, services, &exe)?;
    Ok(ExitCode::SUCCESS)
}

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_interrupt(_: nix::libc::c_int) {
    INTERRUPTS.fetch_add(1, Ordering::Relaxed);
}

/// `up` without `-d`: the services' output, prefixed, until every container has stopped for
/// good, or Ctrl-C (a graceful stop; a second one kills), or an abort flag fires.
fn attached(store: &Store, project: &Project, services: &[String], args: &UpArgs) -> anyhow::Result<ExitCode> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    let action = SigAction::new(SigHandler::Handler(on_interrupt), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler only increments an atomic, which is async-signal-safe.
    unsafe {
        let _ = sigaction(Signal::SIGINT, &action);
        let _ = sigaction(Signal::SIGTERM, &action);
    }
    let shown = |s: &str| {
        (args.attach.is_empty() || args.attach.iter().any(|a| a == s)) && !args.no_attach.iter().any(|a| a == s)
    };
    let abort = args.abort_on_container_exit || args.exit_code_from.is_some();
    let mut tails = Tails::default();
    let report = Lines;
    let mut exit_code = 0;
    loop {
        let cs: Vec<Container> = project::containers(store, &project.name, false)?
            .into_iter()
            .filter(|c| services.iter().any(|s| s == project::service_of(c)))
            .collect();
        tails.pump(store, &cs.iter().filter(|c| shown(project::service_of(c))).cloned().collect::<Vec<_>>(), true);
        let ended: Vec<&Container> =
            cs.iter().filter(|c| matches!(c.state.status, Status::Exited | Status::Dead)).collect();
        let failed = ended.iter().find(|c| c.state.exit_code != Some(0));
        if let Some(from) = &args.exit_code_from {
            if let Some(c) = ended.iter().find(|c| project::service_of(c) == from) {
                exit_code = c.state.exit_code.unwrap_or(1);
            }
        } else if let Some(c) = failed {
            exit_code = c.state.exit_code.unwrap_or(1);
        }
        let stop_now = INTERRUPTS.load(Ordering::Relaxed) > 0
            || (abort && !ended.is_empty())
            || (args.abort_on_container_failure && failed.is_some());
        if stop_now {
            if INTERRUPTS.load(Ordering::Relaxed) > 0 {
                eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
            }
            let timeout = if INTERRUPTS.load(Ordering::Relaxed) > 1 { Some(0) } else { args.timeout };
            project::stop_containers(store, Some(project), &cs, timeout, &report)?;
            tails.pump(store, &cs, true);
            return Ok(ExitCode::from(exit_code.clamp(0, 255) as u8));
        }
        if !cs.is_empty() && cs.iter().all(|c| !remove::is_live(c)) {
            tails.pump(store, &cs, true);
            return Ok(ExitCode::from(exit_code.clamp(0, 255) as u8));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One log follower per container (across rotations and restarts), each line prefixed with
/// the container's name, padded to align.
#[derive(Default)]
struct Tails {
    followers: BTreeMap<String, Follower>,
    /// Lines to skip at the start of each log not opened yet (`--tail`).
    tail: Option<usize>,
    /// Timestamps and the time window; the prefix is set per container.
    show: Show,
}

impl Tails {
    /// Prints what the containers logged since the last call.
    fn pump(&mut self, store: &Store, cs: &[Container], prefix: bool) {
        let width = cs.iter().map(|c| c.config.name.len()).max().unwrap_or(0);
        for c in cs {
            let id = &c.config.id;
            if !self.followers.contains_key(id) {
                let path = store.container_dir(id).join("log.json");
                let Ok(mut follower) = Follower::open(&path, self.show.clone()) else { continue };
                if let Some(n) = self.tail {
                    let lines = std::fs::read_to_string(&path).map_or(0, |t| t.lines().count());
                    let _ = skip_lines(&mut follower.reader, &mut lines.saturating_sub(n));
                }
                self.followers.insert(id.clone(), follower);
            }
            if let Some(f) = self.followers.get_mut(id) {
                f.show.prefix = if prefix { format!("{:<width$} | ", c.config.name) } else { String::new() };
                f.pump();
            }
        }
    }
}

pub fn down(global: &GlobalArgs, args: DownArgs) -> anyhow::Result<ExitCode> {
    let (name, project) = project_name(global)?;
    let store = engine::store()?;
    let _turn = project::lock(&store, &name)?;
    let opts = DownOptions { volumes: args.volumes, remove_orphans: args.remove_orphans, timeout: args.timeout };
    let images: Vec<(String, bool)> = match (&args.rmi, &project) {
        (None, _) | (_, None) => Vec::new(),
        (Some(which), Some(p)) => {
            if which != "all" && which != "local" {
                anyhow::bail!("invalid --rmi {which:?}: use local or all");
            }
            // `local`: images the project made itself, named after it (none until builds).
            p.services
                .iter()
                .map(|(name, s)| (s.image.clone().unwrap_or_else(|| format!("{}-{name}", p.name)), s.image.is_none()))
                .filter(|(_, own)| which == "all" || *own)
                .collect()
        }
    };
    project::down(&store, &name, project.as_ref(), &opts, &Lines)?;
    let containers = store.list_containers()?;
    for (image, _) in &images {
        let Ok((_, record)) = store.find_image(image) else { continue };
        if let Some(user) = containers.iter().find(|c| c.config.image_id == record.id) {
            output::warn(&format!("image {image} is kept: container {} uses it", user.config.name));
            continue;
        }
        match store.remove_image(image, false) {
            Ok(_) => Lines.event("Image", image, "Removed"),
            Err(e) => output::warn(&format!("cannot remove image {image}: {e}")),
        }
    }
    if !images.is_empty() {
        store.gc()?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn ls(all: bool, quiet: bool, format: Option<Format>) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let projects: Vec<_> = project::list_projects(&store)?
        .into_iter()
        .filter(|(_, status, _)| all || status.contains("running"))
        .collect();
    if quiet {
        projects.iter().for_each(|(n, _, _)| println!("{n}"));
    } else if format == Some(Format::Json) {
        let list: Vec<_> =
            projects.iter().map(|(n, s, f)| serde_json::json!({"Name": n, "Status": s, "ConfigFiles": f})).collect();
        println!("{}", serde_json::to_string(&list)?);
    } else {
        let mut table = output::Table::new(&["NAME", "STATUS", "CONFIG FILES"]);
        projects.into_iter().for_each(|(n, s, f)| table.row(vec![n, s, f]));
        print!("{table}");
    }
    Ok(ExitCode::SUCCESS)
}

fn project_containers(
    global: &GlobalArgs,
    services: &[String],
) -> anyhow::Result<(Store, String, Option<Project>, Vec<Container>)> {
    let (name, project) = project_name(global)?;
    let store = engine::store()?;
    let cs = project::containers(&store, &name, false)?
        .into_iter()
        .filter(|c| services.is_empty() || services.iter().any(|s| s == project::service_of(c)))
        .collect();
    Ok((store, name, project, cs))
}

/// `exec SERVICE CMD`: in the service's container number `--index`.
pub fn exec(global: &GlobalArgs, mut args: crate::cli::ExecArgs) -> anyhow::Result<ExitCode> {
    args.container = replica_id(global, &args.container, args.index)?;
    // As Docker Compose: at a terminal, exec is interactive with a terminal unless -T.
    if at_terminal() && !args.no_tty && !args.detach {
        args.tty = true;
        args.interactive = true;
    }
    super::containers::exec(args)
}

/// The ID of replica `index` of `service`.
pub fn replica_id(global: &GlobalArgs, service: &str, index: u64) -> anyhow::Result<String> {
    Ok(replica(global, service, index)?.config.id)
}

pub fn ps(global: &GlobalArgs, args: PsArgs) -> anyhow::Result<ExitCode> {
    let (_, _, project, mut cs) = project_containers(global, &args.services)?;
    if args.list_services {
        let mut names: Vec<String> = match &project {
            Some(p) => project::selected(p, &args.services, true)?,
            None => cs.iter().map(|c| project::service_of(c).to_string()).collect(),
        };
        names.dedup();
        names.iter().for_each(|n| println!("{n}"));
        return Ok(ExitCode::SUCCESS);
    }
    cs.retain(|c| args.all || !args.status.is_empty() || remove::is_live(c));
    cs.retain(|c| args.status.is_empty() || args.status.contains(&c.state.status.to_string()));
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
                "ExitCode": c.state.exit_code.unwrap_or(0), "Status": super::containers::status_text(c),
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
            super::containers::short_command(&c.config.args),
            project::service_of(c).to_string(),
            output::since(Some(&c.config.created)),
            super::containers::status_text(c),
            ports(c),
        ]);
    }
    print!("{table}");
    Ok(ExitCode::SUCCESS)
}

pub fn logs(global: &GlobalArgs, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let (store, name, _, cs) = project_containers(global, &args.targets)?;
    let show = Show {
        timestamps: args.timestamps,
        since: args.since.as_deref().map(super::containers::log_time).transpose()?,
        until: args.until.as_deref().map(super::containers::log_time).transpose()?,
        prefix: String::new(),
    };
    let mut tails = Tails { tail: args.tail, show, ..Tails::default() };
    tails.pump(&store, &cs, !args.no_log_prefix);
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = project::containers(&store, &name, false)?
            .into_iter()
            .filter(|c| args.targets.is_empty() || args.targets.iter().any(|s| s == project::service_of(c)))
            .collect::<Vec<_>>();
        tails.pump(&store, &now, !args.no_log_prefix);
        if now.iter().all(|c| !remove::is_live(c)) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn stop(global: &GlobalArgs, args: StopArgs) -> anyhow::Result<ExitCode> {
    let (store, _, project, cs) = project_containers(global, &args.containers)?;
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
    project::stop_containers(&store, project.as_ref(), &cs, args.time, &Lines)?;
    Ok(ExitCode::SUCCESS)
}

pub fn start(global: &GlobalArgs, services: &[String]) -> anyhow::Result<ExitCode> {
    let project = load(global)?;
    let store = engine::store()?;
    let services = project::selected(&project, services, true)?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    project::start(&store, &project, &services, &exe, &Lines)?;
    Ok(ExitCode::SUCCESS)
}

pub fn restart(global: &GlobalArgs, args: StopArgs) -> anyhow::Result<ExitCode> {
    stop(global, StopArgs { containers: args.containers.clone(), time: args.time })?;
    start(global, &args.containers)
}

/// Whether the names are all services of the project in effect (none: all of them), so that a
/// container command acts on services; otherwise it acts on containers by name or ID, as
/// outside a project.
pub fn names_services(global: &GlobalArgs, names: &[String]) -> bool {
    names.is_empty() || load(global).is_ok_and(|p| names.iter().all(|n| p.services.contains_key(n)))
}

/// Runs `f` on each of the services' containers, with a progress line in Compose's shape.
fn each_container(
    global: &GlobalArgs,
    services: &[String],
    done: &str,
    f: impl Fn(&Store, &Container) -> anyhow::Result<bool>,
) -> anyhow::Result<ExitCode> {
    let (store, _, _, cs) = project_containers(global, services)?;
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

pub fn kill(global: &GlobalArgs, args: KillArgs) -> anyhow::Result<ExitCode> {
    let signal = berth_engine::container::shim::signal_by_name(&args.signal)
        .with_context(|| format!("invalid signal {:?}", args.signal))?;
    each_container(global, &args.containers, "Killed", |store, c| {
        if !remove::is_live(c) {
            return Ok(false);
        }
        remove::kill(store, c, signal as i32)?;
        Ok(true)
    })
}

/// `rm [SERVICE...]`: the stopped containers of the services (running ones too with `-s`,
/// stopped first). As in Docker Compose, `-f` only means there is no question to answer.
pub fn rm(global: &GlobalArgs, args: RmArgs) -> anyhow::Result<ExitCode> {
    each_container(global, &args.containers, "Removed", |store, c| {
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

pub fn pause(global: &GlobalArgs, services: &[String], pause: bool) -> anyhow::Result<ExitCode> {
    each_container(global, services, if pause { "Paused" } else { "Unpaused" }, |store, c| {
        let wanted = if pause { Status::Running } else { Status::Paused };
        if c.state.status != wanted || !remove::is_live(c) {
            return Ok(false);
        }
        remove::pause(store, c, pause)?;
        Ok(true)
    })
}

pub fn top(global: &GlobalArgs, services: &[String]) -> anyhow::Result<ExitCode> {
    let (_, _, _, cs) = project_containers(global, services)?;
    let names: Vec<String> = cs.iter().filter(|c| remove::is_live(c)).map(|c| c.config.id.clone()).collect();
    if names.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    super::containers::top(&names)
}

pub fn wait(global: &GlobalArgs, services: &[String]) -> anyhow::Result<ExitCode> {
    let (_, _, _, cs) = project_containers(global, services)?;
    let ids: Vec<String> = cs.iter().map(|c| c.config.id.clone()).collect();
    if ids.is_empty() {
        anyhow::bail!(
            "no containers for {}",
            if services.is_empty() { "this project".into() } else { services.join(", ") }
        );
    }
    super::containers::wait(&ids)
}

/// The running container number `index` of `service`.
fn replica(global: &GlobalArgs, service: &str, index: u64) -> anyhow::Result<Container> {
    let (_, _, _, cs) = project_containers(global, &[service.to_string()])?;
    cs.into_iter()
        .filter(remove::is_live)
        .find(|c| project::number_of(c) == index)
        .with_context(|| format!("service {service:?} is not running"))
}

pub fn port(global: &GlobalArgs, service: &str, port: Option<&str>, index: u64) -> anyhow::Result<ExitCode> {
    let c = replica(global, service, index)?;
    super::network::print_ports(&c.config.network.ports, port, service)
}

/// `images`: the images the project's containers were made from.
pub fn images(global: &GlobalArgs, quiet: bool) -> anyhow::Result<ExitCode> {
    let (store, _, _, cs) = project_containers(global, &[])?;
    let mut table = output::Table::new(&["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]);
    for c in &cs {
        let id = c.config.image_id.to_string();
        let short = c.config.image_id.short().to_string();
        if quiet {
            println!("{short}");
            continue;
        }
        let (repo, tag) = match berth_engine::reference::ImageRef::parse(&c.config.image) {
            Ok(r) => (super::images::repository(&r), r.tag.clone().unwrap_or_else(|| "<none>".into())),
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

/// `pull [SERVICE...]`: the services' images, whether here or not.
pub fn pull(global: &GlobalArgs, services: &[String]) -> anyhow::Result<ExitCode> {
    let project = load(global)?;
    let store = engine::store()?;
    let selected = project::selected(&project, services, true)?;
    pull_images(&store, &project, &selected, "always")?;
    Ok(ExitCode::SUCCESS)
}

/// `scale SERVICE=N...`: converge with those counts and start what is new.
pub fn scale(global: &GlobalArgs, targets: &[String], no_deps: bool) -> anyhow::Result<ExitCode> {
    let project = load(global)?;
    let store = engine::store()?;
    let mut scale = BTreeMap::new();
    for s in targets {
        let (name, n) = s.split_once('=').with_context(|| format!("invalid scale {s:?}: use SERVICE=N"))?;
        scale.insert(name.to_string(), n.parse().with_context(|| format!("invalid scale {s:?}: use SERVICE=N"))?);
    }
    let opts = UpOptions { services: scale.keys().cloned().collect(), no_deps, scale, ..UpOptions::default() };
    let services = project::converge(&store, &project, &opts, &Lines)?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    project::start(&store, &project, &services, &exe, &Lines)?;
    Ok(ExitCode::SUCCESS)
}

/// Whether this command's standard input and output are both a terminal.
fn at_terminal() -> bool {
    rustix::termios::isatty(std::io::stdin()) && rustix::termios::isatty(std::io::stdout())
}

/// `run SERVICE [COMMAND...]`: a one-off container of the service, after starting what it
/// depends on (unless `--no-deps`); attached, its exit code is the command's.
pub fn run(global: &GlobalArgs, mut args: crate::cli::RunArgs) -> anyhow::Result<ExitCode> {
    // As Docker Compose: at a terminal, a one-off container is interactive with a terminal.
    if at_terminal() && !args.detach && !args.no_tty {
        args.tty = true;
        args.interactive = true;
    }
    let project = load(global)?;
    let store = engine::store()?;
    let service = args.image.clone();
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    if !args.no_deps {
        let deps: Vec<String> = project::selected(&project, std::slice::from_ref(&service), false)?
            .into_iter()
            .filter(|s| *s != service)
            .collect();
        if !deps.is_empty() {
            project::check(&store, &project, &deps)?;
            pull_images(&store, &project, &deps, &args.pull)?;
            let opts = UpOptions { services: deps.clone(), no_deps: true, ..UpOptions::default() };
            let order = project::converge(&store, &project, &opts, &Lines)?;
            project::start(&store, &project, &order, &exe, &Lines)?;
        }
    }
    pull_images(&store, &project, std::slice::from_ref(&service), &args.pull)?;
    let one_off = project::OneOff {
        command: args.command.clone(),
        entrypoint: args.entrypoint.as_ref().map(|e| vec![e.clone()]),
        env: args.env.clone(),
        working_dir: args.workdir.clone(),
        user: args.user.clone(),
        name: args.name.clone(),
        remove: args.rm,
        service_ports: args.service_ports,
        publish: args
            .publish
            .iter()
            .map(|p| berth_engine::net::ports::parse_publish(p))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect(),
        interactive: args.interactive,
        stdin_once: args.interactive && !args.detach,
        tty: args.tty,
    };
    let config = project::create_one_off(&store, &project, &service, one_off, &Lines)?;
    let shown = args.detach.then_some(config.name.as_str());
    super::containers::start_new(&store, &config, &exe, shown)
}

/// `cp SERVICE:PATH HOST` and `cp HOST SERVICE:PATH`: the service's container number
/// `--index`; any other name is a container's.
pub fn cp(global: &GlobalArgs, source: &str, destination: &str, index: u64) -> anyhow::Result<ExitCode> {
    let project = load(global).ok();
    let resolve = |side: &str| -> anyhow::Result<String> {
        match side.split_once(':') {
            Some((service, path)) if project.as_ref().is_some_and(|p| p.services.contains_key(service)) => {
                Ok(format!("{}:{path}", replica(global, service, index)?.config.id))
            }
            _ => Ok(side.to_string()),
        }
    };
    super::containers::cp(&resolve(source)?, &resolve(destination)?)
}

/// `push [SERVICE...]`: the services' images, to the registries their names say.
pub fn push(global: &GlobalArgs, services: &[String], quiet: bool) -> anyhow::Result<ExitCode> {
    let project = load(global)?;
    for name in project::selected(&project, services, true)? {
        if let Some(image) = &project.services[&name].image {
            super::archive::push(crate::cli::PushArgs { image: vec![image.clone()], quiet })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `create [SERVICE...]`: `up --no-start`.
pub fn create(global: &GlobalArgs, services: &[String], no_deps: bool) -> anyhow::Result<ExitCode> {
    let project = load(global)?;
    let store = engine::store()?;
    let selected = project::selected(&project, services, no_deps)?;
    project::check(&store, &project, &selected)?;
    pull_images(&store, &project, &selected, "missing")?;
    let opts = UpOptions { services: services.to_vec(), no_deps, ..UpOptions::default() };
    project::converge(&store, &project, &opts, &Lines)?;
    Ok(ExitCode::SUCCESS)
}

/// `events [SERVICE...]`: the project's containers' state changes as they happen, one line
/// each (`--json`: one object each), until interrupted. Changes are seen by reading the
/// containers' states every 100 ms.
pub fn events(global: &GlobalArgs, services: &[String], json: bool) -> anyhow::Result<ExitCode> {
    use berth_engine::container::HealthStatus;
    let (name, _) = project_name(global)?;
    let store = engine::store()?;
    type Seen = (Status, Option<HealthStatus>, Container);
    let read = || -> anyhow::Result<BTreeMap<String, Seen>> {
        Ok(project::containers(&store, &name, true)?
            .into_iter()
            .filter(|c| services.is_empty() || services.iter().any(|s| s == project::service_of(c)))
            .map(|c| (c.config.id.clone(), (c.state.status, c.state.health.as_ref().map(|h| h.status), c)))
            .collect())
    };
    let emit = |c: &Container, action: &str| {
        let time = berth_engine::time::now_nanos();
        let attributes = serde_json::json!({ "image": c.config.image, "name": c.config.name });
        if json {
            let event = serde_json::json!({
                "time": time, "type": "container", "action": action, "id": c.config.id,
                "service": project::service_of(c), "attributes": attributes,
            });
            println!("{event}");
        } else {
            println!("{time} container {action} {} (image={}, name={})", c.config.id, c.config.image, c.config.name);
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
    };
    let mut seen = read()?;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = read()?;
        for (id, (status, health, c)) in &now {
            let before = seen.get(id);
            if before.is_none() {
                emit(c, "create");
            }
            let was = before.map(|b| b.0);
            if was != Some(*status) {
                match status {
                    Status::Running if was == Some(Status::Paused) => emit(c, "unpause"),
                    Status::Running => emit(c, "start"),
                    Status::Paused => emit(c, "pause"),
                    Status::Restarting => emit(c, "restart"),
                    Status::Exited | Status::Dead if before.is_some() => emit(c, "die"),
                    _ => {}
                }
            }
            if let Some(h) = health.filter(|h| before.and_then(|b| b.1) != Some(*h)) {
                emit(c, &format!("health_status: {h}"));
            }
        }
        for (id, (status, _, c)) in &seen {
            if !now.contains_key(id) {
                // Stopped and removed between two looks: it died first.
                if matches!(status, Status::Running | Status::Paused | Status::Restarting) {
                    emit(c, "die");
                }
                emit(c, "destroy");
            }
        }
        seen = now;
    }
}

/// `build [SERVICE...]` in a project.
pub fn build(global: &GlobalArgs, args: &crate::cli::BuildArgs) -> anyhow::Result<ExitCode> {
    let project = load(global)?;
    super::build::project_build(&project, args)
}
