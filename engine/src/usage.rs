//! What `system df` reports: the space images, containers, local volumes and the build cache
//! take in the state root, how many of each are in use, and how much could be reclaimed, as
//! Docker counts them: an image is in use when a container was made from it, a volume when
//! a container mounts it, a container when it runs; the build cache is all reclaimable.
//! Layers shared by images are counted once.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use berth_volumes::mount::MountKind;
use berth_volumes::store::Backing;

use crate::container::store::is_live;
use crate::digest::Digest;
use crate::store::Store;

/// One line of `system df`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub kind: &'static str,
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// The bytes of the files under `path` (their apparent sizes; links not followed).
pub fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    let Ok(entries) = fs::read_dir(path) else { return 0 };
    entries.flatten().map(|e| tree_size(&e.path())).sum()
}

/// The space a container's own changes take (its writable layer).
pub fn container_size(store: &Store, c: &crate::container::store::Container) -> u64 {
    tree_size(&store.container_dir(&c.config.id).upper())
}

/// The space a local volume's data takes (0 for one not kept in a directory, a tmpfs say).
pub fn volume_size(vs: &berth_volumes::store::VolumeStore, v: &berth_volumes::store::Volume) -> u64 {
    match vs.backing(v) {
        Backing::Directory(dir) => tree_size(&dir),
        _ => 0,
    }
}

/// Images, containers, local volumes and build cache, in that order.
pub fn disk_usage(store: &Store) -> Result<Vec<Usage>, Box<dyn std::error::Error + Send + Sync>> {
    let containers = store.list_containers()?;
    let used_images: BTreeSet<Digest> = containers.iter().map(|c| c.config.image_id.clone()).collect();

    let mut images = Usage { kind: "Images", ..Usage::default() };
    let (mut all_layers, mut active_layers) = (BTreeSet::new(), BTreeSet::new());
    let image_blobs = image_blobs(store);
    // One entry an image ID, however many names it has.
    let records: std::collections::BTreeMap<Digest, _> =
        store.images()?.into_values().map(|r| (r.id.clone(), r)).collect();
    for (id, record) in &records {
        images.total += 1;
        let Ok(config) = store.config_of(record) else { continue };
        all_layers.extend(config.rootfs.diff_ids.iter().cloned());
        if used_images.contains(id) {
            images.active += 1;
            active_layers.extend(config.rootfs.diff_ids.iter().cloned());
        }
    }
    images.size = all_layers.iter().map(|d| store.snapshot_size(d)).sum();
    images.reclaimable = all_layers.difference(&active_layers).map(|d| store.snapshot_size(d)).sum();

    let mut cs = Usage { kind: "Containers", total: containers.len(), ..Usage::default() };
    for c in &containers {
        let size = container_size(store, c);
        cs.size += size;
        if is_live(c) {
            cs.active += 1;
        } else {
            cs.reclaimable += size;
        }
    }

    let vs = crate::volume::volumes(store);
    let mounted: BTreeSet<&str> = containers
        .iter()
        .flat_map(|c| &c.config.mounts)
        .filter(|m| m.kind == MountKind::Volume)
        .filter_map(|m| m.source.as_deref())
        .collect();
    let mut volumes = Usage { kind: "Local Volumes", ..Usage::default() };
    for v in vs.list()? {
        volumes.total += 1;
        let size = volume_size(&vs, &v);
        volumes.size += size;
        if mounted.contains(v.name.as_str()) {
            volumes.active += 1;
        } else {
            volumes.reclaimable += size;
        }
    }

    let cache = build_cache_usage(store, &image_blobs);
    Ok(vec![images, cs, volumes, cache])
}

/// The build cache's records and the layers only they keep (not an image's `image_blobs`).
pub fn build_cache_usage(store: &Store, image_blobs: &BTreeSet<Digest>) -> Usage {
    let mut cache = Usage { kind: "Build Cache", ..Usage::default() };
    let mut cached_blobs = BTreeSet::new();
    for record in store.build_cache_records() {
        cache.total += 1;
        cache.size += record.size;
        #[derive(serde::Deserialize)]
        struct Cached {
            layers: Vec<Digest>,
        }
        if let Some(hit) = fs::read(&record.path).ok().and_then(|t| serde_json::from_slice::<Cached>(&t).ok()) {
            cached_blobs.extend(hit.layers.into_iter().filter(|l| !image_blobs.contains(l)));
        }
    }
    cache.size += cached_blobs.iter().map(|b| store.content.size(b).unwrap_or(0)).sum::<u64>();
    cache.reclaimable = cache.size;
    cache
}

/// The layers the images hold, which the build cache shares rather than keeps.
pub fn image_blobs(store: &Store) -> BTreeSet<Digest> {
    let images = store.images().unwrap_or_default();
    images
        .values()
        .filter_map(|r| store.manifest_of(r).ok())
        .flat_map(|m| m.layers.into_iter().map(|l| l.digest))
        .collect()
}
