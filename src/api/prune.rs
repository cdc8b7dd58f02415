//! The prune endpoints: what nothing uses goes, chosen by the same `until` and `label`
//! filters as the command line's prune commands, reported in Docker's shape.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::http::{ApiError, Call, Reply};
use crate::commands::filter::KeyFilters;
use crate::commands::prune::{self, KEYS};
use crate::engine;

/// The request's filters under `keys`, with `flag` (Docker's `dangling` or `all`) taken out
/// and returned on its own.
fn filters(call: &Call, keys: &[&str], flag: Option<&str>) -> Result<(KeyFilters, Option<bool>), ApiError> {
    let mut words = call.filters()?;
    let mut value = None;
    words.retain(|w| match flag.and_then(|f| w.strip_prefix(f)).and_then(|rest| rest.strip_prefix('=')) {
        Some(v) => {
            value = Some(crate::commands::filter::truth(v));
            false
        }
        None => true,
    });
    let parsed = KeyFilters::parse(&words, keys).map_err(|e| ApiError::bad(e.to_string()))?;
    Ok((parsed, value))
}

pub fn containers(call: &Call) -> Result<Reply, ApiError> {
    let (filters, _) = filters(call, &KEYS, None)?;
    let pruned = prune::prune_containers(&engine::store()?, &filters)?;
    Ok(Reply::Json(StatusCode::OK, json!({"ContainersDeleted": pruned.removed, "SpaceReclaimed": pruned.bytes})))
}

/// `dangling=false` is `image prune -a`: every image no container was made from.
pub fn images(call: &Call) -> Result<Reply, ApiError> {
    let (filters, dangling) = filters(call, &KEYS, Some("dangling"))?;
    let pruned = prune::prune_images(&engine::store()?, dangling == Some(false), &filters)?;
    let deleted: Vec<Value> = pruned
        .removed
        .iter()
        .filter_map(|line| match line.split_once(": ") {
            Some(("untagged", name)) => Some(json!({ "Untagged": name })),
            Some(("deleted", id)) => Some(json!({ "Deleted": id })),
            _ => None,
        })
        .collect();
    Ok(Reply::Json(StatusCode::OK, json!({"ImagesDeleted": deleted, "SpaceReclaimed": pruned.bytes})))
}

pub fn networks(call: &Call) -> Result<Reply, ApiError> {
    let (filters, _) = filters(call, &KEYS, None)?;
    let pruned = prune::prune_networks(&engine::store()?, &filters)?;
    Ok(Reply::Json(StatusCode::OK, json!({ "NetworksDeleted": pruned.removed })))
}

/// `all=true` (API 1.42) takes named volumes too, as `volume prune -a`.
pub fn volumes(call: &Call) -> Result<Reply, ApiError> {
    let (filters, all) = filters(call, &["label", "label!"], Some("all"))?;
    let pruned = prune::prune_volumes(&engine::store()?, all == Some(true), &filters)?;
    Ok(Reply::Json(StatusCode::OK, json!({"VolumesDeleted": pruned.removed, "SpaceReclaimed": pruned.bytes})))
}
