//! The parts of `berth cp` beyond a plain copy, as Docker's: a tar stream in place of the
//! host side (`cp C:PATH -`, `cp - C:DIR`), and the files berth bind-mounts into every
//! container (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf`), which in the root of a
//! container that is not running are only empty placeholders.
//!
//! A stream goes through a staging directory in the state root (root's alone): out, the
//! safe copy of [`copy::copy_out`] is archived; in, the archive is unpacked by the tar
//! library (which keeps every entry inside the staging directory) and then put into the
//! container by the safe copy of [`copy::copy_in`], so a hostile archive meets the same
//! checks a host directory does.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use super::copy;
use super::dir::EtcFile;
use super::rootfs::MountedRoot;
use super::store::Container;
use crate::store::Store;

/// The host file that stands for `path` in container `c` when `c` is not running and `path`
/// is one of the files berth writes for it.
pub fn etc_file(store: &Store, c: &Container, path: &str) -> Option<PathBuf> {
    let parts: Vec<&std::ffi::OsStr> = Path::new(path)
        .components()
        .filter_map(|p| match p {
            Component::Normal(n) => Some(n),
            _ => None,
        })
        .collect();
    let file = match parts[..] {
        [etc, name] if etc == "etc" => match name.to_str()? {
            "hosts" => EtcFile::Hosts,
            "hostname" => EtcFile::Hostname,
            "resolv.conf" => EtcFile::ResolvConf,
            _ => return None,
        },
        _ => return None,
    };
    if MountedRoot::running(c).ok().flatten().is_some() {
        return None; // its processes see the bind mount, and so does the copy
    }
    Some(store.container_dir(&c.config.id).etc(file)).filter(|p| p.is_file())
}

/// A directory of the state root for one command's staging, removed when dropped.
struct Staging(PathBuf);

impl Staging {
    fn new(store: &Store) -> io::Result<Staging> {
        let dir = crate::fsutil::temp_name(&store.root.join("cp-staging"));
        fs::create_dir(&dir)?;
        Ok(Staging(dir))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Writes `src` (a path in the container whose root is `root`, or the host file standing
/// for it) to `out` as a tar stream whose one top entry is `src`'s name (a link as a link
/// unless `follow`).
pub fn copy_out_tar<W: Write>(
    store: &Store,
    root: &Path,
    src: &str,
    host: Option<&Path>,
    follow: bool,
    out: W,
) -> io::Result<W> {
    let staging = Staging::new(store)?;
    let name = Path::new(src).file_name().map_or_else(|| "root".into(), |n| n.to_owned());
    let staged = staging.0.join(&name);
    match host {
        Some(file) => drop(fs::copy(file, &staged)?),
        None => copy::copy_out(root, src, &staged, follow)?,
    }
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    if fs::symlink_metadata(&staged)?.is_dir() {
        tar.append_dir_all(&name, &staged)?;
    } else {
        tar.append_path_with_name(&staged, &name)?;
    }
    tar.into_inner()
}

/// Unpacks the tar stream `input` into directory `dest` of the container whose root is
/// `root`.
pub fn copy_in_tar<R: Read>(store: &Store, root: &Path, input: R, dest: &str) -> io::Result<()> {
    let in_root = crate::fsutil::InRoot::open(root)?;
    if in_root.open_at(dest, rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY).is_err() {
        return Err(io::Error::other(format!("the destination {dest} must be a directory in the container")));
    }
    let staging = Staging::new(store)?;
    let mut archive = tar::Archive::new(input);
    archive.set_preserve_permissions(true);
    archive.set_unpack_xattrs(false);
    archive.unpack(&staging.0)?;
    let mut entries: Vec<PathBuf> = fs::read_dir(&staging.0)?.map(|e| e.map(|e| e.path())).collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        copy::copy_in(root, &entry, dest)?;
    }
    Ok(())
}
