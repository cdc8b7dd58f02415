//! Starting a project's services in dependency order (and after a reboot, `system boot`):
//! every service once what it depends on meets its condition, independent ones in parallel.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_compose::Project;

use super::*;
use crate::container::store::Container;
use crate::container::{HealthStatus, Status};
use crate::labels;
use crate::store::Store;

/// How a service's start went, for its dependents.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Started,
    Failed(String),
}

struct Board {
    outcomes: std::sync::Mutex<BTreeMap<String, Outcome>>,
    changed: std::sync::Condvar,
}

impl Board {
    fn set(&self, service: &str, outcome: Outcome) {
        self.outcomes.lock().unwrap_or_else(|e| e.into_inner()).insert(service.to_string(), outcome);
        self.changed.notify_all();
    }

    fn wait(&self, service: &str) -> Outcome {
        let mut map = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(o) = map.get(service) {
                return o.clone();
            }
            map = self.changed.wait(map).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Waits until `dep`'s containers (`cs`, as listed before the start) meet `condition`. They
/// have started already (the board said so): only health and completion are waited for,
/// reading their records alone.
fn wait_condition(store: &Store, dep: &str, cs: &[Container], condition: &str) -> Result<(), String> {
    if cs.is_empty() {
        return Err(format!("service {dep:?} has no container"));
    }
    if condition == "service_started" {
        return Ok(());
    }
    loop {
        let mut met = true;
        for c in cs {
            let c = store.load_container(&c.config.id).map_err(|e| e.to_string())?;
            met &= condition_met(&c, dep, condition)?;
        }
        if met {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether one container of service `dep` meets `condition` (healthy, or completed), or why it
/// never will.
fn condition_met(c: &Container, dep: &str, condition: &str) -> Result<bool, String> {
    let s = &c.state;
    match condition {
        "service_healthy" => {
            let health = s.health.as_ref().map(|h| h.status);
            if c.config.healthcheck.is_none() {
                return Err(format!(
                    "dependency failed to start: container {} has no healthcheck configured",
                    c.config.name
                ));
            }
            if health == Some(HealthStatus::Unhealthy) {
                return Err(format!("dependency failed to start: container {} is unhealthy", c.config.name));
            }
            if matches!(s.status, Status::Exited | Status::Dead) {
                return Err(format!(
                    "dependency failed to start: container {} exited ({})",
                    c.config.name,
                    s.exit_code.unwrap_or(-1)
                ));
            }
            Ok(health == Some(HealthStatus::Healthy))
        }
        "service_completed_successfully" => match s.status {
            Status::Exited | Status::Dead => {
                let code = s.exit_code.unwrap_or(-1);
                if code != 0 {
                    return Err(format!("service {dep:?} didn't complete successfully: exit {code}"));
                }
                Ok(true)
            }
            _ => Ok(false),
        },
        _ => Ok(s.started_at.is_some() || matches!(s.status, Status::Running | Status::Restarting)),
    }
}

/// Starts the services' containers: every service as soon as its dependencies meet their
/// conditions, independent ones in parallel. A failed required dependency fails its dependents
/// with Docker Compose's message; an optional one is reported and skipped.
pub fn start(store: &Store, project: &Project, services: &[String], exe: &Path, report: &dyn Report) -> Result<()> {
    let board = Board { outcomes: std::sync::Mutex::new(BTreeMap::new()), changed: std::sync::Condvar::new() };
    // Services outside the selection count as started (`--no-deps`).
    for name in project.services.keys().filter(|s| !services.contains(s)) {
        board.set(name, Outcome::Started);
    }
    let mut by_service: BTreeMap<String, Vec<Container>> = BTreeMap::new();
    for c in containers(store, &project.name, false)? {
        by_service.entry(service_of(&c).to_string()).or_default().push(c);
    }
    let errors: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for name in services {
            let (board, errors, by_service) = (&board, &errors, &by_service);
            scope.spawn(move || {
                let outcome = start_service(store, project, name, exe, board, by_service, report);
                if let Outcome::Failed(e) = &outcome {
                    errors.lock().unwrap_or_else(|e| e.into_inner()).push(e.clone());
                }
                board.set(name, outcome);
            });
        }
    });
    let errors = errors.into_inner().unwrap_or_default();
    match errors.into_iter().next() {
        Some(e) => Err(ProjectError::Dependency(e)),
        None => Ok(()),
    }
}

fn start_service(
    store: &Store,
    project: &Project,
    name: &str,
    exe: &Path,
    board: &Board,
    by_service: &BTreeMap<String, Vec<Container>>,
    report: &dyn Report,
) -> Outcome {
    let service = &project.services[name];
    let of = |s: &str| by_service.get(s).map(Vec::as_slice).unwrap_or_default();
    for (dep, d) in &service.depends_on {
        if !project.services.contains_key(dep) {
            continue;
        }
        let waited = match board.wait(dep) {
            Outcome::Failed(e) => Err(e),
            Outcome::Started => {
                // Only a wait for health or completion is worth progress lines.
                let waits = d.condition != "service_started";
                let report_all =
                    |word: &str| of(dep).iter().for_each(|c| report.event("Container", &c.config.name, word));
                if waits {
                    report_all("Waiting");
                }
                let r = wait_condition(store, dep, of(dep), &d.condition);
                if waits && r.is_ok() {
                    report_all(if d.condition == "service_healthy" { "Healthy" } else { "Exited" });
                }
                r
            }
        };
        if let Err(e) = waited {
            if d.required {
                return Outcome::Failed(e);
            }
            report.warn(&format!("optional dependency {dep} of {name} failed: {e}"));
        }
    }
    for c in of(name) {
        if crate::container::remove::is_live(c) {
            report.event("Container", &c.config.name, "Running");
            continue;
        }
        if let Err(e) = launch_reported(store, c, exe, report) {
            return Outcome::Failed(e);
        }
    }
    Outcome::Started
}

/// Starts one stopped container, with its progress lines; one that another command's shim
/// has just started counts as started.
fn launch_reported(store: &Store, c: &Container, exe: &Path, report: &dyn Report) -> Result<(), String> {
    use crate::container::launch::{self, LaunchError};
    report.event("Container", &c.config.name, "Starting");
    match launch::launch(store, &c.config.id, exe) {
        Ok(_) | Err(LaunchError::AlreadyStarted(_)) => {
            report.event("Container", &c.config.name, "Started");
            Ok(())
        }
        Err(e) => Err(format!("cannot start container {}: {e}", c.config.name)),
    }
}

/// After a reboot (`berth system boot`): starts the containers whose restart policy says so.
/// A project's services come back in dependency order, read from their `depends_on` labels (no
/// Compose file needed): each once what it depends on has started, turned healthy or completed
/// as the file said, independent ones in parallel. Containers outside projects start at once.
/// Returns why each container or service that could not start did not.
pub fn boot(store: &Store, exe: &Path, report: &dyn Report) -> Result<Vec<String>> {
    use crate::container::{boot::should_start_at_boot, remove};
    let chosen: Vec<Container> = store
        .list_containers()
        .map_err(other)?
        .into_iter()
        .filter(|c| !remove::is_live(c) && should_start_at_boot(c))
        .collect();
    // (project, service) -> containers; outside projects, the container's own name.
    let mut groups: BTreeMap<(String, String), Vec<Container>> = BTreeMap::new();
    for c in chosen {
        let key = match c.config.labels.get(labels::PROJECT) {
            Some(p) => (p.clone(), service_of(&c).to_string()),
            None => (String::new(), c.config.name.clone()),
        };
        groups.entry(key).or_default().push(c);
    }
    let board = Board { outcomes: std::sync::Mutex::new(BTreeMap::new()), changed: std::sync::Condvar::new() };
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for ((project, service), cs) in &groups {
            let (board, failures, groups) = (&board, &failures, &groups);
            scope.spawn(move || {
                let key = format!("{project}/{service}");
                let fail = |why: String| {
                    failures.lock().unwrap_or_else(|e| e.into_inner()).push(why.clone());
                    board.set(&key, Outcome::Failed(why));
                };
                let deps = cs[0].config.labels.get(labels::DEPENDS_ON).cloned().unwrap_or_default();
                for dep in deps.split(',').filter(|d| !d.is_empty()) {
                    let mut parts = dep.split(':');
                    let (name, condition) = (parts.next().unwrap_or(""), parts.next().unwrap_or("service_started"));
                    // Only what this boot starts is waited for; a dependency left down stays so.
                    let Some(dep_containers) = groups.get(&(project.clone(), name.to_string())) else {
                        continue;
                    };
                    if let Outcome::Failed(e) = board.wait(&format!("{project}/{name}")) {
                        return fail(format!("service {service}: {e}"));
                    }
                    report.event("Container", name, "Waiting");
                    if let Err(e) = wait_condition(store, name, dep_containers, condition) {
                        return fail(format!("service {service}: {e}"));
                    }
                }
                let mut outcome = Outcome::Started;
                for c in cs {
                    remove::clean_leftovers(store, c);
                    if let Err(why) = launch_reported(store, c, exe, report) {
                        failures.lock().unwrap_or_else(|e| e.into_inner()).push(why.clone());
                        outcome = Outcome::Failed(why);
                    }
                }
                board.set(&key, outcome);
            });
        }
    });
    Ok(failures.into_inner().unwrap_or_default())
}

/// Waits until every container of the services runs (and is healthy where it has a
/// healthcheck), or has completed successfully; fails on one that exited badly or turned
/// unhealthy, or at the deadline.
pub fn wait_ready(store: &Store, project: &str, services: &[String], timeout: Option<Duration>) -> Result<()> {
    let deadline = timeout.map(|t| Instant::now() + t);
    loop {
        let mut ready = true;
        for c in containers(store, project, false)?.iter().filter(|c| services.iter().any(|s| s == service_of(c))) {
            let health = c.state.health.as_ref().map(|h| h.status);
            match c.state.status {
                Status::Exited | Status::Dead if c.state.exit_code == Some(0) => {}
                Status::Exited | Status::Dead => {
                    return Err(ProjectError::Dependency(format!(
                        "container {} exited ({})",
                        c.config.name,
                        c.state.exit_code.unwrap_or(-1)
                    )));
                }
                _ if health == Some(HealthStatus::Unhealthy) => {
                    return Err(ProjectError::Dependency(format!("container {} is unhealthy", c.config.name)));
                }
                Status::Running => ready &= c.config.healthcheck.is_none() || health == Some(HealthStatus::Healthy),
                _ => ready = false,
            }
        }
        if ready {
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            return Err(ProjectError::Dependency("timed out waiting for the services to be ready".into()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
