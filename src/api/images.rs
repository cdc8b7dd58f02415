//! The image endpoints: list, inspect, pull (`POST /images/create`, with Docker's JSON
//! progress stream), tag, remove.

use std::collections::BTreeMap;
use std::sync::Arc;

use berth_engine::image::manifest::Platform;
use berth_engine::image::pull;
use berth_engine::reference::ImageRef;
use hyper::StatusCode;
use serde_json::{Value, json};

use super::http::{ApiError, Call, Reply, streamed};
use crate::commands::filter::KeyFilters;
use crate::commands::images::{image_matches, inspect_object};
use crate::{engine, output};

pub fn list(call: &Call) -> Result<Reply, ApiError> {
    Ok(Reply::Json(StatusCode::OK, rows(&call.filters()?)?))
}

/// The images `filters` choose, one entry per image with all its names, newest first.
pub fn rows(filters: &[String]) -> Result<Value, ApiError> {
    let store = engine::store()?;
    let filters = KeyFilters::parse(filters, &["dangling", "label", "label!", "reference", "before", "since"])
        .map_err(|e| ApiError::bad(e.to_string()))?;
    let every = store.image_rows()?;
    let containers = store.list_containers()?;
    // How many images hold each layer: what an image shares with others is freed with them.
    let mut layers_of: BTreeMap<String, &Vec<berth_engine::digest::Digest>> = BTreeMap::new();
    for r in &every {
        layers_of.entry(r.record.id.to_string()).or_insert(&r.config.rootfs.diff_ids);
    }
    let mut holders: BTreeMap<&berth_engine::digest::Digest, usize> = BTreeMap::new();
    for layers in layers_of.values() {
        for d in layers.iter().collect::<std::collections::BTreeSet<_>>() {
            *holders.entry(d).or_default() += 1;
        }
    }
    // One entry per image, with all its names.
    let mut by_id: BTreeMap<String, Value> = BTreeMap::new();
    for r in every.iter().filter(|r| filters.matches(|k, v| image_matches(k, v, r, &every))) {
        let id = r.record.id.to_string();
        let entry = by_id.entry(id.clone()).or_insert_with(|| {
            json!({
                "Id": id, "ParentId": "", "RepoTags": [], "RepoDigests": [],
                "Created": r.config.created.as_deref().and_then(output::parse_rfc3339).unwrap_or(0),
                "Size": r.size, "VirtualSize": r.size,
                "SharedSize": r.config.rootfs.diff_ids.iter().filter(|d| holders.get(d).is_some_and(|n| *n > 1)).map(|d| store.snapshot_size(d)).sum::<u64>(),
                "Labels": r.config.config.labels.clone().unwrap_or_default(),
                "Containers": containers.iter().filter(|c| c.config.image_id == r.record.id).count(),
            })
        });
        let digest = r.record.index.as_ref().unwrap_or(&r.record.manifest);
        if let Some(tags) = entry["RepoTags"].as_array_mut() {
            tags.push(r.name.familiar().into());
        }
        if let Some(digests) = entry["RepoDigests"].as_array_mut() {
            digests.push(format!("{}@{digest}", r.name.name()).into());
        }
    }
    let mut out: Vec<Value> = by_id.into_values().collect();
    out.sort_by_key(|v| std::cmp::Reverse(v["Created"].as_i64().unwrap_or(0)));
    Ok(Value::Array(out))
}

pub fn inspect(name: &str) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let all = store.images()?;
    Ok(Reply::Json(StatusCode::OK, inspect_object(&store, &all, name)?))
}

pub fn tag(call: &Call, name: &str) -> Result<Reply, ApiError> {
    let repo = call.query("repo").filter(|r| !r.is_empty()).ok_or_else(|| ApiError::bad("tag needs a repo"))?;
    let target = match call.query("tag").filter(|t| !t.is_empty()) {
        Some(tag) => format!("{repo}:{tag}"),
        None => repo.to_string(),
    };
    let target = ImageRef::parse(&target).map_err(|e| ApiError::bad(e.to_string()))?;
    engine::store()?.tag_image(name, &target)?;
    Ok(Reply::Empty(StatusCode::CREATED))
}

/// `DELETE /images/{name}`: untags the name (or every name of an ID); an image a container
/// uses stays unless forced.
pub fn remove(call: &Call, name: &str) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let force = call.flag("force");
    let (_, record) = store.find_image(name)?;
    if !force {
        let containers = store.list_containers()?;
        if let Some(c) = containers.iter().find(|c| c.config.image_id == record.id) {
            return Err(ApiError::conflict(format!(
                "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                c.config.id.get(..12).unwrap_or(&c.config.id),
                record.id.short()
            )));
        }
    }
    let (names, gone) = store.remove_image(name, force)?;
    store.gc()?;
    let mut out: Vec<Value> = names
        .iter()
        .map(|n| json!({"Untagged": ImageRef::parse(n).map(|r| r.familiar()).unwrap_or_else(|_| n.clone())}))
        .collect();
    if let Some(id) = gone {
        out.push(json!({"Deleted": id.to_string()}));
    }
    Ok(Reply::Json(StatusCode::OK, Value::Array(out)))
}

/// `POST /images/create?fromImage=NAME&tag=TAG`: a pull, its progress as Docker's JSON
/// messages; a failure after the headers is an `error` message, as Docker sends it.
pub fn pull(call: &Call) -> Result<Reply, ApiError> {
    if call.query("fromSrc").is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "berth does not import images through the API yet (fromSrc)",
        ));
    }
    let image =
        call.query("fromImage").filter(|i| !i.is_empty()).ok_or_else(|| ApiError::bad("fromImage is required"))?;
    let full = match call.query("tag").filter(|t| !t.is_empty()) {
        Some(tag) if tag.starts_with("sha256:") => format!("{image}@{tag}"),
        Some(tag) => format!("{image}:{tag}"),
        None => image.to_string(),
    };
    let reference = ImageRef::parse(&full).map_err(|e| ApiError::bad(e.to_string()))?;
    let platform = match call.query("platform").filter(|p| !p.is_empty()) {
        Some(p) => Platform::parse(p).ok_or_else(|| ApiError::bad(format!("invalid platform {p:?}")))?,
        None => Platform::host(),
    };
    let store = engine::store()?;
    let config = super::transfer::registry_config(call, &reference.registry)?;
    let before = store.image(&reference).ok().flatten();
    Ok(streamed("application/json", move |tx| {
        let tx = Arc::new(tx);
        tx.json(&json!({"status": format!("Pulling from {}", reference.repository), "id": reference.tag.clone().unwrap_or_else(|| "latest".into())}));
        let progress = super::transfer::json_progress(tx.clone());
        let pulled = engine::runtime().map_err(|e| e.to_string()).and_then(|rt| {
            rt.block_on(pull::pull(&store, &config, &reference, &platform, progress))
                .map_err(|e| format!("{:#}", anyhow::Error::new(e)))
        });
        match pulled {
            Ok(p) => {
                tx.json(&json!({"status": format!("Digest: {}", p.repo_digest)}));
                let verb = crate::commands::images::pull_verb(before.as_ref(), &p);
                tx.json(&json!({"status": format!("Status: {verb} {}", reference.familiar())}));
            }
            Err(message) => {
                tx.json(&json!({"errorDetail": {"message": message}, "error": message}));
            }
        }
    }))
}

/// `GET /images/{name}/history`: the steps that made the image, newest first.
pub fn history(name: &str) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let (_, record) = store.find_image(name)?;
    let tags: Vec<String> = store
        .images()?
        .iter()
        .filter(|(_, r)| r.id == record.id)
        .filter_map(|(n, _)| ImageRef::parse(n).ok().map(|r| r.familiar()))
        .collect();
    let steps = crate::commands::images::history_steps(&store, &record)?;
    let rows: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, (h, size))| {
            json!({
                "Id": if i == 0 { record.id.to_string() } else { "<missing>".into() },
                "Created": h.created.as_deref().and_then(output::parse_rfc3339).unwrap_or(0),
                "CreatedBy": h.created_by.clone().unwrap_or_default(),
                "Tags": if i == 0 { json!(tags) } else { Value::Null },
                "Size": size, "Comment": h.comment.clone().unwrap_or_default(),
            })
        })
        .collect();
    Ok(Reply::Json(StatusCode::OK, Value::Array(rows)))
}
