//! Named volumes in the state directory (`<root>/volumes/<name>/_data`), and the mounts of a
//! container: volumes created (or named, for anonymous ones) when the container is created,
//! bind sources checked or created, seeding on first use done by the shim.
//!
//! Volume data is deleted only by [`remove`] (`volume rm`, `volume prune`, `down -v`), and
//! never while a container uses the volume.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use berth_volumes::VolumeError;
pub use berth_volumes::mount::{Mount, MountKind, RuntimeMount, parse_mount_flag, parse_volume_flag};
use berth_volumes::store::VolumeStore;
pub use berth_volumes::store::{Backing, Volume};

use crate::container::ContainerConfig;
use crate::container::store::ContainerError;
use crate::store::Store;

/// The label Docker puts on anonymous volumes.
pub const ANONYMOUS: &str = "com.docker.volume.anonymous";

#[derive(Debug, thiserror::Error)]
pub enum VolumeUseError {
    #[error("volume {name} is in use by {containers}; remove them first")]
    InUse { name: String, containers: String },
    #[error(transparent)]
    Volume(#[from] VolumeError),
    #[error(transparent)]
    Container(#[from] ContainerError),
}

pub fn volumes(store: &Store) -> VolumeStore {
    VolumeStore::new(&store.root.join("volumes"))
}

/// The names of the containers that mount volume `name`.
pub fn users(store: &Store, name: &str) -> Result<Vec<String>, ContainerError> {
    Ok(store.list_containers()?.into_iter().filter(|c| mounts(&c.config, name)).map(|c| c.config.name).collect())
}

/// Whether a container mounts volume `name`.
pub fn mounts(config: &crate::container::ContainerConfig, name: &str) -> bool {
    config.mounts.iter().any(|m| m.kind == MountKind::Volume && m.source.as_deref() == Some(name))
}

/// Creates a volume (or returns the existing one).
pub fn create(
    store: &Store,
    name: &str,
    driver: Option<&str>,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
) -> Result<Volume, VolumeError> {
    volumes(store).create(name, driver.unwrap_or("local"), labels, options, crate::time::now_nanos())
}

/// Deletes a volume and its data, refusing one in use.
pub fn remove(store: &Store, name: &str) -> Result<(), VolumeUseError> {
    let users = users(store, name)?;
    if !users.is_empty() {
        return Err(VolumeUseError::InUse { name: name.to_string(), containers: users.join(", ") });
    }
    volumes(store).remove(name)?;
    Ok(())
}

/// Makes a new container's mounts ready: anonymous volumes get a name, missing volumes are
/// created, missing bind sources created where allowed. Everything is checked first, so a bad
/// mount creates nothing.
pub fn prepare(store: &Store, mounts: &[Mount]) -> Result<Vec<Mount>, VolumeError> {
    for m in mounts {
        berth_volumes::mount::check(m)?;
    }
    let mut targets: Vec<&str> = mounts.iter().map(|m| m.target.trim_end_matches('/')).collect();
    targets.sort();
    if let Some(w) = targets.windows(2).find(|w| w[0] == w[1]) {
        return Err(VolumeError::Mount(format!("duplicate mount point {}", w[0])));
    }
    let mut out = Vec::new();
    for m in mounts {
        let mut m = m.clone();
        match m.kind {
            MountKind::Volume => {
                let labels = match &m.source {
                    Some(_) => BTreeMap::new(),
                    None => {
                        m.source = Some(crate::container::new_id());
                        BTreeMap::from([(ANONYMOUS.to_string(), String::new())])
                    }
                };
                let name = m.source.clone().unwrap_or_default();
                if volumes(store).get(&name)?.is_none() {
                    create(store, &name, None, labels, BTreeMap::new())?;
                }
            }
            MountKind::Bind => {
                let source = PathBuf::from(m.source.clone().unwrap_or_default());
                if std::fs::symlink_metadata(&source).is_err() && m.create_host_path {
                    std::fs::create_dir_all(&source)
                        .map_err(berth_volumes::io(format!("cannot create the bind source {}", source.display())))?;
                }
            }
            MountKind::Tmpfs => {}
        }
        out.push(m);
    }
    Ok(out)
}

/// Where a mount's data comes from: a host directory, or a tmpfs with options.
fn backing(store: &Store, m: &Mount) -> Result<Backing, VolumeError> {
    match m.kind {
        MountKind::Bind => Ok(Backing::Directory(PathBuf::from(m.source.clone().unwrap_or_default()))),
        MountKind::Tmpfs => Ok(Backing::Tmpfs(Vec::new())),
        MountKind::Volume => {
            let name = m.source.clone().unwrap_or_default();
            let vs = volumes(store);
            let volume = vs.get(&name)?.ok_or(VolumeError::NotFound(name))?;
            Ok(match (vs.backing(&volume), &m.subpath) {
                (Backing::Directory(dir), Some(sub)) => Backing::Directory(dir.join(sub)),
                (b, _) => b,
            })
        }
    }
}

/// The runtime spec's entries for a container's mounts.
pub fn runtime_mounts(store: &Store, config: &ContainerConfig) -> Result<Vec<RuntimeMount>, VolumeError> {
    config
        .mounts
        .iter()
        .map(|m| {
            Ok(match backing(store, m)? {
                Backing::Directory(dir) => {
                    if m.kind == MountKind::Volume && m.subpath.is_some() && !dir.is_dir() {
                        return Err(VolumeError::Mount(format!(
                            "mount {}: the volume has no directory {}",
                            m.target,
                            m.subpath.as_deref().unwrap_or_default()
                        )));
                    }
                    berth_volumes::mount::runtime_mount(m, Some(&dir), &[])
                }
                Backing::Tmpfs(options) => berth_volumes::mount::runtime_mount(m, None, &options),
            })
        })
        .collect()
}

/// Seeds the container's empty volumes from the image content at their mount points (unless
/// `nocopy`). `rootfs` is the container's mounted root; the mount point is resolved inside it
/// without following links out of it.
pub fn seed(store: &Store, config: &ContainerConfig, rootfs: &Path) -> Result<(), VolumeError> {
    use rustix::fs::OFlags;
    for m in config.mounts.iter().filter(|m| m.kind == MountKind::Volume && !m.nocopy && m.subpath.is_none()) {
        let Backing::Directory(data) = backing(store, m)? else { continue };
        if !berth_volumes::seed::is_empty(&data) {
            continue;
        }
        let Ok(root) = crate::fsutil::InRoot::open(rootfs) else { continue };
        let Ok(dir) = root.open_at(&m.target, OFlags::DIRECTORY | OFlags::RDONLY) else {
            continue; // Nothing at the mount point in the image: nothing to copy.
        };
        let from = PathBuf::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&dir)));
        berth_volumes::seed::seed(&from, &data)?;
    }
    Ok(())
}
