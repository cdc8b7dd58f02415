//! `berth system service`: the Docker Engine API on a Unix socket, so that the docker CLI,
//! Docker Compose and testcontainers drive berth. The service is a client of the engine as the
//! command line is: each container still has its shim, so ending the service loses nothing,
//! and what it starts is what `berth ps` shows.
//!
//! hyper serves HTTP/1.1 on tokio; each request's work runs on the blocking pool (the engine's
//! calls are synchronous), and what lasts (logs, events, a wait) on a thread of its own that
//! feeds the response's body. `attach` and exec's `start` take the connection over (an HTTP
//! upgrade) and relay it to the container's streams.

mod build;
mod containers;
mod create;
mod events;
mod exec;
mod http;
mod images;
mod objects;
mod prune;
mod router;
mod stats;
mod streams;
mod system;
mod transfer;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use http::Body;

/// Request bodies larger than this are refused (JSON bodies are small; archives stream).
const BODY_LIMIT: usize = 64 << 20;

/// What every request shares.
pub struct Service {
    /// The berth binary, which shims are started from.
    pub exe: PathBuf,
    /// Clients attached to containers not started yet, waiting for their start.
    pub pending: streams::Pending,
    /// Exit codes of the containers started here.
    pub exits: streams::Exits,
    /// What this service does to containers, for the event streams.
    pub events: events::Bus,
    /// Connections open now, and when the last one closed: for `--timeout`.
    open: AtomicUsize,
    last: std::sync::Mutex<Instant>,
}

/// Serves the API on `socket` (or the socket systemd hands over) and, if asked, on a loopback
/// TCP address, until killed or until no client has been connected for `timeout` (0: never).
pub fn serve(socket: &Path, tcp: Option<std::net::SocketAddr>, timeout: Duration) -> anyhow::Result<ExitCode> {
    let (listener, activated) = match activated_listener() {
        Some(l) => (l, true),
        None => (bind(socket)?, false),
    };
    let tcp = tcp.map(bind_tcp).transpose()?;
    let service = Arc::new(Service {
        exe: std::env::current_exe().context("cannot find the berth binary")?,
        pending: Default::default(),
        exits: Default::default(),
        events: Default::default(),
        open: AtomicUsize::new(0),
        last: std::sync::Mutex::new(Instant::now()),
    });
    let runtime = crate::engine::runtime()?;
    let result = runtime.block_on(async {
        let listener = tokio::net::UnixListener::from_std(listener).context("cannot listen")?;
        let tcp = tcp.map(tokio::net::TcpListener::from_std).transpose().context("cannot listen on TCP")?;
        if !activated {
            eprintln!("berth: serving the Docker API on unix://{}", socket.display());
        }
        let idle = idle_timer(service.clone(), timeout);
        tokio::spawn(async {
            // Shims this service started end as its children: none stays a zombie.
            let mut every = tokio::time::interval(Duration::from_secs(2));
            loop {
                every.tick().await;
                berth_engine::process::reap_detached();
            }
        });
        let ended = async {
            let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                _ = idle => {}
            }
            anyhow::Ok(())
        };
        tokio::pin!(ended);
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => { tokio::spawn(connection(service.clone(), stream)); }
                    Err(e) => tracing::warn!("cannot accept a connection: {e}"),
                },
                accepted = accept_tcp(tcp.as_ref()) => match accepted {
                    Ok((stream, _)) => { tokio::spawn(connection(service.clone(), stream)); }
                    Err(e) => tracing::warn!("cannot accept a connection: {e}"),
                },
                done = &mut ended => return done,
            }
        }
    });
    if !activated {
        let _ = std::fs::remove_file(socket);
    }
    runtime.shutdown_timeout(Duration::from_millis(200));
    result.map(|()| ExitCode::SUCCESS)
}

/// The listening socket systemd passed (socket activation: `LISTEN_PID` is this process and
/// `LISTEN_FDS` at least one, the first at descriptor 3).
fn activated_listener() -> Option<std::os::unix::net::UnixListener> {
    use std::os::fd::FromRawFd;
    let pid: u32 = std::env::var("LISTEN_PID").ok()?.parse().ok()?;
    let fds: u32 = std::env::var("LISTEN_FDS").ok()?.parse().ok()?;
    if pid != std::process::id() || fds < 1 {
        return None;
    }
    // A descriptor 3 that is not open (a caller that set the variables and no socket) is
    // not taken.
    if nix::fcntl::fcntl(3, nix::fcntl::FcntlArg::F_GETFD).is_err() {
        tracing::warn!("LISTEN_FDS is set but descriptor 3 is not open; listening on the socket given");
        return None;
    }
    // SAFETY: by the socket activation protocol, descriptor 3 is a listening socket systemd
    // gave this process, and nothing else in it owns that descriptor.
    let listener = unsafe { std::os::unix::net::UnixListener::from_raw_fd(3) };
    listener.set_nonblocking(true).ok()?;
    Some(listener)
}

/// A TCP listener, only on a loopback address: the API has no authentication.
fn bind_tcp(addr: std::net::SocketAddr) -> anyhow::Result<std::net::TcpListener> {
    if !addr.ip().is_loopback() {
        anyhow::bail!("--tcp {addr}: only a loopback address is allowed (the API has no authentication)");
    }
    crate::output::warn(&format!(
        "the Docker API also listens on tcp://{addr}: any local user who connects can run containers as root"
    ));
    let listener = std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

async fn accept_tcp(
    listener: Option<&tokio::net::TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(l) => l.accept().await,
        None => std::future::pending().await,
    }
}

/// The socket, made afresh (a stale one from a killed service is replaced; a live one is an
/// error), readable by root and the `berth` group.
fn bind(socket: &Path) -> anyhow::Result<std::os::unix::net::UnixListener> {
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if std::os::unix::net::UnixStream::connect(socket).is_ok() {
        anyhow::bail!("{} is in use: another service listens there", socket.display());
    }
    let _ = std::fs::remove_file(socket);
    let listener = std::os::unix::net::UnixListener::bind(socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    listener.set_nonblocking(true)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660))?;
    if let Ok(Some(group)) = nix::unistd::Group::from_name("berth") {
        std::os::unix::fs::chown(socket, None, Some(group.gid.as_raw()))
            .with_context(|| format!("cannot give {} to the group berth", socket.display()))?;
    }
    Ok(listener)
}

/// Resolves once no connection has been open for `timeout`; never when it is zero.
async fn idle_timer(service: Arc<Service>, timeout: Duration) {
    if timeout.is_zero() {
        return std::future::pending().await;
    }
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let last = *service.last.lock().unwrap_or_else(|e| e.into_inner());
        if service.open.load(Ordering::SeqCst) == 0 && last.elapsed() >= timeout {
            return;
        }
    }
}

async fn connection<S>(service: Arc<Service>, stream: S)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    service.open.fetch_add(1, Ordering::SeqCst);
    let handler = {
        let service = service.clone();
        hyper::service::service_fn(move |req| handle(service.clone(), req))
    };
    let served = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(stream), handler)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        tracing::debug!("connection ended: {e}");
    }
    *service.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
    service.open.fetch_sub(1, Ordering::SeqCst);
}

async fn handle(service: Arc<Service>, req: Request<Incoming>) -> Result<Response<Body>, std::convert::Infallible> {
    let started = Instant::now();
    let (method, target) = (req.method().clone(), req.uri().to_string());
    let response = match router::route(service, req).await {
        Ok(r) => r,
        Err(e) => http::respond(Err(e)),
    };
    tracing::debug!("{method} {target} -> {} in {:?}", response.status(), started.elapsed());
    Ok(response)
}

/// The request's body, whole, up to [`BODY_LIMIT`].
async fn read_body(body: &mut Incoming) -> Result<bytes::Bytes, http::ApiError> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(body, BODY_LIMIT);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => Err(http::ApiError::new(
            hyper::StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than {} MiB", BODY_LIMIT >> 20),
        )),
        Err(e) => Err(http::ApiError::bad(format!("cannot read the request body: {e}"))),
    }
}
