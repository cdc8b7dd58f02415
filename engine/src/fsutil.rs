//! File-system helpers for the state directory: atomic writes and locks.
//!
//! Every state file is written to a temporary name, flushed to disk, renamed over the old one,
//! and its directory flushed, so a crash leaves either the old or the new file, never half.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Writes `data` to `path` atomically and durably, making its directory if need be.
pub fn write_atomic(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    write_replacing(path, data, true)
}

/// As [`write_atomic`], into a directory that must exist: a record of something that may have
/// been removed meanwhile (a container's state, written by its shim while `rm -f` removes it)
/// must not bring its directory back.
pub fn write_atomic_in(path: &Path, data: &[u8]) -> io::Result<()> {
    write_replacing(path, data, true)
}

/// Asks the file system to spread the directories made in `dir` over its block groups, as it
/// spreads those at its root (ext4's `T` attribute, `chattr +T`); a no-op where there is no
/// such thing. Each container is a directory of about twenty files made by `up` and removed by
/// `down`: on ext4 without a journal, a new inode steps over every inode of its group freed in
/// the last minutes: with every container in one group, that scan was a fifth of the CPU time
/// of a 200-service `up` after a `down` (5.9-6.5 s, against 3.6-3.9 s spread, in one run here
/// of bench/up.sh's project (c); the scan no longer shows in the profile).
pub fn spread_subdirectories(dir: &Path) {
    use rustix::fs::IFlags;
    let Ok(d) = fs::File::open(dir) else { return };
    match rustix::fs::ioctl_getflags(&d) {
        Ok(flags) if !flags.contains(IFlags::TOPDIR) => {
            if let Err(e) = rustix::fs::ioctl_setflags(&d, flags | IFlags::TOPDIR) {
                tracing::debug!("cannot set the top-directory attribute of {}: {e}", dir.display());
            }
        }
        _ => {}
    }
}

/// Writes `data` to `path` atomically but without waiting for the disk: for files made again
/// from the state whenever they are needed (a container's /etc/hosts, the DNS records), where
/// a crash may lose the new content but never leaves half of it.
pub fn write_derived(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    write_replacing(path, data, false)
}

fn write_replacing(path: &Path, data: &[u8], durable: bool) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = temp_name(path);
    let result = (|| {
        // Records are root's alone; derived files (a container's /etc/hosts) are read inside
        // containers by any user.
        let mode = if durable { 0o600 } else { 0o644 };
        let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        f.write_all(data)?;
        if durable {
            f.sync_all()?;
        }
        fs::rename(&tmp, path)?;
        if durable { sync_dir(dir) } else { Ok(()) }
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A temporary name beside `path`, unique to this process and call.
pub fn temp_name(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// An exclusive lock on a file, held until dropped. Serialises commands that change the same
/// state (two `berth pull`s updating the image index).
pub struct Lock {
    _file: File,
}

impl Lock {
    pub fn acquire(path: &Path) -> io::Result<Lock> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(path)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(Lock { _file: file })
    }
}

type Parsed = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// JSON records this process has parsed, kept with the bytes they were parsed from: reading
/// one again costs a read and a comparison instead of a parse (`ps` and `up` read every
/// container's record several times). The bytes, not the file's inode and time, say whether
/// it changed: an inode number comes back soon after a rename frees it, and file times are
/// only as fine as the kernel's clock tick.
#[derive(Default)]
pub struct ParsedFiles(std::sync::Mutex<std::collections::HashMap<PathBuf, (Vec<u8>, Parsed)>>);

impl std::fmt::Debug for ParsedFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.0.lock().map(|m| m.len()).unwrap_or(0);
        write!(f, "ParsedFiles({n} files)")
    }
}

/// Why a record could not be read.
#[derive(Debug)]
pub enum LoadError {
    Io(io::Error),
    Parse(serde_json::Error),
}

impl ParsedFiles {
    /// The record in `path`, parsed (again only if its bytes changed since).
    pub fn load<T>(&self, path: &Path) -> Result<T, LoadError>
    where
        T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let data = fs::read(path).map_err(LoadError::Io)?;
        {
            let cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((bytes, parsed)) = cache.get(path) {
                if *bytes == data {
                    if let Some(value) = parsed.downcast_ref::<T>() {
                        return Ok(value.clone());
                    }
                }
            }
        }
        let value: T = serde_json::from_slice(&data).map_err(LoadError::Parse)?;
        let parsed: Parsed = std::sync::Arc::new(value.clone());
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(path.to_path_buf(), (data, parsed));
        Ok(value)
    }
}

/// A directory that paths are resolved inside, as the kernel resolves them for a process whose
/// root it is (`openat2(RESOLVE_IN_ROOT)`): `..` and symbolic links, absolute or not, stay
/// inside. The one resolver for paths of a container's root or a build's: `cp`, user lookup,
/// the command check, volume seeding and COPY sources. Handles, not paths, are handed out.
pub struct InRoot {
    root: std::os::fd::OwnedFd,
}

impl InRoot {
    pub fn open(root: &Path) -> io::Result<InRoot> {
        use rustix::fs::{Mode, OFlags};
        let root = rustix::fs::open(root, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?;
        Ok(InRoot { root })
    }

    /// `path` (absolute or not, `""` or `/` for the root itself) opened with `flags`.
    pub fn open_at(&self, path: &str, flags: rustix::fs::OFlags) -> io::Result<std::os::fd::OwnedFd> {
        use rustix::fs::{Mode, OFlags, ResolveFlags};
        let rel = path.trim_start_matches('/');
        let rel = if rel.is_empty() { "." } else { rel };
        Ok(rustix::fs::openat2(&self.root, rel, flags | OFlags::CLOEXEC, Mode::empty(), ResolveFlags::IN_ROOT)?)
    }

    /// A file's text, at most `limit` bytes of it.
    pub fn read_to_string(&self, path: &str, limit: u64) -> io::Result<String> {
        use std::io::Read;
        let fd = self.open_at(path, rustix::fs::OFlags::RDONLY)?;
        let mut text = String::new();
        fs::File::from(fd).take(limit).read_to_string(&mut text)?;
        Ok(text)
    }

    /// Where `path` resolves to, as a path of this host (for tools that take paths); the
    /// handle's answer, so no link in the root is followed again by whoever uses it.
    pub fn resolve(&self, path: &str) -> io::Result<PathBuf> {
        let fd = self.open_at(path, rustix::fs::OFlags::PATH)?;
        fs::read_link(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd)))
    }

    /// The root itself.
    pub fn fd(&self) -> &std::os::fd::OwnedFd {
        &self.root
    }
}

/// Tells when files are replaced in some directories: an inotify watch for renames into them
/// (how every record and derived file is written, see [`write_atomic`]) and for their removal.
/// Waiters read the state, and wait here instead of polling when it is not what they want
/// yet; the watch is set up before they read, so no change between the two is missed.
pub struct DirChanges {
    fd: std::os::fd::OwnedFd,
}

impl DirChanges {
    pub fn watch<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> io::Result<DirChanges> {
        use rustix::fs::inotify::{self, CreateFlags, WatchFlags};
        let fd = inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK)?;
        for dir in dirs {
            inotify::add_watch(&fd, dir, WatchFlags::MOVED_TO | WatchFlags::CLOSE_WRITE | WatchFlags::DELETE_SELF)?;
        }
        Ok(DirChanges { fd })
    }

    /// Waits until something changed since the last call, or `limit` passed (a bound, so that a
    /// waiter also sees what no event announces, such as a process that died).
    pub fn wait(&self, limit: std::time::Duration) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let ms = u16::try_from(limit.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        let _ = poll(&mut fds, PollTimeout::from(ms));
        // Drain what arrived: the waiter reads the state again whatever it was.
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
        let mut events = rustix::fs::inotify::Reader::new(&self.fd, &mut buf);
        while events.next().is_ok() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("state.json");
        write_atomic(&p, b"one").expect("write");
        write_atomic(&p, b"two").expect("write");
        assert_eq!(fs::read(&p).expect("read"), b"two");
        assert_eq!(fs::read_dir(dir.path()).expect("ls").count(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_parsed_record_is_parsed_again_when_its_bytes_change() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("state.json");
        let files = ParsedFiles::default();
        write_atomic(&p, br#"{"n": 1}"#).expect("write");
        assert_eq!(files.load::<serde_json::Value>(&p).expect("load")["n"], 1);
        // Same size, written again at once: whatever inode and time it gets, the new bytes count.
        write_atomic(&p, br#"{"n": 2}"#).expect("write");
        assert_eq!(files.load::<serde_json::Value>(&p).expect("load")["n"], 2);
        assert_eq!(files.load::<serde_json::Value>(&p).expect("load")["n"], 2);
        fs::remove_file(&p).expect("rm");
        assert!(
            matches!(files.load::<serde_json::Value>(&p), Err(LoadError::Io(e)) if e.kind() == io::ErrorKind::NotFound)
        );
    }

    #[test]
    fn a_replaced_file_ends_the_wait() {
        let dir = tempfile::tempdir().expect("tmp");
        let changes = DirChanges::watch([dir.path()]).expect("watch");
        let path = dir.path().join("state.json");
        let writer = {
            let path = path.clone();
            std::thread::spawn(move || {
                std::thread::sleep(std::time::Duration::from_millis(50));
                write_atomic_in(&path, b"{}").expect("write");
            })
        };
        let started = std::time::Instant::now();
        changes.wait(std::time::Duration::from_secs(20));
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the rename woke the waiter");
        assert!(path.exists());
        writer.join().expect("writer");
    }
}
