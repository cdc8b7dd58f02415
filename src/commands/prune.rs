//! The prune commands (`container`, `image`, `network`, `volume`, `builder` and `system
//! prune`): what nothing uses goes, after Docker's confirmation prompt (unless `-f`), with
//! Docker's `until` and `label` filters, and Docker's report of what went.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use berth_engine::container::remove;
use berth_engine::store::Store;
use berth_engine::{network, volume};

use crate::cli::PruneArgs;
use crate::commands::filter::{self, KeyFilters};
use crate::{engine, output};

/// Asks Docker's question about `what` (lines of "This will remove ..."); `-f` answers yes.
/// Reads the answer from standard input, so that `yes | berth system prune` works as with
/// Docker; anything but `y`/`yes` (end of input too) is no.
fn confirm(what: &[&str], force: bool) -> anyhow::Result<bool> {
    if force {
        return Ok(true);
    }
    let mut out = std::io::stdout().lock();
    match what {
        [one] => writeln!(out, "WARNING! This will remove {one}.")?,
        many => {
            writeln!(out, "WARNING! This will remove:")?;
            many.iter().try_for_each(|w| writeln!(out, "  - {w}"))?;
            writeln!(out)?;
        }
    }
    write!(out, "Are you sure you want to continue? [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let yes = matches!(answer.trim().to_lowercase().as_str(), "y" | "yes");
    if !yes {
        writeln!(out)?;
    }
    Ok(yes)
}

/// The answer to a prune the user declined: nothing removed, and an exit code that says so.
fn cancelled(what: &str) -> anyhow::Result<ExitCode> {
    output::print_error(&anyhow::anyhow!("{what} has been cancelled"));
    Ok(ExitCode::from(output::EXIT_FAILURE))
}

fn total(bytes: u64) {
    println!("Total reclaimed space: {}", output::human_size(bytes));
}

/// `until` and `label` against an object's creation time and labels.
fn chosen(filters: &KeyFilters, created: &str, labels: &std::collections::BTreeMap<String, String>) -> bool {
    filters.matches(|key, value| match key {
        "until" => {
            filter::until_secs(value).zip(output::parse_rfc3339(created)).is_some_and(|(until, made)| made < until)
        }
        "label" => filter::label(labels, value),
        _ => false,
    })
}

pub(crate) const KEYS: [&str; 3] = ["until", "label", "label!"];

/// `container prune`.
pub fn containers(args: &PruneArgs) -> anyhow::Result<ExitCode> {
    let filters = KeyFilters::parse(&args.filter, &KEYS)?;
    if !confirm(&["all stopped containers"], args.force)? {
        return cancelled("container prune");
    }
    let store = engine::store()?;
    total(print_list("Deleted Containers", prune_containers(&store, &filters)?));
    Ok(ExitCode::SUCCESS)
}

/// What a prune removed: the objects' names (or lines) and the bytes freed.
pub(crate) struct Pruned {
    pub(crate) removed: Vec<String>,
    pub(crate) bytes: u64,
}

fn print_list(heading: &str, pruned: Pruned) -> u64 {
    if !pruned.removed.is_empty() {
        println!("{heading}:\n{}\n", pruned.removed.join("\n"));
    }
    pruned.bytes
}

/// Removes the stopped containers `filters` choose.
pub(crate) fn prune_containers(store: &Store, filters: &KeyFilters) -> anyhow::Result<Pruned> {
    let mut removed = Vec::new();
    let mut bytes = 0;
    for c in store.list_containers()? {
        if remove::is_live(&c) || !chosen(filters, &c.config.created, &c.config.labels) {
            continue;
        }
        let size = berth_engine::usage::container_size(store, &c);
        remove::remove(store, &c, false)?;
        bytes += size;
        removed.push(c.config.id);
    }
    Ok(Pruned { removed, bytes })
}

/// `image prune [-a]`.
pub fn images(all: bool, args: &PruneArgs) -> anyhow::Result<ExitCode> {
    let filters = KeyFilters::parse(&args.filter, &KEYS)?;
    let what = if all { "all images without at least one container associated to them" } else { "all dangling images" };
    if !confirm(&[what], args.force)? {
        return cancelled("image prune");
    }
    let store = engine::store()?;
    total(print_list("Deleted Images", prune_images(&store, all, &filters)?));
    Ok(ExitCode::SUCCESS)
}

/// With `all`, untags every image no container was made from (berth keeps no dangling
/// image: one that loses its last name leaves the index); then collects the layers and blobs
/// that no image and no container needs.
/// (The lines are Docker's `untagged: NAME` and `deleted: ID`.)
pub(crate) fn prune_images(store: &Store, all: bool, filters: &KeyFilters) -> anyhow::Result<Pruned> {
    let mut lines = Vec::new();
    if all {
        let used: std::collections::BTreeSet<_> =
            store.list_containers()?.into_iter().map(|c| c.config.image_id).collect();
        for row in store.image_rows()? {
            let labels = row.config.config.labels.clone().unwrap_or_default();
            let created = row.config.created.clone().unwrap_or_default();
            if used.contains(&row.record.id) || !chosen(filters, &created, &labels) {
                continue;
            }
            let (names, gone) = store.remove_image(&row.name.to_string(), false)?;
            lines.extend(names.iter().map(|n| format!("untagged: {n}")));
            lines.extend(gone.map(|id| format!("deleted: {id}")));
        }
    }
    let reclaimed = store.gc()?;
    Ok(Pruned { removed: lines, bytes: reclaimed.bytes })
}

/// `network prune`.
pub fn networks(args: &PruneArgs) -> anyhow::Result<ExitCode> {
    let filters = KeyFilters::parse(&args.filter, &KEYS)?;
    if !confirm(&["all custom networks not used by at least one container"], args.force)? {
        return cancelled("network prune");
    }
    print_list("Deleted Networks", prune_networks(&engine::store()?, &filters)?);
    Ok(ExitCode::SUCCESS)
}

/// Removes the networks no container is on that `filters` choose.
pub(crate) fn prune_networks(store: &Store, filters: &KeyFilters) -> anyhow::Result<Pruned> {
    let used: Vec<String> = store
        .list_containers()?
        .iter()
        .flat_map(|c| c.config.network.endpoints.iter().map(|e| e.network_id.clone()))
        .collect();
    let mut removed = Vec::new();
    for r in network::list(store)? {
        if used.contains(&r.id) || !chosen(filters, &r.created, &r.labels) {
            continue;
        }
        network::remove(store, &r)?;
        removed.push(r.name);
    }
    Ok(Pruned { removed, bytes: 0 })
}

/// `volume prune [-a]`: anonymous volumes no container uses (every unused one with `-a`).
pub fn volumes(all: bool, args: &PruneArgs) -> anyhow::Result<ExitCode> {
    let filters = KeyFilters::parse(&args.filter, &["label", "label!"])?;
    let what = match all {
        true => "all local volumes not used by at least one container",
        false => "anonymous local volumes not used by at least one container",
    };
    if !confirm(&[what], args.force)? {
        return cancelled("volume prune");
    }
    total(print_list("Deleted Volumes", prune_volumes(&engine::store()?, all, &filters)?));
    Ok(ExitCode::SUCCESS)
}

/// Removes the unused anonymous volumes (every unused one with `all`) `filters` choose.
pub(crate) fn prune_volumes(store: &Store, all: bool, filters: &KeyFilters) -> anyhow::Result<Pruned> {
    let vs = volume::volumes(store);
    let mut removed = Vec::new();
    let mut bytes = 0;
    for v in vs.list()? {
        let anonymous = v.labels.contains_key(volume::ANONYMOUS);
        if !(all || anonymous) || !chosen(filters, &v.created, &v.labels) || !volume::users(store, &v.name)?.is_empty()
        {
            continue;
        }
        bytes += berth_engine::usage::volume_size(&vs, &v);
        volume::remove(store, &v.name)?;
        removed.push(v.name);
    }
    Ok(Pruned { removed, bytes })
}

/// `builder prune`: the build cache's records, then the layers only they kept.
pub fn builder(args: &PruneArgs) -> anyhow::Result<ExitCode> {
    let filters = KeyFilters::parse(&args.filter, &["until"])?;
    if !confirm(&["all dangling build cache"], args.force)? {
        return cancelled("builder prune");
    }
    total(prune_builder(&engine::store()?, &filters)?);
    Ok(ExitCode::SUCCESS)
}

fn prune_builder(store: &Store, filters: &KeyFilters) -> anyhow::Result<u64> {
    let until = filters.values("until").iter().filter_map(|v| filter::until_secs(v)).min();
    let (records, bytes) = store.prune_build_cache(until)?;
    let reclaimed = store.gc()?;
    if records > 0 {
        println!("Deleted build cache objects: {records}\n");
    }
    Ok(bytes + reclaimed.bytes)
}

/// `system prune [-a] [--volumes]`: stopped containers, unused networks, images (dangling, or
/// all unused with `-a`), the build cache, and with `--volumes` unused anonymous volumes.
pub fn system(all: bool, with_volumes: bool, args: &PruneArgs) -> anyhow::Result<ExitCode> {
    let filters = KeyFilters::parse(&args.filter, &KEYS)?;
    let mut what = vec!["all stopped containers", "all networks not used by at least one container"];
    if with_volumes {
        what.push("all anonymous volumes not used by at least one container");
    }
    what.push(if all { "all images without at least one container associated to them" } else { "all dangling images" });
    what.push(if all { "all build cache" } else { "unused build cache" });
    if !confirm(&what, args.force)? {
        return cancelled("system prune");
    }
    let store = engine::store()?;
    let mut bytes = print_list("Deleted Containers", prune_containers(&store, &filters)?);
    print_list("Deleted Networks", prune_networks(&store, &filters)?);
    if with_volumes {
        bytes += print_list("Deleted Volumes", prune_volumes(&store, false, &filters.only(&["label", "label!"]))?);
    }
    bytes += print_list("Deleted Images", prune_images(&store, all, &filters)?);
    bytes += prune_builder(&store, &filters.only(&["until"]))?;
    total(bytes);
    Ok(ExitCode::SUCCESS)
}
