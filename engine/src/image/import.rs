//! `berth import`: an image of one layer from a root file system tarball (plain, gzip or zstd).

use std::io::Read;

use crate::image::local::{self, LocalError};
use crate::image::manifest::{ImageConfig, Platform, RootFs};
use crate::image::snapshot::SnapshotError;
use crate::image::unpack;
use crate::reference::ImageRef;
use crate::store::{ImageRecord, Store};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the tarball")]
    Read(#[source] std::io::Error),
    #[error(transparent)]
    Local(#[from] LocalError),
}

/// Imports `input` as the single layer of a new image named `name`; `changes` sets the config
/// (Cmd, Env...) the way `docker import --change` would, as a ready config section.
pub fn import<R: Read>(
    store: &Store,
    input: &mut R,
    name: &ImageRef,
    run: crate::image::manifest::RunConfig,
) -> Result<ImageRecord, ImportError> {
    let blob = store.content.ingest(input).map_err(ImportError::Read)?;
    // The diff ID is only known once the layer is read; unpack into a scratch directory to learn
    // it (and to check the tarball is a sound layer), then keep that as the snapshot.
    let scratch = crate::fsutil::temp_name(&store.root.join("snapshots").join("import"));
    std::fs::create_dir_all(scratch.join("fs")).map_err(ImportError::Read)?;
    let result = (|| {
        let file = store.content.open_blob(&blob).map_err(ImportError::Read)?;
        let done = unpack::unpack(file, &scratch.join("fs"))
            .map_err(|source| LocalError::Snapshot(SnapshotError::Unpack { blob: blob.clone(), source }))?;
        std::fs::write(scratch.join("size"), done.size.to_string()).map_err(ImportError::Read)?;
        let target = store.snapshot_dir(&done.diff_id);
        if !target.is_dir() {
            std::fs::rename(&scratch, &target).map_err(ImportError::Read)?;
        }
        let host = Platform::host();
        let config = ImageConfig {
            created: Some(crate::time::now()),
            architecture: host.architecture,
            os: host.os,
            variant: host.variant,
            config: run,
            rootfs: RootFs { kind: "layers".into(), diff_ids: vec![done.diff_id] },
            history: vec![crate::image::manifest::History {
                created: Some(crate::time::now()),
                created_by: None,
                comment: Some("Imported from a tarball".into()),
                empty_layer: false,
            }],
        };
        let bytes = serde_json::to_vec(&config).expect("a config serialises");
        Ok(local::commit_image(store, &bytes, std::slice::from_ref(&blob), std::slice::from_ref(name))?)
    })();
    if scratch.exists() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    result
}
