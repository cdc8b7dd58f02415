//! Local image operations: list, find by name or ID, tag, untag, and collect what no image
//! needs any more.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use crate::digest::Digest;
use crate::image::manifest::{Document, ImageConfig, Manifest};
use crate::reference::ImageRef;
use crate::store::{ImageRecord, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("no such image: {0}")]
    NotFound(String),
    #[error("{query} matches several images ({ids}); give more of the ID")]
    Ambiguous { query: String, ids: String },
    #[error("image {id} has several names ({names}); remove them by name, or use -f")]
    MultipleNames { id: String, names: String },
    #[error("the image data of {0} is damaged or missing from the content store; pull it again")]
    Damaged(String),
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// What is in use cannot be told: nothing is removed rather than something in use.
    #[error("cannot tell what is in use, so nothing was removed")]
    InUseUnknown(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// An image as `berth images` shows it: one row per name.
#[derive(Debug, Clone)]
pub struct ImageRow {
    pub name: ImageRef,
    pub record: ImageRecord,
    pub config: ImageConfig,
    pub size: u64,
}

/// What `gc` removed.
#[derive(Debug, Clone, Default)]
pub struct Reclaimed {
    pub blobs: usize,
    pub snapshots: usize,
    pub bytes: u64,
}

impl Store {
    pub fn manifest_of(&self, record: &ImageRecord) -> Result<Manifest, ImageError> {
        let data = self.content.read(&record.manifest).map_err(|_| ImageError::Damaged(record.id.to_string()))?;
        match Document::parse(&data, "") {
            Ok(Document::Manifest(m)) => Ok(m),
            _ => Err(ImageError::Damaged(record.id.to_string())),
        }
    }

    pub fn config_of(&self, record: &ImageRecord) -> Result<ImageConfig, ImageError> {
        let data = self.content.read(&record.id).map_err(|_| ImageError::Damaged(record.id.to_string()))?;
        serde_json::from_slice(&data).map_err(|_| ImageError::Damaged(record.id.to_string()))
    }

    /// Every image name with its config and unpacked size, sorted by name.
    pub fn image_rows(&self) -> Result<Vec<ImageRow>, ImageError> {
        let mut rows = Vec::new();
        for (name, record) in self.images()? {
            let config = self.config_of(&record)?;
            let size = config.rootfs.diff_ids.iter().map(|d| self.snapshot_size(d)).sum();
            rows.push(ImageRow { name: ImageRef::parse(&name)?, record, config, size });
        }
        Ok(rows)
    }

    /// Finds an image by name (`busybox`, `busybox:1.36`, `name@sha256:...`) or by ID or a
    /// prefix of it (`sha256:abc...`, `abc123`).
    pub fn find_image(&self, query: &str) -> Result<(Option<String>, ImageRecord), ImageError> {
        let images = self.images()?;
        if let Ok(name) = ImageRef::parse(query) {
            if let Some(record) = images.get(&name.to_string()) {
                return Ok((Some(name.to_string()), record.clone()));
            }
        }
        let hex = query.strip_prefix("sha256:").unwrap_or(query);
        if hex.len() >= 4 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            let ids: BTreeMap<&Digest, &ImageRecord> =
                images.values().filter(|r| r.id.hex().starts_with(hex)).map(|r| (&r.id, r)).collect();
            match ids.len() {
                1 => return Ok((None, (*ids.values().next().expect("one")).clone())),
                n if n > 1 => {
                    let list: Vec<String> = ids.keys().map(|d| d.short().to_string()).collect();
                    return Err(ImageError::Ambiguous { query: query.to_string(), ids: list.join(", ") });
                }
                _ => {}
            }
        }
        Err(ImageError::NotFound(query.to_string()))
    }

    /// Gives the image `source` the name `target`.
    pub fn tag_image(&self, source: &str, target: &ImageRef) -> Result<(), ImageError> {
        let (_, record) = self.find_image(source)?;
        self.update_images(|images| images.insert(target.to_string(), record))?;
        Ok(())
    }

    /// Removes an image name (or, by ID, every name of the image when `force`, else the only
    /// one). Returns the names removed and the ID if no name is left for it.
    pub fn remove_image(&self, query: &str, force: bool) -> Result<(Vec<String>, Option<Digest>), ImageError> {
        let (name, record) = self.find_image(query)?;
        let removed = self.update_images(|images| {
            let names: Vec<String> = match &name {
                Some(n) => vec![n.clone()],
                None => images.iter().filter(|(_, r)| r.id == record.id).map(|(n, _)| n.clone()).collect(),
            };
            if name.is_none() && names.len() > 1 && !force {
                return Err(ImageError::MultipleNames { id: record.id.short().to_string(), names: names.join(", ") });
            }
            for n in &names {
                images.remove(n);
            }
            let gone = !images.values().any(|r| r.id == record.id);
            Ok((names, gone.then(|| record.id.clone())))
        })??;
        Ok(removed)
    }

    /// Removes blobs and snapshots that no image names: what `rmi` leaves and `image prune`
    /// collects. Blobs being written (temporary names) are left alone.
    pub fn gc(&self) -> Result<Reclaimed, ImageError> {
        let mut blobs: BTreeSet<Digest> = BTreeSet::new();
        let mut snapshots: BTreeSet<String> = BTreeSet::new();
        for record in self.images()?.values() {
            blobs.insert(record.id.clone());
            blobs.insert(record.manifest.clone());
            blobs.extend(record.index.clone());
            if let Ok(m) = self.manifest_of(record) {
                blobs.extend(m.layers.iter().map(|l| l.digest.clone()));
            }
            if let Ok(c) = self.config_of(record) {
                snapshots.extend(c.rootfs.diff_ids.iter().map(|d| d.hex().to_string()));
            }
        }
        // Containers need their layers' snapshots even after their image is untagged.
        // A record that cannot be read stops the collection: its layers may be in use.
        let containers = self.list_containers().map_err(|e| ImageError::InUseUnknown(Box::new(e)))?;
        for c in containers {
            snapshots.extend(c.config.layers.iter().map(|d| d.hex().to_string()));
        }
        let mut out = Reclaimed::default();
        for digest in self.content.list().map_err(|e| ImageError::InUseUnknown(Box::new(e)))? {
            if !blobs.contains(&digest) {
                out.bytes += self.content.size(&digest).unwrap_or(0);
                if self.content.remove(&digest).is_ok() {
                    out.blobs += 1;
                }
            }
        }
        let dir = self.root.join("snapshots");
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || snapshots.contains(&name) {
                continue;
            }
            if let Ok(d) = Digest::parse(&format!("sha256:{name}")) {
                out.bytes += self.snapshot_size(&d);
            }
            if fs::remove_dir_all(entry.path()).is_ok() {
                out.snapshots += 1;
            }
        }
        Ok(out)
    }
}
