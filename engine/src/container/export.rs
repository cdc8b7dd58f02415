//! `berth export`: a container's file system as one tar stream, as `docker export` writes
//! it: the image's layers with the container's writable layer on top, read as overlayfs
//! shows them (a whiteout hides the file below, an opaque directory everything below it),
//! without the contents of volumes and binds, which are not the container's files.
//!
//! The layers are merged here rather than through a second overlay mount, which the kernel
//! refuses while the container's own mount uses the same upper directory.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use super::rootfs::{is_opaque, is_whiteout};
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

/// The entries of directory `rel` as the merged view has them: each name from the top-most
/// layer that has it, with the layers below that still show it when it is a directory.
fn merged(layers: &[PathBuf], rel: &Path) -> io::Result<BTreeMap<OsString, Vec<PathBuf>>> {
    let mut names: BTreeMap<OsString, Vec<PathBuf>> = BTreeMap::new();
    // Names a layer above decided (a file, a whiteout, an opaque directory): the layers
    // below do not show them.
    let mut settled: BTreeSet<OsString> = BTreeSet::new();
    for layer in layers {
        let dir = layer.join(rel);
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            if !settled.insert(name.clone()) {
                continue;
            }
            let meta = fs::symlink_metadata(entry.path())?;
            if is_whiteout(&meta) {
                continue;
            }
            if !meta.is_dir() {
                // Shown unless a directory above hides it.
                names.entry(name).or_insert_with(|| vec![layer.clone()]);
                continue;
            }
            names.entry(name.clone()).or_default().push(layer.clone());
            if !is_opaque(&entry.path()) {
                settled.remove(&name); // the directories of the layers below merge into it
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
        assert_eq!(root[&OsString::from("etc")], [upper.clone(), lower.clone()], "directories merge");
        // A whiteout hides the lower file; an opaque directory hides the lower directory's content.
        nix::sys::stat::mknod(&upper.join("etc/b"), nix::sys::stat::SFlag::S_IFCHR, nix::sys::stat::Mode::empty(), 0)
            .expect("a whiteout (tests run as root)");
        fs::create_dir_all(upper.join("data")).expect("mkdir");
        rustix::fs::setxattr(upper.join("data"), "trusted.overlay.opaque", b"y", rustix::fs::XattrFlags::empty())
            .expect("an opaque directory (tests run as root)");
        assert_eq!(names("etc"), ["a", "c"]);
        assert_eq!(names("data"), Vec::<String>::new(), "keep is hidden");
        let root = merged(&layers, Path::new("")).expect("merge");
        assert_eq!(root[&OsString::from("data")], [upper], "the lower data is not merged");
    }
}
