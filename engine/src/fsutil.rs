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
}

/// Which version of a file this is. Records are only ever replaced by a rename
/// ([`write_atomic`]), so a changed file is a new inode; the time and size catch an inode
/// number used again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileVersion {
    inode: u64,
    mtime: (i64, i64),
    size: u64,
}

impl FileVersion {
    fn of(path: &Path) -> io::Result<FileVersion> {
        use std::os::unix::fs::MetadataExt;
        let m = fs::metadata(path)?;
        Ok(FileVersion { inode: m.ino(), mtime: (m.mtime(), m.mtime_nsec()), size: m.size() })
    }
}

type Parsed = std::sync::Arc<dyn std::any::Any + Send + Sync>;

/// JSON records this process has parsed, kept while their files stay the same: reading one
/// again costs a `stat` instead of a read and a parse (`ps` and `up` list every container's
/// record several times).
#[derive(Default)]
pub struct ParsedFiles(std::sync::Mutex<std::collections::HashMap<PathBuf, (FileVersion, Parsed)>>);

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
    /// The record in `path`, parsed (again only if the file changed since).
    pub fn load<T>(&self, path: &Path) -> Result<T, LoadError>
    where
        T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    {
        let version = FileVersion::of(path).map_err(LoadError::Io)?;
        {
            let cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((v, parsed)) = cache.get(path) {
                if *v == version {
                    if let Some(value) = parsed.downcast_ref::<T>() {
                        return Ok(value.clone());
                    }
                }
            }
        }
        // Read after the version was taken: a file replaced in between is newer than its
        // version says, and is read again next time.
        let value: T = serde_json::from_slice(&fs::read(path).map_err(LoadError::Io)?).map_err(LoadError::Parse)?;
        let parsed: Parsed = std::sync::Arc::new(value.clone());
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(path.to_path_buf(), (version, parsed));
        Ok(value)
    }
}
