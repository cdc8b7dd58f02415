//! Seeding: the first time an empty volume is mounted over a directory of the image, the
//! directory's content is copied into it, ownership and modes kept, as Docker does.
//!
//! The source is a directory the caller opened inside the container's root without following
//! links out of it; the copy never follows a link either (links are copied as links), so a
//! hostile image cannot make it read or write outside the two trees.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::{Result, io};

/// Whether `dir` has no entries (a missing directory counts as empty).
pub fn is_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true)
}

/// Copies the content of `from` into `to` if `to` is empty; returns whether it copied. The
/// volume's root takes the mode and owner of `from`.
pub fn seed(from: &Path, to: &Path) -> Result<bool> {
    if !is_empty(to) {
        return Ok(false);
    }
    // `from` itself may be a link: the caller resolves the mount point safely inside the
    // container's root and hands over `/proc/self/fd/N` for the directory it opened.
    let meta = std::fs::metadata(from).map_err(io(format!("cannot read {}", from.display())))?;
    if !meta.is_dir() {
        return Ok(false);
    }
    copy_dir(from, to)?;
    own(to, &meta)?;
    Ok(true)
}

fn own(path: &Path, meta: &std::fs::Metadata) -> Result<()> {
    use rustix::fs::{AtFlags, CWD, Gid, Uid, chownat};
    chownat(CWD, path, Some(Uid::from_raw(meta.uid())), Some(Gid::from_raw(meta.gid())), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| io(format!("cannot set the owner of {}", path.display()))(e.into()))?;
    if !meta.file_type().is_symlink() {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(io(format!("cannot set the mode of {}", path.display())))?;
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(io(format!("cannot create {}", to.display())))?;
    for entry in std::fs::read_dir(from).map_err(io(format!("cannot read {}", from.display())))? {
        let entry = entry.map_err(io(format!("cannot read {}", from.display())))?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&src).map_err(io(format!("cannot read {}", src.display())))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            copy_dir(&src, &dst)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&src).map_err(io(format!("cannot read {}", src.display())))?;
            std::os::unix::fs::symlink(&target, &dst).map_err(io(format!("cannot create {}", dst.display())))?;
        } else if kind.is_file() {
            // Opened without following links: `src` is a regular file by its own metadata,
            // and the copy creates `dst` afresh in a directory we just made.
            std::fs::copy(&src, &dst).map_err(io(format!("cannot copy {}", src.display())))?;
        } else {
            continue; // Devices, sockets and pipes are not data.
        }
        own(&dst, &meta)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_into_an_empty_volume_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (image, volume) = (dir.path().join("image"), dir.path().join("volume"));
        std::fs::create_dir_all(image.join("sub")).expect("mkdir");
        std::fs::write(image.join("sub/file"), "data").expect("write");
        std::fs::set_permissions(image.join("sub/file"), std::fs::Permissions::from_mode(0o640)).expect("chmod");
        std::os::unix::fs::symlink("/etc/passwd", image.join("link")).expect("symlink");
        std::fs::set_permissions(&image, std::fs::Permissions::from_mode(0o750)).expect("chmod");
        std::fs::create_dir(&volume).expect("mkdir");
        assert!(seed(&image, &volume).expect("seed"));
        assert_eq!(std::fs::read_to_string(volume.join("sub/file")).expect("read"), "data");
        assert_eq!(std::fs::metadata(volume.join("sub/file")).expect("meta").mode() & 0o777, 0o640);
        assert_eq!(std::fs::metadata(&volume).expect("meta").mode() & 0o777, 0o750);
        assert_eq!(std::fs::read_link(volume.join("link")).expect("link"), Path::new("/etc/passwd"));
        // A volume with data is never overwritten.
        std::fs::write(volume.join("sub/file"), "mine").expect("write");
        assert!(!seed(&image, &volume).expect("seed"));
        assert_eq!(std::fs::read_to_string(volume.join("sub/file")).expect("read"), "mine");
    }
}
