//! Running another process in a running container (`berth exec`, healthchecks): a libcontainer
//! "tenant" that joins the container's namespaces and cgroups.

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

use super::store::Container;
use super::{exit_code, spec, user};
use crate::store::Store;

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub args: Vec<String>,
    /// `KEY=VALUE`, on top of the container's environment.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    /// Every capability this host has (`exec --privileged`), beyond the container's.
    pub privileged: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("{message}")]
    Command { code: i32, message: String },
    #[error("cannot run the process in container {name}: {message}")]
    Runtime { name: String, message: String },
}

impl ExecError {
    /// The exit code to report: Docker's 126/127 for commands that cannot run, 125 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecError::Command { code, .. } => *code,
            _ => 125,
        }
    }
}

/// Starts `opts.args` in container `c` with the given standard streams; returns its PID. The
/// caller waits for it (and must be its subreaper, as the runtime's intermediate process exits).
pub fn spawn(store: &Store, c: &Container, opts: &ExecOptions, stdio: [OwnedFd; 3]) -> Result<Pid, ExecError> {
    let prepared = prepare(store, c, opts, false)?;
    let [stdin, stdout, stderr] = stdio;
    let runtime = |e: libcontainer::error::LibcontainerError| ExecError::Runtime {
        name: c.config.name.clone(),
        message: e.to_string(),
    };
    prepared
        .builder
        .with_stdin(stdin)
        .with_stdout(stdout)
        .with_stderr(stderr)
        .as_tenant()
        .with_container_args(opts.args.clone())
        .with_env(prepared.env)
        .with_cwd(Some(prepared.cwd))
        .with_user(Some(prepared.user.uid))
        .with_group(Some(prepared.user.gid))
        .with_additional_gids(prepared.user.additional_gids)
        .with_capabilities(if opts.privileged { spec::host_capabilities() } else { Vec::new() })
        .with_detach(true)
        .build()
        .map_err(runtime)
}

/// As [`spawn`], with a new terminal as the process's standard streams (`exec -t`); returns
/// its PID and the terminal's master end.
/// `size` (rows, columns) is the terminal's size from its first byte on: the process is
/// started with it, not resized after it may have read it.
pub fn spawn_terminal(
    store: &Store,
    c: &Container,
    opts: &ExecOptions,
    size: Option<(u16, u16)>,
) -> Result<(Pid, OwnedFd), ExecError> {
    let prepared = prepare(store, c, opts, true)?;
    let runtime = |message: String| ExecError::Runtime { name: c.config.name.clone(), message };
    let dir = store.container_dir(&c.config.id);
    // A terminal is asked for in a whole process description: the container's own, with this
    // process's command, environment, directory and user.
    let mut process = prepared.spec.process().clone().unwrap_or_default();
    if opts.privileged {
        let all = spec::host_capabilities();
        let caps = serde_json::json!({"bounding": all, "effective": all, "permitted": all});
        process.set_capabilities(Some(serde_json::from_value(caps).map_err(|e| runtime(e.to_string()))?));
    }
    let mut user = process.user().clone();
    user.set_uid(prepared.user.uid)
        .set_gid(prepared.user.gid)
        .set_additional_gids(Some(prepared.user.additional_gids.clone()));
    process
        .set_terminal(Some(true))
        .set_args(Some(opts.args.clone()))
        .set_env(Some(prepared.env.iter().map(|(k, v)| format!("{k}={v}")).collect()))
        .set_cwd(prepared.cwd.into())
        .set_user(user)
        .set_console_size(size.and_then(|(rows, cols)| {
            libcontainer::oci_spec::runtime::BoxBuilder::default().height(rows).width(cols).build().ok()
        }));
    let unique = format!("exec-{}-{}", std::process::id(), super::new_id().get(..8).unwrap_or("0"));
    let process_file = dir.scratch(&format!("{unique}.json"));
    let _remove = RemoveOnDrop(process_file.clone());
    // Read once by the runtime below and then removed: nothing to make durable.
    std::fs::write(&process_file, serde_json::to_vec(&process).map_err(|e| runtime(e.to_string()))?)
        .map_err(|e| runtime(format!("cannot write the process description: {e}")))?;
    let console = super::attach::ConsoleSocket::bind(&dir, &format!("{unique}.sock"))
        .map_err(|e| runtime(format!("cannot listen for the terminal: {e}")))?;
    let pid = prepared
        .builder
        .with_console_socket(Some(&console.path))
        .as_tenant()
        .with_process(Some(&process_file))
        .with_detach(true)
        .build()
        .map_err(|e| runtime(e.to_string()))?;
    let master = console
        .receive(std::time::Duration::from_secs(5))
        .map_err(|e| runtime(format!("cannot take the terminal: {e}")))?;
    Ok((pid, master))
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What every exec needs, checked before the runtime is asked for anything.
struct Prepared {
    builder: ContainerBuilder,
    /// The container's runtime spec.
    spec: libcontainer::oci_spec::runtime::Spec,
    user: user::User,
    env: HashMap<String, String>,
    cwd: String,
}

fn prepare(store: &Store, c: &Container, opts: &ExecOptions, tty: bool) -> Result<Prepared, ExecError> {
    if !super::store::is_live(c) {
        return Err(ExecError::NotRunning(c.config.name.clone()));
    }
    let runtime = |message: String| ExecError::Runtime { name: c.config.name.clone(), message };
    let dir = store.container_dir(&c.config.id);
    // The user and the command are looked up where the process will run: in the container's
    // root with its volumes and binds.
    let root = super::rootfs::MountedRoot::running(c)
        .map_err(|e| runtime(format!("cannot reach the container's root: {e}")))?
        .ok_or_else(|| ExecError::NotRunning(c.config.name.clone()))?;
    let rootfs = root.path();
    let mut user = user::resolve(&rootfs, opts.user.as_deref().or(c.config.user.as_deref()))
        .map_err(|e| runtime(e.to_string()))?;
    user::add_groups(&rootfs, &mut user, &c.config.host.group_add).map_err(|e| runtime(e.to_string()))?;
    let env_list = spec::process_env(c.config.env.iter().chain(&opts.env), &c.config.hostname, &user, tty);
    let env: HashMap<String, String> = env_list
        .iter()
        .map(|e| e.split_once('=').map_or((e.clone(), String::new()), |(k, v)| (k.to_string(), v.to_string())))
        .collect();
    super::rootfs::check_command(&rootfs, &opts.args, &env_list).map_err(|e| match e {
        super::rootfs::StartError::Command { code, message } => ExecError::Command { code, message },
        other => runtime(other.to_string()),
    })?;
    let cwd = opts.working_dir.clone().unwrap_or_else(|| c.config.working_dir.clone());
    let spec = libcontainer::oci_spec::runtime::Spec::load(dir.spec())
        .map_err(|e| runtime(format!("cannot read the container's runtime spec: {e}")))?;
    let builder = ContainerBuilder::new(c.config.id.clone(), SyscallType::default())
        .with_executor(super::executor::BerthExecutor::joining(&spec))
        .with_root_path(dir.runtime())
        .map_err(|e| runtime(e.to_string()))?;
    Ok(Prepared { builder, spec, user, env, cwd })
}

/// Runs `opts.args` in `c` with this process's standard streams, and returns its exit code.
pub fn run(store: &Store, c: &Container, opts: &ExecOptions) -> Result<i32, ExecError> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| ExecError::Runtime { name: c.config.name.clone(), message: e.to_string() })?;
    let dup = |fd: std::os::fd::BorrowedFd<'_>| fd.try_clone_to_owned();
    let stdio = (|| -> std::io::Result<[OwnedFd; 3]> {
        use std::os::fd::AsFd;
        Ok([dup(std::io::stdin().as_fd())?, dup(std::io::stdout().as_fd())?, dup(std::io::stderr().as_fd())?])
    })()
    .map_err(|e| ExecError::Runtime { name: c.config.name.clone(), message: e.to_string() })?;
    let pid = spawn(store, c, opts, stdio)?;
    wait(c, pid)
}

/// Waits for a process started by [`spawn`] or [`spawn_terminal`] (reaping the others this
/// subreaper inherits meanwhile), and returns its exit code.
pub fn wait(c: &Container, pid: Pid) -> Result<i32, ExecError> {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(status) if status.pid() == Some(pid) => return Ok(exit_code(status).unwrap_or(255)),
            Ok(_) => continue,
            Err(e) => return Err(ExecError::Runtime { name: c.config.name.clone(), message: e.to_string() }),
        }
    }
}
