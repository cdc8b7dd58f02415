//! `berth cp`: files into and out of a container's root file system, safe against links in
//! the container (CVE-2018-15664): every path inside the container is resolved with
//! `openat2(RESOLVE_IN_ROOT)`, so `..` and symbolic links, absolute or not, stay inside the
//! root; below the first directory, entries are opened relative to their directory without
//! following links.

use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

use super::rootfs;
use super::store::Container;
use crate::fsutil::InRoot;
use crate::store::Store;

/// The root file system of a container as its processes see it (volumes and binds
/// included): the running process's root, or mounted for the copy and unmounted when dropped.
pub fn root(store: &Store, c: &Container) -> io::Result<rootfs::MountedRoot> {
    rootfs::MountedRoot::of(store, c)
}

/// Copies `src` (a path in the container) to `dest` on the host. A directory is copied
/// recursively; into an existing directory `dest`, the copy keeps its name. A symbolic link
/// `src` is copied as a link, unless `follow` (`cp -L`), as Docker copies it.
pub fn copy_out(root: &Path, src: &str, dest: &Path, follow: bool) -> io::Result<()> {
    let root = InRoot::open(root)?;
    let name = Path::new(src).file_name().map(|n| n.to_owned()).unwrap_or_else(|| "root".into());
    let target = if dest.is_dir() { dest.join(name) } else { dest.to_path_buf() };
    if !follow {
        let link = root.open_at(src, OFlags::PATH | OFlags::NOFOLLOW)?;
        if FileType::from_raw_mode(rustix::fs::fstat(&link)?.st_mode) == FileType::Symlink {
            let text = rustix::fs::readlinkat(&link, "", Vec::new())?;
            return std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(text.as_bytes()), &target);
        }
    }
    let fd = root.open_at(src, OFlags::RDONLY)?;
    let stat = rustix::fs::fstat(&fd)?;
    if FileType::from_raw_mode(stat.st_mode) == FileType::Directory {
        fs::create_dir_all(&target)?;
        copy_dir_out(fd, &target)
    } else {
        let mut from = fs::File::from(fd);
        io::copy(&mut from, &mut fs::File::create(&target)?)?;
        fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(stat.st_mode & 0o7777))
    }
}

fn copy_dir_out(dir: OwnedFd, target: &Path) -> io::Result<()> {
    let entries: Vec<(std::ffi::CString, FileType)> = Dir::read_from(&dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_bytes() != b"." && e.file_name().to_bytes() != b"..")
        .map(|e| (e.file_name().to_owned(), e.file_type()))
        .collect();
    for (name, _) in entries {
        let host = target.join(std::ffi::OsStr::from_bytes(name.to_bytes()));
        let st = rustix::fs::statat(&dir, name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW)?;
        match FileType::from_raw_mode(st.st_mode) {
            FileType::Directory => {
                let child = rustix::fs::openat(
                    &dir,
                    name.as_c_str(),
                    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                fs::create_dir_all(&host)?;
                copy_dir_out(child, &host)?;
            }
            FileType::Symlink => {
                let to = rustix::fs::readlinkat(&dir, name.as_c_str(), Vec::new())?;
                let _ = fs::remove_file(&host);
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(to.to_bytes()), &host)?;
            }
            FileType::RegularFile => {
                let child = rustix::fs::openat(
                    &dir,
                    name.as_c_str(),
                    OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                io::copy(&mut fs::File::from(child), &mut fs::File::create(&host)?)?;
                fs::set_permissions(&host, std::os::unix::fs::PermissionsExt::from_mode(st.st_mode & 0o7777))?;
            }
            _ => {} // devices, sockets, fifos are not copied
        }
    }
    Ok(())
}

/// Copies `src` (on the host) to `dest` in the container. Into an existing directory `dest`,
/// the copy keeps its name; otherwise `dest`'s parent must exist.
pub fn copy_in(root: &Path, src: &Path, dest: &str) -> io::Result<()> {
    let root = InRoot::open(root)?;
    let (dir, name) = match root.open_at(dest, OFlags::RDONLY | OFlags::DIRECTORY) {
        Ok(dir) => {
            (dir, src.file_name().map(|n| n.to_owned()).ok_or_else(|| io::Error::other("the source has no name"))?)
        }
        Err(_) => {
            let dest_path = Path::new(dest);
            let parent = dest_path.parent().map_or("/".to_string(), |p| p.to_string_lossy().into_owned());
            let name = dest_path
                .file_name()
                .map(|n| n.to_owned())
                .ok_or_else(|| io::Error::other(format!("invalid destination {dest:?}")))?;
            (root.open_at(&parent, OFlags::RDONLY | OFlags::DIRECTORY)?, name)
        }
    };
    put(&dir, &name, src)
}

/// The open parent directory of `dest` in the container, and `dest`'s name.
fn parent_of(root: &InRoot, dest: &str) -> io::Result<(OwnedFd, std::ffi::OsString)> {
    let path = Path::new(dest);
    let name = path.file_name().ok_or_else(|| io::Error::other(format!("invalid path {dest:?}")))?;
    let parent = path.parent().map_or("/".to_string(), |p| p.to_string_lossy().into_owned());
    Ok((root.open_at(&parent, OFlags::RDONLY | OFlags::DIRECTORY)?, name.to_owned()))
}

/// Puts `src` (on the host) exactly at `dest` in the container, replacing what is there (a
/// directory's content is merged). The parent of `dest` must exist.
pub fn put_at(root: &Path, src: &Path, dest: &str) -> io::Result<()> {
    let (dir, name) = parent_of(&InRoot::open(root)?, dest)?;
    put(&dir, &name, src)
}

/// Creates the directory `path` in the container with its missing parents (mode 0755).
pub fn make_dirs(root: &Path, path: &str) -> io::Result<()> {
    let root = InRoot::open(root)?;
    let mut done = String::from("/");
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let dir = root.open_at(&done, OFlags::RDONLY | OFlags::DIRECTORY)?;
        match rustix::fs::mkdirat(&dir, part, Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(e.into()),
        }
        done = format!("{}/{part}", done.trim_end_matches('/'));
    }
    Ok(())
}

/// Removes `dest` in the container, a directory with everything in it; nothing there is fine.
pub fn remove_at(root: &Path, dest: &str) -> io::Result<()> {
    let (dir, name) = parent_of(&InRoot::open(root)?, dest)?;
    remove_entry(&dir, &name)
}

/// Removes `name` from the open directory `dir`, recursively, never following a link.
fn remove_entry(dir: &OwnedFd, name: &std::ffi::OsStr) -> io::Result<()> {
    let stat = match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(rustix::io::Errno::NOENT) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
        return Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?);
    }
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let child = rustix::fs::openat(dir, name, flags, Mode::empty())?;
    for entry in Dir::read_from(&child)? {
        let entry = entry?;
        let entry_name = std::ffi::OsStr::from_bytes(entry.file_name().to_bytes());
        if entry_name != "." && entry_name != ".." {
            remove_entry(&child, entry_name)?;
        }
    }
    Ok(rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR)?)
}

/// Writes the host path `src` as `name` in the open directory `dir`, never through a link.
fn put(dir: &OwnedFd, name: &std::ffi::OsStr, src: &Path) -> io::Result<()> {
    let meta = fs::symlink_metadata(src)?;
    // Whatever is there (a link the container planted, say) is replaced, not followed.
    let existing = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok();
    let existing_dir = existing.as_ref().is_some_and(|s| FileType::from_raw_mode(s.st_mode) == FileType::Directory);
    if existing.is_some() && !(existing_dir && meta.is_dir()) {
        remove_entry(dir, name)?;
    }
    let mode = Mode::from_raw_mode(meta.mode() & 0o7777);
    if meta.is_dir() {
        if !existing_dir {
            rustix::fs::mkdirat(dir, name, mode)?;
        }
        let child = rustix::fs::openat(
            dir,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        for entry in fs::read_dir(src)? {
            let entry = entry?;
            put(&child, &entry.file_name(), &entry.path())?;
        }
    } else if meta.file_type().is_symlink() {
        rustix::fs::symlinkat(fs::read_link(src)?, dir, name)?;
    } else if meta.is_file() {
        let fd = rustix::fs::openat(
            dir,
            name,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            mode,
        )?;
        io::copy(&mut fs::File::open(src)?, &mut fs::File::from(fd))?;
    }
    Ok(())
}
