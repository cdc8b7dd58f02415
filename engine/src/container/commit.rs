//! `berth commit`: a container's writable layer becomes a new layer on top of its image.
//!
//! The upper directory of the overlay is written as a tar layer, translating overlayfs's
//! markers back to the image format: a 0/0 character device (a deleted file) becomes a
//! `.wh.NAME` entry, an opaque directory a `.wh..wh..opq` entry. The files berth bind-mounts
//! into every container (/etc/hosts, /etc/hostname, /etc/resolv.conf) are left out.
//!
//! `berth diff` reads the same directory as a list of changes, as `docker diff` shows them.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::rootfs::{is_opaque, is_whiteout};
use super::store::Container;
use crate::digest::{Digest, HashingWriter};
use crate::image::local::{self, LocalError};
use crate::image::manifest::{History, ImageConfig};
use crate::reference::ImageRef;
use crate::store::{ImageRecord, Store};

const SKIPPED: [&str; 3] = ["etc/hosts", "etc/hostname", "etc/resolv.conf"];

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("cannot read the changes of container {name}")]
    Read {
        name: String,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Image(#[from] crate::image::ops::ImageError),
    #[error(transparent)]
    Local(#[from] LocalError),
}

/// Writes the layer of `upper` into `out`.
fn write_layer<W: Write>(upper: &Path, out: W) -> io::Result<W> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let mut stack = vec![upper.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir)?.collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let rel = path.strip_prefix(upper).map_err(io::Error::other)?;
            let rel_text = rel.to_string_lossy().into_owned();
            if SKIPPED.contains(&rel_text.as_str()) {
                continue;
            }
            let meta = fs::symlink_metadata(&path)?;
            let mut h = tar::Header::new_gnu();
            h.set_mode(meta.mode() & 0o7777);
            h.set_uid(meta.uid() as u64);
            h.set_gid(meta.gid() as u64);
            h.set_mtime(meta.mtime().max(0) as u64);
            let ft = meta.file_type();
            if is_whiteout(&meta) {
                let name =
                    rel.parent().unwrap_or(Path::new("")).join(format!(".wh.{}", entry.file_name().to_string_lossy()));
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(0);
                h.set_mode(0o644);
                tar.append_data(&mut h, name, io::empty())?;
            } else if ft.is_dir() {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                tar.append_data(&mut h, format!("{rel_text}/"), io::empty())?;
                if is_opaque(&path) {
                    let mut o = tar::Header::new_gnu();
                    o.set_entry_type(tar::EntryType::Regular);
                    o.set_size(0);
                    o.set_mode(0o644);
                    tar.append_data(&mut o, rel.join(".wh..wh..opq"), io::empty())?;
                }
                stack.push(path);
            } else if ft.is_symlink() {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                tar.append_link(&mut h, rel, fs::read_link(&path)?)?;
            } else if ft.is_file() {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(meta.len());
                tar.append_data(&mut h, rel, fs::File::open(&path)?)?;
            } else if ft.is_fifo() {
                h.set_entry_type(tar::EntryType::Fifo);
                h.set_size(0);
                tar.append_data(&mut h, rel, io::empty())?;
            }
            // Sockets and device nodes made inside the container are not image content.
        }
    }
    tar.into_inner()
}

/// How a path differs from the container's image, as `docker diff` marks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Changed,
    Added,
    Deleted,
}

impl ChangeKind {
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Changed => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// The container's changes to its image's files, by path: what its writable layer holds,
/// without the files berth writes into every container and the points where its mounts
/// (binds, volumes, secrets, configs) are mounted, which are not the container's doing.
pub fn changes(store: &Store, c: &Container) -> io::Result<Vec<(ChangeKind, String)>> {
    let upper = store.container_dir(&c.config.id).upper();
    let lowers = super::rootfs::lowers(store, &c.config)?;
    let mounted: Vec<&str> = c.config.mounts.iter().map(|m| m.target.trim_matches('/')).collect();
    let in_image = |rel: &Path| {
        // The top-most layer that has the path says: a whiteout there means it is gone.
        lowers.iter().rev().find_map(|l| fs::symlink_metadata(l.join(rel)).ok()).is_some_and(|m| !is_whiteout(&m))
    };
    let mut out = Vec::new();
    let mut stack = vec![upper.clone()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir)? {
            let path = entry?.path();
            let rel = path.strip_prefix(&upper).map_err(io::Error::other)?.to_path_buf();
            let text = rel.to_string_lossy().into_owned();
            let meta = fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                stack.push(path);
            }
            if SKIPPED.contains(&text.as_str()) || mounted.contains(&text.as_str()) {
                continue;
            }
            let kind = match (is_whiteout(&meta), in_image(&rel)) {
                (true, _) => ChangeKind::Deleted,
                (false, true) => ChangeKind::Changed,
                (false, false) => ChangeKind::Added,
            };
            out.push((kind, format!("/{text}")));
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// The layer of a container's upper directory (its changes), stored: (blob, diff ID).
pub fn layer_of(store: &Store, c: &Container) -> io::Result<(Digest, Digest)> {
    let upper = store.container_dir(&c.config.id).upper();
    store_layer(store, |out| write_layer(&upper, out))
}

/// A layer `write` produces as a plain tar, stored gzip-compressed in the content store with
/// its diff ID computed alongside: (blob, diff ID).
pub fn store_layer(
    store: &Store,
    write: impl FnOnce(LayerWriter) -> io::Result<LayerWriter>,
) -> io::Result<(Digest, Digest)> {
    let tmp = crate::fsutil::temp_name(&store.root.join("commit"));
    let file = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    let result = (|| {
        let compressed = HashingWriter::new(io::BufWriter::new(file));
        let gz = flate2::write::GzEncoder::new(compressed, flate2::Compression::fast());
        let plain = write(HashingWriter::new(gz))?;
        let (gz, diff_id, _) = plain.finish();
        let (buf, _, _) = gz.finish()?.finish();
        buf.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        let blob = store.content.ingest(&mut fs::File::open(&tmp)?)?;
        Ok::<_, io::Error>((blob, diff_id))
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// The writer a layer is written into by [`store_layer`].
pub type LayerWriter = HashingWriter<flate2::write::GzEncoder<HashingWriter<io::BufWriter<fs::File>>>>;

/// Commits container `c` as an image named `name`; `message` goes into the history.
pub fn commit(
    store: &Store,
    c: &Container,
    name: &ImageRef,
    message: Option<&str>,
) -> Result<ImageRecord, CommitError> {
    let read_err = |source| CommitError::Read { name: c.config.name.clone(), source };
    let image =
        store.images().map_err(crate::image::ops::ImageError::from)?.into_values().find(|r| r.id == c.config.image_id);
    let base_config_bytes = store.content.read(&c.config.image_id).map_err(read_err)?;
    let mut config: ImageConfig =
        serde_json::from_slice(&base_config_bytes).map_err(|e| read_err(io::Error::other(e.to_string())))?;
    let base_layers: Vec<Digest> = match &image {
        Some(record) => store.manifest_of(record)?.layers.into_iter().map(|l| l.digest).collect(),
        None => {
            return Err(read_err(io::Error::other(
                "its image is no longer in the store; commit needs the image's layers",
            )));
        }
    };

    let upper = store.container_dir(&c.config.id).upper();
    let (blob, diff_id) = store_layer(store, |out| write_layer(&upper, out)).map_err(read_err)?;

    config.rootfs.diff_ids.push(diff_id);
    config.created = Some(crate::time::now());
    let default_args =
        super::spec::command(config.config.entrypoint.as_deref(), config.config.cmd.as_deref(), None, &[]);
    if c.config.args != default_args {
        config.config.entrypoint = None;
        config.config.cmd = Some(c.config.args.clone());
    }
    config.config.env = Some(c.config.env.clone());
    config.history.push(History {
        created: config.created.clone(),
        created_by: Some(format!("berth commit {}", c.config.name)),
        comment: message.map(str::to_string),
        empty_layer: false,
    });
    let bytes = serde_json::to_vec(&config).map_err(|e| read_err(io::Error::other(e.to_string())))?;
    let mut layers = base_layers;
    layers.push(blob);
    Ok(local::commit_image(store, &bytes, &layers, std::slice::from_ref(name))?)
}
