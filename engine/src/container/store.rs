//! Containers in the state directory: creation with a unique name, lookup by name or ID
//! prefix, atomic state updates, and the repair of containers whose shim died.

use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::dir::ContainerDir;
use super::{ContainerConfig, ContainerState, Status};
use crate::fsutil::{self, LoadError, Lock};
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("{query} matches several containers ({ids}); give more of the ID")]
    Ambiguous { query: String, ids: String },
    #[error("the container name {0:?} is already in use")]
    NameInUse(String),
    #[error("invalid container name {0:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit")]
    BadName(String),
    #[error("cannot {action} container {id}")]
    Io {
        action: &'static str,
        id: String,
        #[source]
        source: io::Error,
    },
    #[error("the state of container {id} is damaged: {message}")]
    Corrupt { id: String, message: String },
}

/// A container as stored: its configuration, its last recorded state, and its directory.
#[derive(Debug, Clone)]
pub struct Container {
    pub config: ContainerConfig,
    pub state: ContainerState,
    pub dir: ContainerDir,
}

impl Container {
    /// Whether the container's shim is alive: it holds the lock on `shim.lock` for its whole
    /// life, and the kernel lets go of it when the shim dies however it dies. A recorded PID
    /// proves nothing: after a crash or a reboot it may belong to another process.
    pub fn shim_running(&self) -> bool {
        shim_running(&self.dir)
    }

    /// Whether the container was live when it was loaded: a load tests the shim of a container
    /// recorded as running and, if it is gone, makes the record say dead, so the status tells.
    /// For listings, which would otherwise test every shim's lock twice in a moment; a command
    /// that waits between loading and acting asks [`is_live`] again.
    pub fn was_live(&self) -> bool {
        matches!(self.state.status, Status::Running | Status::Restarting | Status::Paused)
    }
}

/// The lock a shim holds for as long as it lives: one shim per container. It is an
/// open-file-description lock, so that [`shim_running`] can test it without taking it (taking
/// it, even for a moment, could make a shim that starts at that moment believe another runs).
pub fn shim_lock(dir: &ContainerDir) -> io::Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file =
        fs::OpenOptions::new().create(true).truncate(false).read(true).write(true).mode(0o600).open(dir.shim_lock())?;
    let lock = whole_file_lock(nix::libc::F_WRLCK);
    match nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_OFD_SETLK(&lock)) {
        Ok(_) => Ok(file),
        // POSIX allows either for a lock held elsewhere; callers test for EWOULDBLOCK.
        Err(nix::errno::Errno::EACCES | nix::errno::Errno::EAGAIN) => {
            Err(io::Error::from_raw_os_error(nix::libc::EWOULDBLOCK))
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether a shim holds the lock of the container in `dir` (alive, possibly still starting
/// the container). Reads only: the lock is tested, never taken.
pub fn shim_running(dir: &ContainerDir) -> bool {
    let Ok(file) = fs::File::open(dir.shim_lock()) else { return false };
    let mut lock = whole_file_lock(nix::libc::F_WRLCK);
    match nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_OFD_GETLK(&mut lock)) {
        Ok(_) => i32::from(lock.l_type) != nix::libc::F_UNLCK,
        Err(_) => false,
    }
}

fn whole_file_lock(kind: i32) -> nix::libc::flock {
    // SAFETY: `flock` is a plain C struct for which all zeroes is a valid value.
    let mut lock: nix::libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = kind as i16;
    lock.l_whence = nix::libc::SEEK_SET as i16;
    lock
}

/// Whether the container has a shim to talk to: recorded as running (or restarting, or
/// paused) and its shim alive.
pub fn is_live(c: &Container) -> bool {
    c.was_live() && c.shim_running()
}

pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// The file whose content changes whenever a container's configuration is written again.
const STAMP: &str = ".configs-changed";

/// The configurations creations choose names and addresses among, kept by a process from one
/// creation to the next ([`Store::refresh`]).
#[derive(Debug, Default)]
struct Listing {
    /// The stamp the configurations were read under (none: never read).
    stamp: Option<Vec<u8>>,
    configs: Vec<ContainerConfig>,
}

impl Store {
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    pub fn container_dir(&self, id: &str) -> ContainerDir {
        ContainerDir::new(self.containers_dir().join(id))
    }

    /// Records a new container (status `created`), refusing a name already taken. Under the
    /// lock that keeps names unique, `complete` finishes the configuration from every container
    /// recorded (listed once): an empty name is chosen there, and addresses.
    pub fn create_container<E: From<ContainerError>>(
        &self,
        config: &mut ContainerConfig,
        complete: impl FnOnce(&[ContainerConfig], &mut ContainerConfig) -> Result<(), E>,
    ) -> Result<(), E> {
        let io_err = |source| ContainerError::Io { action: "create", id: config.id.clone(), source };
        if !config.name.is_empty() && !valid_name(&config.name) {
            return Err(ContainerError::BadName(config.name.clone()).into());
        }
        let _lock = Lock::acquire(&self.containers_dir().join(".lock")).map_err(io_err)?;
        // Names and addresses are in the configurations: their states are not read.
        let mut slot = self.listing.lock().unwrap_or_else(|e| e.into_inner());
        let listing = slot
            .get_or_insert_with(|| Box::new(Listing::default()))
            .downcast_mut::<Listing>()
            .expect("the listing slot holds a listing");
        self.refresh(listing)?;
        if listing.configs.iter().any(|c| c.name == config.name) {
            return Err(ContainerError::NameInUse(config.name.clone()).into());
        }
        complete(&listing.configs, config)?;
        let io_err = |source| ContainerError::Io { action: "create", id: config.id.clone(), source };
        // The record is made whole under a temporary name and renamed into place, so that a
        // command killed at any moment leaves either a complete container or nothing under
        // `containers/` (what it left under the temporary name goes at the next creation).
        let staging = self.containers_dir().join(format!(".new-{}", config.id));
        let made = ContainerDir::new(staging.clone());
        let write = |file: PathBuf, data: Vec<u8>| fsutil::write_atomic(&file, &data).map_err(io_err);
        fs::create_dir_all(&staging).map_err(io_err)?;
        write(made.config(), serde_json::to_vec_pretty(&*config).expect("config serialises"))?;
        write(made.state(), serde_json::to_vec_pretty(&ContainerState::default()).expect("state serialises"))?;
        fs::rename(&staging, self.container_dir(&config.id).path()).map_err(io_err)?;
        fsutil::sync_dir(&self.containers_dir()).map_err(io_err)?;
        listing.configs.push(config.clone());
        Ok(())
    }

    /// Brings this process's listing of every container's configuration up to date, under the
    /// containers lock. Containers come and go with their directories, whose IDs are never
    /// used again: one read of `containers/` tells which to forget and which to read (and
    /// which directories killed commands left half-made or half-removed, removed here). A
    /// configuration changed in place ([`Store::save_config`]) changes the stamp beside them,
    /// and then all are read again. So `up` reads each configuration once rather than every
    /// configuration at every creation, which made its cost grow with the square of the
    /// project. A container another command is removing may be listed a moment longer: its
    /// name and addresses are free only once it is gone.
    fn refresh(&self, listing: &mut Listing) -> Result<(), ContainerError> {
        let stamp = fs::read(self.containers_dir().join(STAMP)).unwrap_or_default();
        if listing.stamp.as_ref() != Some(&stamp) {
            listing.configs.clear();
        }
        listing.stamp = Some(stamp);
        let mut ids = self.sweep(".", false).map_err(|source| ContainerError::Io {
            action: "list",
            id: String::new(),
            source,
        })?;
        listing.configs.retain(|c| ids.remove(&c.id));
        for id in ids {
            match self.load_record(&id, &self.container_dir(&id).config()) {
                Ok(c) => listing.configs.push(c),
                Err(ContainerError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads `containers/`, removing what killed commands left there: the hidden directories
    /// whose name starts with `prefix` (`.new-` records half-made, `.gone-` ones half-removed;
    /// `.` for both, with the containers lock held) and, with `unrecorded`, once per process,
    /// directories without a record (of versions that wrote in place), which costs a look into
    /// every container's directory. Returns the IDs of the containers there.
    fn sweep(&self, prefix: &str, unrecorded: bool) -> io::Result<std::collections::HashSet<String>> {
        let unrecorded = unrecorded && !self.swept.swap(true, std::sync::atomic::Ordering::Relaxed);
        let mut ids = std::collections::HashSet::new();
        for entry in fs::read_dir(self.containers_dir())?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            let half_done = name.starts_with(prefix) && is_dir;
            let empty =
                unrecorded && !name.starts_with('.') && is_dir && !ContainerDir::new(path.clone()).config().exists();
            if half_done || empty {
                tracing::debug!("removing {}, left by a command that was killed", path.display());
                let _ = fs::remove_dir_all(&path);
            } else if !name.starts_with('.') {
                ids.insert(name);
            }
        }
        Ok(ids)
    }

    /// Gives container `id` the name `name`, which no other container has (checked and
    /// written under the lock creations take, so two renames or a creation cannot both get it).
    pub fn rename_container(&self, id: &str, name: &str) -> Result<(), ContainerError> {
        if !valid_name(name) {
            return Err(ContainerError::BadName(name.to_string()));
        }
        let io_err = |source| ContainerError::Io { action: "rename", id: id.to_string(), source };
        let _lock = Lock::acquire(&self.containers_dir().join(".lock")).map_err(io_err)?;
        let all = self.list_configs()?;
        if all.iter().any(|c| c.name == name && c.id != id) {
            return Err(ContainerError::NameInUse(name.to_string()));
        }
        let mut config = all.into_iter().find(|c| c.id == id).ok_or_else(|| ContainerError::NotFound(id.into()))?;
        config.name = name.to_string();
        self.save_config(&config)
    }

    /// Writes a container's configuration again (a rename, a change of networks or
    /// resources), after a new stamp, so that every process's listing is read again. The stamp
    /// comes first: a configuration that then cannot be written costs a listing read again,
    /// never one that misses the change.
    pub fn save_config(&self, config: &ContainerConfig) -> Result<(), ContainerError> {
        let io_err = |source| ContainerError::Io { action: "save", id: config.id.clone(), source };
        let stamp = format!("{} {}\n", std::process::id(), crate::time::now_nanos());
        fsutil::write_derived(&self.containers_dir().join(STAMP), stamp.as_bytes()).map_err(io_err)?;
        let path = self.container_dir(&config.id).config();
        fsutil::write_atomic_in(&path, &serde_json::to_vec_pretty(config).expect("config serialises")).map_err(io_err)
    }

    pub fn save_state(&self, id: &str, state: &ContainerState) -> Result<(), ContainerError> {
        let data = serde_json::to_vec_pretty(state).expect("state serialises");
        fsutil::write_atomic_in(&self.container_dir(id).state(), &data).map_err(|source| ContainerError::Io {
            action: "record the state of",
            id: id.to_string(),
            source,
        })
    }

    pub fn load_container(&self, id: &str) -> Result<Container, ContainerError> {
        let dir = self.container_dir(id);
        let config = self.load_record(id, &dir.config())?;
        let state = self.load_record(id, &dir.state())?;
        let mut container = Container { config, state, dir };
        self.repair(&mut container)?;
        Ok(container)
    }

    fn load_record<T>(&self, id: &str, path: &Path) -> Result<T, ContainerError>
    where
        T: serde::de::DeserializeOwned + Clone + Send + Sync + 'static,
    {
        self.records.load(path).map_err(|e| match e {
            LoadError::Io(source) if source.kind() == io::ErrorKind::NotFound => {
                ContainerError::NotFound(id.to_string())
            }
            LoadError::Io(source) => ContainerError::Io { action: "read", id: id.to_string(), source },
            LoadError::Parse(e) => ContainerError::Corrupt { id: id.to_string(), message: e.to_string() },
        })
    }

    /// Every container, oldest first.
    pub fn list_containers(&self) -> Result<Vec<Container>, ContainerError> {
        let mut out = self.each_container(|id| self.load_container(id))?;
        out.sort_by(|a, b| a.config.created.cmp(&b.config.created));
        Ok(out)
    }

    /// Every container's configuration alone (no state read, nothing repaired), in no order.
    pub fn list_configs(&self) -> Result<Vec<ContainerConfig>, ContainerError> {
        self.each_container(|id| self.load_record(id, &self.container_dir(id).config()))
    }

    /// `load` of every container's ID, skipping those that went (or are half-created by a
    /// command that was killed: nothing to show).
    fn each_container<T>(&self, load: impl Fn(&str) -> Result<T, ContainerError>) -> Result<Vec<T>, ContainerError> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(self.containers_dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(source) => return Err(ContainerError::Io { action: "list", id: String::new(), source }),
        };
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if id.starts_with('.') {
                continue;
            }
            match load(&id) {
                Ok(c) => out.push(c),
                Err(ContainerError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// By exact name, exact ID, or unique ID prefix.
    pub fn find_container(&self, query: &str) -> Result<Container, ContainerError> {
        let all = self.list_containers()?;
        if let Some(c) = all.iter().find(|c| c.config.name == query || c.config.id == query) {
            return Ok(c.clone());
        }
        let matches: Vec<&Container> =
            all.iter().filter(|c| !query.is_empty() && c.config.id.starts_with(query)).collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(ContainerError::NotFound(query.to_string())),
            many => Err(ContainerError::Ambiguous {
                query: query.to_string(),
                ids: many.iter().map(|c| c.config.id[..12].to_string()).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    /// A container recorded as running whose shim is gone (killed, or the host crashed) is
    /// marked dead, so that commands report it truthfully and `rm` can clean it up. The record
    /// is corrected on disk when it can be; a command that only reads must work on a full disk,
    /// so a failed write is not an error here (the next command tries again).
    fn repair(&self, c: &mut Container) -> Result<(), ContainerError> {
        let live = c.was_live();
        if live && !c.shim_running() {
            c.state.status = Status::Dead;
            c.state.error = Some("its shim is gone (killed, or the host restarted)".into());
            c.state.shim_pid = None;
            if let Err(e) = self.save_state(&c.config.id, &c.state) {
                tracing::debug!("{e}");
            }
        }
        Ok(())
    }

    /// Removes a container's directory. It is renamed out of the way first, so that a command
    /// killed half-way leaves no half-removed container behind, only a hidden directory the
    /// next creation or removal deletes.
    pub fn remove_container_dir(&self, id: &str) -> Result<(), ContainerError> {
        let gone = self.containers_dir().join(format!(".gone-{id}"));
        match fs::rename(self.container_dir(id).path(), &gone) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ContainerError::Io { action: "remove", id: id.to_string(), source: e }),
            Ok(()) => {}
        }
        fs::remove_dir_all(&gone).map_err(|e| ContainerError::Io {
            action: "remove",
            id: id.to_string(),
            source: e,
        })?;
        let _ = self.sweep(".gone-", true);
        Ok(())
    }
}

/// Whether `pid` exists (signal 0 probes without sending). A zombie counts as gone: it has ended and only waits for a parent to reap it, which an init
/// that is not systemd may take a second or more to do.
pub fn process_alive(pid: i32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name, which is in parentheses and may hold anything.
        Ok(stat) => stat.rsplit_once(") ").is_none_or(|(_, rest)| !rest.starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(store: &Store, id: &str, name: &str) -> Result<(), ContainerError> {
        let mut config = ContainerConfig { id: id.into(), name: name.into(), ..Default::default() };
        store.create_container(&mut config, |_, _| Ok::<(), ContainerError>(()))
    }

    fn in_use(result: Result<(), ContainerError>) -> bool {
        matches!(result, Err(ContainerError::NameInUse(_)))
    }

    /// Two stores on one root stand for two processes: what one creates, renames or removes,
    /// the other's next creation sees, though it read the configurations before.
    #[test]
    fn a_creation_sees_what_other_processes_did_since_its_last() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (one, two) = (Store::open(dir.path()).expect("open"), Store::open(dir.path()).expect("open"));
        create(&one, "a1", "first").expect("create");
        create(&two, "b1", "second").expect("create");
        assert!(in_use(create(&one, "a2", "second")), "a creation by another process");
        two.rename_container("b1", "renamed").expect("rename");
        assert!(in_use(create(&one, "a2", "renamed")), "a rename by another process");
        create(&one, "a2", "second").expect("the old name is free");
        one.remove_container_dir("a1").expect("remove");
        create(&two, "b2", "first").expect("a removal by another process frees the name");
        assert!(in_use(create(&two, "b3", "second")), "this process's own creations count");
        std::fs::create_dir(one.containers_dir().join(".new-killed")).expect("mkdir");
        create(&one, "a3", "third").expect("create");
        assert!(!one.containers_dir().join(".new-killed").exists(), "half-made records go");
        let names: std::collections::BTreeSet<String> =
            one.list_configs().expect("list").into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["first", "renamed", "second", "third"].map(String::from).into());
    }
}
