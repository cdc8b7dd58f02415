//! Unpacking a layer (a tar stream, plain, gzip or zstd) into its own snapshot directory, for
//! use as an overlayfs lower directory.
//!
//! Layers come from registries and archives, so the input is treated as hostile (DESIGN.md §4,
//! §11): no entry may land outside the directory (`..` is refused, absolute paths are taken
//! relative to it), no entry is written through a symbolic link, hard links must point inside
//! the layer, device nodes are refused, and oversized name headers are refused before they are
//! read into memory. Whiteouts become overlayfs whiteouts: `.wh.NAME` a 0/0 character device,
//! `.wh..wh..opq` the `trusted.overlay.opaque` attribute on its directory. The digest of the
//! uncompressed stream (the layer's diff ID) is computed on the way.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::digest::{Digest, HashingReader};
use crate::image::expansion;

/// The largest GNU long-name or PAX header accepted.
const MAX_HEADER: u64 = 1 << 20;
const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("layer entry {entry:?} points outside the layer (`..`)")]
    Escape { entry: String },
    #[error("layer entry {entry:?} would be written through the symbolic link {link:?}")]
    ThroughSymlink { entry: String, link: String },
    #[error("layer entry {entry:?} is a device node, which layers may not contain")]
    Device { entry: String },
    #[error("layer entry {entry:?} is a hard link to {target:?}, which is not in the layer")]
    BadLink { entry: String, target: String },
    #[error("layer entry {entry:?} is a whiteout of no name in its directory, or of the directory itself")]
    BadWhiteout { entry: String },
    #[error("layer has a {size}-byte name header, over the {MAX_HEADER}-byte limit")]
    HeaderTooLarge { size: u64 },
    #[error(transparent)]
    TooLarge(#[from] expansion::TooLarge),
    #[error("cannot read the layer archive")]
    Read(#[source] io::Error),
    #[error("cannot unpack layer entry {entry:?}")]
    Write {
        entry: String,
        #[source]
        source: io::Error,
    },
}

/// What an unpack produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Bytes of file content written.
    pub size: u64,
}

/// Opens `reader` as a plain, gzip or zstd stream, by its first bytes.
pub fn decompress<'a, R: Read + 'a>(reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let mut buf = BufReader::with_capacity(256 * 1024, reader);
    let head = buf.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(buf))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::with_buffer(buf)?)
    } else {
        Box::new(buf)
    })
}

/// Unpacks a (possibly compressed) layer into `dest`, which must exist and be empty.
/// Stops a layer that expands past `expansion`'s limits.
pub fn unpack<R: Read>(reader: R, dest: &Path) -> Result<Unpacked, UnpackError> {
    unpack_bounded(reader, dest).map_err(|e| {
        let io = match &e {
            UnpackError::Read(io) | UnpackError::Write { source: io, .. } => Some(io),
            _ => None,
        };
        match io.and_then(expansion::too_large) {
            Some(stopped) => UnpackError::TooLarge(stopped),
            None => e,
        }
    })
}

fn unpack_bounded<R: Read>(reader: R, dest: &Path) -> Result<Unpacked, UnpackError> {
    let count = expansion::counter();
    let plain = decompress(expansion::Counting::new(reader, count.clone())).map_err(UnpackError::Read)?;
    let mut hashing = HashingReader::new(expansion::Bounded::new(plain, count));
    let size = {
        let mut archive = tar::Archive::new(&mut hashing);
        let mut state = State { dest, dirs: HashSet::new(), size: 0, root: rustix::process::geteuid().is_root() };
        let mut long_path: Option<PathBuf> = None;
        let mut long_link: Option<PathBuf> = None;
        for entry in archive.entries().map_err(UnpackError::Read)?.raw(true) {
            let mut entry = entry.map_err(UnpackError::Read)?;
            let kind = entry.header().entry_type();
            if kind.is_gnu_longname()
                || kind.is_gnu_longlink()
                || kind.is_pax_local_extensions()
                || kind.is_pax_global_extensions()
            {
                let size = entry.header().entry_size().map_err(UnpackError::Read)?;
                if size > MAX_HEADER {
                    return Err(UnpackError::HeaderTooLarge { size });
                }
                let mut data = Vec::with_capacity(size as usize);
                entry.read_to_end(&mut data).map_err(UnpackError::Read)?;
                if kind.is_gnu_longname() {
                    long_path = Some(PathBuf::from(String::from_utf8_lossy(trim_nul(&data)).into_owned()));
                } else if kind.is_gnu_longlink() {
                    long_link = Some(PathBuf::from(String::from_utf8_lossy(trim_nul(&data)).into_owned()));
                } else if kind.is_pax_local_extensions() {
                    for ext in tar::PaxExtensions::new(&data).flatten() {
                        match ext.key() {
                            Ok("path") => {
                                long_path = Some(PathBuf::from(String::from_utf8_lossy(ext.value_bytes()).into_owned()))
                            }
                            Ok("linkpath") => {
                                long_link = Some(PathBuf::from(String::from_utf8_lossy(ext.value_bytes()).into_owned()))
                            }
                            _ => {}
                        }
                    }
                }
                continue;
            }
            let path = match long_path.take() {
                Some(p) => p,
                None => entry.path().map_err(UnpackError::Read)?.into_owned(),
            };
            let link = match long_link.take() {
                Some(l) => Some(l),
                None => entry.link_name().map_err(UnpackError::Read)?.map(|l| l.into_owned()),
            };
            state.entry(&mut entry, &path, link.as_deref())?;
        }
        state.size
    };
    // Read what is left after the end-of-archive marker so the digest covers the whole stream.
    io::copy(&mut hashing, &mut io::sink()).map_err(UnpackError::Read)?;
    let (diff_id, _) = hashing.finish();
    Ok(Unpacked { diff_id, size })
}

fn trim_nul(data: &[u8]) -> &[u8] {
    let end = data.iter().position(|b| *b == 0).unwrap_or(data.len());
    &data[..end]
}

/// A path inside the layer: `..` refused, leading `/` and `.` dropped.
fn clean(path: &Path) -> Result<PathBuf, UnpackError> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::ParentDir => return Err(UnpackError::Escape { entry: path.display().to_string() }),
            Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

struct State<'a> {
    dest: &'a Path,
    /// Directories known to be real directories inside the layer.
    dirs: HashSet<PathBuf>,
    size: u64,
    root: bool,
}

impl State<'_> {
    fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<'_, R>,
        raw: &Path,
        link: Option<&Path>,
    ) -> Result<(), UnpackError> {
        let rel = clean(raw)?;
        if rel.as_os_str().is_empty() {
            return Ok(()); // the layer root itself
        }
        let shown = rel.display().to_string();
        let werr = |source: io::Error| UnpackError::Write { entry: shown.clone(), source };
        let parent = rel.parent().unwrap_or(Path::new(""));
        self.ensure_dir(parent, &shown)?;
        let name = rel.file_name().unwrap_or_default();
        let target = self.dest.join(&rel);
        let header = entry.header();
        // An empty numeric field reads as 0, as Go's archive/tar (and so Docker) reads it.
        let mode = header.mode().unwrap_or(0o644) & 0o7777;
        let (uid, gid) = (header.uid().unwrap_or(0), header.gid().unwrap_or(0));
        let mtime = header.mtime().unwrap_or(0);
        let kind = header.entry_type();

        if let Some(hidden) = name.to_str().and_then(|n| n.strip_prefix(WHITEOUT_PREFIX)) {
            if name == OPAQUE {
                return self.whiteout(parent, true, hidden).map_err(werr);
            }
            if hidden.starts_with(WHITEOUT_PREFIX) {
                return Ok(()); // Docker's metadata (`.wh..wh.plnk`), which Docker skips too
            }
            if matches!(hidden, "" | "." | "..") {
                return Err(UnpackError::BadWhiteout { entry: shown });
            }
            return self.whiteout(parent, false, hidden).map_err(werr);
        }

        use tar::EntryType as T;
        if kind != T::Directory {
            self.forget(&rel); // a directory this entry replaces no longer shelters what is under it
        }
        match kind {
            T::Directory => {
                match fs::symlink_metadata(&target) {
                    Ok(m) if m.is_dir() => {}
                    Ok(_) => {
                        fs::remove_file(&target).map_err(werr)?;
                        fs::create_dir(&target).map_err(werr)?;
                    }
                    Err(_) => fs::create_dir(&target).map_err(werr)?,
                }
                self.dirs.insert(rel.clone());
            }
            T::Regular | T::Continuous | T::GNUSparse => {
                remove_existing(&target).map_err(werr)?;
                let mut file = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc_nofollow())
                    .open(&target)
                    .map_err(werr)?;
                self.size += io::copy(entry, &mut file).map_err(werr)?;
            }
            T::Symlink => {
                let to = link.ok_or_else(|| UnpackError::BadLink { entry: shown.clone(), target: String::new() })?;
                remove_existing(&target).map_err(werr)?;
                std::os::unix::fs::symlink(to, &target).map_err(werr)?;
            }
            T::Link => {
                let to = link.ok_or_else(|| UnpackError::BadLink { entry: shown.clone(), target: String::new() })?;
                return self.hard_link(&target, to, &shown);
            }
            T::Fifo => {
                remove_existing(&target).map_err(werr)?;
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &target,
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o600),
                    0,
                )
                .map_err(|e| werr(e.into()))?;
            }
            T::Char | T::Block => return Err(UnpackError::Device { entry: shown }),
            other => {
                tracing::debug!(entry = %shown, kind = ?other, "skipping unsupported layer entry");
                return Ok(());
            }
        }
        self.metadata(&target, kind == T::Symlink, mode, uid, gid, mtime).map_err(werr)
    }

    /// A whiteout entry: the directory `parent` made opaque, or the name `hidden` in it marked
    /// deleted (overlayfs's character device 0/0).
    fn whiteout(&mut self, parent: &Path, opaque: bool, hidden: &str) -> io::Result<()> {
        let dir = self.dest.join(parent);
        if opaque {
            rustix::fs::setxattr(&dir, "trusted.overlay.opaque", b"y", rustix::fs::XattrFlags::empty())?;
            return Ok(());
        }
        let path = dir.join(hidden);
        self.forget(&parent.join(hidden));
        remove_existing(&path)?;
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        )?;
        Ok(())
    }

    /// A hard link at `target` to the layer's earlier entry `to`: never to a directory, to
    /// nothing outside the layer, or through a symbolic link.
    fn hard_link(&self, target: &Path, to: &Path, shown: &str) -> Result<(), UnpackError> {
        let to_rel = clean(to)?;
        let bad = || UnpackError::BadLink { entry: shown.to_string(), target: to.display().to_string() };
        if to_rel.as_os_str().is_empty() || self.through_symlink(to_rel.parent().unwrap_or(Path::new(""))).is_some() {
            return Err(bad());
        }
        let source = self.dest.join(&to_rel);
        if fs::symlink_metadata(&source).map(|m| m.is_dir()).unwrap_or(true) {
            return Err(bad());
        }
        let werr = |source: io::Error| UnpackError::Write { entry: shown.to_string(), source };
        remove_existing(target).map_err(werr)?;
        // linkat(2) without AT_SYMLINK_FOLLOW: a link to a symlink is a link to the symlink itself.
        fs::hard_link(&source, target).map_err(werr)
    }

    /// Ownership, then mode (chown clears set-id bits), then modification time; never
    /// following a symbolic link.
    fn metadata(&self, path: &Path, symlink: bool, mode: u32, uid: u64, gid: u64, mtime: u64) -> io::Result<()> {
        use rustix::fs::{AtFlags, CWD, Timespec, Timestamps};
        let owner = rustix::fs::chownat(
            CWD,
            path,
            Some(rustix::fs::Uid::from_raw(uid as u32)),
            Some(rustix::fs::Gid::from_raw(gid as u32)),
            AtFlags::SYMLINK_NOFOLLOW,
        );
        // Without root, files keep the unpacking user's ownership.
        if let Err(e) = owner {
            if self.root {
                return Err(e.into());
            }
        }
        if !symlink {
            fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
        }
        let t = Timespec { tv_sec: mtime as i64, tv_nsec: 0 };
        rustix::fs::utimensat(
            CWD,
            path,
            &Timestamps { last_access: t, last_modification: t },
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
        Ok(())
    }

    /// The first component of `dir` (relative) that is a symbolic link, if any.
    fn through_symlink(&self, dir: &Path) -> Option<PathBuf> {
        let mut cur = PathBuf::new();
        for c in dir.components() {
            cur.push(c);
            if self.dirs.contains(&cur) {
                continue;
            }
            if fs::symlink_metadata(self.dest.join(&cur)).is_ok_and(|m| m.file_type().is_symlink()) {
                return Some(cur);
            }
        }
        None
    }

    /// Drops `rel` and everything under it from the known directories, before something that
    /// is not a directory takes its place. `dirs` holds every prefix of its members, so a path
    /// absent from it has nothing under it there either.
    fn forget(&mut self, rel: &Path) {
        if self.dirs.remove(rel) {
            self.dirs.retain(|d| !d.starts_with(rel));
        }
    }

    /// Makes sure every component of `dir` is a real directory inside the layer, creating the
    /// missing ones; a component that is a symbolic link is refused.
    fn ensure_dir(&mut self, dir: &Path, entry: &str) -> Result<(), UnpackError> {
        if dir.as_os_str().is_empty() || self.dirs.contains(dir) {
            return Ok(());
        }
        let mut cur = PathBuf::new();
        for c in dir.components() {
            cur.push(c);
            if self.dirs.contains(&cur) {
                continue;
            }
            let full = self.dest.join(&cur);
            match fs::symlink_metadata(&full) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(UnpackError::ThroughSymlink {
                        entry: entry.to_string(),
                        link: cur.display().to_string(),
                    });
                }
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    return Err(UnpackError::Write {
                        entry: entry.to_string(),
                        source: io::Error::other(format!("{} is not a directory", cur.display())),
                    });
                }
                Err(_) => {
                    fs::create_dir(&full).map_err(|source| UnpackError::Write { entry: entry.to_string(), source })?
                }
            }
            self.dirs.insert(cur.clone());
        }
        Ok(())
    }
}

fn remove_existing(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    }
}

fn libc_nofollow() -> i32 {
    rustix::fs::OFlags::NOFOLLOW.bits() as i32
}

/// Whether a file name is an overlay whiteout marker in a layer.
pub fn is_whiteout(name: &OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with(WHITEOUT_PREFIX))
}
