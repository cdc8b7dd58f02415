//! The build context: `.dockerignore`, the files a COPY or ADD names (globs, never outside the
//! context), their content hash for the cache, and the tar layer they make.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest as _, Sha256};

/// `.dockerignore` patterns, in order; a later match wins, `!` re-includes.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<(bool, Vec<String>)>,
}

impl Ignore {
    /// Reads `.dockerignore`, a link in it resolved inside the context (never the host's file).
    pub fn read(context: &Path) -> io::Result<Ignore> {
        match crate::fsutil::InRoot::open(context)?.read_to_string(".dockerignore", 1 << 20) {
            Ok(text) => Ok(Ignore::parse(&text)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Ignore::default()),
            Err(e) => Err(e),
        }
    }

    pub fn parse(text: &str) -> Ignore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (negated, p) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                let parts = p.trim_matches('/').split('/').filter(|s| !s.is_empty() && *s != ".").map(str::to_string);
                (negated, parts.collect())
            })
            .collect();
        Ignore { patterns }
    }

    /// Whether `rel` (relative to the context) is left out: the last pattern matching it or
    /// one of its parent directories decides.
    pub fn excludes(&self, rel: &Path) -> bool {
        let parts: Vec<String> = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        let mut out = false;
        for (negated, pattern) in &self.patterns {
            if (1..=parts.len()).any(|n| segments(pattern, &parts[..n])) {
                out = !negated;
            }
        }
        out
    }
}

/// A pattern's segments against a path's: `**` spans any number of segments.
fn segments(pattern: &[String], parts: &[String]) -> bool {
    match pattern.split_first() {
        None => parts.is_empty(),
        Some((p, rest)) if p == "**" => (0..=parts.len()).any(|i| segments(rest, &parts[i..])),
        Some((p, rest)) => {
            parts.split_first().is_some_and(|(h, tail)| glob(p.as_bytes(), h.as_bytes()) && segments(rest, tail))
        }
    }
}

/// `*`, `?` and `[...]`-free globbing within one path segment.
pub fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..])),
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// A file to put in a layer: where it comes from on the host (inside `root`, the context or
/// a stage's root), where it goes in the image. It is read through a handle on `root`
/// (`openat2(RESOLVE_IN_ROOT)`), so a link swapped in after it was listed stays inside.
#[derive(Debug, Clone)]
pub struct Entry {
    pub root: PathBuf,
    pub source: PathBuf,
    pub dest: String,
}

/// An entry opened inside its root: its metadata (of the entry itself, not what a link points
/// to) and a handle that reads what it is.
struct Opened {
    meta: std::fs::Metadata,
    handle: std::fs::File,
}

impl Opened {
    fn of(roots: &mut Vec<(PathBuf, crate::fsutil::InRoot)>, e: &Entry) -> io::Result<Opened> {
        use rustix::fs::OFlags;
        let at = match roots.iter().position(|(r, _)| r == &e.root) {
            Some(i) => i,
            None => {
                roots.push((e.root.clone(), crate::fsutil::InRoot::open(&e.root)?));
                roots.len() - 1
            }
        };
        let root = &roots[at].1;
        let rel = e.source.strip_prefix(&e.root).unwrap_or(&e.source).to_string_lossy().into_owned();
        let handle = std::fs::File::from(root.open_at(&rel, OFlags::PATH | OFlags::NOFOLLOW)?);
        let meta = handle.metadata()?;
        // A regular file is reopened for reading through the handle itself, not its path.
        let handle = if meta.is_file() {
            std::fs::File::open(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&handle)))?
        } else {
            handle
        };
        Ok(Opened { meta, handle })
    }

    fn link_target(&self) -> io::Result<PathBuf> {
        let target = rustix::fs::readlinkat(&self.handle, "", Vec::new())?;
        let bytes = target.into_bytes();
        Ok(PathBuf::from(<std::ffi::OsString as std::os::unix::ffi::OsStringExt>::from_vec(bytes)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("source {0:?} is outside the build context")]
    Outside(String),
    #[error("source {0:?} matches nothing in the build context")]
    Missing(String),
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ContextError + '_ {
    move |source| ContextError::Io { path: path.display().to_string(), source }
}

/// `source` (relative to `root`, possibly a glob) as the paths it names, never leaving `root`.
fn matches(root: &Path, source: &str) -> Result<Vec<PathBuf>, ContextError> {
    let rel = Path::new(source.trim_start_matches('/'));
    if rel.components().any(|c| c == Component::ParentDir) {
        return Err(ContextError::Outside(source.to_string()));
    }
    let mut found = vec![root.to_path_buf()];
    for part in rel.components().filter(|c| *c != Component::CurDir) {
        let part = part.as_os_str().to_string_lossy();
        let mut next = Vec::new();
        for dir in &found {
            if part.contains(['*', '?']) {
                let Ok(entries) = std::fs::read_dir(dir) else { continue };
                let mut names: Vec<PathBuf> = entries
                    .flatten()
                    .filter(|e| glob(part.as_bytes(), e.file_name().as_encoded_bytes()))
                    .map(|e| e.path())
                    .collect();
                names.sort();
                next.extend(names);
            } else if std::fs::symlink_metadata(dir.join(&*part)).is_ok() {
                next.push(dir.join(&*part));
            }
        }
        found = next;
    }
    // A link in the context may point anywhere; what it resolves to must stay inside.
    let canonical_root = root.canonicalize().map_err(io_err(root))?;
    for f in &found {
        let real = f.canonicalize().map_err(io_err(f))?;
        if !real.starts_with(&canonical_root) {
            return Err(ContextError::Outside(source.to_string()));
        }
    }
    Ok(found)
}

/// `path` inside the image root `root`, resolved by the kernel as if `root` were `/`
/// (`openat2(RESOLVE_IN_ROOT)`): links, absolute or not, and `..` stay inside `root`.
pub fn resolve_in_root(root: &Path, path: &str) -> io::Result<PathBuf> {
    crate::fsutil::InRoot::open(root)?.resolve(path)
}

/// The entries of `COPY sources... dest` from the tree at `root`: a directory's content (not
/// the directory itself) goes into `dest`; a file goes to `dest`, or into it when `dest` ends
/// with `/` or there are several sources. `ignore` applies to the build context only.
pub fn entries(root: &Path, sources: &[String], dest: &str, ignore: &Ignore) -> Result<Vec<Entry>, ContextError> {
    let into_dir = dest.ends_with('/') || sources.len() > 1 || sources.iter().any(|s| s.contains(['*', '?']));
    let mut out = Vec::new();
    for source in sources {
        let found: Vec<PathBuf> = matches(root, source)?
            .into_iter()
            .filter(|p| p == root || !ignore.excludes(p.strip_prefix(root).unwrap_or(p)))
            .collect();
        if found.is_empty() {
            return Err(ContextError::Missing(source.clone()));
        }
        for path in found {
            let meta = std::fs::symlink_metadata(&path).map_err(io_err(&path))?;
            if meta.is_dir() {
                walk(root, &path, dest.trim_end_matches('/'), ignore, &mut out)?;
            } else {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let to = if into_dir { format!("{}/{name}", dest.trim_end_matches('/')) } else { dest.to_string() };
                out.push(Entry { root: root.to_path_buf(), source: path, dest: to });
            }
        }
    }
    Ok(out)
}

fn walk(root: &Path, dir: &Path, dest: &str, ignore: &Ignore, out: &mut Vec<Entry>) -> Result<(), ContextError> {
    let mut children: Vec<PathBuf> = std::fs::read_dir(dir).map_err(io_err(dir))?.flatten().map(|e| e.path()).collect();
    children.sort();
    let to = if dest.is_empty() { "/".into() } else { dest.to_string() };
    out.push(Entry { root: root.to_path_buf(), source: dir.to_path_buf(), dest: to });
    for child in children {
        if ignore.excludes(child.strip_prefix(root).unwrap_or(&child)) {
            continue;
        }
        let name = child.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let to = format!("{dest}/{name}");
        if std::fs::symlink_metadata(&child).map_err(io_err(&child))?.is_dir() {
            walk(root, &child, &to, ignore, out)?;
        } else {
            out.push(Entry { root: root.to_path_buf(), source: child, dest: to });
        }
    }
    Ok(())
}

/// The content hash of entries for the cache: names, modes and bytes.
pub fn hash(entries: &[Entry]) -> io::Result<String> {
    let mut h = Sha256::new();
    let mut roots = Vec::new();
    for e in entries {
        let opened = Opened::of(&mut roots, e)?;
        let meta = &opened.meta;
        h.update(e.dest.as_bytes());
        h.update(meta.mode().to_le_bytes());
        if meta.is_file() {
            let mut f = &opened.handle;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
        } else if meta.file_type().is_symlink() {
            h.update(opened.link_target()?.as_os_str().as_encoded_bytes());
        }
        h.update([0]);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// How a COPY sets owners and modes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Attributes {
    pub owner: Option<(u32, u32)>,
    pub mode: Option<u32>,
}

/// Writes `entries` as a layer tar into `out`; with `unpack_archives` (ADD), a file that is a
/// tar archive (plain or gzip) is unpacked into the directory it would have gone to.
pub fn write_layer<W: Write>(
    entries: &[Entry],
    inline: &[(String, Vec<u8>)],
    attrs: Attributes,
    unpack_archives: bool,
    out: W,
) -> io::Result<W> {
    let mut tar = tar::Builder::new(out);
    tar.follow_symlinks(false);
    let header = |meta: &std::fs::Metadata| {
        let mut h = tar::Header::new_gnu();
        let (uid, gid) = attrs.owner.unwrap_or((0, 0));
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_mode(attrs.mode.unwrap_or(meta.mode() & 0o7777));
        h.set_mtime(meta.mtime().max(0) as u64);
        h
    };
    let mut roots = Vec::new();
    for e in entries {
        let Opened { meta, handle } = Opened::of(&mut roots, e)?;
        let name = e.dest.trim_start_matches('/');
        if meta.is_dir() {
            if name.is_empty() {
                continue;
            }
            let mut h = header(&meta);
            h.set_entry_type(tar::EntryType::Directory);
            h.set_size(0);
            tar.append_data(&mut h, format!("{name}/"), io::empty())?;
        } else if meta.file_type().is_symlink() {
            let mut h = header(&meta);
            h.set_entry_type(tar::EntryType::Symlink);
            h.set_size(0);
            let target = Opened { meta: meta.clone(), handle }.link_target()?;
            tar.append_link(&mut h, name, target)?;
        } else if meta.is_file() {
            let mut file = handle;
            if unpack_archives {
                if let Some(gzip) = archive_kind(&mut file)? {
                    let dir = Path::new(name).parent().unwrap_or(Path::new("")).to_path_buf();
                    append_archive(&mut tar, file, gzip, &e.source, &dir)?;
                    continue;
                }
            }
            let mut h = header(&meta);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(meta.len());
            tar.append_data(&mut h, name, file)?;
        }
    }
    for (dest, content) in inline {
        let mut h = tar::Header::new_gnu();
        let (uid, gid) = attrs.owner.unwrap_or((0, 0));
        h.set_uid(uid.into());
        h.set_gid(gid.into());
        h.set_mode(attrs.mode.unwrap_or(0o644));
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(content.len() as u64);
        tar.append_data(&mut h, dest.trim_start_matches('/'), content.as_slice())?;
    }
    tar.into_inner()
}

/// Whether `file` is a tar archive: `Some(true)` gzip-compressed, `Some(false)` plain. Leaves
/// the file at its start.
fn archive_kind(file: &mut std::fs::File) -> io::Result<Option<bool>> {
    use std::io::{Seek, SeekFrom};
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            got => n += got,
        }
    }
    file.seek(SeekFrom::Start(0))?;
    Ok(if n >= 2 && head[..2] == [0x1f, 0x8b] {
        Some(true)
    } else if n >= 262 && &head[257..262] == b"ustar" {
        Some(false)
    } else {
        None
    })
}

/// Copies the entries of the archive `file` (at `path`, named in errors) under `dir`; names
/// stay relative and free of `..` (the unpacker checks the layer again in any case).
fn append_archive<W: Write>(
    tar: &mut tar::Builder<W>,
    file: std::fs::File,
    gzip: bool,
    path: &Path,
    dir: &Path,
) -> io::Result<()> {
    let reader: Box<dyn Read> = if gzip { Box::new(flate2::read::GzDecoder::new(file)) } else { Box::new(file) };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let rel = entry.path()?.into_owned();
        if rel.components().any(|c| matches!(c, Component::ParentDir | Component::RootDir | Component::Prefix(_))) {
            return Err(io::Error::other(format!("{}: entry {} leaves the archive", path.display(), rel.display())));
        }
        let mut h = entry.header().clone();
        let name = dir.join(&rel);
        match entry.header().entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry.link_name()?.map(|t| t.into_owned()).unwrap_or_default();
                tar.append_link(&mut h, &name, target)?;
            }
            _ => tar.append_data(&mut h, &name, &mut entry)?,
        }
    }
    Ok(())
}

/// Unpacks a context sent as a tar stream (gzip'd or not, as Docker's API takes it) into the
/// empty directory `dir`; entries that would land outside it are refused by the unpacker.
pub fn unpack<R: Read>(input: R, dir: &Path) -> io::Result<()> {
    let reader = crate::image::unpack::decompress(io::BufReader::new(input))?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_unpack_xattrs(false);
    archive.unpack(dir)
}

/// `USER[:GROUP]` of `--chown` as numbers, names looked up in the image's `/etc/passwd` and
/// `/etc/group` (given as their text).
pub fn owner(spec: &str, passwd: &str, group: &str) -> Result<(u32, u32), String> {
    let lookup = |table: &str, name: &str, field: usize| -> Option<u32> {
        table.lines().find(|l| l.split(':').next() == Some(name)).and_then(|l| l.split(':').nth(field)?.parse().ok())
    };
    let (user, grp) = spec.split_once(':').map_or((spec, None), |(u, g)| (u, Some(g)));
    let uid = user.parse().ok().or_else(|| lookup(passwd, user, 2)).ok_or(format!("--chown: no user {user:?}"))?;
    let gid = match grp {
        Some(g) => g.parse().ok().or_else(|| lookup(group, g, 2)).ok_or(format!("--chown: no group {g:?}"))?,
        None => uid,
    };
    Ok((uid, gid))
}

/// Build arguments and variables in scope, for [`super::expand::expand`].
pub type Vars = BTreeMap<String, String>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_swapped_in_after_listing_is_read_inside_the_context() {
        let ctx = tempfile::tempdir().expect("tmp");
        let outside = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(ctx.path().join("dir")).expect("mkdir");
        std::fs::write(ctx.path().join("dir/file"), "inside").expect("write");
        std::fs::write(outside.path().join("file"), "outside").expect("write");
        let listed = entries(ctx.path(), &["dir".to_string()], "/app", &Ignore::default()).expect("entries");
        // Between the listing and the layer, the directory becomes a link to the host's.
        std::fs::rename(ctx.path().join("dir"), ctx.path().join("old")).expect("rename");
        std::os::unix::fs::symlink(outside.path(), ctx.path().join("dir")).expect("link");
        let written = write_layer(&listed, &[], Attributes::default(), false, Vec::new());
        if let Ok(tar) = written {
            assert!(!String::from_utf8_lossy(&tar).contains("outside"), "the host's file went into the layer");
        }
        assert!(hash(&listed).is_err(), "the entry is gone from inside the context");
    }

    #[test]
    fn dockerignore_rules() {
        let i = Ignore::parse("# comment\n*.log\nbuild/\n**/secret*\n!keep.log\n");
        assert!(i.excludes(Path::new("debug.log")));
        assert!(!i.excludes(Path::new("keep.log")));
        assert!(i.excludes(Path::new("build/out/a.o")));
        assert!(i.excludes(Path::new("deep/er/secret.txt")));
        assert!(!i.excludes(Path::new("src/main.rs")));
        assert!(!i.excludes(Path::new("sub/debug.log")), "a pattern without ** is anchored at the root");
    }

    #[test]
    fn sources_and_destinations() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path();
        std::fs::create_dir_all(root.join("src/sub")).expect("mkdir");
        std::fs::write(root.join("src/a.txt"), "a").expect("write");
        std::fs::write(root.join("src/sub/b.txt"), "b").expect("write");
        std::fs::write(root.join("top.txt"), "t").expect("write");
        let none = Ignore::default();
        let dests = |sources: &[&str], dest: &str| -> Vec<String> {
            let s: Vec<String> = sources.iter().map(|s| s.to_string()).collect();
            entries(root, &s, dest, &none).expect("entries").into_iter().map(|e| e.dest).collect()
        };
        assert_eq!(dests(&["top.txt"], "/x"), ["/x"]);
        assert_eq!(dests(&["top.txt"], "/d/"), ["/d/top.txt"]);
        assert_eq!(dests(&["src"], "/app"), ["/app", "/app/a.txt", "/app/sub", "/app/sub/b.txt"]);
        assert_eq!(dests(&["src/*.txt", "top.txt"], "/d"), ["/d/a.txt", "/d/top.txt"]);
        let outside = entries(root, &["../etc/passwd".to_string()], "/x", &none);
        assert!(matches!(outside, Err(ContextError::Outside(_))));
        assert!(matches!(entries(root, &["nope".to_string()], "/x", &none), Err(ContextError::Missing(_))));
        let ignore = Ignore::parse("src/sub\n");
        let kept: Vec<String> = entries(root, &["src".to_string()], "/app", &ignore)
            .expect("entries")
            .into_iter()
            .map(|e| e.dest)
            .collect();
        assert_eq!(kept, ["/app", "/app/a.txt"]);
        std::os::unix::fs::symlink("/etc", root.join("escape")).expect("symlink");
        assert!(matches!(entries(root, &["escape".to_string()], "/x", &none), Err(ContextError::Outside(_))));
    }

    #[test]
    fn chown_names_and_numbers() {
        let passwd = "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n";
        let group = "root:x:0:\nstaff:x:50:\n";
        assert_eq!(owner("app", passwd, group), Ok((1000, 1000)));
        assert_eq!(owner("app:staff", passwd, group), Ok((1000, 50)));
        assert_eq!(owner("7:8", passwd, group), Ok((7, 8)));
        assert!(owner("nobody", passwd, group).is_err());
    }
}
