//! Images made on this host rather than pulled: from blobs already in the content store, a
//! config and a manifest are written and the layers unpacked, then the names recorded. Used by
//! `load` and `import`.

use crate::digest::Digest;
use crate::image::manifest::{self, Descriptor, ImageConfig, Manifest};
use crate::image::ops::ImageError;
use crate::image::snapshot::SnapshotError;
use crate::reference::ImageRef;
use crate::store::{ImageRecord, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Content(#[from] crate::image::content::ContentError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("the image has {layers} layers but its config lists {diff_ids}")]
    LayerCount { layers: usize, diff_ids: usize },
    #[error("cannot read blob {0} from the content store")]
    Missing(Digest),
}

/// The media type of a stored layer blob, by its first bytes.
pub fn layer_media_type(store: &Store, blob: &Digest) -> Result<&'static str, LocalError> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let mut f = store.content.open_blob(blob).map_err(|_| LocalError::Missing(blob.clone()))?;
    let n = f.read(&mut head).map_err(|_| LocalError::Missing(blob.clone()))?;
    Ok(match &head[..n] {
        [0x1f, 0x8b, ..] => manifest::OCI_LAYER_GZIP,
        [0x28, 0xb5, 0x2f, 0xfd] => manifest::OCI_LAYER_ZSTD,
        _ => manifest::OCI_LAYER,
    })
}

/// Records `names` for an image whose config and layer blobs are stored: unpacks the layers
/// (checking them against the config's diff IDs), writes an OCI manifest, names the image.
pub fn commit_image(
    store: &Store,
    config: &[u8],
    layers: &[Digest],
    names: &[ImageRef],
) -> Result<ImageRecord, LocalError> {
    let parsed: ImageConfig =
        serde_json::from_slice(config).map_err(|_| ImageError::Damaged("the image config".into()))?;
    if parsed.rootfs.diff_ids.len() != layers.len() {
        return Err(LocalError::LayerCount { layers: layers.len(), diff_ids: parsed.rootfs.diff_ids.len() });
    }
    for (blob, diff_id) in layers.iter().zip(&parsed.rootfs.diff_ids) {
        store.create_snapshot(blob, diff_id)?;
    }
    let config_digest = store.content.put(config)?;
    let mut descriptors = Vec::new();
    for blob in layers {
        let size = store.content.size(blob).map_err(|_| LocalError::Missing(blob.clone()))?;
        descriptors.push(Descriptor {
            media_type: layer_media_type(store, blob)?.to_string(),
            digest: blob.clone(),
            size,
            platform: None,
            annotations: Default::default(),
        });
    }
    let m = Manifest {
        schema_version: 2,
        media_type: Some(manifest::OCI_MANIFEST.to_string()),
        config: Descriptor {
            media_type: manifest::OCI_CONFIG.to_string(),
            digest: config_digest.clone(),
            size: config.len() as u64,
            platform: None,
            annotations: Default::default(),
        },
        layers: descriptors,
        annotations: Default::default(),
    };
    let manifest_digest = store.content.put(&serde_json::to_vec(&m).expect("a manifest serialises"))?;
    let record = ImageRecord { id: config_digest, manifest: manifest_digest, index: None, pulled: None };
    store.update_images(|images| {
        for name in names {
            images.insert(name.to_string(), record.clone());
        }
    })?;
    Ok(record)
}
