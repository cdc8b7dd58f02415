//! The container endpoints that change or show one container: list, inspect, start, stop,
//! restart, kill, pause, rename, resize, top, remove.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use berth_engine::container::launch::{self, LaunchError};
use berth_engine::container::store::Container;
use berth_engine::container::{remove, shim};
use hyper::StatusCode;
use serde_json::json;

use super::Service;
use super::http::{ApiError, Call, Reply};
use crate::commands::containers::object;
use crate::engine;

fn find(id: &str) -> Result<(berth_engine::store::Store, Container), ApiError> {
    let store = engine::store()?;
    let mut c = store.find_container(id)?;
    c.state = remove::current_state(&store, &c);
    Ok((store, c))
}

fn no_content() -> Result<Reply, ApiError> {
    Ok(Reply::Empty(StatusCode::NO_CONTENT))
}

pub fn list(call: &Call) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let filters =
        crate::commands::filter::Filters::parse(&call.filters()?).map_err(|e| ApiError::bad(e.to_string()))?;
    let every = store.list_containers()?;
    let mut shown: Vec<Container> = every
        .iter()
        .filter(|c| call.flag("all") || filters.by_status() || remove::is_live(c))
        .filter(|c| filters.matches(c, &every))
        .cloned()
        .collect();
    for c in &mut shown {
        c.state = remove::current_state(&store, c);
    }
    // Newest first, as Docker lists them.
    shown.sort_by(|a, b| b.config.created.cmp(&a.config.created));
    if let Some(limit) = call.number::<i64>("limit")?.filter(|n| *n > 0) {
        shown.truncate(limit as usize);
    }
    Ok(Reply::Json(StatusCode::OK, json!(shown.iter().map(object::list_row).collect::<Vec<_>>())))
}

pub fn inspect(id: &str) -> Result<Reply, ApiError> {
    let (store, c) = find(id)?;
    Ok(Reply::Json(StatusCode::OK, object::inspect(&store, &c)))
}

/// Starts a container; clients attached before the start get its streams from its first byte.
pub fn start(service: &Arc<Service>, id: &str) -> Result<Reply, ApiError> {
    let (store, c) = find(id)?;
    if remove::is_live(&c) {
        return Ok(Reply::Empty(StatusCode::NOT_MODIFIED));
    }
    let waiting = service.pending.take(&c.config.id);
    // One connection from the start serves every client waiting: the streams any of them wants.
    let streams = (!waiting.is_empty()).then(|| berth_engine::container::attach::Streams {
        input: waiting.iter().any(|w| w.streams.input),
        output: waiting.iter().any(|w| w.streams.output),
    });
    match launch::launch_attached(&store, &c.config.id, &service.exe, streams) {
        Ok(mut started) => {
            super::streams::Pending::hand_over(waiting, started.attached.take(), &store.container_dir(&c.config.id));
            service.events.post(&c, "start");
            watch_exit(service, &c, started);
            no_content()
        }
        Err(LaunchError::Failed { message, .. }) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot start container {}: {message}", c.config.name),
        )),
        Err(LaunchError::AlreadyStarted(_)) => Ok(Reply::Empty(StatusCode::NOT_MODIFIED)),
        Err(e) => Err(e.into()),
    }
}

/// Reads the shim's last word on the launch pipe, the container's exit code, for `wait` and
/// the event streams (and its removal, for a `--rm` container); the shim is reaped when it
/// ends.
fn watch_exit(service: &Arc<Service>, c: &Container, mut started: launch::Started) {
    let id = c.config.id.as_str();
    service.exits.expect(id);
    let (watching, c) = (service.clone(), c.clone());
    let watcher = std::thread::Builder::new().name("exit".into()).stack_size(64 << 10).spawn(move || {
        let code = launch::wait_exit(&mut started);
        berth_engine::process::reap_detached();
        // A shim that restarts its container ends only at the last exit: the looks at the
        // containers tell its exits as they come.
        if c.config.restart == berth_engine::container::RestartPolicy::No {
            watching.events.post(&c, "die");
        }
        let store = engine::store();
        if c.config.auto_remove && store.is_ok_and(|s| s.load_container(&c.config.id).is_err()) {
            watching.events.post(&c, "destroy");
        }
        watching.exits.record(&c.config.id, code.map(i64::from));
    });
    if let Err(e) = watcher {
        tracing::warn!("cannot watch container {id}: {e}");
        service.exits.record(id, None);
    }
}

fn timeout(call: &Call, c: &Container) -> Result<u64, ApiError> {
    Ok(call.number::<i64>("t")?.map_or(c.config.stop_timeout, |t| t.max(0) as u64))
}

pub fn stop(service: &Service, call: &Call, id: &str) -> Result<Reply, ApiError> {
    let (store, c) = find(id)?;
    if !remove::is_live(&c) {
        return Ok(Reply::Empty(StatusCode::NOT_MODIFIED));
    }
    remove::stop(&store, &c, timeout(call, &c)?)?;
    service.events.post(&c, "stop");
    no_content()
}

pub fn restart(service: &Arc<Service>, call: &Call, id: &str) -> Result<Reply, ApiError> {
    let (store, c) = find(id)?;
    if remove::is_live(&c) {
        remove::stop(&store, &c, timeout(call, &c)?)?;
        remove::wait_for_shim_exit(&c, Duration::from_secs(5));
    }
    let started = launch::launch(&store, &c.config.id, &service.exe)?;
    service.events.post(&c, "restart");
    watch_exit(service, &c, started);
    no_content()
}

pub fn kill(service: &Service, call: &Call, id: &str) -> Result<Reply, ApiError> {
    let (store, c) = find(id)?;
    let name = call.query("signal").filter(|s| !s.is_empty()).unwrap_or("SIGKILL");
    let signal = name
        .parse::<i32>()
        .ok()
        .or_else(|| shim::signal_by_name(name).map(|s| s as i32))
        .ok_or_else(|| ApiError::bad(format!("invalid signal: {name}")))?;
    if !remove::is_live(&c) {
        return Err(ApiError::conflict(format!("Container {} is not running", c.config.id)));
    }
    remove::kill(&store, &c, signal)?;
    service.events.post(&c, "kill");
    no_content()
}

pub fn pause(id: &str, pause: bool) -> Result<Reply, ApiError> {
    let (store, c) = find(id)?;
    remove::pause(&store, &c, pause)?;
    no_content()
}

pub fn rename(call: &Call, id: &str) -> Result<Reply, ApiError> {
    let (store, c) = find(id)?;
    let name = call.query("name").filter(|n| !n.is_empty()).ok_or_else(|| ApiError::bad("rename needs a name"))?;
    let name = name.trim_start_matches('/');
    if c.config.name == name {
        return Err(ApiError::conflict(format!("Renaming a container with the same name as its current name: {name}")));
    }
    crate::commands::containers::rename_to(&store, &c, name)?;
    no_content()
}

/// The terminal's size of a running container made with `tty`.
pub fn resize(call: &Call, id: &str) -> Result<Reply, ApiError> {
    let (store, c) = find(id)?;
    let (h, w) = (call.number::<u16>("h")?.unwrap_or(0), call.number::<u16>("w")?.unwrap_or(0));
    if !remove::is_live(&c) {
        return Err(ApiError::conflict(format!("Container {} is not running", c.config.id)));
    }
    let dir = store.container_dir(&c.config.id);
    crate::commands::attach::resize_container(&dir)(h, w);
    Ok(Reply::Empty(StatusCode::OK))
}

pub fn top(id: &str) -> Result<Reply, ApiError> {
    let (_, c) = find(id)?;
    let rows = crate::commands::containers::process_rows(&c)?;
    Ok(Reply::Json(StatusCode::OK, json!({"Titles": ["UID", "PID", "PPID", "CMD"], "Processes": rows})))
}

pub fn remove(service: &Service, call: &Call, id: &str) -> Result<Reply, ApiError> {
    let (store, c) = find(id)?;
    if remove::is_live(&c) && !call.flag("force") {
        return Err(ApiError::conflict(format!(
            "cannot remove container \"/{}\": container is running: stop the container before removing or force remove",
            c.config.name
        )));
    }
    remove::remove(&store, &c, call.flag("force"))
        .with_context(|| format!("cannot remove container {}", c.config.name))?;
    if call.flag("v") {
        berth_engine::project::remove_anonymous_volumes(&store, &c);
    }
    service.events.post(&c, "destroy");
    no_content()
}

/// `GET /containers/{id}/export`: the container's files as a tar stream.
pub fn export(id: &str) -> Result<Reply, ApiError> {
    let (store, c) = find(id)?;
    Ok(super::http::streamed("application/x-tar", move |tx| {
        let out = std::io::BufWriter::with_capacity(256 << 10, super::transfer::ToClient(tx));
        if let Err(e) = berth_engine::container::export::export(&store, &c, out).and_then(|mut w| w.flush()) {
            tracing::warn!("cannot export container {}: {e}", c.config.name);
        }
    }))
}

/// `GET /containers/{id}/changes`: the container's changes to its image's files.
pub fn changes(id: &str) -> Result<Reply, ApiError> {
    let (store, c) = find(id)?;
    let changes = berth_engine::container::commit::changes(&store, &c)
        .with_context(|| format!("cannot read the changes of container {}", c.config.name))?;
    let list: Vec<serde_json::Value> = changes
        .iter()
        .map(|(kind, path)| {
            let number = match kind.letter() {
                'C' => 0,
                'A' => 1,
                _ => 2,
            };
            json!({"Path": path, "Kind": number})
        })
        .collect();
    Ok(Reply::Json(StatusCode::OK, json!(list)))
}

/// `POST /containers/{id}/update`: memory, CPUs, process limit and restart policy, as
/// `berth update` changes them; other resources are refused by name when set.
pub fn update(call: &Call, id: &str) -> Result<Reply, ApiError> {
    use berth_engine::container::update::{self, Update};
    let (store, c) = find(id)?;
    let serde_json::Value::Object(mut body) = call.json::<serde_json::Value>()? else {
        return Err(ApiError::bad("the request body must be a JSON object"));
    };
    let number = |v: Option<serde_json::Value>| v.and_then(|v| v.as_i64()).filter(|n| *n != 0);
    let memory = number(body.remove("Memory")).map(|m| m as u64);
    let cpus = number(body.remove("NanoCpus")).map(|n| n as f64 / 1e9);
    let pids_limit = number(body.remove("PidsLimit"));
    let restart = match body.remove("RestartPolicy").as_ref().and_then(super::create::restart_policy) {
        Some(text) => Some(
            berth_engine::container::RestartPolicy::parse(&text)
                .ok_or_else(|| ApiError::bad(format!("invalid restart policy {text:?}")))?,
        ),
        None => None,
    };
    if let Some((key, _)) = body.iter().find(|(_, v)| !super::create::is_zero(v)) {
        return Err(ApiError::bad(format!("{key} is not supported by berth's update")));
    }
    update::update(&store, &c, &Update { memory, cpus, pids_limit, restart })?;
    Ok(Reply::Json(StatusCode::OK, json!({"Warnings": []})))
}
