//! Exec instances: `POST /containers/{id}/exec` records what to run, `POST /exec/{id}/start`
//! runs it. The process is run by a `berth exec` of its own, the same command the command line
//! has, so that waiting for it (which needs a subreaper) stays out of the service; its streams
//! are pipes (framed in Docker's format) or a pseudo-terminal whose size `resize` sets.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use berth_engine::container::{attach, remove};
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Service;
use super::http::{ApiError, Body, Call, Reply};
use crate::engine;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct ExecConfig {
    #[serde(default)]
    attach_stdin: bool,
    #[serde(default)]
    attach_stdout: bool,
    #[serde(default)]
    attach_stderr: bool,
    #[serde(default)]
    tty: bool,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    cmd: Vec<String>,
    #[serde(default)]
    privileged: bool,
    #[serde(default)]
    user: String,
    #[serde(default)]
    working_dir: String,
    #[serde(default)]
    detach_keys: String,
    #[serde(default)]
    console_size: Option<Vec<u16>>,
    /// Sent by older clients; the start's own `Detach` is what counts.
    #[serde(default, rename = "Detach")]
    _detach: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct StartConfig {
    #[serde(default)]
    detach: bool,
    #[serde(default)]
    tty: bool,
    #[serde(default)]
    console_size: Option<Vec<u16>>,
}

/// An exec instance as the service keeps it.
struct Instance {
    container: String,
    config: ExecConfig,
    running: bool,
    exit_code: Option<i32>,
    pid: Option<u32>,
    /// The pseudo-terminal's master end while a `tty` process runs, for `resize`.
    terminal: Option<Arc<OwnedFd>>,
}

static INSTANCES: Mutex<Option<HashMap<String, Instance>>> = Mutex::new(None);

fn with_instances<T>(f: impl FnOnce(&mut HashMap<String, Instance>) -> T) -> T {
    let mut guard = INSTANCES.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.get_or_insert_with(HashMap::new))
}

fn no_such(id: &str) -> ApiError {
    ApiError::not_found(format!("No such exec instance: {id}"))
}

pub fn exec_create(call: &Call, id: &str) -> Result<Reply, ApiError> {
    let config: ExecConfig =
        serde_json::from_slice(&call.body).map_err(|e| ApiError::bad(format!("invalid exec configuration: {e}")))?;
    if config.cmd.is_empty() {
        return Err(ApiError::bad("No exec command specified"));
    }
    if !config.detach_keys.is_empty() {
        return Err(ApiError::bad("DetachKeys is not supported by berth's exec"));
    }
    let store = engine::store()?;
    let c = store.find_container(id)?;
    if !remove::is_live(&c) {
        return Err(ApiError::conflict(format!("Container {} is not running", c.config.id)));
    }
    let exec_id = berth_engine::container::new_id();
    with_instances(|all| {
        // Finished instances are kept for their exit code; a few hundred are plenty.
        if all.len() > 500 {
            all.retain(|_, i| i.running);
        }
        all.insert(
            exec_id.clone(),
            Instance {
                container: c.config.id.clone(),
                config,
                running: false,
                exit_code: None,
                pid: None,
                terminal: None,
            },
        );
    });
    Ok(Reply::Json(StatusCode::CREATED, json!({"Id": exec_id})))
}

pub fn exec_inspect(id: &str) -> Result<Reply, ApiError> {
    with_instances(|all| {
        let i = all.get(id).ok_or_else(|| no_such(id))?;
        Ok(Reply::Json(
            StatusCode::OK,
            json!({
                "ID": id, "ContainerID": i.container, "Running": i.running, "ExitCode": i.exit_code,
                "Pid": i.pid.unwrap_or(0), "OpenStdin": i.config.attach_stdin, "OpenStdout": i.config.attach_stdout,
                "OpenStderr": i.config.attach_stderr, "CanRemove": false, "DetachKeys": "",
                "ProcessConfig": {"tty": i.config.tty, "entrypoint": i.config.cmd[0], "arguments": &i.config.cmd[1..],
                    "privileged": i.config.privileged, "user": i.config.user},
            }),
        ))
    })
}

pub fn exec_resize(call: &Call, id: &str) -> Result<Reply, ApiError> {
    let (h, w) = (call.number::<u16>("h")?.unwrap_or(0), call.number::<u16>("w")?.unwrap_or(0));
    let terminal = with_instances(|all| all.get(id).map(|i| i.terminal.clone())).ok_or_else(|| no_such(id))?;
    if let Some(fd) = terminal {
        set_size(&fd, h, w);
    }
    Ok(Reply::Empty(StatusCode::OK))
}

fn set_size(fd: &OwnedFd, rows: u16, cols: u16) {
    if rows > 0 && cols > 0 {
        let _ = attach::resize(fd, rows, cols);
    }
}

/// `POST /exec/{id}/start`: detached, the process is started and the answer is empty;
/// otherwise the connection is taken over and joined to the process's streams.
pub async fn exec_start(
    service: Arc<Service>,
    mut req: hyper::Request<Incoming>,
    id: &str,
) -> Result<Response<Body>, ApiError> {
    let body = super::read_body(req.body_mut()).await?;
    let start: StartConfig = if body.iter().all(u8::is_ascii_whitespace) {
        StartConfig::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad(format!("invalid exec start request: {e}")))?
    };
    if !start.detach {
        super::http::require_upgrade(req.headers())?;
    }
    let (mut cmd, tty, size) = with_instances(|all| {
        let i = all.get_mut(id).ok_or_else(|| no_such(id))?;
        if i.running || i.exit_code.is_some() {
            return Err(ApiError::conflict(format!("exec instance {id} has already been started")));
        }
        let tty = i.config.tty || start.tty;
        let size = start.console_size.clone().or_else(|| i.config.console_size.clone());
        let cmd = helper(&service.exe, &i.container, &i.config, tty, start.detach);
        i.running = true;
        Ok((cmd, tty, size))
    })?;
    if start.detach {
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        let status = cmd.status().await;
        finish(id, status.ok().and_then(|s| s.code()).unwrap_or(125));
        return Ok(super::http::respond(Ok(Reply::Empty(StatusCode::OK))));
    }
    let upgrade = hyper::upgrade::on(&mut req);
    let id = id.to_string();
    let kind = if tty { super::http::RAW } else { super::http::MULTIPLEXED };
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else {
            finish(&id, 125);
            return;
        };
        let client = hyper_util::rt::TokioIo::new(upgraded);
        let code = if tty { run_terminal(&id, cmd, client, size).await } else { run_piped(&id, cmd, client).await };
        finish(&id, code);
    });
    Ok(super::http::upgraded_response(kind))
}

fn finish(id: &str, code: i32) {
    with_instances(|all| {
        if let Some(i) = all.get_mut(id) {
            i.running = false;
            i.exit_code = Some(code);
            i.terminal = None;
        }
    });
}

/// The `berth exec` that runs the instance's process.
fn helper(
    exe: &std::path::Path,
    container: &str,
    config: &ExecConfig,
    tty: bool,
    detach: bool,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("exec");
    if detach {
        cmd.arg("--detach");
    }
    if config.attach_stdin {
        cmd.arg("--interactive");
    }
    if tty {
        cmd.arg("--tty");
    }
    if config.privileged {
        cmd.arg("--privileged");
    }
    for e in config.env.iter().flatten() {
        cmd.arg(format!("--env={e}"));
    }
    if !config.working_dir.is_empty() {
        cmd.arg(format!("--workdir={}", config.working_dir));
    }
    if !config.user.is_empty() {
        cmd.arg(format!("--user={}", config.user));
    }
    cmd.arg(container).arg("--").args(&config.cmd).kill_on_drop(true);
    cmd
}

/// Without a terminal: the process's output in frames, the client's bytes to its input.
async fn run_piped<C>(id: &str, mut cmd: tokio::process::Command, client: C) -> i32
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let (mut client_in, client_out) = tokio::io::split(client);
    let client_out = Arc::new(tokio::sync::Mutex::new(client_out));
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let mut out = Vec::new();
            attach::frame(attach::STDERR, format!("cannot run berth exec: {e}\n").as_bytes(), &mut out);
            let _ = client_out.lock().await.write_all(&out).await;
            return 126;
        }
    };
    set_pid(id, child.id());
    let mut stdin = child.stdin.take();
    let input = tokio::spawn(async move {
        if let Some(stdin) = stdin.as_mut() {
            let _ = tokio::io::copy(&mut client_in, stdin).await;
        }
        drop(stdin);
    });
    let pump = |mut from: Box<dyn tokio::io::AsyncRead + Unpin + Send>, stream: u8| {
        let to = client_out.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 << 10];
            while let Ok(n) = from.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut framed = Vec::with_capacity(n + 8);
                attach::frame(stream, &buf[..n], &mut framed);
                if to.lock().await.write_all(&framed).await.is_err() {
                    break;
                }
            }
        })
    };
    let out = child.stdout.take().map(|s| pump(Box::new(s), attach::STDOUT));
    let err = child.stderr.take().map(|s| pump(Box::new(s), attach::STDERR));
    let status = child.wait().await;
    for task in [out, err].into_iter().flatten() {
        let _ = task.await;
    }
    input.abort();
    let code = status.ok().and_then(|s| s.code()).unwrap_or(125);
    // The exit code is recorded before the client sees the end: it asks for it next.
    finish(id, code);
    let _ = client_out.lock().await.shutdown().await;
    code
}

/// With a terminal: a pseudo-terminal is the helper's controlling terminal, its master end
/// relayed to the client as raw bytes.
async fn run_terminal<C>(id: &str, mut cmd: tokio::process::Command, client: C, size: Option<Vec<u16>>) -> i32
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let pty = match nix::pty::openpty(None, None) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("exec: cannot open a pseudo-terminal: {e}");
            return 126;
        }
    };
    if let Some([rows, cols]) = size.as_deref().and_then(|s| <[u16; 2]>::try_from(s).ok()) {
        set_size(&pty.master, rows, cols);
    }
    let slave = pty.slave;
    let stdio = || slave.try_clone().map(Stdio::from);
    match (stdio(), stdio(), stdio()) {
        (Ok(a), Ok(b), Ok(c)) => {
            cmd.stdin(a).stdout(b).stderr(c);
        }
        _ => return 126,
    }
    // SAFETY: between fork and exec the child only calls setsid(2) and ioctl(2), both
    // async-signal-safe, on its own standard input.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(_) => return 126,
    };
    drop(slave);
    drop(cmd);
    set_pid(id, child.id());
    let master = Arc::new(pty.master);
    with_instances(|all| {
        if let Some(i) = all.get_mut(id) {
            i.terminal = Some(master.clone());
        }
    });
    let reader = master.try_clone().map(std::fs::File::from).map(tokio::fs::File::from_std);
    let writer = master.try_clone().map(std::fs::File::from).map(tokio::fs::File::from_std);
    let (Ok(mut reader), Ok(mut writer)) = (reader, writer) else { return 126 };
    let (mut client_in, mut client_out) = tokio::io::split(client);
    let input = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_in, &mut writer).await;
    });
    let output = tokio::spawn(async move {
        // The master reads EIO once the last process holding the terminal is gone.
        let _ = tokio::io::copy(&mut reader, &mut client_out).await;
        client_out
    });
    let status = child.wait().await;
    let code = status.ok().and_then(|s| s.code()).unwrap_or(125);
    // The exit code is recorded before the client sees the end: it asks for it next.
    finish(id, code);
    if let Ok(Ok(mut client_out)) = tokio::time::timeout(std::time::Duration::from_secs(2), output).await {
        let _ = client_out.shutdown().await;
    }
    input.abort();
    code
}

fn set_pid(id: &str, pid: Option<u32>) {
    with_instances(|all| {
        if let Some(i) = all.get_mut(id) {
            i.pid = pid;
        }
    });
}
