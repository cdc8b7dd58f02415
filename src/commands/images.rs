//! `berth pull`, `images`, `image inspect`, `tag`, `rmi`, `image prune`.

use std::process::ExitCode;

use anyhow::Context;
use berth_engine::image::manifest::Platform;
use berth_engine::image::ops::ImageRow;
use berth_engine::image::pull;
use berth_engine::reference::ImageRef;

use crate::cli::{ImagesArgs, PullArgs, RmiArgs, TagArgs};
use crate::commands::filter::{self, KeyFilters};
use crate::format::{Columns, Format};
use crate::{engine, output, progress};

pub fn pull(args: PullArgs) -> anyhow::Result<ExitCode> {
    let [image] = args.image.as_slice() else { anyhow::bail!("pull takes one image (or, in a project, services)") };
    let reference = ImageRef::parse(image)?;
    let platform = match &args.platform {
        Some(p) => Platform::parse(p)
            .with_context(|| format!("invalid platform {p:?}: use os/arch[/variant], like linux/amd64"))?,
        None => Platform::host(),
    };
    let store = engine::store()?;
    let config = engine::config()?;
    let progress = progress::for_terminal(args.quiet);
    let before = store.image(&reference).ok().flatten();
    let pulled = engine::runtime()?
        .block_on(pull::pull(&store, &config, &reference, &platform, progress))
        .with_context(|| format!("cannot pull {}", reference.familiar()))?;
    if args.quiet {
        println!("{reference}");
    } else {
        eprintln!("Digest: {}", pulled.repo_digest);
        eprintln!("Status: {} {}", pull_verb(before.as_ref(), &pulled), reference.familiar());
        println!("{reference}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Docker's words for a pull's outcome: newer when the name had no image or another one.
pub(crate) fn pull_verb(before: Option<&berth_engine::store::ImageRecord>, pulled: &pull::Pulled) -> &'static str {
    if before.is_some_and(|b| b.manifest == pulled.record.manifest) {
        "Image is up to date for"
    } else {
        "Downloaded newer image for"
    }
}

/// Pulls one image for the host's platform, with progress on a terminal.
pub fn pull_one(store: &berth_engine::store::Store, image: &str) -> anyhow::Result<()> {
    let reference = ImageRef::parse(image)?;
    let config = engine::config()?;
    engine::runtime()?
        .block_on(pull::pull(store, &config, &reference, &Platform::host(), progress::for_terminal(false)))
        .with_context(|| format!("cannot pull {}", reference.familiar()))?;
    Ok(())
}

pub fn images(args: ImagesArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let filters = KeyFilters::parse(&args.filter, &["dangling", "label", "label!", "reference", "before", "since"])?;
    let every = store.image_rows()?;
    let mut rows = every.clone();
    if let Some(filter) = &args.repository {
        let wanted = ImageRef::parse(filter)?;
        rows.retain(|r| r.name.name() == wanted.name() && (!filter.contains(':') || r.name.tag == wanted.tag));
    }
    rows.retain(|r| filters.matches(|key, value| image_matches(key, value, r, &every)));
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for r in &rows {
            if seen.insert(r.record.id.clone()) {
                println!("{}", if args.no_trunc { r.record.id.to_string() } else { r.record.id.short().to_string() });
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<serde_json::Value> = rows.iter().map(|r| image_row(r, args.no_trunc)).collect();
    Format::parse(args.format.as_deref(), &IMAGES)?.print(&rows, &IMAGES)?;
    Ok(ExitCode::SUCCESS)
}

/// `images`'s columns, as Docker names them.
const IMAGES: Columns = Columns {
    default: "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
    headers: &[
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("ID", "IMAGE ID"),
        ("Digest", "DIGEST"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("Size", "SIZE"),
        ("Containers", "CONTAINERS"),
    ],
};

/// An image name as `images --format` sees it, with Docker's fields.
fn image_row(r: &ImageRow, no_trunc: bool) -> serde_json::Value {
    let row = serde_json::json!({
        "Containers": "N/A",
        "CreatedAt": r.config.created.as_deref().map(output::docker_time).unwrap_or_default(),
        "CreatedSince": output::since(r.config.created.as_deref()),
        "Digest": r.record.index.as_ref().unwrap_or(&r.record.manifest).to_string(),
        "ID": if no_trunc { r.record.id.to_string() } else { r.record.id.short().to_string() },
        "Repository": repository(&r.name),
        "Size": output::human_size(r.size),
        "Tag": r.name.tag.clone().unwrap_or_else(|| "<none>".into()),
        "VirtualSize": output::human_size(r.size),
    });
    crate::format::with_label_method(row, r.config.config.labels.as_ref().unwrap_or(&Default::default()))
}

/// One `images --filter`: `dangling`, `label`, `reference` (a
/// pattern for `name[:tag]`), `before` and `since` (an image's creation against another's).
pub(crate) fn image_matches(key: &str, value: &str, r: &ImageRow, every: &[ImageRow]) -> bool {
    match key {
        // berth keeps no image without a name: one whose last name goes is removed from the
        // index, its blobs left to `image prune`.
        "dangling" => !filter::truth(value),
        "label" => filter::label(r.config.config.labels.as_ref().unwrap_or(&Default::default()), value),
        "reference" => {
            let name = repository(&r.name);
            let tagged = format!("{name}:{}", r.name.tag.as_deref().unwrap_or("latest"));
            filter::wildcard(value, &name) || filter::wildcard(value, &tagged)
        }
        "before" | "since" => {
            let other = every.iter().find(|o| {
                o.record.id.short().starts_with(value.trim_start_matches("sha256:"))
                    || ImageRef::parse(value).is_ok_and(|v| v.to_string() == o.name.to_string())
            });
            let created = |row: &ImageRow| row.config.created.as_deref().and_then(output::parse_rfc3339);
            match (other.and_then(created), created(r)) {
                (Some(theirs), Some(ours)) if key == "before" => ours < theirs,
                (Some(theirs), Some(ours)) => ours > theirs,
                _ => false,
            }
        }
        _ => false,
    }
}

pub fn repository(name: &ImageRef) -> String {
    let familiar = ImageRef { tag: None, digest: None, ..name.clone() }.familiar();
    familiar.trim_end_matches(":latest").to_string()
}

pub fn inspect(names: &[String], format: Option<&str>) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let all = store.images()?;
    let mut out = Vec::new();
    for query in names {
        out.push(inspect_object(&store, &all, query)?);
    }
    super::inspect::print(&out, format)?;
    Ok(ExitCode::SUCCESS)
}

/// An image as `image inspect` and the API's `GET /images/{name}/json` show it; `all` is
/// every image's record by name (for its tags).
pub(crate) fn inspect_object(
    store: &berth_engine::store::Store,
    all: &std::collections::BTreeMap<String, berth_engine::store::ImageRecord>,
    query: &str,
) -> anyhow::Result<serde_json::Value> {
    let (_, record) = store.find_image(query)?;
    let config = store.config_of(&record)?;
    let full: serde_json::Value = serde_json::from_slice(&store.content.read(&record.id)?)?;
    let manifest = store.manifest_of(&record)?;
    let tags: Vec<String> = all.iter().filter(|(_, r)| r.id == record.id).map(|(n, _)| n.clone()).collect();
    let size: u64 = config.rootfs.diff_ids.iter().map(|d| store.snapshot_size(d)).sum();
    Ok(serde_json::json!({
        "Id": record.id.to_string(),
        "RepoTags": tags.iter().filter_map(|t| ImageRef::parse(t).ok()).map(|r| r.familiar()).collect::<Vec<_>>(),
        "RepoDigests": tags.iter().filter_map(|t| ImageRef::parse(t).ok())
            .map(|r| format!("{}@{}", r.name(), record.index.as_ref().unwrap_or(&record.manifest))).collect::<Vec<_>>(),
        "Created": config.created,
        "Architecture": config.architecture,
        "Os": config.os,
        "Size": size,
        "Config": full.get("config").cloned().unwrap_or_default(),
        "RootFS": { "Type": "layers", "Layers": config.rootfs.diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>() },
        "Manifest": { "Digest": record.manifest.to_string(), "MediaType": manifest.media_type,
                      "Layers": manifest.layers.iter().map(|l| serde_json::json!({"Digest": l.digest.to_string(), "Size": l.size, "MediaType": l.media_type})).collect::<Vec<_>>() },
    }))
}

/// The steps that made an image, newest first, each with the size of the layer it added.
pub(crate) fn history_steps(
    store: &berth_engine::store::Store,
    record: &berth_engine::store::ImageRecord,
) -> anyhow::Result<Vec<(berth_engine::image::manifest::History, u64)>> {
    let config = store.config_of(record)?;
    let mut layers = config.rootfs.diff_ids.iter();
    let mut steps: Vec<(berth_engine::image::manifest::History, u64)> = config
        .history
        .iter()
        .map(|h| (h.clone(), if h.empty_layer { 0 } else { layers.next().map_or(0, |d| store.snapshot_size(d)) }))
        .collect();
    // Layers the history does not tell of (an imported root file system) get a step each.
    for d in layers {
        steps.push((Default::default(), store.snapshot_size(d)));
    }
    steps.reverse();
    Ok(steps)
}

/// `image history`: the steps that made an image, newest first, each with the layer it
/// added (`0B` for a step that changed only the configuration), as Docker lists them.
pub fn history(name: &str, no_trunc: bool, quiet: bool, format: Option<&str>) -> anyhow::Result<ExitCode> {
    let format = Format::parse(format, &HISTORY)?;
    let store = engine::store()?;
    let (_, record) = store.find_image(name)?;
    let steps = history_steps(&store, &record)?;
    let short = |s: &str| s.trim_start_matches("sha256:").chars().take(12).collect::<String>();
    let id = |i: usize| match i {
        0 if no_trunc => record.id.to_string(),
        0 => short(&record.id.to_string()),
        _ => "<missing>".to_string(),
    };
    if quiet {
        (0..steps.len()).for_each(|i| println!("{}", id(i)));
        return Ok(ExitCode::SUCCESS);
    }
    let created_by = |h: &berth_engine::image::manifest::History| {
        let text = h.created_by.clone().unwrap_or_default().replace(['\n', '\t'], " ");
        match no_trunc || text.chars().count() <= 45 {
            true => text,
            false => text.chars().take(44).collect::<String>() + "…",
        }
    };
    let rows: Vec<serde_json::Value> = steps
        .iter()
        .enumerate()
        .map(|(i, (h, size))| {
            serde_json::json!({
                "Comment": h.comment.clone().unwrap_or_default(),
                "CreatedAt": h.created.as_deref().map(output::docker_time).unwrap_or_default(),
                "CreatedBy": created_by(h), "CreatedSince": output::since(h.created.as_deref()), "ID": id(i),
                "Size": output::human_size(*size),
            })
        })
        .collect();
    format.print(&rows, &HISTORY)?;
    Ok(ExitCode::SUCCESS)
}

/// `image history`'s columns, as Docker names them.
const HISTORY: Columns = Columns {
    default: "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
    headers: &[
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ],
};

pub fn tag(args: TagArgs) -> anyhow::Result<ExitCode> {
    let target = ImageRef::parse(&args.target)?;
    engine::store()?.tag_image(&args.source, &target)?;
    Ok(ExitCode::SUCCESS)
}

pub fn rmi(args: RmiArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let mut failed = false;
    let containers = store.list_containers()?;
    for query in &args.images {
        // An image a container uses stays, unless forced (the container keeps its layers:
        // they are only collected once no image and no container needs them).
        if !args.force {
            if let Ok((_, record)) = store.find_image(query) {
                let users: Vec<&str> = containers
                    .iter()
                    .filter(|c| c.config.image_id == record.id)
                    .map(|c| c.config.name.as_str())
                    .collect();
                if !users.is_empty() {
                    output::print_error(&anyhow::anyhow!(
                        "image {query} is used by container(s) {}; remove them first, or use -f",
                        users.join(", ")
                    ));
                    failed = true;
                    continue;
                }
            }
        }
        match store.remove_image(query, args.force) {
            Ok((names, gone)) => {
                for n in names {
                    println!("Untagged: {}", ImageRef::parse(&n).map(|r| r.familiar()).unwrap_or(n));
                }
                if let Some(id) = gone {
                    println!("Deleted: {id}");
                }
            }
            Err(e) => {
                output::print_error(&anyhow::Error::from(e));
                failed = true;
            }
        }
    }
    store.gc()?;
    Ok(if failed { ExitCode::from(output::EXIT_FAILURE) } else { ExitCode::SUCCESS })
}
