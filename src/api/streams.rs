//! The endpoints that stream: `attach` (the connection taken over and joined to the
//! container's shim, before or after the start), `wait`, and `logs` (the engine's log
//! followed, in Docker's multiplexed format without a terminal).

use std::collections::HashMap;
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_engine::container::attach::{self, Streams};
use berth_engine::container::dir::ContainerDir;
use berth_engine::container::{logs, remove};
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use serde_json::json;

use super::Service;
use super::http::{ApiError, Body, Call, MULTIPLEXED, RAW, Reply, Sender, streamed, upgraded_response};
use crate::engine;

/// Clients attached to containers that have not started: the start hands each its
/// connection to the shim.
#[derive(Default)]
pub struct Pending(Mutex<HashMap<String, Vec<Waiting>>>);

pub struct Waiting {
    pub streams: Streams,
    to: tokio::sync::oneshot::Sender<UnixStream>,
}

impl Pending {
    fn add(&self, id: &str, streams: Streams) -> tokio::sync::oneshot::Receiver<UnixStream> {
        let (to, from) = tokio::sync::oneshot::channel();
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let list = map.entry(id.to_string()).or_default();
        list.retain(|w| !w.to.is_closed());
        list.push(Waiting { streams, to });
        from
    }

    /// The clients waiting for container `id`'s start.
    pub fn take(&self, id: &str) -> Vec<Waiting> {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(id).unwrap_or_default();
        list.retain(|w| !w.to.is_closed());
        list
    }

    /// Gives the first waiting client the connection the start made, and the others
    /// connections of their own to the now running container.
    pub fn hand_over(waiting: Vec<Waiting>, first: Option<UnixStream>, dir: &ContainerDir) {
        let mut first = first;
        for w in waiting {
            let conn = first.take().map_or_else(|| attach::connect(dir, w.streams), Ok);
            match conn {
                Ok(conn) => {
                    let _ = w.to.send(conn);
                }
                Err(e) => tracing::warn!("cannot attach a client to {}: {e}", dir.path().display()),
            }
        }
    }
}

/// `POST /containers/{id}/attach`: answers 101 and relays the connection to the container's
/// streams, now if it runs, from its start if it has not started.
pub async fn attach(
    service: Arc<Service>,
    mut req: hyper::Request<Incoming>,
    id: &str,
    query: &super::http::Query,
) -> Result<Response<Body>, ApiError> {
    super::http::require_upgrade(req.headers())?;
    let flag = |k: &str| query.flag(k);
    let wants = Streams { input: flag("stdin"), output: flag("stdout") || flag("stderr") };
    let store = engine::store()?;
    let mut c = store.find_container(id)?;
    let only = match (flag("stdout"), flag("stderr")) {
        (true, false) if !c.config.tty => Some(attach::STDOUT),
        (false, true) if !c.config.tty => Some(attach::STDERR),
        _ => None,
    };
    c.state = remove::current_state(&store, &c);
    let dir = store.container_dir(&c.config.id);
    let source = if remove::is_live(&c) {
        Source::Now(attach::connect(&dir, wants).map_err(|e| {
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot attach to {}: {e}", c.config.name))
        })?)
    } else {
        Source::AtStart(service.pending.add(&c.config.id, wants))
    };
    let upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let conn = match source {
            Source::Now(conn) => conn,
            Source::AtStart(rx) => match rx.await {
                Ok(conn) => conn,
                Err(_) => return,
            },
        };
        match upgrade.await {
            Ok(upgraded) => relay(upgraded, conn, only).await,
            Err(e) => tracing::debug!("attach: the client did not take the connection over: {e}"),
        }
    });
    Ok(upgraded_response(if c.config.tty { RAW } else { MULTIPLEXED }))
}

enum Source {
    Now(UnixStream),
    AtStart(tokio::sync::oneshot::Receiver<UnixStream>),
}

/// Copies the client's bytes to the container's input (its end closes the input) and the
/// container's output to the client, until the output ends.
/// `only`: the one stream the client asked for (without a terminal the shim sends both, in
/// frames; the other's frames are dropped here).
pub async fn relay(upgraded: hyper::upgrade::Upgraded, conn: UnixStream, only: Option<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let conn = match conn.set_nonblocking(true).and_then(|()| tokio::net::UnixStream::from_std(conn)) {
        Ok(c) => c,
        Err(e) => return tracing::warn!("attach: {e}"),
    };
    let client = hyper_util::rt::TokioIo::new(upgraded);
    let (mut client_in, mut client_out) = tokio::io::split(client);
    let (mut from_container, mut to_container) = conn.into_split();
    let input = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_in, &mut to_container).await;
        let _ = to_container.shutdown().await;
    });
    match only {
        None => {
            let _ = tokio::io::copy(&mut from_container, &mut client_out).await;
        }
        Some(kept) => {
            let (mut demux, mut buf) = (attach::Demux::default(), vec![0u8; 32 << 10]);
            while let Ok(n) = from_container.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                let mut out = Vec::new();
                demux.push(&buf[..n], |stream, data| {
                    if stream == kept {
                        attach::frame(stream, data, &mut out);
                    }
                });
                if client_out.write_all(&out).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = client_out.shutdown().await;
    input.abort();
}

/// The exits of the containers this service started, as their shims report them on the
/// launch pipe (after removing a `--rm` container): a wait for a container that is gone by the
/// time it looks still has its exit code.
#[derive(Default)]
pub struct Exits {
    seen: Mutex<ExitBook>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct ExitBook {
    /// Per container: how many exits were seen, and the last exit code.
    codes: HashMap<String, (u64, i64)>,
    /// Containers started here whose exit is still to come.
    running: std::collections::HashSet<String>,
}

impl Exits {
    fn book(&self) -> std::sync::MutexGuard<'_, ExitBook> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A container this service just started: its exit will be recorded.
    pub fn expect(&self, id: &str) {
        self.book().running.insert(id.to_string());
    }

    /// The exit of a container this service started; `None` when the shim ended without
    /// saying (the exit is in the container's record then, if anywhere).
    pub fn record(&self, id: &str, code: Option<i64>) {
        let mut book = self.book();
        book.running.remove(id);
        if let Some(code) = code {
            // A long-lived service forgets the exits nobody can still wait for.
            if book.codes.len() >= 4096 {
                let ExitBook { codes, running } = &mut *book;
                codes.retain(|id, _| running.contains(id));
            }
            let entry = book.codes.entry(id.to_string()).or_insert((0, 0));
            *entry = (entry.0 + 1, code);
        }
        self.changed.notify_all();
    }

    fn get(&self, id: &str) -> Option<(u64, i64)> {
        self.book().codes.get(id).copied()
    }

    pub fn pending(&self, id: &str) -> bool {
        self.book().running.contains(id)
    }

    /// Waits up to `limit` for any exit to be recorded.
    fn wait(&self, limit: Duration) {
        let book = self.book();
        let _ = self.changed.wait_timeout(book, limit);
    }
}

/// `POST /containers/{id}/wait`: the headers at once, the exit code when the condition holds.
pub fn wait(service: &Arc<Service>, call: &Call, id: &str) -> Result<Reply, ApiError> {
    let condition = match call.query("condition").filter(|c| !c.is_empty()).unwrap_or("not-running") {
        c @ ("not-running" | "next-exit" | "removed") => c.to_string(),
        other => return Err(ApiError::bad(format!("invalid condition: {other:?}"))),
    };
    let store = engine::store()?;
    let c = store.find_container(id)?;
    let service = service.clone();
    Ok(streamed("application/json", move |tx| {
        let code = wait_for(&service.exits, &store, &c, &condition, &tx);
        tx.json(&json!({"StatusCode": code, "Error": null}));
    }))
}

fn wait_for(
    exits: &Exits,
    store: &berth_engine::store::Store,
    c: &berth_engine::container::store::Container,
    condition: &str,
    tx: &Sender,
) -> i64 {
    let id = &c.config.id;
    let before = exits.get(id).map_or(0, |(n, _)| n);
    let started_before = c.state.started_at.clone();
    let mut ran = false;
    let mut code = c.state.exit_code.unwrap_or(0) as i64;
    while !tx.closed() {
        let exited = exits.get(id).filter(|(n, _)| *n > before);
        if let Some((_, exit)) = exited {
            code = exit;
            ran = true;
        }
        let Ok(mut now) = store.load_container(id) else {
            // Gone (a `--rm` container): the shim that removed it still has to tell its exit.
            if exited.is_none() && exits.pending(id) {
                exits.wait(Duration::from_millis(20));
                continue;
            }
            return code;
        };
        now.state = remove::current_state(store, &now);
        if remove::is_live(&now) {
            ran = true;
        } else {
            if exited.is_none() {
                code = now.state.exit_code.unwrap_or(0) as i64;
            }
            ran |= now.state.started_at != started_before;
            match condition {
                "not-running" => return code,
                "next-exit" if ran => return code,
                _ => {}
            }
        }
        exits.wait(Duration::from_millis(20));
    }
    code
}

/// `GET /containers/{id}/logs`.
pub fn logs(call: &Call, id: &str) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let c = store.find_container(id)?;
    let (stdout, stderr) = (call.flag("stdout"), call.flag("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad("Bad parameters: you must choose at least one stream"));
    }
    let tail = match call.query("tail").filter(|t| !t.is_empty() && *t != "all") {
        Some(n) => Some(n.parse::<usize>().map_err(|_| ApiError::bad(format!("invalid tail: {n:?}")))?),
        None => None,
    };
    let since = call.query("since").filter(|s| !s.is_empty() && *s != "0").map(docker_time).transpose()?;
    let until = call.query("until").filter(|s| !s.is_empty() && *s != "0").map(docker_time).transpose()?;
    let (follow, timestamps, tty) = (call.flag("follow"), call.flag("timestamps"), c.config.tty);
    let dir = store.container_dir(&c.config.id);
    let mut follower = logs::Follower::open(&dir, logs::Start::All { tail }).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot read the log of {}: {e}", c.config.name))
    })?;
    Ok(streamed(if tty { RAW } else { MULTIPLEXED }, move |tx| {
        let shown = |e: &logs::Entry| {
            let wanted = if e.stream == "stderr" { stderr } else { stdout };
            wanted
                && since.as_deref().is_none_or(|s| e.time.as_str() >= s)
                && until.as_deref().is_none_or(|u| e.time.as_str() <= u)
        };
        // After the container ended, one more read takes what its last moments wrote.
        let mut last = false;
        loop {
            let out = encode(&follower.next_entries(), &shown, tty, timestamps);
            if !out.is_empty() && !tx.send(out) {
                return;
            }
            if !follow || last || tx.closed() {
                return;
            }
            last = !store.load_container(&c.config.id).is_ok_and(|now| remove::is_live(&now));
            if !last {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }))
}

/// Log entries as the stream carries them: raw with a terminal, framed without one.
fn encode(entries: &[logs::Entry], shown: &dyn Fn(&logs::Entry) -> bool, tty: bool, timestamps: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries.iter().filter(|e| shown(e)) {
        let line = if timestamps { format!("{} {}", e.time, e.log) } else { e.log.clone() };
        if tty {
            out.extend_from_slice(line.as_bytes());
        } else {
            let stream = if e.stream == "stderr" { attach::STDERR } else { attach::STDOUT };
            attach::frame(stream, line.as_bytes(), &mut out);
        }
    }
    out
}

/// Docker's `since`/`until`: Unix seconds with an optional fraction (`1700000000.5`), or
/// anything `logs --since` takes; as the log's times are written.
pub fn docker_time(value: &str) -> Result<String, ApiError> {
    if let Some((secs, frac)) = value.split_once('.') {
        if let (Ok(secs), true) = (secs.parse::<i64>(), frac.chars().all(|c| c.is_ascii_digit())) {
            let nanos: u32 = format!("{frac:0<9}")[..9].parse().unwrap_or(0);
            return Ok(berth_engine::time::with_nanos(secs, nanos));
        }
    }
    crate::commands::logs::log_time(value).map_err(|e| ApiError::bad(e.to_string()))
}
