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
            created: Some(now_rfc3339()),
            architecture: host.architecture,
            os: host.os,
            variant: host.variant,
            config: run,
            rootfs: RootFs { kind: "layers".into(), diff_ids: vec![done.diff_id] },
            history: vec![crate::image::manifest::History {
                created: Some(now_rfc3339()),
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

/// The current time as RFC 3339 in UTC, without a date library.
pub fn now_rfc3339() -> String {
    now_rfc3339_at(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64))
}

/// `secs` since the epoch as RFC 3339 in UTC.
pub fn now_rfc3339_at(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        let now = super::now_rfc3339();
        assert_eq!(now.len(), 20);
        assert!(now.starts_with("20") && now.ends_with('Z'));
    }
}
