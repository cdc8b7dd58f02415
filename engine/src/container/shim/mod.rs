//! `berth shim ID`: the one process that owns a container while it runs (DESIGN.md §1).
//!
//! It is started by the CLI with `posix_spawn` in a process group of its own, single-threaded and
//! without an async
//! runtime, because creating a container forks and changes namespaces. It mounts the root file
//! system, creates the container with libcontainer as its own child (it is the subreaper, so it
//! reaps the container's init whatever the intermediate processes do), holds the container's
//! stdout and stderr and writes them to the log, records every state change atomically, applies
//! the restart policy with Docker's back-off, and answers the control socket. The CLI can be
//! killed at any moment without losing the container, a log line or the exit code.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::attach::{self, Clients, Streams};
use super::dir::ContainerDir;
use super::logs::LineWriter;
use super::store::Container;
use super::{Status, rootfs};
use crate::store::Store;

mod mounts;
mod serve;
mod start;
mod supervise;

pub use super::restart::{backoff, should_restart};
pub use super::rootfs::StartError;

struct Shim<'a> {
    store: &'a Store,
    c: Container,
    dir: ContainerDir,
    log: super::logs::RotatingLog,
    listener: UnixListener,
    waiters: Vec<UnixStream>,
    /// When a stop was asked: the moment to send SIGKILL.
    kill_at: Option<Instant>,
    /// The run is being stopped because it turned unhealthy (`restart_on_unhealthy`): it
    /// restarts whatever its policy.
    healing: bool,
    /// When the next healthcheck is due, and the one running.
    health_next: Option<Instant>,
    health_run: Option<HealthRun>,
    run_started: Instant,
    rootfs_mounted: bool,
    /// The shim's own mount namespace, where the container's root is mounted (none when it
    /// could not be made, or a bind asks for shared propagation: then the host's).
    mounts: Option<mounts::PrivateMounts>,
    /// Attached clients and the container's standard input.
    clients: Clients,
    /// The master end of the container's terminal (`tty`), for resizing.
    terminal: Option<File>,
    /// When the last save of the state failed (a full disk): it is tried again until it works,
    /// so that the record catches up once there is space.
    unsaved: std::cell::Cell<Option<Instant>>,
}

/// Why a shim did not take its container on.
enum Refused {
    /// Another shim holds the container's lock.
    Busy(String),
    Failed(String),
}

/// A healthcheck process being waited for.
struct HealthRun {
    pid: Pid,
    output: File,
    buf: Vec<u8>,
    start: String,
    deadline: Instant,
    timed_out: bool,
}

/// Runs the shim for container `id`. `ready` hears `started` or `failed: ...` once the first
/// start is decided; then the shim carries on alone. `attached` is a client attached from the
/// start (a foreground `run -i` or `-t`), so that it misses none of the output.
pub fn run(store: &Store, id: &str, mut ready: File, attached: Option<(UnixStream, Streams)>) -> i32 {
    let (mut shim, _one_shim) = match Shim::open(store, id) {
        Ok(x) => x,
        Err(Refused::Busy(message)) => {
            let _ = writeln!(ready, "busy {message}");
            return 1;
        }
        Err(Refused::Failed(message)) => {
            let _ = writeln!(ready, "failed 125 {message}");
            return 1;
        }
    };
    if let Some((stream, streams)) = attached {
        shim.clients.add(stream, streams);
    }
    shim.enter_private_mounts();
    shim.runs(&mut ready);
    shim.finish(ready);
    0
}

impl Shim<'_> {
    /// The shim of container `id`, holding the lock that makes it the only one, with its log
    /// open and its control socket listening.
    fn open<'a>(store: &'a Store, id: &str) -> Result<(Shim<'a>, File), Refused> {
        let c = store.load_container(id).map_err(|e| Refused::Failed(e.to_string()))?;
        let dir = store.container_dir(id);
        let one_shim = super::store::shim_lock(&dir)
            .map_err(|e| Refused::Busy(format!("another shim runs container {} ({e})", c.config.name)))?;
        let setup = (|| -> io::Result<(super::logs::RotatingLog, UnixListener)> {
            nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)?;
            let log = super::logs::RotatingLog::for_container(&dir.log(), &c.config)?;
            let _ = std::fs::remove_file(dir.shim_socket());
            let (_handle, path) = super::control::socket_path(dir.path(), ContainerDir::SHIM_SOCKET)?;
            let listener = UnixListener::bind(&path)?;
            // Only root talks to a shim (the directory is root's too).
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
            listener.set_nonblocking(true)?;
            Ok((log, listener))
        })();
        let (log, listener) = setup.map_err(|e| Refused::Failed(format!("cannot set up the shim: {e}")))?;
        let clients = Clients::new(c.config.tty, c.config.stdin_once);
        let mut shim = Shim {
            store,
            c,
            dir,
            log,
            listener,
            waiters: Vec::new(),
            kill_at: None,
            healing: false,
            health_next: None,
            health_run: None,
            run_started: Instant::now(),
            rootfs_mounted: false,
            mounts: None,
            clients,
            terminal: None,
            unsaved: std::cell::Cell::new(None),
        };
        shim.c.state.shim_pid = Some(std::process::id() as i32);
        shim.c.state.stopped_by_user = false;
        Ok((shim, one_shim))
    }

    /// Starts and supervises the container, again as its restart policy says, until it
    /// ends for good; `ready` hears how the first start went.
    fn runs(&mut self, ready: &mut File) {
        let mut first = true;
        let mut in_a_row = 0u32;
        loop {
            let started = Instant::now();
            let code = match self.start() {
                Ok(run) => {
                    if std::mem::take(&mut first) {
                        let _ = writeln!(ready, "started {}", run.pid);
                    }
                    self.supervise(run)
                }
                Err(e) => {
                    let code = match &e {
                        StartError::Command { code, .. } => *code,
                        StartError::Setup(_) => 128,
                    };
                    self.c.state.error = Some(e.to_string());
                    if std::mem::take(&mut first) {
                        let _ = writeln!(ready, "failed {code} {e}");
                    }
                    self.cleanup_run();
                    code
                }
            };
            // The back-off counts from the exit: recording it happens within the wait.
            let exited_at = Instant::now();
            self.c.state.exit_code = Some(code);
            self.c.state.finished_at = Some(crate::time::now_nanos());
            self.c.state.pid = None;
            let healing = std::mem::take(&mut self.healing);
            let state = &self.c.state;
            let restart = ((healing && !state.stopped_by_user)
                || should_restart(self.c.config.restart, code, state.stopped_by_user, state.restart_count))
                && state.error.is_none();
            // The state is on disk before anyone waiting hears of the exit: what they read next
            // must already say so.
            self.c.state.status = if restart { Status::Restarting } else { Status::Exited };
            self.save();
            // A run's runtime state and cgroups go when it ends for good. Between restarts the
            // cgroups stay, empty, for the next run: making them again is most of a restart's
            // work on cgroup v1 (about 14 ms of 23 here); the next start replaces the state.
            if !restart {
                self.cleanup_run();
                return;
            }
            self.answer_waiters(code);
            in_a_row = if started.elapsed() >= Duration::from_secs(10) { 0 } else { in_a_row + 1 };
            if !self.pause(backoff(in_a_row.saturating_sub(1)).saturating_sub(exited_at.elapsed())) {
                self.cleanup_run();
                return;
            }
            self.c.state.restart_count += 1;
        }
    }

    /// After the last run: the root unmounted, the networks released, the exit recorded and
    /// told to everyone waiting for it, then (after `ready` hears it) the links deleted.
    fn finish(mut self, mut ready: File) {
        self.unmount_rootfs();
        // A stopped container holds no address, port or interface; the next start sets them
        // up again (with the same addresses, which are in its configuration). Done before
        // anyone hears of the exit, so that a start right after a stop finds the network clean
        // (the veth pairs go with the namespace; what the kernel has not deleted yet is seen
        // to below).
        if let Err(e) = self.in_host(|| crate::network::release(self.store, &self.c.config)) {
            tracing::warn!("cannot take the container off its networks: {e}");
        }
        if let Err(e) = self.in_host(|| super::joins::unmount_shm(&self.dir)) {
            tracing::warn!("cannot take down the shareable /dev/shm: {e}");
        }
        self.c.state.status = Status::Exited;
        self.c.state.shim_pid = None;
        self.save();
        let code = self.c.state.exit_code.unwrap_or(0);
        self.wait_until_saved(code);
        let _ = std::fs::remove_file(self.dir.shim_socket());
        // Attached clients get the last output, then see their connection close.
        self.clients.finish(Duration::from_secs(2));
        self.answer_waiters(code);
        if self.c.config.auto_remove {
            let _ = self.in_host(|| super::remove::discard(self.store, &self.c.config));
        }
        // A foreground `run` reads this, and returns when the pipe closes: by then a `--rm`
        // container is gone. If nobody listens any more the write just fails.
        let _ = writeln!(ready, "exited {code}");
        drop(ready);
        // Nobody waits for this: deleting a link is slow in the kernel, and a new start of the
        // container (which waits for this shim to end) deletes a leftover anyway.
        crate::network::remove_links(&self.c.config);
    }
}

/// One run of the container process.
struct Run {
    pid: Pid,
    pidfd: OwnedFd,
    stdout: Option<Output>,
    stderr: Option<Output>,
}

/// How the container's standard streams are wired before it starts.
enum Wiring {
    /// A terminal, whose master end the runtime sends on this socket.
    Terminal(attach::ConsoleSocket),
    /// Pipes for standard output and standard error (the reading ends).
    Pipes(OwnedFd, OwnedFd),
}

/// A stream of the container's output: what it is read from, the log's line splitter, and its
/// number in Docker's stream format.
struct Output {
    from: File,
    lines: LineWriter,
    stream: u8,
}

impl Output {
    /// Entries carry `attrs` (the logging options' labels, variables and tag).
    fn new(from: OwnedFd, stream: u8, attrs: &std::collections::BTreeMap<String, String>) -> Output {
        let name = if stream == attach::STDERR { "stderr" } else { "stdout" };
        Output { from: File::from(from), lines: LineWriter::new(name).with_attrs(attrs.clone()), stream }
    }
}

impl Shim<'_> {
    fn save(&self) {
        match self.store.save_state(&self.c.config.id, &self.c.state) {
            Ok(()) => {
                if self.unsaved.take().is_some() {
                    tracing::info!(container = %self.c.config.name, "the state is recorded again");
                }
            }
            Err(e) => {
                if self.unsaved.replace(Some(Instant::now())).is_none() {
                    tracing::error!("{e}; trying again every second");
                }
            }
        }
    }

    /// Stays until the final state is on disk (a full disk), answering the socket meanwhile:
    /// the exit code exists nowhere else. Gives up when the container's directory is gone
    /// (`rm -f` removed it).
    fn wait_until_saved(&mut self, code: i32) {
        while self.unsaved.get().is_some() && self.dir.config().exists() {
            let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
            let _ = nix::poll::poll(&mut fds, PollTimeout::from(1000u16));
            self.accept(None);
            self.answer_waiters(code);
            self.retry_save();
        }
    }

    /// Saves the state again if the last save failed, at most once a second.
    fn retry_save(&self) {
        if self.unsaved.get().is_some_and(|at| at.elapsed() >= Duration::from_secs(1)) {
            self.save();
        }
    }

    /// Records in the state how much output the log lost (once when it starts, once when it
    /// is over), and says so once in the shim's own log.
    fn note_lost_output(&mut self) {
        let lost = self.log.lost();
        if lost == self.c.state.log_lines_lost {
            return;
        }
        let started = self.c.state.log_lines_lost == 0 || !self.log.losing();
        if self.c.state.log_lines_lost == 0 {
            tracing::warn!(container = %self.c.config.name, "output is being lost: the log cannot be written");
        }
        self.c.state.log_lines_lost = lost;
        if started {
            self.save();
        }
    }

    /// Moves the shim into a mount namespace of its own ([`mounts`]). A bind that asks for
    /// shared propagation must see the host's table, and keeps the shim there; so does a
    /// failure, with a warning (the container runs as before, its root on the host).
    fn enter_private_mounts(&mut self) {
        let config = &self.c.config;
        // On the host, before the shim leaves its mount table, so that joiners find it; a
        // failure is told by the start (Joins::of).
        if config.host.ipc_mode.as_deref() == Some("shareable") {
            if let Err(e) = super::joins::mount_shm(&self.dir, &config.host) {
                tracing::warn!("cannot mount the shareable /dev/shm: {e}");
            }
        }
        if config.mounts.iter().any(|m| m.propagation.as_deref().is_some_and(|p| p.ends_with("shared"))) {
            return;
        }
        let mut keep = vec![self.dir.path().to_path_buf()];
        if let super::NetworkMode::Container(other) = &config.network.mode {
            keep.push(self.store.container_dir(other).path().to_path_buf());
        }
        keep.extend(super::joins::kept_dirs(self.store, &config.host));
        match mounts::PrivateMounts::enter(&self.store.root, &keep) {
            Ok(m) => self.mounts = Some(m),
            Err(e) => tracing::warn!("cannot give the shim a mount namespace of its own: {e}"),
        }
    }

    /// Runs `f` in the host's mount namespace.
    fn in_host<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.mounts {
            Some(m) => m.in_host(f),
            None => f(),
        }
    }

    fn rootfs(&self) -> PathBuf {
        self.dir.rootfs()
    }

    /// Removes what one run left: the runtime's state and cgroups, the root mount.
    fn cleanup_run(&mut self) {
        super::remove::delete_runtime_state(&self.dir.runtime_state(&self.c.config.id));
    }

    /// Unmounts the root once the container has ended for good.
    fn unmount_rootfs(&mut self) {
        if let Err(e) = rootfs::unmount(&self.rootfs()) {
            tracing::warn!("{e}");
        }
        self.rootfs_mounted = false;
    }
}

/// Reads what a non-blocking pipe has, keeping at most 4 KiB in `buf`.
fn read_some(from: &mut File, buf: &mut Vec<u8>) {
    let mut chunk = [0u8; 4096];
    while let Ok(n) = from.read(&mut chunk) {
        if n == 0 {
            break;
        }
        let room = 4096usize.saturating_sub(buf.len());
        buf.extend_from_slice(&chunk[..n.min(room)]);
    }
}

fn set_nonblocking(fd: &OwnedFd) -> nix::Result<()> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let flags = OFlag::from_bits_truncate(fcntl(fd.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).map(|_| ())
}

/// What a sweep of exited children found of the two the shim waits for.
#[derive(Default)]
struct Swept {
    init: Option<WaitStatus>,
    health: Option<WaitStatus>,
}

/// Reaps processes re-parented to the shim (it is their subreaper). The statuses of the
/// container's init and of a running healthcheck are returned: they must not be lost here.
fn reap_orphans(init: Pid, health: Option<Pid>) -> Swept {
    let mut swept = Swept::default();
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WNOTHREAD)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return swept,
            Ok(status) if status.pid() == Some(init) => swept.init = Some(status),
            Ok(status) if status.pid().is_some() && status.pid() == health => swept.health = Some(status),
            Ok(_) => continue,
        }
    }
}

pub fn signal_by_name(name: &str) -> Option<Signal> {
    let upper = name.trim().to_ascii_uppercase();
    if let Ok(n) = upper.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let full = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    full.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name() {
        assert_eq!(signal_by_name("SIGTERM"), Some(Signal::SIGTERM));
        assert_eq!(signal_by_name("usr1"), Some(Signal::SIGUSR1));
        assert_eq!(signal_by_name("9"), Some(Signal::SIGKILL));
        assert_eq!(signal_by_name("nope"), None);
    }
}
