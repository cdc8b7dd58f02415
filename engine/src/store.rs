//! The state directory (`/var/lib/berth`, or `BERTH_ROOT`) and what lives in it:
//!
//! ```text
//! content/sha256/<hex>       blobs: manifests, configs, compressed layers (verified)
//! snapshots/<diff-id hex>/   one unpacked layer, shared by every image that has it
//! images/index.json          image names -> manifest and config digests
//! images/.lock               held while the index is changed
//! containers/<id>/           one container (layout in container/mod.rs); `.new-<id>` while
//!                            being recorded, `.gone-<id>` while being removed
//! containers/.lock           held while a container is recorded (names stay unique)
//! networks/ volumes/         network records, named volumes
//! projects/<name>.lock       held by `up` and `down` of that project
//! ```
//!
//! Outside it, `/run/berth/subnets.lock` is shared by every berth process of the host while
//! it chooses a subnet and makes its bridge.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::fsutil::{self, Lock};
use crate::image::content::ContentStore;
use crate::reference::ImageRef;

pub const DEFAULT_ROOT: &str = "/var/lib/berth";

/// The state root: `BERTH_ROOT` if set, else `/var/lib/berth`.
pub fn default_root() -> PathBuf {
    std::env::var_os("BERTH_ROOT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_ROOT))
}

/// One name of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRecord {
    /// The image ID: the digest of its config, as Docker has it.
    pub id: Digest,
    /// The manifest for this platform.
    pub manifest: Digest,
    /// The index (manifest list) it was chosen from, if any; its digest is the repo digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<Digest>,
    /// When it was last pulled (seconds since the epoch), for the `daily`, `weekly` and
    /// `every_<duration>` pull policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pulled: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct IndexFile {
    images: BTreeMap<String, ImageRecord>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot use the state directory {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the image index {path} is damaged")]
    Corrupt {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// One record of the build cache.
#[derive(Debug, Clone)]
pub struct CacheRecord {
    /// The step's cache key (the file's name).
    pub key: String,
    pub path: PathBuf,
    pub size: u64,
    /// When it was written, in seconds since the epoch.
    pub modified: i64,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
    pub content: ContentStore,
    /// Records this process has parsed (containers'): a command that lists 200 containers
    /// many times parses each once.
    pub(crate) records: std::sync::Arc<fsutil::ParsedFiles>,
    /// Whether this process has looked for containers' directories without a record: once
    /// is enough (a look into every container's directory).
    pub(crate) swept: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The containers' configurations as this process's last creation saw them (a listing
    /// typed by `container::store`, which is above this floor).
    pub(crate) listing: std::sync::Arc<std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>>>,
}

impl Store {
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let io = |source| StoreError::Io { path: root.to_path_buf(), source };
        fs::create_dir_all(root.join("snapshots")).map_err(io)?;
        fs::create_dir_all(root.join("images")).map_err(io)?;
        // Containers' configurations hold their environments (passwords, often) and their logs
        // what they print: only root may look, as with Docker's 0710 root.
        fs::set_permissions(root, fs::Permissions::from_mode(0o710)).map_err(io)?;
        if let Err(e) = fs::DirBuilder::new().mode(0o700).create(root.join("containers")) {
            if e.kind() != io::ErrorKind::AlreadyExists {
                return Err(io(e));
            }
        }
        crate::fsutil::spread_subdirectories(&root.join("containers"));
        let content = ContentStore::open(root).map_err(io)?;
        Ok(Store {
            root: root.to_path_buf(),
            content,
            records: Default::default(),
            swept: Default::default(),
            listing: Default::default(),
        })
    }

    /// The build cache: one record per build step run, named by the step's cache key.
    pub fn build_cache_dir(&self) -> PathBuf {
        self.root.join("build-cache")
    }

    /// The build cache's records, as they are on disk (none when there is no cache yet).
    pub fn build_cache_records(&self) -> Vec<CacheRecord> {
        let entries = fs::read_dir(self.build_cache_dir()).into_iter().flatten().flatten();
        entries
            .filter_map(|entry| {
                let meta = entry.metadata().ok()?;
                let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
                Some(CacheRecord {
                    key: entry.file_name().to_string_lossy().into_owned(),
                    path: entry.path(),
                    size: meta.len(),
                    modified: modified.map_or(0, |d| d.as_secs() as i64),
                })
            })
            .collect()
    }

    /// Removes the build cache's records (only those older than `until`, seconds since the
    /// epoch, when given); the layers only they kept go with the next `image prune`. Returns
    /// how many went and their bytes.
    pub fn prune_build_cache(&self, until: Option<i64>) -> io::Result<(usize, u64)> {
        let mut removed = (0, 0);
        for record in self.build_cache_records() {
            if until.is_some_and(|until| record.modified >= until) {
                continue;
            }
            fs::remove_file(&record.path)?;
            removed = (removed.0 + 1, removed.1 + record.size);
        }
        Ok(removed)
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("images").join("index.json")
    }

    /// Holds the image index lock while `f` reads and changes the index.
    pub fn update_images<T>(&self, f: impl FnOnce(&mut BTreeMap<String, ImageRecord>) -> T) -> Result<T, StoreError> {
        let io = |source| StoreError::Io { path: self.index_path(), source };
        let _lock = Lock::acquire(&self.root.join("images").join(".lock")).map_err(io)?;
        let mut images = self.images()?;
        let out = f(&mut images);
        let data = serde_json::to_vec_pretty(&IndexFile { images }).expect("the image index serialises");
        fsutil::write_atomic(&self.index_path(), &data).map_err(io)?;
        Ok(out)
    }

    /// Every image name and its record.
    pub fn images(&self) -> Result<BTreeMap<String, ImageRecord>, StoreError> {
        let path = self.index_path();
        match fs::read(&path) {
            Ok(data) => serde_json::from_slice::<IndexFile>(&data)
                .map(|f| f.images)
                .map_err(|source| StoreError::Corrupt { path, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(source) => Err(StoreError::Io { path, source }),
        }
    }

    pub fn image(&self, name: &ImageRef) -> Result<Option<ImageRecord>, StoreError> {
        Ok(self.images()?.get(&name.to_string()).cloned())
    }

    pub fn snapshot_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("snapshots").join(diff_id.hex())
    }

    pub fn has_snapshot(&self, diff_id: &Digest) -> bool {
        self.snapshot_dir(diff_id).is_dir()
    }
}
