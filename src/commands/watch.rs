//! `watch` and `up --watch`: the Compose `develop.watch` rules. A change under a rule's
//! `path` (less its `ignore` patterns) reaches the service's running containers: `sync` copies
//! it to `target` (a deletion deletes), `sync+restart` also restarts them, `sync+exec` runs the
//! rule's command in them, `restart` only restarts. Changes are gathered until 200 ms pass
//! without one (a second at most), so that a save of many files is one sync.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;
use berth_compose::Project;
use berth_compose::model::WatchRule;
use berth_engine::build::context::glob;
use berth_engine::container::store::Container;
use berth_engine::container::{copy, exec, launch, remove};
use berth_engine::project;
use berth_engine::store::Store;
use notify::{EventKind, RecursiveMode, Watcher};

use crate::output;

/// Watches the rules of `services` (every service with rules when none is named) and applies
/// each change; returns only on error.
pub fn watch(store: &Store, project: &Project, services: &[String], exe: &Path) -> anyhow::Result<()> {
    let rules: Vec<(String, WatchRule)> = project
        .services
        .iter()
        .filter(|(name, _)| services.is_empty() || services.contains(name))
        .flat_map(|(name, s)| s.develop.iter().flat_map(|d| &d.watch).map(move |r| (name.clone(), r.clone())))
        .collect();
    if rules.is_empty() {
        anyhow::bail!("none of the services has a develop.watch section: there is nothing to watch");
    }
    let (tx, rx) = mpsc::channel();
    let mut watcher = notify::recommended_watcher(tx).context("cannot watch files")?;
    for (service, rule) in &rules {
        if rule.action == "rebuild" && project.services[service].build.is_none() {
            anyhow::bail!("service {service}: the rebuild action needs a build section");
        }
        watcher
            .watch(Path::new(&rule.path), RecursiveMode::Recursive)
            .with_context(|| format!("service {service}: cannot watch {}", rule.path))?;
    }
    for (service, rule) in rules.iter().filter(|(_, r)| r.initial_sync && r.action.starts_with("sync")) {
        initial_sync(store, project, service, rule).with_context(|| format!("service {service}: the initial sync"))?;
    }
    eprintln!("Watching {} rule(s) of {}", rules.len(), project.name);
    loop {
        let mut changed = BTreeSet::new();
        gather(&mut changed, rx.recv().context("the file watcher stopped")?);
        // Until 200 ms pass without a change, or a second in all (a file rewritten in a loop
        // must not hold the sync back for ever).
        let deadline = Instant::now() + Duration::from_secs(1);
        while let Ok(event) =
            rx.recv_timeout(Duration::from_millis(200).min(deadline.saturating_duration_since(Instant::now())))
        {
            gather(&mut changed, event);
            if Instant::now() >= deadline {
                break;
            }
        }
        for (service, rule) in &rules {
            let root = Path::new(&rule.path);
            let hits: Vec<&PathBuf> = changed.iter().filter(|p| p.starts_with(root) && wanted(rule, root, p)).collect();
            if hits.is_empty() {
                continue;
            }
            if let Err(e) = apply(store, project, service, rule, &hits, exe) {
                output::print_error(&e.context(format!("service {service}")));
            }
        }
    }
}

fn gather(changed: &mut BTreeSet<PathBuf>, event: notify::Result<notify::Event>) {
    if let Ok(event) = event {
        if !matches!(event.kind, EventKind::Access(_)) {
            changed.extend(event.paths);
        }
    }
}

/// Whether a change of `path` counts for `rule`: under one of its `include` patterns (when
/// it has some) and none of its `ignore` ones. A pattern matches the path relative to the
/// rule's `path`, or any one of its components (`node_modules`, `*.pyc`).
fn wanted(rule: &WatchRule, root: &Path, path: &Path) -> bool {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let matches = |pattern: &String| {
        let pattern = pattern.trim_end_matches('/');
        glob(pattern.as_bytes(), rel.to_string_lossy().as_bytes())
            || rel.components().any(|c| glob(pattern.as_bytes(), c.as_os_str().as_encoded_bytes()))
    };
    (rule.include.is_empty() || rule.include.iter().any(matches)) && !rule.ignore.iter().any(matches)
}

fn apply(
    store: &Store,
    project: &Project,
    service: &str,
    rule: &WatchRule,
    hits: &[&PathBuf],
    exe: &Path,
) -> anyhow::Result<()> {
    let containers: Vec<Container> = project::containers(store, &project.name, false)?
        .into_iter()
        .filter(|c| project::service_of(c) == service && remove::is_live(c))
        .collect();
    let root = Path::new(&rule.path);
    if rule.action == "rebuild" {
        // As Docker Compose does: build the image again, then replace the service's
        // containers with ones of the new image (`up -d --no-deps SERVICE`).
        eprintln!("Rebuilding service \"{service}\" after changes were detected");
        crate::commands::build::build_service(project, service, false, true)?;
        let opts = project::UpOptions { services: vec![service.to_string()], no_deps: true, ..Default::default() };
        let services = project::converge(store, project, &opts, &crate::report::Lines)?;
        project::start(store, project, &services, exe, &crate::report::Lines)?;
        return Ok(());
    }
    if rule.action.starts_with("sync") {
        let target = rule.target.as_deref().context("a sync rule needs a target")?;
        eprintln!("Syncing service \"{service}\" after {} changes were detected", hits.len());
        for c in &containers {
            let fs = copy::root(store, c).with_context(|| format!("cannot reach the files of {}", c.config.name))?;
            for hit in hits {
                sync(&fs.path(), root, target, hit)
                    .with_context(|| format!("cannot sync {} into {}", hit.display(), c.config.name))?;
            }
        }
    }
    if rule.action == "sync+exec" {
        if let Some(hook) = &rule.exec {
            let opts = exec::ExecOptions {
                args: hook.command.clone(),
                env: hook.environment.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect(),
                working_dir: hook.working_dir.clone(),
                user: hook.user.clone(),
                privileged: hook.privileged,
            };
            for c in &containers {
                exec::run(store, c, &opts).with_context(|| format!("cannot run the exec hook in {}", c.config.name))?;
            }
        }
    }
    if rule.action == "restart" || rule.action == "sync+restart" {
        eprintln!("Restarting service \"{service}\" after changes were detected");
        for c in &containers {
            remove::stop(store, c, c.config.stop_timeout)?;
            remove::wait_for_shim_exit(c, Duration::from_secs(5));
            launch::launch(store, &c.config.id, exe)?;
        }
    }
    Ok(())
}

/// Makes `target/<hit relative to root>` in the container what `hit` is on the host: a copy,
/// or nothing when `hit` is gone. A directory missing in the container is brought over whole,
/// and `target`'s parents are made when missing.
/// `initial_sync`: the rule's whole path copied into the service's running containers before
/// watching starts, so that they begin with what is on the host.
fn initial_sync(store: &Store, project: &Project, service: &str, rule: &WatchRule) -> anyhow::Result<()> {
    let target = rule.target.as_deref().context("a sync rule needs a target")?;
    let root = Path::new(&rule.path);
    for c in project::containers(store, &project.name, false)?
        .iter()
        .filter(|c| project::service_of(c) == service && remove::is_live(c))
    {
        let fs = copy::root(store, c).with_context(|| format!("cannot reach the files of {}", c.config.name))?;
        sync(&fs.path(), root, target, root)
            .with_context(|| format!("cannot sync {} into {}", root.display(), c.config.name))?;
    }
    Ok(())
}

fn sync(fs: &Path, root: &Path, target: &str, hit: &Path) -> std::io::Result<()> {
    let rel = hit.strip_prefix(root).unwrap_or(Path::new(""));
    let dest = Path::new(target).join(rel);
    let dest = dest.to_string_lossy();
    if std::fs::symlink_metadata(hit).is_err() {
        return copy::remove_at(fs, &dest);
    }
    match copy::put_at(fs, hit, &dest) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && hit != root => {
            sync(fs, root, target, hit.parent().unwrap_or(root))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            copy::make_dirs(fs, &Path::new(target).parent().unwrap_or(Path::new("/")).to_string_lossy())?;
            copy::put_at(fs, hit, &dest)
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(ignore: &[&str], include: &[&str]) -> WatchRule {
        WatchRule {
            path: "/src".into(),
            action: "sync".into(),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            include: include.iter().map(|s| s.to_string()).collect(),
            ..WatchRule::default()
        }
    }

    #[test]
    fn ignore_and_include_patterns() {
        let root = Path::new("/src");
        let r = rule(&["node_modules/", "*.pyc", "build/out?"], &[]);
        assert!(wanted(&r, root, Path::new("/src/app/main.py")));
        assert!(!wanted(&r, root, Path::new("/src/node_modules/x/index.js")));
        assert!(!wanted(&r, root, Path::new("/src/app/__pycache__/main.pyc")));
        assert!(!wanted(&r, root, Path::new("/src/build/out1")));
        assert!(wanted(&r, root, Path::new("/src/build/out12")));
        let r = rule(&[], &["*.html"]);
        assert!(wanted(&r, root, Path::new("/src/site/index.html")));
        assert!(!wanted(&r, root, Path::new("/src/site/style.css")));
    }
}
