//! Which handler answers a request: the method and the path's segments, after the version
//! prefix. Handlers are synchronous and run on the blocking pool; the ones that take the
//! connection over (attach, exec start) are asked first, with the request itself.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::http::{ApiError, Body, Call, Reply};
use super::{Service, build, containers, events, exec, images, objects, prune, stats, streams, system, transfer};

pub async fn route(service: Arc<Service>, mut req: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let super::http::Target { path, query, .. } = super::http::parse_target(req.uri().path(), req.uri().query())?;
    let method = req.method().clone();
    let segments: Vec<&str> = path.iter().map(String::as_str).collect();
    match (&method, segments.as_slice()) {
        (&Method::POST, ["containers", id, "attach"]) => {
            let id = id.to_string();
            return streams::attach(service, req, &id, &query).await;
        }
        (&Method::POST, ["exec", id, "start"]) => {
            let id = id.to_string();
            return exec::exec_start(service, req, &id).await;
        }
        _ => {}
    }
    let registry_auth = req.headers().get("X-Registry-Auth").and_then(|v| v.to_str().ok()).map(str::to_string);
    // Archives, images and build contexts are read as they come; the rest whole.
    let streams_in = matches!(
        (&method, segments.as_slice()),
        (&Method::PUT, ["containers", _, "archive"]) | (&Method::POST, ["images", "load"]) | (&Method::POST, ["build"])
    );
    let (body, upload) = if streams_in {
        (bytes::Bytes::new(), Some(super::http::Upload::new(req.into_body())))
    } else {
        (super::read_body(req.body_mut()).await?, None)
    };
    let call = Call { method, path, query, body, upload: std::cell::Cell::new(upload), registry_auth };
    let reply = tokio::task::spawn_blocking(move || dispatch(&service, &call))
        .await
        .unwrap_or_else(|e| Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the handler failed: {e}"))));
    Ok(super::http::respond(reply))
}

fn dispatch(service: &Arc<Service>, call: &Call) -> Result<Reply, ApiError> {
    let segments: Vec<&str> = call.path.iter().map(String::as_str).collect();
    use Method as M;
    let m = &call.method;
    match (m, segments.as_slice()) {
        (&M::GET | &M::HEAD, ["_ping"]) => Ok(Reply::Bytes("text/plain; charset=utf-8", "OK".into())),
        (&M::GET, ["version"]) => system::version(),
        (&M::GET, ["info"]) => system::info(),
        (&M::POST, ["auth"]) => transfer::login(call),
        (&M::GET, ["system", "df"]) => system::df(),
        (&M::GET, ["events"]) => events::events(service, call),
        (&M::POST, ["build"]) => build::build(call),

        (&M::GET, ["containers", "json"]) => containers::list(call),
        (&M::POST, ["containers", "create"]) => super::create::create(service, call),
        (&M::POST, ["containers", "prune"]) => prune::containers(call),
        (&M::GET, ["containers", id, "json"]) => containers::inspect(id),
        (&M::POST, ["containers", id, "start"]) => containers::start(service, id),
        (&M::POST, ["containers", id, "stop"]) => containers::stop(service, call, id),
        (&M::POST, ["containers", id, "restart"]) => containers::restart(service, call, id),
        (&M::POST, ["containers", id, "kill"]) => containers::kill(service, call, id),
        (&M::POST, ["containers", id, "pause"]) => containers::pause(id, true),
        (&M::POST, ["containers", id, "unpause"]) => containers::pause(id, false),
        (&M::POST, ["containers", id, "rename"]) => containers::rename(call, id),
        (&M::POST, ["containers", id, "wait"]) => streams::wait(service, call, id),
        (&M::POST, ["containers", id, "resize"]) => containers::resize(call, id),
        (&M::GET, ["containers", id, "logs"]) => streams::logs(call, id),
        (&M::HEAD, ["containers", id, "archive"]) => transfer::archive_out(call, id, false),
        (&M::GET, ["containers", id, "archive"]) => transfer::archive_out(call, id, true),
        (&M::PUT, ["containers", id, "archive"]) => transfer::archive_in(call, id),
        (&M::GET, ["containers", id, "top"]) => containers::top(id),
        (&M::GET, ["containers", id, "export"]) => containers::export(id),
        (&M::GET, ["containers", id, "changes"]) => containers::changes(id),
        (&M::POST, ["containers", id, "update"]) => containers::update(call, id),
        (&M::GET, ["containers", id, "stats"]) => stats::stats(call, id),
        (&M::DELETE, ["containers", id]) => containers::remove(service, call, id),
        (&M::POST, ["containers", id, "exec"]) => exec::exec_create(call, id),
        (&M::GET, ["exec", id, "json"]) => exec::exec_inspect(id),
        (&M::POST, ["exec", id, "resize"]) => exec::exec_resize(call, id),

        (&M::GET, ["images", "json"]) => images::list(call),
        (&M::POST, ["images", "create"]) => images::pull(call),
        (&M::POST, ["images", "prune"]) => prune::images(call),
        (&M::GET, ["images", "get"]) => transfer::save(&call.query.all("names")),
        (&M::POST, ["images", "load"]) => transfer::load(call),
        (&M::GET, ["images", rest @ .., "get"]) if !rest.is_empty() => transfer::save(&[&rest.join("/")]),
        (&M::POST, ["images", rest @ .., "push"]) if !rest.is_empty() => transfer::push(call, &rest.join("/")),
        (&M::GET, ["images", rest @ .., "json"]) if !rest.is_empty() => images::inspect(&rest.join("/")),
        (&M::GET, ["images", rest @ .., "history"]) if !rest.is_empty() => images::history(&rest.join("/")),
        (&M::POST, ["images", rest @ .., "tag"]) if !rest.is_empty() => images::tag(call, &rest.join("/")),
        (&M::DELETE, ["images", rest @ ..]) if !rest.is_empty() => images::remove(call, &rest.join("/")),

        (&M::GET, ["networks"]) => objects::networks(call),
        (&M::POST, ["networks", "create"]) => objects::network_create(call),
        (&M::POST, ["networks", "prune"]) => prune::networks(call),
        (&M::GET, ["networks", id]) => objects::network_inspect(id),
        (&M::DELETE, ["networks", id]) => objects::network_remove(id),
        (&M::POST, ["networks", id, "connect"]) => objects::network_connect(call, id, true),
        (&M::POST, ["networks", id, "disconnect"]) => objects::network_connect(call, id, false),

        (&M::GET, ["volumes"]) => objects::volumes(call),
        (&M::POST, ["volumes", "create"]) => objects::volume_create(call),
        (&M::POST, ["volumes", "prune"]) => prune::volumes(call),
        (&M::GET, ["volumes", name]) => objects::volume_inspect(name),
        (&M::DELETE, ["volumes", name]) => objects::volume_remove(name),

        // berth has no plugins: none to list, none to find (the docker CLI's inspect asks).
        (&M::GET, ["plugins"]) => Ok(Reply::Json(StatusCode::OK, serde_json::json!([]))),
        (&M::GET, ["plugins", name, "json"]) => Err(ApiError::not_found(format!("plugin {name} not found"))),
        _ => Err(not_served(m, &call.path)),
    }
}

/// A request berth does not answer: an unknown path is Docker's 404 "page not found"; a known
/// one berth does not serve yet says so by name.
fn not_served(method: &Method, path: &[String]) -> ApiError {
    let known = [
        "containers",
        "images",
        "networks",
        "volumes",
        "exec",
        "build",
        "swarm",
        "services",
        "plugins",
        "secrets",
        "configs",
        "nodes",
        "tasks",
        "distribution",
        "session",
        "auth",
        "commit",
        "events",
        "system",
    ];
    match path.first() {
        Some(first) if known.contains(&first.as_str()) => {
            ApiError::new(StatusCode::NOT_IMPLEMENTED, format!("berth does not serve {method} /{} yet", path.join("/")))
        }
        _ => ApiError::not_found("page not found"),
    }
}
