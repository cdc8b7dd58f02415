//! `berth pull`: resolve a reference on its registry (mirrors first), choose the platform from
//! an index, fetch the config and the missing layers concurrently (each verified), unpack them
//! into snapshots, and only then record the image. A failure at any step records nothing.

use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::digest::Digest;
use crate::image::content::ContentError;
use crate::image::manifest::{ACCEPTED, Document, DocumentError, ImageConfig, Manifest, Platform};
use crate::image::snapshot::SnapshotError;
use crate::reference::ImageRef;
use crate::registry::config::Config;
use crate::registry::{Client, RegistryError};
use crate::store::{ImageRecord, Store, StoreError};

/// How many layers download at once.
const PARALLEL_LAYERS: usize = 4;

/// Progress of a pull, shown by the CLI as bars on a terminal and lines elsewhere. `id` is
/// a layer's short digest.
pub trait Progress: Send + Sync {
    fn status(&self, id: &str, status: &str);
    fn start(&self, id: &str, total: u64);
    fn advance(&self, id: &str, bytes: u64);
}

/// Progress that shows nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn status(&self, _: &str, _: &str) {}
    fn start(&self, _: &str, _: u64) {}
    fn advance(&self, _: &str, _: u64) {}
}

#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Content(#[from] ContentError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot use what the registry sent for {reference}")]
    Document {
        reference: String,
        #[source]
        source: DocumentError,
    },
    #[error("{reference} has no image for {wanted}; it has {available}")]
    NoPlatform { reference: String, wanted: String, available: String },
    #[error("{reference}: the registry sent content with digest {actual}, not the {expected} asked for")]
    DigestMismatch { reference: String, expected: Digest, actual: Digest },
    #[error("{reference}: the manifest lists {layers} layers but the config {diff_ids}")]
    LayerCount { reference: String, layers: usize, diff_ids: usize },
    #[error("cannot read {what} of {reference} from the content store")]
    Io {
        what: &'static str,
        reference: String,
        #[source]
        source: std::io::Error,
    },
    #[error("a layer task of {0} stopped unexpectedly")]
    Task(String),
}

/// What a pull produced.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub record: ImageRecord,
    /// The digest to pin this image by (`name@digest`): the index's if there was one.
    pub repo_digest: Digest,
    /// Layers fetched now (the others were already present).
    pub fetched: usize,
}

/// Pulls `reference` for `platform` into `store`.
pub async fn pull(
    store: &Store,
    config: &Config,
    reference: &ImageRef,
    platform: &Platform,
    progress: Arc<dyn Progress>,
) -> Result<Pulled, PullError> {
    let endpoints = config.endpoints(&reference.registry);
    let last = endpoints.len() - 1;
    for (i, endpoint) in endpoints.iter().enumerate() {
        let opened = Client::open(endpoint, &reference.registry, &reference.repository, false).await;
        let result = match opened.map(|c| c.with_credentials(config.credentials.get(&reference.registry).cloned())) {
            Ok(client) => pull_from(store, &client, reference, platform, progress.clone()).await,
            Err(e) => Err(e.into()),
        };
        match result {
            Err(e) if i < last => {
                tracing::warn!("pulling {reference} from the mirror {} failed ({e}); trying the next", endpoint.url)
            }
            other => return other,
        }
    }
    unreachable!("there is always at least the registry itself to try")
}

async fn pull_from(
    store: &Store,
    client: &Client,
    reference: &ImageRef,
    platform: &Platform,
    progress: Arc<dyn Progress>,
) -> Result<Pulled, PullError> {
    let name = reference.to_string();
    let doc_err = |source| PullError::Document { reference: name.clone(), source };
    let (top, media_type) = client.manifest(&reference.reference(), &ACCEPTED).await?;
    let top_digest = Digest::of(&top);
    if let Some(wanted) = &reference.digest {
        if wanted != &top_digest {
            return Err(PullError::DigestMismatch { reference: name, expected: wanted.clone(), actual: top_digest });
        }
    }
    let (manifest, manifest_digest, index) = match Document::parse(&top, &media_type).map_err(doc_err)? {
        Document::Manifest(m) => (m, top_digest.clone(), None),
        Document::Index(index) => {
            let Some(entry) = index.manifests.iter().find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
            else {
                let available: Vec<String> =
                    index.manifests.iter().filter_map(|d| d.platform.as_ref().map(|p| p.to_string())).collect();
                return Err(PullError::NoPlatform {
                    reference: name,
                    wanted: platform.to_string(),
                    available: available.join(", "),
                });
            };
            let (data, media_type) = client.manifest(&entry.digest.to_string(), &ACCEPTED).await?;
            let actual = Digest::of(&data);
            if actual != entry.digest {
                return Err(PullError::DigestMismatch { reference: name, expected: entry.digest.clone(), actual });
            }
            let manifest = match Document::parse(&data, &media_type).map_err(doc_err)? {
                Document::Manifest(m) => m,
                Document::Index(_) => return Err(doc_err(DocumentError::MediaType("an index inside an index".into()))),
            };
            store.content.put(&top)?;
            (manifest, store.content.put(&data)?, Some(top_digest.clone()))
        }
    };
    if index.is_none() {
        store.content.put(&top)?;
    }

    let config_digest = manifest.config.digest.clone();
    if !store.content.has(&config_digest) {
        let mut w = store.content.writer(&config_digest, Some(manifest.config.size))?;
        client.blob(&config_digest, manifest.config.size, &mut w, |_| {}).await?;
        w.commit()?;
    }
    let config = read_config(store, &config_digest, &name)?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(PullError::LayerCount {
            reference: name,
            layers: manifest.layers.len(),
            diff_ids: config.rootfs.diff_ids.len(),
        });
    }

    let fetched = fetch_layers(store, client, &manifest, &config, progress).await?;
    let record =
        ImageRecord { id: config_digest, manifest: manifest_digest, index, pulled: Some(crate::time::unix_seconds()) };
    store.update_images(|images| images.insert(name.clone(), record.clone()))?;
    Ok(Pulled { record, repo_digest: top_digest, fetched })
}

pub fn read_config(store: &Store, digest: &Digest, reference: &str) -> Result<ImageConfig, PullError> {
    let data = store.content.read(digest).map_err(|source| PullError::Io {
        what: "the config",
        reference: reference.to_string(),
        source,
    })?;
    serde_json::from_slice(&data).map_err(|e| PullError::Document {
        reference: reference.to_string(),
        source: DocumentError::Json { kind: "image config", source: e },
    })
}

/// Downloads (if missing) and unpacks (if missing) every layer; returns how many were fetched.
async fn fetch_layers(
    store: &Store,
    client: &Client,
    manifest: &Manifest,
    config: &ImageConfig,
    progress: Arc<dyn Progress>,
) -> Result<usize, PullError> {
    let limit = Semaphore::new(PARALLEL_LAYERS);
    let mut unpacks = Vec::new();
    let mut downloads = Vec::new();
    for (layer, diff_id) in manifest.layers.iter().zip(&config.rootfs.diff_ids) {
        let id = layer.digest.short().to_string();
        if store.has_snapshot(diff_id) {
            progress.status(&id, "Already exists");
            continue;
        }
        let (store, progress, limit) = (store, progress.clone(), &limit);
        downloads.push(async move {
            if !store.content.has(&layer.digest) {
                let _permit = limit.acquire().await.map_err(|_| PullError::Task(id.clone()))?;
                progress.start(&id, layer.size);
                let mut w = store.content.writer(&layer.digest, Some(layer.size))?;
                client.blob(&layer.digest, layer.size, &mut w, |n| progress.advance(&id, n)).await?;
                progress.status(&id, "Verifying");
                w.commit()?;
            }
            progress.status(&id, "Extracting");
            let (store, blob, diff) = (store.clone(), layer.digest.clone(), diff_id.clone());
            let unpack = tokio::task::spawn_blocking(move || store.create_snapshot(&blob, &diff));
            Ok::<_, PullError>((id, unpack))
        });
    }
    let count = downloads.len();
    for result in futures_util::future::join_all(downloads).await {
        unpacks.push(result?);
    }
    for (id, handle) in unpacks {
        handle.await.map_err(|_| PullError::Task(id.clone()))??;
        progress.status(&id, "Pull complete");
    }
    Ok(count)
}
