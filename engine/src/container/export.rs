//! `berth export`: a container's file system as one tar stream, as `docker export` writes
//! it: the image's layers with the container's writable layer on top, read as overlayfs
//! shows them (a whiteout hides the file below, an opaque directory everything below it),
//! without the contents of volumes and binds, which are not the container's files.
//!
//! The layers are merged here rather than through a second overlay mount, which the kernel
//! refuses while the container's own mount uses the same upper directory.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::store::Container;
use crate::store::Store;

/// Writes the file system of `c` into `out` as a tar stream.
pub fn export<W: Write>(store: &Store, c: &Container, out: W) -> io::Result<W> {
    let mut layers = vec![store.container_dir(&c.config.id).upper()];
    layers.extend(super::rootfs::lowers(store, &c.config)?.into_iter().rev());
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    write_dir(&mut tar, &layers, Path::new(""))?;
    tar.into_inner()
}

/// Whether a file is overlayfs's mark of a deleted one (a 0/0 character device).
fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(path: &Path) -> bool {
    let mut value = [0u8; 1];
    rustix::fs::lgetxattr(path, "trusted.overlay.opaque", &mut value).is_ok_and(|n| n == 1 && value[0] == b'y')
}

/// The entries of directory `rel` as the merged view has them: each name from the top-most
/// layer that has it, with the layers below that still show it when it is a directory.
fn merged(layers: &[PathBuf], rel: &Path) -> io::Result<BTreeMap<OsString, Vec<PathBuf>>> {
    let mut names: BTreeMap<OsString, Vec<PathBuf>> = BTreeMap::new();
    // Names decided by a layer above (a file or a whiteout): lower layers do not show them.
    let mut settled: BTreeMap<OsString, ()> = BTreeMap::new();
    for layer in layers {
        let dir = layer.join(rel);
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if settled.contains_key(&name) {
                continue;
            }
            let meta = fs::symlink_metadata(entry.path())?;
            let shown = names.entry(name.clone()).or_default();
            if is_whiteout(&meta) {
                settled.insert(name.clone(), ());
                if shown.is_empty() {
                    names.remove(&name);
                }
                continue;
            }
            if !meta.is_dir() {
                settled.insert(name.clone(), ());
                if !shown.is_empty() {
                    continue; // a directory above hides this file
                }
            }
            shown.push(layer.clone());
            if meta.is_dir() && is_opaque(&entry.path()) {
                settled.insert(name, ());
            }
        }
        if is_opaque(&dir) {
            break;
        }
    }
    Ok(names)
}

fn write_dir<W: Write>(tar: &mut tar::Builder<W>, layers: &[PathBuf], rel: &Path) -> io::Result<()> {
    for (name, from) in merged(layers, rel)? {
        let rel = rel.join(&name);
        let top = from[0].join(&rel);
        let meta = fs::symlink_metadata(&top)?;
        let mut h = tar::Header::new_gnu();
        h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
        let ft = meta.file_type();
        if ft.is_dir() {
            h.set_size(0);
            tar.append_data(&mut h, format!("{}/", rel.display()), io::empty())?;
            write_dir(tar, &from, &rel)?;
        } else if ft.is_symlink() {
            h.set_size(0);
            tar.append_link(&mut h, &rel, fs::read_link(&top)?)?;
        } else if ft.is_file() {
            tar.append_data(&mut h, &rel, fs::File::open(&top)?)?;
        } else if ft.is_fifo() || ft.is_char_device() || ft.is_block_device() {
            h.set_size(0);
            tar.append_data(&mut h, &rel, io::empty())?;
        }
        // Sockets are no file content.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_layers_hide_and_replace_what_is_below() {
        let dir = tempfile::tempdir().expect("tmp");
        let (upper, lower) = (dir.path().join("upper"), dir.path().join("lower"));
        for d in ["etc", "data/keep", "gone"] {
            fs::create_dir_all(lower.join(d)).expect("mkdir");
        }
        fs::write(lower.join("etc/a"), "old").expect("write");
        fs::write(lower.join("etc/b"), "b").expect("write");
        fs::create_dir_all(upper.join("etc")).expect("mkdir");
        fs::write(upper.join("etc/a"), "new").expect("write");
        fs::write(upper.join("etc/c"), "c").expect("write");
        fs::write(upper.join("gone"), "now a file").expect("write");
        let layers = [upper.clone(), lower.clone()];
        let names = |rel: &str| -> Vec<String> {
            merged(&layers, Path::new(rel))
                .expect("merge")
                .into_keys()
                .map(|n| n.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(""), ["data", "etc", "gone"]);
        assert_eq!(names("etc"), ["a", "b", "c"]);
        let from = merged(&layers, Path::new("etc")).expect("merge");
        assert_eq!(from[&OsString::from("a")], std::slice::from_ref(&upper), "the upper file replaces the lower one");
        let root = merged(&layers, Path::new("")).expect("merge");
        assert_eq!(root[&OsString::from("gone")], std::slice::from_ref(&upper), "a file above hides a directory below");
        assert_eq!(root[&OsString::from("etc")], [upper, lower], "directories merge");
    }
}
