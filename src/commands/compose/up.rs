//! The commands that make a project's containers or end them: `up`, `create`, `run`, `scale`,
//! `watch`, `down`, and the image commands `pull`, `push` and `build` of a project.

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

use crate::cli::{DownArgs, UpArgs};
use crate::commands::logs::Tails;
use crate::commands::scope::Scope;
use crate::report::Lines;
use crate::{engine, output};

/// Pulls the images the services need, as `--pull` says.
pub(crate) fn pull_images(store: &Store, project: &Project, services: &[String], policy: &str) -> anyhow::Result<()> {
    for name in services {
        let service = &project.services[name];
        // A service built here is built, not pulled (`up` builds it first when missing).
        if service.build.is_some() {
            continue;
        }
        let Some(image) = &service.image else { continue };
        let policy = service.pull_policy.as_deref().filter(|_| policy == "missing").unwrap_or(policy);
        let found = store.find_image(image).ok();
        let pulled = found.as_ref().and_then(|(_, record)| record.pulled);
        let now = berth_engine::time::unix_seconds();
        let pull = project::plan::should_pull(policy, found.is_none(), pulled, now)
            .map_err(|e| anyhow::anyhow!("service {name}: image {image}: {e}"))?;
        if pull {
            crate::commands::images::pull_one(store, image)?;
        }
    }
    Ok(())
}

/// The images the services need, as `up` makes them: pulled as `policy` says, and those of
/// services with a build section built when missing.
fn ensure_images(store: &Store, project: &Project, services: &[String], policy: &str) -> anyhow::Result<()> {
    pull_images(store, project, services, policy)?;
    crate::commands::build::before_up(project, services, false, false)
}

pub fn up(scope: &Scope, args: UpArgs) -> anyhow::Result<ExitCode> {
    if args.watch && (args.detach || args.wait) {
        anyhow::bail!("--watch shows the services' output: it cannot go with -d or --wait");
    }
    let began = berth_engine::time::now_nanos();
    let project = scope.project()?;
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
    let selected = project::selected(project, &opts.services, opts.no_deps)?;
    project::check(&store, project, &selected)?;
    pull_images(&store, project, &selected, &args.pull)?;
    crate::commands::build::before_up(project, &selected, args.build, args.no_build)?;
    let services = project::converge(&store, project, &opts, &report)?;
    if args.no_start {
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    project::start(&store, project, &services, &exe, &report)?;
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
            if let Err(e) = crate::commands::watch::watch(&store, &project, &only, &exe) {
                output::print_error(&e);
            }
        });
    }
    attached(&store, project, &services, &args, began)
}

/// `watch [SERVICE...]`: `up -d` (unless `--no-up`), then the develop.watch rules until
/// interrupted.
pub fn watch(scope: &Scope, services: &[String], no_up: bool) -> anyhow::Result<ExitCode> {
    let project = scope.project()?;
    if !no_up {
        up_detached(project, services)?;
    }
    let store = engine::store()?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    crate::commands::watch::watch(&store, project, services, &exe)?;
    Ok(ExitCode::SUCCESS)
}

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_interrupt(_: nix::libc::c_int) {
    INTERRUPTS.fetch_add(1, Ordering::Relaxed);
}

/// `up` without `-d`: the services' output, prefixed, until every container has stopped for
/// good, or Ctrl-C (a graceful stop; a second one kills), or an abort flag fires.
fn attached(
    store: &Store,
    project: &Project,
    services: &[String],
    args: &UpArgs,
    began: String,
) -> anyhow::Result<ExitCode> {
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    // The services' output follows: the progress block stays as it is, later events are lines.
    crate::report::finish();
    let action = SigAction::new(SigHandler::Handler(on_interrupt), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler only increments an atomic, which is async-signal-safe.
    unsafe {
        let _ = sigaction(Signal::SIGINT, &action);
        let _ = sigaction(Signal::SIGTERM, &action);
    }
    // `--attach` chooses; without it every service but those with `attach: false`.
    let shown = |s: &str| {
        let chosen = match args.attach.is_empty() {
            true => project.services.get(s).and_then(|svc| svc.attach) != Some(false),
            false => args.attach.iter().any(|a| a == s),
        };
        chosen && !args.no_attach.iter().any(|a| a == s)
    };
    let abort = args.abort_on_container_exit || args.exit_code_from.is_some();
    let mut tails = Tails::since(began);
    let report = Lines;
    let mut exit_code = 0;
    loop {
        let cs: Vec<Container> = project::containers(store, &project.name, false)?
            .into_iter()
            .filter(|c| services.iter().any(|s| s == project::service_of(c)))
            .collect();
        let attached: Vec<Container> = cs.iter().filter(|c| shown(project::service_of(c))).cloned().collect();
        tails.pump(store, &attached, true);
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
            tails.pump(store, &attached, true);
            // Stopped by Ctrl-C: Docker Compose's 130, as a shell reports SIGINT.
            if INTERRUPTS.load(Ordering::Relaxed) > 0 && exit_code == 0 {
                return Ok(ExitCode::from(130));
            }
            return Ok(ExitCode::from(exit_code.clamp(0, 255) as u8));
        }
        if !cs.is_empty() && cs.iter().all(|c| !remove::is_live(c)) {
            tails.pump(store, &attached, true);
            return Ok(ExitCode::from(exit_code.clamp(0, 255) as u8));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn down(scope: &Scope, args: DownArgs) -> anyhow::Result<ExitCode> {
    let (name, project) = scope.name()?;
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
    project::down(&store, &name, project, &opts, &Lines)?;
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

/// `up -d` of `services` (all when none) and what they depend on, with its defaults: for
/// `watch`, and for a project that comes from elsewhere than a Compose file (`kube play`).
pub fn up_detached(project: &Project, services: &[String]) -> anyhow::Result<()> {
    let store = engine::store()?;
    let _turn = project::lock(&store, &project.name)?;
    let selected = project::selected(project, services, false)?;
    project::check(&store, project, &selected)?;
    ensure_images(&store, project, &selected, "missing")?;
    let opts = UpOptions { services: services.to_vec(), ..UpOptions::default() };
    let order = project::converge(&store, project, &opts, &Lines)?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    project::start(&store, project, &order, &exe, &Lines)?;
    Ok(())
}

/// Takes such a project away with its volumes, as `down -v` does.
pub fn down_with_volumes(project: &Project) -> anyhow::Result<()> {
    let store = engine::store()?;
    let _turn = project::lock(&store, &project.name)?;
    let opts = DownOptions { volumes: true, remove_orphans: true, timeout: None };
    project::down(&store, &project.name, Some(project), &opts, &Lines)?;
    Ok(())
}

/// `pull [SERVICE...]`: the services' images, whether here or not.
pub fn pull(scope: &Scope, services: &[String]) -> anyhow::Result<ExitCode> {
    let project = scope.project()?;
    let store = engine::store()?;
    let selected = project::selected(project, services, true)?;
    pull_images(&store, project, &selected, "always")?;
    Ok(ExitCode::SUCCESS)
}

/// `scale SERVICE=N...`: converge with those counts and start what is new.
pub fn scale(scope: &Scope, targets: &[String], no_deps: bool) -> anyhow::Result<ExitCode> {
    let project = scope.project()?;
    let store = engine::store()?;
    let mut scale = BTreeMap::new();
    for s in targets {
        let (name, n) = s.split_once('=').with_context(|| format!("invalid scale {s:?}: use SERVICE=N"))?;
        scale.insert(name.to_string(), n.parse().with_context(|| format!("invalid scale {s:?}: use SERVICE=N"))?);
    }
    let opts = UpOptions { services: scale.keys().cloned().collect(), no_deps, scale, ..UpOptions::default() };
    let services = project::converge(&store, project, &opts, &Lines)?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    project::start(&store, project, &services, &exe, &Lines)?;
    Ok(ExitCode::SUCCESS)
}

/// `run SERVICE [COMMAND...]`: a one-off container of the service, after starting what it
/// depends on (unless `--no-deps`); attached, its exit code is the command's.
pub fn run(scope: &Scope, mut args: crate::cli::RunArgs) -> anyhow::Result<ExitCode> {
    // As Docker Compose: at a terminal, a one-off container is interactive with a terminal.
    if super::at_terminal() && !args.detach && !args.no_tty {
        args.tty = true;
        args.interactive = true;
    }
    let project = scope.project()?;
    let store = engine::store()?;
    let service = args.image.clone();
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    if !args.no_deps {
        let deps: Vec<String> = project::selected(project, std::slice::from_ref(&service), false)?
            .into_iter()
            .filter(|s| *s != service)
            .collect();
        if !deps.is_empty() {
            project::check(&store, project, &deps)?;
            ensure_images(&store, project, &deps, &args.pull)?;
            let opts = UpOptions { services: deps.clone(), no_deps: true, ..UpOptions::default() };
            let order = project::converge(&store, project, &opts, &Lines)?;
            project::start(&store, project, &order, &exe, &Lines)?;
        }
    }
    ensure_images(&store, project, std::slice::from_ref(&service), &args.pull)?;
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
    let config = project::create_one_off(&store, project, &service, one_off, &Lines)?;
    let shown = args.detach.then_some(config.name.as_str());
    crate::commands::containers::run::start_new(&store, &config, &exe, shown)
}

/// `push [SERVICE...]`: the services' images, to the registries their names say.
pub fn push(scope: &Scope, services: &[String], quiet: bool) -> anyhow::Result<ExitCode> {
    let project = scope.project()?;
    for name in project::selected(project, services, true)? {
        if let Some(image) = &project.services[&name].image {
            crate::commands::archive::push(crate::cli::PushArgs { image: vec![image.clone()], quiet })?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `create [SERVICE...]`: `up --no-start`.
pub fn create(scope: &Scope, services: &[String], no_deps: bool) -> anyhow::Result<ExitCode> {
    let project = scope.project()?;
    let store = engine::store()?;
    let selected = project::selected(project, services, no_deps)?;
    project::check(&store, project, &selected)?;
    ensure_images(&store, project, &selected, "missing")?;
    let opts = UpOptions { services: services.to_vec(), no_deps, ..UpOptions::default() };
    project::converge(&store, project, &opts, &Lines)?;
    Ok(ExitCode::SUCCESS)
}

/// `build [SERVICE...]` in a project.
pub fn build(scope: &Scope, args: &crate::cli::BuildArgs) -> anyhow::Result<ExitCode> {
    let project = scope.project()?;
    crate::commands::build::project_build(project, args)
}
