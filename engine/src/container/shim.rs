//! `berth shim ID`: the one process that owns a container while it runs (DESIGN.md §1).
//!
//! It is started by the CLI with fork+exec and `setsid`, single-threaded and without an async
//! runtime, because creating a container forks and changes namespaces. It mounts the root file
//! system, creates the container with libcontainer as its own child (it is the subreaper, so it
//! reaps the container's init whatever the intermediate processes do), holds the container's
//! stdout and stderr and writes them to the log, records every state change atomically, applies
//! the restart policy with Docker's back-off, and answers the control socket. The CLI can be
//! killed at any moment without losing the container, a log line or the exit code.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::attach::{self, Clients, Streams};
use super::control::Request;
use super::logs::LineWriter;
use super::store::Container;
use super::{RestartPolicy, Status, exit_code, rootfs, spec, user};
use crate::store::Store;

/// Docker's restart back-off: 100 ms doubling up to a minute, reset after 10 s of running.
pub fn backoff(restarts_in_a_row: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << restarts_in_a_row.min(20));
    Duration::from_millis(ms.min(60_000))
}

/// Whether `policy` restarts a container that exited with `code`.
pub fn should_restart(policy: RestartPolicy, code: i32, stopped_by_user: bool, restart_count: u32) -> bool {
    if stopped_by_user {
        return false;
    }
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
        RestartPolicy::OnFailure { max_retries } => code != 0 && max_retries.is_none_or(|max| restart_count < max),
    }
}

pub use super::rootfs::StartError;

struct Shim<'a> {
    store: &'a Store,
    c: Container,
    dir: PathBuf,
    log: super::logs::RotatingLog,
    listener: UnixListener,
    waiters: Vec<UnixStream>,
    /// When a stop was asked: the moment to send SIGKILL.
    kill_at: Option<Instant>,
    /// When the next healthcheck is due, and the one running.
    health_next: Option<Instant>,
    health_run: Option<HealthRun>,
    run_started: Instant,
    rootfs_mounted: bool,
    /// Attached clients and the container's standard input.
    clients: Clients,
    /// The master end of the container's terminal (`tty`), for resizing.
    terminal: Option<File>,
    /// When the last save of the state failed (a full disk): it is tried again until it works,
    /// so that the record catches up once there is space.
    unsaved: std::cell::Cell<Option<Instant>>,
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
    let c = match store.load_container(id) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(ready, "failed 125 {e}");
            return 1;
        }
    };
    let dir = store.container_dir(id);
    let _one_shim = match super::store::shim_lock(&dir) {
        Ok(lock) => lock,
        Err(e) => {
            let _ = writeln!(ready, "failed 125 another shim runs container {} ({e})", c.config.name);
            return 1;
        }
    };
    let setup = (|| -> io::Result<(super::logs::RotatingLog, UnixListener)> {
        nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)?;
        let log = super::logs::RotatingLog::open(&dir.join("log.json"), c.config.log)?;
        let _ = std::fs::remove_file(dir.join("shim.sock"));
        let (_handle, path) = super::control::socket_path(&dir, "shim.sock")?;
        let listener = UnixListener::bind(&path)?;
        // Only root talks to a shim (the directory is root's too).
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok((log, listener))
    })();
    let (log, listener) = match setup {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(ready, "failed 125 cannot set up the shim: {e}");
            return 1;
        }
    };
    let clients = Clients::new(c.config.tty, c.config.stdin_once);
    let mut shim = Shim {
        store,
        c,
        dir,
        log,
        listener,
        waiters: Vec::new(),
        kill_at: None,
        health_next: None,
        health_run: None,
        run_started: Instant::now(),
        rootfs_mounted: false,
        clients,
        terminal: None,
        unsaved: std::cell::Cell::new(None),
    };
    if let Some((stream, streams)) = attached {
        shim.clients.add(stream, streams);
    }
    shim.c.state.shim_pid = Some(std::process::id() as i32);
    shim.c.state.stopped_by_user = false;
    let mut first = true;
    let mut in_a_row = 0u32;
    loop {
        let started = Instant::now();
        let code = match shim.start() {
            Ok(run) => {
                if std::mem::take(&mut first) {
                    let _ = writeln!(ready, "started {}", run.pid);
                }
                shim.supervise(run)
            }
            Err(e) => {
                let code = match &e {
                    StartError::Command { code, .. } => *code,
                    StartError::Setup(_) => 128,
                };
                shim.c.state.error = Some(e.to_string());
                if std::mem::take(&mut first) {
                    let _ = writeln!(ready, "failed {code} {e}");
                }
                shim.cleanup_run();
                code
            }
        };
        // The back-off counts from the exit: recording it happens within the wait.
        let exited_at = Instant::now();
        shim.c.state.exit_code = Some(code);
        shim.c.state.finished_at = Some(crate::time::now_nanos());
        shim.c.state.pid = None;
        let restart =
            should_restart(shim.c.config.restart, code, shim.c.state.stopped_by_user, shim.c.state.restart_count)
                && shim.c.state.error.is_none();
        // The state is on disk before anyone waiting hears of the exit: what they read next
        // must already say so.
        shim.c.state.status = if restart { Status::Restarting } else { Status::Exited };
        shim.save();
        // A run's runtime state and cgroups go when it ends for good. Between restarts the
        // cgroups stay, empty, for the next run: making them again is most of a restart's
        // work on cgroup v1 (about 14 ms of 23 here); the next start replaces the state.
        if !restart {
            shim.cleanup_run();
            break;
        }
        shim.answer_waiters(code);
        in_a_row = if started.elapsed() >= Duration::from_secs(10) { 0 } else { in_a_row + 1 };
        if !shim.pause(backoff(in_a_row.saturating_sub(1)).saturating_sub(exited_at.elapsed())) {
            shim.cleanup_run();
            break;
        }
        shim.c.state.restart_count += 1;
    }
    shim.unmount_rootfs();
    // A stopped container holds no address, port or interface; the next start sets them up
    // again (with the same addresses, which are in its configuration). Done before anyone
    // hears of the exit, so that a start right after a stop finds the network clean (the veth
    // pairs go with the namespace; what the kernel has not deleted yet is seen to below).
    if let Err(e) = crate::network::release(store, &shim.c.config) {
        tracing::warn!("cannot take the container off its networks: {e}");
    }
    shim.c.state.status = Status::Exited;
    shim.c.state.shim_pid = None;
    shim.save();
    let code = shim.c.state.exit_code.unwrap_or(0);
    shim.wait_until_saved(code);
    let _ = std::fs::remove_file(shim.dir.join("shim.sock"));
    // Attached clients get the last output, then see their connection close.
    shim.clients.finish(Duration::from_secs(2));
    shim.answer_waiters(code);
    if shim.c.config.auto_remove {
        let _ = super::remove::discard(store, &shim.c.config);
    }
    // A foreground `run` reads this, and returns when the pipe closes: by then a `--rm`
    // container is gone. If nobody listens any more the write just fails.
    let _ = writeln!(ready, "exited {code}");
    drop(ready);
    // Nobody waits for this: deleting a link is slow in the kernel, and a new start of the
    // container (which waits for this shim to end) deletes a leftover anyway.
    crate::network::remove_links(&shim.c.config);
    0
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
    fn new(from: OwnedFd, stream: u8) -> Output {
        let name = if stream == attach::STDERR { "stderr" } else { "stdout" };
        Output { from: File::from(from), lines: LineWriter::new(name), stream }
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
        while self.unsaved.get().is_some() && self.dir.join("config.json").exists() {
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

    fn rootfs(&self) -> PathBuf {
        self.dir.join("bundle").join("rootfs")
    }

    fn start(&mut self) -> Result<Run, StartError> {
        let setup = |what: &str, e: &dyn std::fmt::Display| StartError::Setup(format!("cannot {what}: {e}"));
        let config = &self.c.config;
        // What a restart would only redo identically is done once per shim: the /etc files, the
        // root mount, the user and the runtime spec.
        let first = !self.rootfs_mounted;
        if first {
            write_etc_files(&self.dir, config).map_err(|e| setup("write /etc/hosts and friends", &e))?;
        }
        let lowers: Vec<PathBuf> = config.layers.iter().map(|d| self.store.snapshot_fs(d)).collect();
        if let Some(missing) = lowers.iter().find(|l| !l.is_dir()) {
            return Err(StartError::Setup(format!(
                "the image's layer {} is missing; pull {} again",
                missing.display(),
                config.image
            )));
        }
        let rootfs = self.rootfs();
        // A restart keeps the root mounted from the run before: the same layers, the same
        // upper directory, and one mount and unmount less on the restart path.
        if !self.rootfs_mounted {
            // Processes a killed shim left running would otherwise run beside the new ones,
            // on the same volumes.
            let left = super::cgroup::kill_leftovers(&config.id);
            if left > 0 {
                tracing::warn!(container = %config.name, "killed {left} processes left by a shim that died");
            }
            rootfs::unmount(&rootfs).map_err(|e| setup("clean the root file system", &e))?;
            rootfs::mount_overlay(&lowers, &self.dir.join("upper"), &self.dir.join("work"), &rootfs)
                .map_err(|e| setup("mount the root file system", &e))?;
            self.rootfs_mounted = true;
        }
        if first {
            let user = user::resolve(&rootfs, config.user.as_deref()).map_err(|e| StartError::Setup(e.to_string()))?;
            // As Docker does, a working directory missing from the image is made.
            if config.working_dir.starts_with('/') {
                super::copy::make_dirs(&rootfs, &config.working_dir)
                    .map_err(|e| setup("make the working directory", &e))?;
            }
            super::rootfs::check_command(&rootfs, &config.args, &config.env)?;
            if config.host.init && !spec::init_binary().is_file() {
                return Err(StartError::Setup(format!(
                    "--init needs a static init at {} (apt-get install tini, or set BERTH_INIT)",
                    spec::init_binary().display()
                )));
            }
            crate::volume::seed(self.store, config, &rootfs).map_err(|e| setup("seed the volumes", &e))?;
            let volumes =
                crate::volume::runtime_mounts(self.store, config).map_err(|e| StartError::Setup(e.to_string()))?;
            let netns = crate::network::namespace_for(self.store, config);
            let spec = spec::build(config, &user, &rootfs, &self.dir, netns.as_deref(), &volumes)
                .map_err(|e| setup("build the runtime spec", &e))?;
            spec.save(self.dir.join("bundle").join("config.json")).map_err(|e| setup("write the runtime spec", &e))?;
        }

        let runtime = self.dir.join("runtime");
        let _ = std::fs::remove_dir_all(runtime.join(&config.id));
        std::fs::create_dir_all(&runtime).map_err(|e| setup("create the runtime directory", &e))?;
        let builder = ContainerBuilder::new(config.id.clone(), SyscallType::default())
            .with_executor(super::executor::BerthExecutor)
            .with_root_path(&runtime)
            .map_err(|e| setup("prepare the runtime", &e))?;
        // The container's standard streams: a terminal whose master end libcontainer sends on
        // a console socket, or pipes (and, with open_stdin, an input pipe for attached clients).
        let (builder, wiring) = if config.tty {
            let console = attach::ConsoleSocket::bind(&self.dir, "console.sock")
                .map_err(|e| setup("listen for the terminal", &e))?;
            let builder = builder.with_console_socket(Some(&console.path));
            (builder, Wiring::Terminal(console))
        } else {
            let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| setup("create pipes", &e));
            let ((out_r, out_w), (err_r, err_w)) = (pipe()?, pipe()?);
            let input = if config.open_stdin {
                let (r, w) = pipe()?;
                set_nonblocking(&w).map_err(|e| setup("set up the input pipe", &e))?;
                self.clients.set_sink(Some(File::from(w)));
                r
            } else {
                self.clients.set_sink(None);
                OwnedFd::from(File::open("/dev/null").map_err(|e| setup("open /dev/null", &e))?)
            };
            let builder = builder.with_stdin(input).with_stdout(out_w).with_stderr(err_w);
            (builder, Wiring::Pipes(out_r, err_r))
        };
        let mut container = builder
            .as_init(self.dir.join("bundle"))
            .with_systemd(false)
            .with_detach(true)
            .build()
            .map_err(|e| setup("create the container", &e))?;
        let (stdout, stderr) = match wiring {
            Wiring::Terminal(console) => {
                let master =
                    console.receive(Duration::from_secs(5)).map_err(|e| setup("take the container's terminal", &e))?;
                set_nonblocking(&master).map_err(|e| setup("set up the terminal", &e))?;
                // The one terminal serves as output, as input (with open_stdin) and for resizing.
                let dup = || master.try_clone().map(File::from).map_err(|e| setup("set up the terminal", &e));
                self.terminal = Some(dup()?);
                self.clients.set_sink(if config.open_stdin { Some(dup()?) } else { None });
                (Some(Output::new(master, attach::STDOUT)), None)
            }
            Wiring::Pipes(out_r, err_r) => {
                for fd in [&out_r, &err_r] {
                    set_nonblocking(fd).map_err(|e| setup("set up the output pipes", &e))?;
                }
                (Some(Output::new(out_r, attach::STDOUT)), Some(Output::new(err_r, attach::STDERR)))
            }
        };
        container.start().map_err(|e| setup("start the container", &e))?;
        let pid = container.pid().ok_or_else(|| StartError::Setup("the runtime reported no process".into()))?;
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid.as_raw()).ok_or_else(|| StartError::Setup("bad pid".into()))?,
            rustix::process::PidfdFlags::empty(),
        )
        .map_err(|e| setup("watch the container process", &e))?;
        self.c.state.status = Status::Running;
        self.c.state.pid = Some(pid.as_raw());
        self.c.state.started_at = Some(crate::time::now_nanos());
        self.c.state.error = None;
        self.c.state.exit_code = None;
        self.run_started = Instant::now();
        self.c.state.health = None;
        if let Some(h) = &self.c.config.healthcheck {
            let health = super::Health::default();
            self.health_next =
                Some(Instant::now() + Duration::from_millis(super::health::next_interval_ms(h, &health, 0)));
            self.c.state.health = Some(health);
        }
        // The process runs from here on; the record follows (its fsyncs take milliseconds).
        tracing::info!(container = %config.name, pid = pid.as_raw(), "started");
        self.save();
        Ok(Run { pid, pidfd, stdout, stderr })
    }

    /// Serves the container until its process exits; returns its exit code.
    fn supervise(&mut self, mut run: Run) -> i32 {
        loop {
            let next = [self.kill_at, self.health_next, self.health_run.as_ref().map(|h| h.deadline)]
                .into_iter()
                .flatten()
                .min()
                .map_or(Duration::from_millis(1000), |at| {
                    at.saturating_duration_since(Instant::now()).min(Duration::from_millis(1000))
                });
            // While a healthcheck runs, look at it often: it is reaped in this loop.
            let next = if self.health_run.is_some() { next.min(Duration::from_millis(20)) } else { next };
            let timeout = PollTimeout::try_from(next).unwrap_or(PollTimeout::MAX);
            let (exited, out_ready, err_ready, conn_ready, clients_ready) = {
                let mut fds = vec![
                    PollFd::new(run.pidfd.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
                ];
                let mut index = [None, None];
                for (i, o) in [&run.stdout, &run.stderr].into_iter().enumerate() {
                    if let Some(o) = o {
                        fds.push(PollFd::new(o.from.as_fd(), PollFlags::POLLIN));
                        index[i] = Some(fds.len() - 1);
                    }
                }
                let [out_i, err_i] = index;
                let watched: Vec<Option<usize>> = self
                    .clients
                    .watches()
                    .into_iter()
                    .map(|w| {
                        w.map(|(fd, events)| {
                            fds.push(PollFd::new(fd, events));
                            fds.len() - 1
                        })
                    })
                    .collect();
                let _ = nix::poll::poll(&mut fds, timeout);
                let revents = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
                let ready = |i: usize| !revents(i).is_empty();
                let clients: Vec<PollFlags> = watched.iter().map(|w| w.map_or(PollFlags::empty(), revents)).collect();
                (ready(0), out_i.is_some_and(ready), err_i.is_some_and(ready), ready(1), clients)
            };
            if out_ready {
                self.pump(&mut run.stdout);
            }
            if err_ready {
                self.pump(&mut run.stderr);
            }
            self.note_lost_output();
            self.retry_save();
            if clients_ready.iter().any(|r| !r.is_empty()) {
                self.clients.ready(&clients_ready);
            }
            if conn_ready {
                self.accept(Some(run.pid));
            }
            if let Some(at) = self.kill_at {
                if Instant::now() >= at {
                    let _ = nix::sys::signal::kill(run.pid, Signal::SIGKILL);
                    self.kill_at = None;
                }
            }
            let health_pid = self.health_run.as_ref().map(|h| h.pid);
            let swept = reap_orphans(run.pid, health_pid);
            if let Some(status) = swept.health {
                self.finish_healthcheck(status);
            }
            if !exited && swept.init.is_none() {
                self.healthcheck_tick();
            }
            if exited || swept.init.is_some() {
                if let Some(h) = self.health_run.take() {
                    let _ = nix::sys::signal::kill(h.pid, Signal::SIGKILL);
                }
                self.health_next = None;
                let status = match swept.init {
                    Some(status) => status,
                    None => waitpid(run.pid, None).unwrap_or(WaitStatus::StillAlive),
                };
                let code = exit_code(status).unwrap_or(255);
                // The pipes close once every process of the container is gone (the kernel kills
                // them all when init exits); read what is left.
                let deadline = Instant::now() + Duration::from_secs(2);
                while (run.stdout.is_some() || run.stderr.is_some()) && Instant::now() < deadline {
                    self.pump(&mut run.stdout);
                    self.pump(&mut run.stderr);
                    if run.stdout.is_some() || run.stderr.is_some() {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                for o in [&mut run.stdout, &mut run.stderr].into_iter().flatten() {
                    let _ = o.lines.flush(&mut self.log);
                }
                self.terminal = None;
                self.kill_at = None;
                tracing::info!(container = %self.c.config.name, code, "exited");
                return code;
            }
        }
    }

    /// Starts a due healthcheck, reads the output of a running one, kills one past its timeout.
    fn healthcheck_tick(&mut self) {
        let Some(config) = self.c.config.healthcheck.clone() else { return };
        if let Some(h) = &mut self.health_run {
            read_some(&mut h.output, &mut h.buf);
            if Instant::now() >= h.deadline && !h.timed_out {
                h.timed_out = true;
                let _ = nix::sys::signal::kill(h.pid, Signal::SIGKILL);
            }
            return;
        }
        if self.health_next.is_none_or(|at| Instant::now() < at) {
            return;
        }
        self.health_next = None;
        let start = crate::time::now_nanos();
        let spawned = (|| -> Result<(Pid, File), String> {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
            set_nonblocking(&r).map_err(|e| e.to_string())?;
            let w2 = w.try_clone().map_err(|e| e.to_string())?;
            let null = File::open("/dev/null").map_err(|e| e.to_string())?;
            let opts = super::exec::ExecOptions { args: config.command(), ..Default::default() };
            let pid = super::exec::spawn(self.store, &self.c, &opts, [OwnedFd::from(null), w, w2])
                .map_err(|e| e.to_string())?;
            Ok((pid, File::from(r)))
        })();
        match spawned {
            Ok((pid, output)) => {
                let deadline = Instant::now() + Duration::from_millis(config.timeout_ms);
                self.health_run = Some(HealthRun { pid, output, buf: Vec::new(), start, deadline, timed_out: false });
            }
            Err(message) => {
                let end = crate::time::now_nanos();
                self.record_health(super::HealthResult { start, end, exit_code: -1, output: message })
            }
        }
    }

    fn finish_healthcheck(&mut self, status: WaitStatus) {
        let Some(mut h) = self.health_run.take() else { return };
        read_some(&mut h.output, &mut h.buf);
        let timeout_ms = self.c.config.healthcheck.as_ref().map_or(0, |c| c.timeout_ms);
        let (exit_code, output) = if h.timed_out {
            (-1, format!("Health check exceeded timeout ({timeout_ms}ms)"))
        } else {
            (exit_code(status).unwrap_or(-1), String::from_utf8_lossy(&h.buf).into_owned())
        };
        let end = crate::time::now_nanos();
        self.record_health(super::HealthResult { start: h.start, end, exit_code, output });
    }

    fn record_health(&mut self, result: super::HealthResult) {
        let Some(config) = self.c.config.healthcheck.clone() else { return };
        let since = self.run_started.elapsed().as_millis() as u64;
        let health = self.c.state.health.get_or_insert_with(Default::default);
        let before = health.status;
        super::health::record(&config, health, result, since);
        let after = health.status;
        let wait = super::health::next_interval_ms(&config, health, since);
        self.health_next = Some(Instant::now() + Duration::from_millis(wait));
        if before != after {
            tracing::info!(container = %self.c.config.name, "health: {after}");
        }
        self.save();
    }

    /// Moves what a pipe (or the terminal) has into the log and to attached clients; drops
    /// the pipe at end of file.
    fn pump(&mut self, stream: &mut Option<Output>) {
        let Some(o) = stream else { return };
        let mut buf = [0u8; 64 * 1024];
        // At most 1 MiB at a time: a container that writes faster than the log takes it (on a
        // full disk the log takes it very fast) must not keep the shim from its socket.
        for _ in 0..16 {
            match o.from.read(&mut buf) {
                Ok(0) => {
                    let _ = o.lines.flush(&mut self.log);
                    *stream = None;
                    return;
                }
                Ok(n) => {
                    // The log stores or counts each line; it does not fail.
                    let _ = o.lines.push(&buf[..n], &mut self.log);
                    self.clients.broadcast(o.stream, &buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A terminal whose last user closed it reads as EIO: its end.
                Err(_) => {
                    let _ = o.lines.flush(&mut self.log);
                    *stream = None;
                    return;
                }
            }
        }
    }

    /// Answers every pending connection on the control socket.
    fn accept(&mut self, pid: Option<Pid>) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_err() {
                continue;
            }
            let mut stream = stream;
            let reply = match Request::parse(&line) {
                Some(Request::State) => serde_json::to_string(&self.c.state).unwrap_or_default(),
                Some(Request::Wait) => {
                    self.waiters.push(stream);
                    continue;
                }
                Some(Request::Kill(sig)) => {
                    self.c.state.stopped_by_user = true;
                    match (pid, Signal::try_from(sig)) {
                        (Some(pid), Ok(sig)) => {
                            nix::sys::signal::kill(pid, sig).map_or_else(|e| format!("error: {e}"), |_| "ok".into())
                        }
                        (None, _) => "ok".into(),
                        (_, Err(_)) => format!("error: no signal {sig}"),
                    }
                }
                Some(Request::Attach(streams)) => {
                    if stream.write_all(b"ok\n").is_ok() {
                        self.clients.add(stream, streams);
                    }
                    continue;
                }
                Some(Request::Resize(rows, cols)) => match &self.terminal {
                    Some(t) => attach::resize(t, rows, cols).map_or_else(|e| format!("error: {e}"), |_| "ok".into()),
                    None => "error: the container has no terminal".into(),
                },
                Some(Request::Pause) => self.freeze(true),
                Some(Request::Resume) => self.freeze(false),
                Some(Request::Stop(secs)) => {
                    self.c.state.stopped_by_user = true;
                    // Frozen processes take no signal: thaw first, as Docker does.
                    if self.c.state.status == Status::Paused {
                        self.freeze(false);
                    }
                    self.save();
                    if let Some(pid) = pid {
                        let sig = signal_by_name(&self.c.config.stop_signal).unwrap_or(Signal::SIGTERM);
                        let _ = nix::sys::signal::kill(pid, sig);
                        self.kill_at = Some(Instant::now() + Duration::from_secs(secs));
                    }
                    self.waiters.push(stream);
                    continue;
                }
                None => "error: unknown request".into(),
            };
            let _ = writeln!(stream, "{reply}");
        }
    }

    /// Freezes (or thaws) every process of the container through its cgroup's freezer.
    fn freeze(&mut self, pause: bool) -> String {
        let dir = self.dir.join("runtime").join(&self.c.config.id);
        let result =
            libcontainer::container::Container::load(dir).and_then(|mut c| if pause { c.pause() } else { c.resume() });
        match result {
            Ok(()) => {
                self.c.state.status = if pause { Status::Paused } else { Status::Running };
                self.save();
                "ok".into()
            }
            Err(e) => format!("error: {e}"),
        }
    }

    fn answer_waiters(&mut self, code: i32) {
        for mut w in self.waiters.drain(..) {
            let _ = writeln!(w, "exited {code}");
        }
    }

    /// Waits out a restart back-off while answering the socket; false if a stop came.
    fn pause(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        // The kernel's slow part of the next start's cgroup migration is done within the
        // back-off, just before its end, while the lock it warms stays warm (see cgroup.rs).
        let mut prime_at = Some(until.checked_sub(Duration::from_millis(12)).unwrap_or(until));
        while Instant::now() < until {
            if prime_at.is_some_and(|at| Instant::now() >= at) {
                prime_at = None;
                super::cgroup::prime_migration_now();
                continue;
            }
            let left = prime_at.unwrap_or(until).saturating_duration_since(Instant::now());
            let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
            let _ = nix::poll::poll(&mut fds, PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX));
            self.accept(None);
            if self.c.state.stopped_by_user {
                let code = self.c.state.exit_code.unwrap_or(0);
                self.answer_waiters(code);
                return false;
            }
        }
        true
    }

    /// Removes what one run left: the runtime's state and cgroups, the root mount.
    fn cleanup_run(&mut self) {
        super::remove::delete_runtime_state(&self.dir.join("runtime").join(&self.c.config.id));
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

fn write_etc_files(dir: &Path, config: &super::ContainerConfig) -> io::Result<()> {
    // Made again at every start of the shim: nothing to flush to disk.
    crate::fsutil::write_derived(&dir.join("hostname"), format!("{}\n", config.hostname).as_bytes())?;
    crate::fsutil::write_derived(&dir.join("hosts"), crate::network::hosts_file(config).as_bytes())?;
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    crate::fsutil::write_derived(&dir.join("resolv.conf"), crate::network::resolv_conf(config, &host).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_to_a_minute() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(1), Duration::from_millis(200));
        assert_eq!(backoff(10), Duration::from_secs(60));
        assert_eq!(backoff(99), Duration::from_secs(60));
    }

    #[test]
    fn restart_decisions() {
        use RestartPolicy::*;
        assert!(!should_restart(No, 1, false, 0));
        assert!(should_restart(Always, 0, false, 5));
        assert!(!should_restart(Always, 0, true, 0));
        assert!(should_restart(OnFailure { max_retries: Some(2) }, 1, false, 1));
        assert!(!should_restart(OnFailure { max_retries: Some(2) }, 1, false, 2));
        assert!(!should_restart(OnFailure { max_retries: None }, 0, false, 0));
    }

    #[test]
    fn signals_by_name() {
        assert_eq!(signal_by_name("SIGTERM"), Some(Signal::SIGTERM));
        assert_eq!(signal_by_name("usr1"), Some(Signal::SIGUSR1));
        assert_eq!(signal_by_name("9"), Some(Signal::SIGKILL));
        assert_eq!(signal_by_name("nope"), None);
    }
}
