//! Snapshots: each layer unpacked once, into `snapshots/<diff-id>/fs`, shared by every image
//! and container that uses it (as an overlayfs lower directory). A snapshot appears under its
//! name only when complete: it is unpacked beside it and renamed into place.

use std::fs;
use std::io;
use std::path::PathBuf;

use crate::digest::Digest;
use crate::fsutil;
use crate::image::unpack::{self, UnpackError};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot unpack layer {blob}")]
    Unpack {
        blob: Digest,
        #[source]
        source: UnpackError,
    },
    #[error("layer {blob} unpacks to {actual}, but the image config says {expected}; it was discarded")]
    DiffId { blob: Digest, expected: Digest, actual: Digest },
    #[error("cannot create the snapshot of layer {blob}")]
    Io {
        blob: Digest,
        #[source]
        source: io::Error,
    },
}

impl Store {
    /// The unpacked tree of a layer.
    pub fn snapshot_fs(&self, diff_id: &Digest) -> PathBuf {
        self.snapshot_dir(diff_id).join("fs")
    }

    /// The bytes of file content in a snapshot, as recorded when it was unpacked.
    pub fn snapshot_size(&self, diff_id: &Digest) -> u64 {
        fs::read_to_string(self.snapshot_dir(diff_id).join("size"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Unpacks the stored blob `blob` into the snapshot for `diff_id`, checking that the
    /// uncompressed content has that digest. Does nothing if the snapshot exists.
    pub fn create_snapshot(&self, blob: &Digest, diff_id: &Digest) -> Result<(), SnapshotError> {
        let final_dir = self.snapshot_dir(diff_id);
        if final_dir.is_dir() {
            return Ok(());
        }
        let io_err = |source| SnapshotError::Io { blob: blob.clone(), source };
        let tmp = fsutil::temp_name(&final_dir);
        fs::create_dir_all(tmp.join("fs")).map_err(io_err)?;
        let result = (|| {
            let file = self.content.open_blob(blob).map_err(io_err)?;
            let done = unpack::unpack(file, &tmp.join("fs"))
                .map_err(|source| SnapshotError::Unpack { blob: blob.clone(), source })?;
            if &done.diff_id != diff_id {
                return Err(SnapshotError::DiffId {
                    blob: blob.clone(),
                    expected: diff_id.clone(),
                    actual: done.diff_id,
                });
            }
            fs::write(tmp.join("size"), done.size.to_string()).map_err(io_err)?;
            match fs::rename(&tmp, &final_dir) {
                // Another pull finished the same layer first: theirs is as good as ours.
                Err(_) if final_dir.is_dir() => Ok(()),
                other => other.map_err(io_err),
            }
        })();
        if tmp.exists() {
            let _ = fs::remove_dir_all(&tmp);
        }
        result
    }
}
