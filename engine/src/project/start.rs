//! Starting a project's services in dependency order (and after a reboot, `system boot`):
//! every service once what it depends on meets its condition, independent ones in parallel.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use berth_compose::Project;
use berth_compose::model::Condition;

use super::*;
use crate::container::store::Container;
use crate::container::{HealthStatus, Status};
use crate::fsutil::DirChanges;
use crate::labels;
use crate::store::Store;

/// How a service's start went, for its dependents.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Started,
    Failed(String),
}

/// What became of each unit, for the units that wait on it: a slot per unit, so that a unit's
/// end wakes only the threads of its dependents (with one condition variable for all, each of
/// 200 ends woke every waiting thread, a cost of the square of the project's size).
#[derive(Default)]
struct Board {
    slots: std::sync::Mutex<BTreeMap<String, std::sync::Arc<Slot>>>,
}

#[derive(Default)]
struct Slot {
    outcome: std::sync::Mutex<Option<Outcome>>,
    set: std::sync::Condvar,
}

impl Board {
    fn slot(&self, key: &str) -> std::sync::Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(key.to_string()).or_default().clone()
    }

    fn set(&self, key: &str, outcome: Outcome) {
        let slot = self.slot(key);
        *slot.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
        slot.set.notify_all();
    }

    fn wait(&self, key: &str) -> Outcome {
        let slot = self.slot(key);
        let mut outcome = slot.outcome.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(o) = &*outcome {
                return o.clone();
            }
            outcome = slot.set.wait(outcome).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Waits until `dep`'s containers (`cs`, as listed before the start) meet `condition`. They
/// have started already (the board said so): only health and completion are waited for,
/// reading their records alone.
fn wait_condition(store: &Store, dep: &str, cs: &[Container], condition: Condition) -> Result<(), String> {
    if cs.is_empty() {
        return Err(format!("service {dep:?} has no container"));
    }
    if condition == Condition::ServiceStarted {
        return Ok(());
    }
    // The shims rewrite the records as health and exit change.
    let mut changes = Watch::Unset;
    loop {
        let mut met = true;
        for c in cs {
            let c = store.load_container(&c.config.id).map_err(|e| e.to_string())?;
            met &= condition_met(&c, dep, condition)?;
        }
        if met {
            return Ok(());
        }
        changes.wait(cs.iter().map(|c| c.dir.path()));
    }
}

/// Whether one container of service `dep` meets `condition` (healthy, or completed), or why it
/// never will.
fn condition_met(c: &Container, dep: &str, condition: Condition) -> Result<bool, String> {
    let s = &c.state;
    match condition {
        Condition::ServiceHealthy => {
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
        Condition::ServiceCompletedSuccessfully => match s.status {
            Status::Exited | Status::Dead => {
                let code = s.exit_code.unwrap_or(-1);
                if code != 0 {
                    return Err(format!("service {dep:?} didn't complete successfully: exit {code}"));
                }
                Ok(true)
            }
            _ => Ok(false),
        },
        Condition::ServiceStarted => {
            Ok(s.started_at.is_some() || matches!(s.status, Status::Running | Status::Restarting))
        }
    }
}

/// One service in the dependency schedule: its containers and what they wait for.
struct Unit {
    /// The service on the board: its name, or `project/service` at boot.
    key: String,
    service: String,
    containers: Vec<Container>,
    deps: Vec<Dep>,
}

/// A dependency of a [`Unit`]: the unit it waits for, on what condition.
struct Dep {
    key: String,
    service: String,
    condition: Condition,
    required: bool,
    /// The dependency's containers, as listed before the start.
    containers: Vec<Container>,
}

/// How a schedule runs: `up`/`start`, or `system boot`.
#[derive(Clone, Copy)]
struct Schedule<'a> {
    store: &'a Store,
    exe: &'a Path,
    report: &'a dyn Report,
    /// At boot each container is cleaned of a dead shim's leftovers first, and every one is
    /// tried even when another of its service failed.
    boot: bool,
}

impl Schedule<'_> {
    /// Runs every unit once its dependencies meet their conditions, independent ones in
    /// parallel; `started` are counted as started already. Returns why those that failed did.
    fn run(self, units: &[Unit], started: &[String]) -> Vec<String> {
        let board = Board::default();
        for key in started {
            board.set(key, Outcome::Started);
        }
        let failures: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for unit in units {
                let (board, failures) = (&board, &failures);
                scope.spawn(move || {
                    let outcome = self.unit(unit, board);
                    if let Outcome::Failed(e) = &outcome {
                        failures.lock().unwrap_or_else(|e| e.into_inner()).push(e.clone());
                    }
                    board.set(&unit.key, outcome);
                });
            }
        });
        failures.into_inner().unwrap_or_default()
    }

    fn unit(self, unit: &Unit, board: &Board) -> Outcome {
        let report = self.report;
        let failed = |e: String| Outcome::Failed(if self.boot { format!("service {}: {e}", unit.service) } else { e });
        for d in &unit.deps {
            let waited = match board.wait(&d.key) {
                Outcome::Failed(e) => Err(e),
                Outcome::Started => {
                    // Only a wait for health or completion is worth progress lines.
                    let waits = d.condition != Condition::ServiceStarted;
                    let report_all =
                        |word: &str| d.containers.iter().for_each(|c| report.event("Container", &c.config.name, word));
                    if waits {
                        report_all("Waiting");
                    }
                    let r = wait_condition(self.store, &d.service, &d.containers, d.condition);
                    if waits && r.is_ok() {
                        report_all(if d.condition == Condition::ServiceHealthy { "Healthy" } else { "Exited" });
                    }
                    r
                }
            };
            if let Err(e) = waited {
                if d.required {
                    return failed(e);
                }
                report.warn(&format!("optional dependency {} of {} failed: {e}", d.service, unit.service));
            }
        }
        let mut outcome = Outcome::Started;
        for c in &unit.containers {
            if crate::container::remove::is_live(c) {
                report.event("Container", &c.config.name, "Running");
                continue;
            }
            if self.boot {
                crate::container::remove::clean_leftovers(self.store, c);
            }
            if let Err(e) = launch_reported(self.store, c, self.exe, report) {
                outcome = Outcome::Failed(e);
                if !self.boot {
                    break;
                }
            }
        }
        outcome
    }
}

/// Starts the services' containers: every service as soon as its dependencies meet their
/// conditions, independent ones in parallel. A failed required dependency fails its dependents
/// with Docker Compose's message; an optional one is reported and skipped.
pub fn start(store: &Store, project: &Project, services: &[String], exe: &Path, report: &dyn Report) -> Result<()> {
    let mut by_service: BTreeMap<String, Vec<Container>> = BTreeMap::new();
    for c in containers(store, &project.name, false)? {
        by_service.entry(service_of(&c).to_string()).or_default().push(c);
    }
    let of = |s: &str| by_service.get(s).cloned().unwrap_or_default();
    let units: Vec<Unit> = services
        .iter()
        .map(|name| Unit {
            key: name.clone(),
            service: name.clone(),
            containers: of(name),
            deps: project.services[name]
                .depends_on
                .iter()
                .filter(|(dep, _)| project.services.contains_key(*dep))
                .map(|(dep, d)| Dep {
                    key: dep.clone(),
                    service: dep.clone(),
                    condition: d.condition,
                    required: d.required,
                    containers: of(dep),
                })
                .collect(),
        })
        .collect();
    // Services outside the selection count as started (`--no-deps`).
    let outside: Vec<String> = project.services.keys().filter(|s| !services.contains(s)).cloned().collect();
    let schedule = Schedule { store, exe, report, boot: false };
    match schedule.run(&units, &outside).into_iter().next() {
        Some(e) => Err(ProjectError::Dependency(e)),
        None => Ok(()),
    }
}

/// Starts one stopped container, with its progress lines; one that another command's shim
/// has just started counts as started.
fn launch_reported(store: &Store, c: &Container, exe: &Path, report: &dyn Report) -> Result<(), String> {
    use crate::container::launch::{self, LaunchError};
    report.event("Container", &c.config.name, "Starting");
    match launch::launch(store, &c.config.id, exe) {
        Ok(_) | Err(LaunchError::AlreadyStarted(_)) => {
            report.event("Container", &c.config.name, "Started");
            super::hooks::run(store, c, "post_start", &c.config.post_start)
        }
        Err(e) => Err(format!("cannot start container {}: {e}", c.config.name)),
    }
}

/// After a reboot (`berth system boot`): starts the containers whose restart policy says so,
/// on the same schedule as `start`. A project's services come back in dependency order, read
/// from their `depends_on` labels (no Compose file needed): each once what it depends on has
/// started, turned healthy or completed as the file said, independent ones in parallel.
/// Containers outside projects start at once. Returns why each container or service that
/// could not start did not.
pub fn boot(store: &Store, exe: &Path, report: &dyn Report) -> Result<Vec<String>> {
    use crate::container::{boot::should_start_at_boot, remove};
    let chosen: Vec<Container> = store
        .list_containers()
        .map_err(other)?
        .into_iter()
        .filter(|c| !remove::is_live(c) && should_start_at_boot(c))
        .collect();
    let units = boot_units(chosen);
    Ok(Schedule { store, exe, report, boot: true }.run(&units, &[]))
}

/// The schedule of a boot: one unit per project service (or container outside projects), each
/// waiting for the dependencies its `depends_on` label names among those being started.
fn boot_units(chosen: Vec<Container>) -> Vec<Unit> {
    // (project, service) -> containers; outside projects, the container's own name.
    let mut groups: BTreeMap<(String, String), Vec<Container>> = BTreeMap::new();
    for c in chosen {
        let key = match c.config.labels.get(labels::PROJECT) {
            Some(p) => (p.clone(), service_of(&c).to_string()),
            None => (String::new(), c.config.name.clone()),
        };
        groups.entry(key).or_default().push(c);
    }
    groups
        .iter()
        .map(|((project, service), cs)| {
            let deps = cs[0].config.labels.get(labels::DEPENDS_ON).cloned().unwrap_or_default();
            let deps = deps
                .split(',')
                .filter(|d| !d.is_empty())
                .filter_map(|dep| {
                    let mut parts = dep.split(':');
                    let name = parts.next().unwrap_or("");
                    // A label of another version's making that names no condition berth knows
                    // waits for the start alone.
                    let condition = parts.next().and_then(Condition::parse).unwrap_or_default();
                    // Only what this boot starts is waited for; a dependency left down stays so.
                    let containers = groups.get(&(project.clone(), name.to_string()))?.clone();
                    Some(Dep {
                        key: format!("{project}/{name}"),
                        service: name.to_string(),
                        condition,
                        required: true,
                        containers,
                    })
                })
                .collect();
            Unit { key: format!("{project}/{service}"), service: service.clone(), containers: cs.clone(), deps }
        })
        .collect()
}

/// Waits until every container of the services runs (and is healthy where it has a
/// healthcheck), or has completed successfully; fails on one that exited badly or turned
/// unhealthy, or at the deadline.
pub fn wait_ready(store: &Store, project: &str, services: &[String], timeout: Option<Duration>) -> Result<()> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let of_services = |c: &Container| services.iter().any(|s| s == service_of(c));
    let mut changes = Watch::Unset;
    loop {
        let mut ready = true;
        let cs = containers(store, project, false)?;
        for c in cs.iter().filter(|c| of_services(c)) {
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
        changes.wait(cs.iter().filter(|c| of_services(c)).map(|c| c.dir.path()));
    }
}

/// A wait for containers' records to change, set up only once a first look found them not
/// ready: most dependencies are met at the first look, and an inotify instance costs a
/// synchronisation in the kernel when it is closed (tens of milliseconds).
enum Watch {
    Unset,
    Watching(Option<DirChanges>),
    /// The directories cannot be watched: the records are read again every 20 ms.
    Polling,
}

impl Watch {
    /// The first call sets the watch up and returns at once (the caller looks again, so a
    /// change made meanwhile is not missed); later ones wait for a change, bounded, so that
    /// what changes without a record (a shim that died) is seen too.
    fn wait<'a>(&mut self, dirs: impl IntoIterator<Item = &'a Path>) {
        match self {
            Watch::Unset => {
                *self = DirChanges::watch(dirs).map_or(Watch::Polling, |c| Watch::Watching(Some(c)));
            }
            Watch::Watching(changes) => {
                if let Some(changes) = changes {
                    changes.wait(Duration::from_millis(500));
                }
            }
            Watch::Polling => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

impl Drop for Watch {
    /// The instance is closed on a thread of its own, so that the dependents of what was
    /// waited for start without waiting for the kernel.
    fn drop(&mut self) {
        if let Watch::Watching(changes) = self {
            if let Some(changes) = changes.take() {
                std::thread::spawn(move || drop(changes));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::ContainerConfig;

    fn container(name: &str, project: Option<&str>, service: &str, depends_on: &str) -> Container {
        let mut labels = BTreeMap::new();
        if let Some(p) = project {
            labels.insert(labels::PROJECT.to_string(), p.to_string());
            labels.insert(labels::SERVICE.to_string(), service.to_string());
            labels.insert(labels::DEPENDS_ON.to_string(), depends_on.to_string());
        }
        Container {
            config: ContainerConfig { name: name.into(), labels, ..Default::default() },
            state: Default::default(),
            dir: Default::default(),
        }
    }

    #[test]
    fn a_unit_waits_for_the_outcome_of_its_own_dependency() {
        let board = Board::default();
        board.set("db", Outcome::Started);
        assert_eq!(board.wait("db"), Outcome::Started, "set before the wait");
        std::thread::scope(|scope| {
            let web = scope.spawn(|| board.wait("web"));
            board.set("cache", Outcome::Failed("no".into()));
            board.set("web", Outcome::Failed("cannot start web".into()));
            assert_eq!(web.join().expect("joined"), Outcome::Failed("cannot start web".into()));
        });
    }

    #[test]
    fn a_boot_waits_only_for_what_it_starts() {
        let units = boot_units(vec![
            container("shop-db-1", Some("shop"), "db", ""),
            container("shop-web-1", Some("shop"), "web", "db:service_healthy:false,cache:service_started:false"),
            container("shop-web-2", Some("shop"), "web", "db:service_healthy:false,cache:service_started:false"),
            container("loner", None, "", ""),
        ]);
        let keys: Vec<&str> = units.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, ["/loner", "shop/db", "shop/web"]);
        let web = &units[2];
        assert_eq!(web.containers.len(), 2);
        // `cache` is not being started: nothing waits for it.
        assert_eq!(web.deps.len(), 1);
        assert_eq!((web.deps[0].key.as_str(), web.deps[0].condition), ("shop/db", Condition::ServiceHealthy));
        assert_eq!(web.deps[0].containers[0].config.name, "shop-db-1");
        assert!(units[0].deps.is_empty() && units[1].deps.is_empty());
    }
}
