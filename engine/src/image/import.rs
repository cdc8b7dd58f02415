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
    /// Writing to the state directory failed (a full disk, say), not reading the input.
    #[error("cannot store the imported image in the state directory")]
    Store(#[source] std::io::Error),
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
    let mut tracked = Tracked { inner: input, failed: false };
    let blob = store
        .content
        .ingest(&mut tracked)
        .map_err(|e| if tracked.failed { ImportError::Read(e) } else { ImportError::Store(e) })?;
    // The diff ID is only known once the layer is read; unpack into a scratch directory to learn
    // it (and to check the tarball is a sound layer), then keep that as the snapshot.
    let scratch = crate::fsutil::temp_name(&store.root.join("snapshots").join("import"));
    std::fs::create_dir_all(scratch.join("fs")).map_err(ImportError::Store)?;
    let result = (|| {
        let file = store.content.open_blob(&blob).map_err(ImportError::Store)?;
        let done = unpack::unpack(file, &scratch.join("fs"))
            .map_err(|source| LocalError::Snapshot(SnapshotError::Unpack { blob: blob.clone(), source }))?;
        std::fs::write(scratch.join("size"), done.size.to_string()).map_err(ImportError::Store)?;
        let target = store.snapshot_dir(&done.diff_id);
        if !target.is_dir() {
            std::fs::rename(&scratch, &target).map_err(ImportError::Store)?;
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

/// A reader that remembers whether it failed, so that an error of the copy it feeds can be
/// told apart: the input's, or the destination's.
struct Tracked<R> {
    inner: R,
    failed: bool,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let result = self.inner.read(buf);
        self.failed |= result.is_err();
        result
    }
}
