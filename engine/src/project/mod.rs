//! The project reconciler (DESIGN.md §4): a loaded Compose project against the containers,
//! networks and volumes that carry its labels. `up` creates what is missing, recreates what
//! changed (config hash or image), keeps the rest, and starts services in dependency order
//! with everything independent in parallel, honouring `depends_on` conditions; `down` stops in
//! reverse order within one grace period and removes what `up` made.
//!
//! Services become containers through [`create_options`], a pure mapping from the typed
//! `Service` to the engine's `CreateOptions`, so the Compose semantics live in one place.

use std::collections::BTreeMap;

use berth_compose::Project;
use berth_compose::model::Service;

use crate::container::store::Container;
use crate::labels;
use crate::store::Store;

mod check;
mod converge;
mod down;
mod files;
mod hooks;
pub mod plan;
mod start;
pub mod support;
mod translate;

pub use check::check;
use check::check_definitions;
use converge::remove_container;
pub use converge::{UpOptions, converge, ensure_resources, remove_anonymous_volumes};
pub use down::{DownOptions, down, stop_containers};
pub use start::{boot, start, wait_ready};
pub use translate::{OneOff, create_one_off, create_options};
use translate::{mounts_of, network_name, port_bindings, volume_name};

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("service {service}: {message}")]
    Service { service: String, message: String },
    #[error("volume {volume}: {message}")]
    Volume { volume: String, message: String },
    #[error("{0}")]
    Dependency(String),
    /// Two services ask for the same thing of the host (a published port).
    #[error("{0}")]
    Conflict(String),
    #[error("image {image} of service {service} is not here; pull it first (berth pull)")]
    NoImage { service: String, image: String },
    #[error(transparent)]
    Cycle(#[from] berth_compose::Cycle),
    /// A step failed for a reason with causes of its own: what berth was doing, then why.
    #[error("{what}")]
    Failed {
        what: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(transparent)]
    Other(#[from] Box<dyn std::error::Error + Send + Sync>),
}

fn other(e: impl std::error::Error + Send + Sync + 'static) -> ProjectError {
    ProjectError::Other(Box::new(e))
}

fn failed(what: impl Into<String>, e: impl std::error::Error + Send + Sync + 'static) -> ProjectError {
    ProjectError::Failed { what: what.into(), source: Box::new(e) }
}

fn service_error(service: &str, e: impl std::fmt::Display) -> ProjectError {
    ProjectError::Service { service: service.to_string(), message: e.to_string() }
}

type Result<T, E = ProjectError> = std::result::Result<T, E>;

/// What the reconciler tells the user, as Docker Compose's progress lines do.
pub trait Report: Sync {
    /// `kind` is `Network`, `Volume` or `Container`; `status` is `Created`, `Started`...
    fn event(&self, kind: &str, name: &str, status: &str);
    fn warn(&self, message: &str);
}

/// Held by `up` and `down` while they change a project, so that two at once take turns.
pub fn lock(store: &Store, project: &str) -> Result<crate::fsutil::Lock> {
    let path = store.root.join("projects").join(format!("{project}.lock"));
    crate::fsutil::Lock::acquire(&path).map_err(other)
}

/// The project's containers (one-off `run` containers included when `oneoff`).
pub fn containers(store: &Store, project: &str, oneoff: bool) -> Result<Vec<Container>> {
    let mut all: Vec<Container> = store
        .list_containers()
        .map_err(other)?
        .into_iter()
        .filter(|c| c.config.labels.get(labels::PROJECT).map(String::as_str) == Some(project))
        .filter(|c| oneoff || c.config.labels.get(labels::ONEOFF).map(String::as_str) != Some("True"))
        .collect();
    all.sort_by_key(|c| (service_of(c).to_string(), number_of(c)));
    Ok(all)
}

pub fn project_of(c: &Container) -> &str {
    c.config.labels.get(labels::PROJECT).map(String::as_str).unwrap_or("")
}

pub fn service_of(c: &Container) -> &str {
    c.config.labels.get(labels::SERVICE).map(String::as_str).unwrap_or("")
}

pub fn number_of(c: &Container) -> u64 {
    c.config.labels.get(labels::NUMBER).and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// How many containers a service wants: `--scale`, else `scale`/`deploy.replicas`, else 1.
pub fn replicas(service: &Service, name: &str, scale: &BTreeMap<String, u64>) -> u64 {
    scale.get(name).copied().or(service.scale).or_else(|| service.deploy.as_ref().and_then(|d| d.replicas)).unwrap_or(1)
}

pub fn container_name(project: &Project, name: &str, service: &Service, number: u64) -> String {
    match &service.container_name {
        Some(n) => n.clone(),
        None => format!("{}-{name}-{number}", project.name),
    }
}

/// The resolved names of the project's networks, by their key in the file.
/// The image a service runs: its `image`, or for one built from a `build` section without an
/// image name, `<project>-<service>` as Docker Compose names it.
pub fn image_of(project: &Project, name: &str, service: &Service) -> Option<String> {
    service.image.clone().or_else(|| service.build.as_ref().map(|_| format!("{}-{name}", project.name)))
}

/// The services `up` works on: the ones named (all when none) and, unless `no_deps`, what
/// they depend on.
pub fn selected(project: &Project, services: &[String], no_deps: bool) -> Result<Vec<String>> {
    for s in services {
        if !project.services.contains_key(s) {
            return Err(service_error(s, "no such service in the project"));
        }
    }
    if services.is_empty() {
        return Ok(project.services.keys().cloned().collect());
    }
    let mut out: Vec<String> = services.to_vec();
    let mut i = 0;
    while i < out.len() && !no_deps {
        if let Some(s) = project.services.get(&out[i]) {
            for dep in s.depends_on.keys() {
                if project.services.contains_key(dep) && !out.contains(dep) {
                    out.push(dep.clone());
                }
            }
        }
        i += 1;
    }
    out.sort();
    Ok(out)
}

/// The projects on this host, from the labels of their containers: name, status summary,
/// config files.
pub fn list_projects(store: &Store) -> Result<Vec<(String, String, String)>> {
    let mut by: BTreeMap<String, (BTreeMap<String, usize>, String)> = BTreeMap::new();
    for c in store.list_containers().map_err(other)? {
        let Some(p) = c.config.labels.get(labels::PROJECT) else { continue };
        let entry = by.entry(p.clone()).or_default();
        *entry.0.entry(c.state.status.to_string()).or_default() += 1;
        entry.1 = c.config.labels.get(labels::CONFIG_FILES).cloned().unwrap_or_default();
    }
    Ok(by
        .into_iter()
        .map(|(name, (counts, files))| {
            let status: Vec<String> = counts.iter().map(|(s, n)| format!("{s}({n})")).collect();
            (name, status.join(", "), files)
        })
        .collect())
}
