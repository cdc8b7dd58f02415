//! `berth push`: the layers a registry does not have, then the config, then the manifest.

use std::sync::Arc;

use crate::image::ops::ImageError;
use crate::image::pull::Progress;
use crate::reference::ImageRef;
use crate::registry::config::Config;
use crate::registry::{Client, RegistryError};
use crate::store::{ImageRecord, Store};

#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("cannot read blob {0} from the content store")]
    Read(String, #[source] std::io::Error),
}

/// Pushes the image `record` as `target`; returns the manifest digest.
pub async fn push(
    store: &Store,
    config: &Config,
    record: &ImageRecord,
    target: &ImageRef,
    progress: Arc<dyn Progress>,
) -> Result<crate::digest::Digest, PushError> {
    let endpoint = config.registry_endpoint(&target.registry);
    let client = Client::open(&endpoint, &target.registry, &target.repository, true)
        .await?
        .with_credentials(config.credentials.get(&target.registry).cloned());
    let manifest = store.manifest_of(record)?;
    let mut blobs: Vec<(crate::digest::Digest, u64)> =
        manifest.layers.iter().map(|l| (l.digest.clone(), l.size)).collect();
    blobs.push((manifest.config.digest.clone(), manifest.config.size));
    for (digest, size) in blobs {
        let id = digest.short().to_string();
        if client.has_blob(&digest).await? {
            progress.status(&id, "Layer already exists");
            continue;
        }
        progress.start(&id, size);
        let data = store.content.read(&digest).map_err(|e| PushError::Read(digest.to_string(), e))?;
        client.push_blob(&digest, data).await?;
        progress.advance(&id, size);
        progress.status(&id, "Pushed");
    }
    let data = store.content.read(&record.manifest).map_err(|e| PushError::Read(record.manifest.to_string(), e))?;
    let media_type = manifest.media_type.clone().unwrap_or_else(|| crate::image::manifest::OCI_MANIFEST.to_string());
    let reference = target.tag.clone().unwrap_or_else(|| "latest".into());
    client.put_manifest(&reference, &media_type, data).await?;
    Ok(record.manifest.clone())
}
