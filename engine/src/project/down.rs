//! `down`: stopping in reverse dependency order within one grace period, then removing what
//! `up` made.

use std::time::{Duration, Instant};

use berth_compose::{Graph, Project};

use super::*;
use crate::container::store::Container;
use crate::labels;
use crate::network::{self};
use crate::store::Store;

/// Stops containers dependents first, within one grace period in all: each level waits for its
/// containers only until a deadline shared by every level, after which what is left is killed.
pub fn stop_containers(
    store: &Store,
    project: Option<&Project>,
    cs: &[Container],
    timeout: Option<u64>,
    report: &dyn Report,
) -> Result<()> {
    let levels: Vec<Vec<String>> = match project {
        Some(p) => Graph::new(p).levels()?.into_iter().rev().collect(),
        None => vec![cs.iter().map(|c| service_of(c).to_string()).collect()],
    };
    // One grace period for the whole stop, however many levels: each container gets its own
    // (or `timeout`), cut to what is left of the longest.
    let own = |c: &Container| timeout.unwrap_or(c.config.stop_timeout);
    let live = cs.iter().filter(|c| crate::container::remove::is_live(c));
    let deadline = Instant::now() + Duration::from_secs(live.map(own).max().unwrap_or(0));
    let mut level_sets: Vec<Vec<&Container>> =
        levels.iter().map(|l| cs.iter().filter(|c| l.iter().any(|s| s == service_of(c))).collect()).collect();
    // Containers of services the project no longer has (orphans) go first.
    level_sets.insert(0, cs.iter().filter(|c| !levels.iter().flatten().any(|s| s == service_of(c))).collect());
    for set in level_sets {
        std::thread::scope(|scope| {
            for c in set.iter().filter(|c| crate::container::remove::is_live(c)) {
                scope.spawn(move || {
                    report.event("Container", &c.config.name, "Stopping");
                    if let Err(e) = super::hooks::run(store, c, "pre_stop", &c.config.pre_stop) {
                        report.warn(&e);
                    }
                    let left = deadline.saturating_duration_since(Instant::now()).as_millis().div_ceil(1000);
                    let left = (left as u64).min(own(c));
                    if let Err(e) = crate::container::remove::stop(store, c, left) {
                        report.warn(&format!("cannot stop {}: {e}", c.config.name));
                    }
                    report.event("Container", &c.config.name, "Stopped");
                });
            }
        });
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct DownOptions {
    pub volumes: bool,
    pub remove_orphans: bool,
    pub timeout: Option<u64>,
}

/// Stops and removes the project's containers, then its networks, and with `volumes` its
/// volumes (named and anonymous). Without a project file, works from the labels alone.
pub fn down(
    store: &Store,
    name: &str,
    project: Option<&Project>,
    opts: &DownOptions,
    report: &dyn Report,
) -> Result<()> {
    let all = containers(store, name, true)?;
    let (mine, orphans): (Vec<Container>, Vec<Container>) =
        all.into_iter().partition(|c| project.is_none_or(|p| p.services.contains_key(service_of(c))));
    let mut targets = mine;
    if opts.remove_orphans {
        targets.extend(orphans);
    } else if !orphans.is_empty() {
        let names: Vec<&str> = orphans.iter().map(|c| c.config.name.as_str()).collect();
        report.warn(&format!(
            "Found orphan containers ({}) for this project; --remove-orphans removes them",
            names.join(", ")
        ));
    }
    stop_containers(store, project, &targets, opts.timeout, report)?;
    let removed = remove_in_parallel(store, &targets, opts.volumes, report);
    crate::network::sync_dns(store).map_err(other)?;
    removed?;
    for n in network::list(store).map_err(other)? {
        if n.labels.get(labels::PROJECT).map(String::as_str) != Some(name) {
            continue;
        }
        report.event("Network", &n.name, "Removing");
        match network::remove(store, &n) {
            Ok(()) => report.event("Network", &n.name, "Removed"),
            Err(e) => report.warn(&e.to_string()),
        }
    }
    if opts.volumes {
        for v in crate::volume::volumes(store).list().map_err(other)? {
            if v.labels.get(labels::PROJECT).map(String::as_str) != Some(name) {
                continue;
            }
            match crate::volume::remove(store, &v.name) {
                Ok(()) => report.event("Volume", &v.name, "Removed"),
                Err(e) => report.warn(&e.to_string()),
            }
        }
    }
    Ok(())
}

/// Removes stopped containers (and with `volumes` their anonymous volumes) a few at a time:
/// most of a removal is waiting for the kernel (unmounting, deleting links and files).
fn remove_in_parallel(store: &Store, cs: &[Container], volumes: bool, report: &dyn Report) -> Result<()> {
    const AT_ONCE: usize = 8;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let first_error = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE.min(cs.len()) {
            scope.spawn(|| {
                while let Some(c) = cs.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                    let outcome = remove_container(store, c, 0, report);
                    if volumes {
                        remove_anonymous_volumes(store, c);
                    }
                    if let Err(e) = outcome {
                        first_error.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(e);
                    }
                }
            });
        }
    });
    first_error.into_inner().unwrap_or_else(|e| e.into_inner()).map_or(Ok(()), Err)
}
