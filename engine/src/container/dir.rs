//! The files of one container's directory, `<root>/containers/<id>/`, by name: the one place
//! that knows the layout, so that nothing else joins paths inside it.
//!
//! ```text
//! config.json   ContainerConfig
//! state.json    ContainerState
//! log.json      the output, as JSON lines (Docker's json-file format), and its rotations
//! shim.sock     the shim's control socket, while it runs
//! shim.lock     locked by the shim for its whole life: the one proof that it lives
//! shim.log      the shim's own messages
//! bundle/       the OCI bundle: config.json (runtime spec) and rootfs/ (overlay mount point)
//! upper/ work/  the overlay's writable layer
//! runtime/      libcontainer's own state
//! netns         the network namespace, bind-mounted, from the first start to removal
//! hosts hostname resolv.conf   bind-mounted into /etc
//! ```

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerDir(PathBuf);

impl ContainerDir {
    /// The name of the shim's control socket in the directory.
    pub const SHIM_SOCKET: &'static str = "shim.sock";

    pub fn new(path: PathBuf) -> ContainerDir {
        ContainerDir(path)
    }

    /// The directory itself (for listing, locking and removing it whole).
    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn config(&self) -> PathBuf {
        self.0.join("config.json")
    }

    pub fn state(&self) -> PathBuf {
        self.0.join("state.json")
    }

    pub fn log(&self) -> PathBuf {
        self.0.join("log.json")
    }

    pub fn shim_socket(&self) -> PathBuf {
        self.0.join(Self::SHIM_SOCKET)
    }

    pub fn shim_lock(&self) -> PathBuf {
        self.0.join("shim.lock")
    }

    pub fn shim_log(&self) -> PathBuf {
        self.0.join("shim.log")
    }

    pub fn bundle(&self) -> PathBuf {
        self.0.join("bundle")
    }

    /// The runtime spec in the bundle.
    pub fn spec(&self) -> PathBuf {
        self.bundle().join("config.json")
    }

    /// Where the root file system is mounted.
    pub fn rootfs(&self) -> PathBuf {
        self.bundle().join("rootfs")
    }

    pub fn upper(&self) -> PathBuf {
        self.0.join("upper")
    }

    pub fn work(&self) -> PathBuf {
        self.0.join("work")
    }

    /// libcontainer's root: it keeps the state of container `id` in a directory of that name.
    pub fn runtime(&self) -> PathBuf {
        self.0.join("runtime")
    }

    pub fn runtime_state(&self, id: &str) -> PathBuf {
        self.runtime().join(id)
    }

    pub fn netns(&self) -> PathBuf {
        self.0.join("netns")
    }

    /// The `/dev/shm` of a container whose IPC namespace others may join (`ipc: shareable`),
    /// mounted on the host so that their shims bind it too.
    pub fn shm(&self) -> PathBuf {
        self.0.join("shm")
    }

    /// One of the files bind-mounted into the container's `/etc`: `hosts`, `hostname` or
    /// `resolv.conf`.
    pub fn etc(&self, name: EtcFile) -> PathBuf {
        self.0.join(name.file_name())
    }

    /// The content of the container's `n`th secret or config, written at creation and
    /// bind-mounted read-only into it.
    pub fn file(&self, n: usize) -> PathBuf {
        self.0.join("files").join(n.to_string())
    }

    /// A file of this directory that lives only while one command uses it (an exec's process
    /// description and console socket): `name` is unique to that command.
    pub fn scratch(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EtcFile {
    Hosts,
    Hostname,
    ResolvConf,
}

impl EtcFile {
    pub fn file_name(self) -> &'static str {
        match self {
            EtcFile::Hosts => "hosts",
            EtcFile::Hostname => "hostname",
            EtcFile::ResolvConf => "resolv.conf",
        }
    }
}
