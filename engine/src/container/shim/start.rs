//! The shim's start of the container: the root file system, the /etc files, the runtime spec
//! and libcontainer, with the container's streams wired to the shim.

use std::fs::File;
use std::io::{self};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use libcontainer::container::Container as YoukiContainer;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;

use crate::container::attach::{self};
use crate::container::dir::{ContainerDir, EtcFile};
use crate::container::joins::{self, Joins};
use crate::container::{Status, rootfs, spec, user};

use super::*;

impl Shim<'_> {
    pub(super) fn start(&mut self) -> Result<Run, StartError> {
        // What a restart would only redo identically is done once per shim: the /etc files, the
        // root mount, the user and the runtime spec.
        let first = !self.rootfs_mounted;
        if first {
            write_etc_files(&self.dir, &self.c.config).map_err(|e| setup("write /etc/hosts and friends", &e))?;
        }
        let rootfs = self.mount_rootfs()?;
        // Another container's namespaces are found again: its process may have changed.
        if first || joins::joins_another(&self.c.config.host) {
            self.write_spec(&rootfs)?;
        }
        if let Some(wanted) = self.c.config.host.realtime() {
            crate::container::cgroup::reserve_realtime(&self.c.config.cgroups_path(), wanted)
                .map_err(StartError::Setup)?;
        }
        let (mut container, stdout, stderr) = self.create()?;
        if let Err(e) = self.check_command(&container) {
            let _ = container.delete(true);
            return Err(e);
        }
        container.start().map_err(|e| setup("start the container", &e))?;
        let pid = container.pid().ok_or_else(|| StartError::Setup("the runtime reported no process".into()))?;
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(pid.as_raw()).ok_or_else(|| StartError::Setup("bad pid".into()))?,
            rustix::process::PidfdFlags::empty(),
        )
        .map_err(|e| setup("watch the container process", &e))?;
        self.record_start(pid);
        Ok(Run { pid, pidfd, stdout, stderr })
    }

    /// The root file system, mounted over the image's layers (kept from the run before on a
    /// restart), after killing what a dead shim left running.
    fn mount_rootfs(&mut self) -> Result<PathBuf, StartError> {
        let config = &self.c.config;
        let lowers = rootfs::lowers(self.store, config).map_err(|e| StartError::Setup(e.to_string()))?;
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
            let left = crate::container::cgroup::kill_leftovers(&config.cgroups_path());
            if left > 0 {
                tracing::warn!(container = %config.name, "killed {left} processes left by a shim that died");
            }
            rootfs::unmount(&rootfs).map_err(|e| setup("clean the root file system", &e))?;
            rootfs::mount_overlay(&lowers, &self.dir.upper(), &self.dir.work(), &rootfs)
                .map_err(|e| setup("mount the root file system", &e))?;
            self.rootfs_mounted = true;
        }
        Ok(rootfs)
    }

    /// What the first start works out once: the user, the working directory, the volumes'
    /// first contents, and the runtime spec.
    fn write_spec(&self, rootfs: &Path) -> Result<(), StartError> {
        let config = &self.c.config;
        let mut user = user::resolve(rootfs, config.user.as_deref()).map_err(|e| StartError::Setup(e.to_string()))?;
        user::add_groups(rootfs, &mut user, &config.host.group_add).map_err(|e| StartError::Setup(e.to_string()))?;
        // As Docker does, a working directory missing from the image is made.
        if config.working_dir.starts_with('/') {
            crate::container::copy::make_dirs(rootfs, &config.working_dir)
                .map_err(|e| setup("make the working directory", &e))?;
        }
        if config.host.init && !spec::init_binary().is_file() {
            return Err(StartError::Setup(format!(
                "--init needs a static init at {} (apt-get install tini, or set BERTH_INIT)",
                spec::init_binary().display()
            )));
        }
        crate::volume::seed(self.store, config, rootfs).map_err(|e| setup("seed the volumes", &e))?;
        let volumes =
            crate::volume::runtime_mounts(self.store, config).map_err(|e| StartError::Setup(e.to_string()))?;
        let netns = crate::network::namespace_for(self.store, config);
        let joins = Joins::of(self.store, config, netns).map_err(StartError::Setup)?;
        let spec = spec::build(config, &user, rootfs, &self.dir, &joins, &volumes)
            .map_err(|e| setup("build the runtime spec", &e))?;
        spec.save(self.dir.spec()).map_err(|e| setup("write the runtime spec", &e))?;
        Ok(())
    }

    /// Docker's exit codes for a command that cannot run (127, 126), decided where the kernel
    /// will look for it: in the created container's root, with its volumes and binds mounted.
    fn check_command(&self, container: &YoukiContainer) -> Result<(), StartError> {
        let config = &self.c.config;
        let pid = container.pid().ok_or_else(|| StartError::Setup("the runtime reported no process".into()))?;
        let root = rootfs::MountedRoot::process(pid.as_raw(), &config.cgroups_path())
            .map_err(|e| setup("reach the container's root", &e))?
            .ok_or_else(|| StartError::Setup("the container's process ended before it started".into()))?;
        rootfs::check_command(&root.path(), &config.args, &config.env)
    }

    /// The container created by the runtime (not started yet), its standard streams wired to
    /// the shim: a terminal, or pipes.
    fn create(&mut self) -> Result<(YoukiContainer, Option<Output>, Option<Output>), StartError> {
        let config = &self.c.config;
        let runtime = self.dir.runtime();
        let _ = std::fs::remove_dir_all(runtime.join(&config.id));
        std::fs::create_dir_all(&runtime).map_err(|e| setup("create the runtime directory", &e))?;
        let builder = ContainerBuilder::new(config.id.clone(), SyscallType::default())
            .with_executor(crate::container::executor::BerthExecutor::default())
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
        // libcontainer writes the container's `oomScoreAdj` into its caller so that the
        // container's first process inherits it; the shim takes its own back at once, or the
        // OOM killer would pick the supervisor along with what it supervises.
        let own_oom_score = std::fs::read_to_string("/proc/self/oom_score_adj").ok();
        let built = builder.as_init(self.dir.bundle()).with_systemd(false).with_detach(true).build();
        if let Some(own) = own_oom_score {
            if let Err(e) = std::fs::write("/proc/self/oom_score_adj", own.trim()) {
                tracing::warn!("cannot restore the shim's oom_score_adj to {}: {e}", own.trim());
            }
        }
        let container = built.map_err(|e| setup("create the container", &e))?;
        let attrs = crate::container::logdriver::attributes(config);
        let (stdout, stderr) = match wiring {
            Wiring::Terminal(console) => {
                let master =
                    console.receive(Duration::from_secs(5)).map_err(|e| setup("take the container's terminal", &e))?;
                set_nonblocking(&master).map_err(|e| setup("set up the terminal", &e))?;
                // The one terminal serves as output, as input (with open_stdin) and for resizing.
                let dup = || master.try_clone().map(File::from).map_err(|e| setup("set up the terminal", &e));
                self.terminal = Some(dup()?);
                self.clients.set_sink(if config.open_stdin { Some(dup()?) } else { None });
                (Some(Output::new(master, attach::STDOUT, &attrs)), None)
            }
            Wiring::Pipes(out_r, err_r) => {
                for fd in [&out_r, &err_r] {
                    set_nonblocking(fd).map_err(|e| setup("set up the output pipes", &e))?;
                }
                (Some(Output::new(out_r, attach::STDOUT, &attrs)), Some(Output::new(err_r, attach::STDERR, &attrs)))
            }
        };
        Ok((container, stdout, stderr))
    }

    /// The state of a run that has started, on disk.
    fn record_start(&mut self, pid: Pid) {
        self.c.state.status = Status::Running;
        self.c.state.pid = Some(pid.as_raw());
        self.c.state.started_at = Some(crate::time::now_nanos());
        self.c.state.error = None;
        self.c.state.exit_code = None;
        self.run_started = Instant::now();
        self.c.state.health = None;
        if let Some(h) = &self.c.config.healthcheck {
            let health = crate::container::Health::default();
            self.health_next =
                Some(Instant::now() + Duration::from_millis(crate::container::health::next_interval_ms(h, &health, 0)));
            self.c.state.health = Some(health);
        }
        // The process runs from here on; the record follows (its fsyncs take milliseconds).
        tracing::info!(container = %self.c.config.name, pid = pid.as_raw(), "started");
        self.save();
    }
}

/// A start that failed in berth's set-up (not the command's fault): exit 128, as Docker.
fn setup(what: &str, e: &dyn std::fmt::Display) -> StartError {
    StartError::Setup(format!("cannot {what}: {e}"))
}

fn write_etc_files(dir: &ContainerDir, config: &crate::container::ContainerConfig) -> io::Result<()> {
    // Made again at every start of the shim, before the container that reads them exists:
    // written in place, nothing to flush to disk and no file replaced (a file replaced through
    // a temporary one is an inode made and one freed per start; see
    // fsutil::spread_subdirectories for what that costs on ext4).
    std::fs::write(dir.etc(EtcFile::Hostname), format!("{}\n", config.hostname))?;
    std::fs::write(dir.etc(EtcFile::Hosts), crate::network::hosts_file(config))?;
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    std::fs::write(dir.etc(EtcFile::ResolvConf), crate::network::resolv_conf(config, &host))
}
