//! The API's plumbing: a request as the handlers see it (its path without the version prefix,
//! its query and body), their replies, and errors in Docker's shape (`{"message": ...}` with
//! Docker's status codes).

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::{Method, Response, StatusCode};
use serde_json::Value;

pub type Body = BoxBody<Bytes, std::io::Error>;

/// The API versions served: Docker's oldest supported one to the newest berth follows.
pub const MIN_VERSION: (u32, u32) = (1, 24);
pub const MAX_VERSION: (u32, u32) = (1, 47);

pub fn version_text((major, minor): (u32, u32)) -> String {
    format!("{major}.{minor}")
}

/// A failed request: the status and the message Docker's clients show.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into() }
    }

    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn conflict(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::CONFLICT, message)
    }
}

/// The engine's errors under Docker's status codes: unknown objects are 404, objects in the
/// wrong state or names taken 409, what the user gave wrong 400, the rest 500.
impl<E: Into<anyhow::Error>> From<E> for ApiError {
    fn from(err: E) -> ApiError {
        let err: anyhow::Error = err.into();
        use berth_engine::container::remove::RemoveError;
        use berth_engine::container::store::ContainerError;
        use berth_engine::image::ops::ImageError;
        use berth_engine::network::NetworkError;
        use berth_engine::volume::VolumeError;
        use berth_engine::volume::VolumeUseError;
        let message = format!("{err:#}");
        for cause in err.chain() {
            let status = if let Some(e) = cause.downcast_ref::<ContainerError>() {
                match e {
                    ContainerError::NotFound(name) => return ApiError::not_found(format!("No such container: {name}")),
                    ContainerError::NameInUse(_) => StatusCode::CONFLICT,
                    ContainerError::BadName(_) | ContainerError::Ambiguous { .. } => StatusCode::BAD_REQUEST,
                    _ => continue,
                }
            } else if let Some(e) = cause.downcast_ref::<RemoveError>() {
                match e {
                    RemoveError::Running(_) | RemoveError::NotRunning(_) => StatusCode::CONFLICT,
                    _ => continue,
                }
            } else if let Some(ImageError::NotFound(name)) = cause.downcast_ref::<ImageError>() {
                return ApiError::not_found(format!("No such image: {name}"));
            } else if let Some(e) = cause.downcast_ref::<NetworkError>() {
                match e {
                    NetworkError::NotFound(name) => return ApiError::not_found(format!("network {name} not found")),
                    NetworkError::Exists(_) | NetworkError::InUse { .. } | NetworkError::AlreadyConnected { .. } => {
                        StatusCode::CONFLICT
                    }
                    NetworkError::BadName(_)
                    | NetworkError::Driver(_)
                    | NetworkError::Ipv6(_)
                    | NetworkError::Address { .. } => StatusCode::BAD_REQUEST,
                    NetworkError::NotConnected { .. } => StatusCode::NOT_FOUND,
                    _ => continue,
                }
            } else if let Some(e) = cause.downcast_ref::<VolumeError>() {
                match e {
                    VolumeError::NotFound(name) => return ApiError::not_found(format!("get {name}: no such volume")),
                    VolumeError::BadName(_) | VolumeError::Driver(_) | VolumeError::Options { .. } => {
                        StatusCode::BAD_REQUEST
                    }
                    _ => continue,
                }
            } else if let Some(VolumeUseError::InUse { .. }) = cause.downcast_ref::<VolumeUseError>() {
                StatusCode::CONFLICT
            } else {
                continue;
            };
            return ApiError::new(status, message);
        }
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

/// What a handler answers.
pub enum Reply {
    Json(StatusCode, Value),
    /// A status without a body (204 after a start, 304 when there was nothing to do).
    Empty(StatusCode),
    /// Bytes of the given content type, sent as a producer thread makes them (logs, events,
    /// a pull's progress, a wait's result): the headers go out at once.
    Stream(&'static str, tokio::sync::mpsc::Receiver<Bytes>),
    /// Bytes of the given content type, all at once.
    Bytes(&'static str, Bytes),
    /// Another reply with headers of its own (an archive's path stat).
    Headed(Vec<(&'static str, String)>, Box<Reply>),
}

/// A query's parameters in order; a key may come more than once (`names=a&names=b`).
#[derive(Debug, Default)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// The last value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    pub fn flag(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| matches!(v, "1" | "true" | "True"))
    }
}

/// A request body read as it arrives (an archive, an image, a build context), for the
/// handlers that take more than [`super::BODY_LIMIT`].
pub struct Upload {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    buf: Bytes,
}

impl Upload {
    pub fn new(body: hyper::body::Incoming) -> Upload {
        use http_body_util::BodyExt;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            let mut body = body;
            while let Some(frame) = body.frame().await {
                let chunk = match frame {
                    Ok(f) => match f.into_data() {
                        Ok(data) => Ok(data),
                        Err(_) => continue,
                    },
                    Err(e) => Err(e.to_string()),
                };
                if tx.send(chunk).await.is_err() {
                    return;
                }
            }
        });
        Upload { rx, buf: Bytes::new() }
    }
}

/// Read from the blocking pool: each read waits for the next piece of the body.
impl std::io::Read for Upload {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.buf.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.buf = chunk,
                Some(Err(e)) => return Err(std::io::Error::other(format!("the request body broke off: {e}"))),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len());
        out[..n].copy_from_slice(&self.buf[..n]);
        self.buf = self.buf.slice(n..);
        Ok(n)
    }
}

/// A request as a handler sees it.
pub struct Call {
    pub method: Method,
    /// The path's segments after the version prefix, percent-decoded.
    pub path: Vec<String>,
    pub query: Query,
    /// The body, whole (most requests), or empty when it is read as it comes through `upload`.
    pub body: Bytes,
    pub upload: std::cell::Cell<Option<Upload>>,
    /// The `X-Registry-Auth` header: credentials a client sends for a pull or a push.
    pub registry_auth: Option<String>,
}

impl Call {
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query.get(key)
    }

    /// The body as it comes (only for the routes that stream it in).
    pub fn upload(&self) -> Result<Upload, ApiError> {
        self.upload.take().ok_or_else(|| ApiError::bad("this request has no body"))
    }

    /// A boolean parameter as Docker reads one: `1`, `true` or `True` is true.
    pub fn flag(&self, key: &str) -> bool {
        self.query.flag(key)
    }

    /// A numeric parameter; a value that is not a number is a bad request.
    pub fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        self.query(key)
            .filter(|v| !v.is_empty())
            .map(|v| v.parse().map_err(|_| ApiError::bad(format!("invalid value for {key}: {v:?}"))))
            .transpose()
    }

    /// The body as JSON of type `T`; an empty body is `T`'s default.
    pub fn json<T: serde::de::DeserializeOwned + Default>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        serde_json::from_slice(&self.body).map_err(|e| ApiError::bad(format!("invalid JSON in the request body: {e}")))
    }

    /// The `filters` parameter as `key=value` words, as the command line's `--filter` takes
    /// them. Docker sends `{"key": ["value", ...]}`, and older clients `{"key": {"value": true}}`.
    pub fn filters(&self) -> Result<Vec<String>, ApiError> {
        let Some(text) = self.query("filters").filter(|t| !t.is_empty()) else { return Ok(Vec::new()) };
        let parsed: serde_json::Map<String, Value> =
            serde_json::from_str(text).map_err(|e| ApiError::bad(format!("invalid filters {text:?}: {e}")))?;
        let mut words = Vec::new();
        for (key, values) in parsed {
            let values: Vec<String> = match values {
                Value::Array(list) => list.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
                Value::Object(map) => {
                    map.into_iter().filter(|(_, on)| on.as_bool() == Some(true)).map(|(v, _)| v).collect()
                }
                other => return Err(ApiError::bad(format!("invalid filter {key}: {other}"))),
            };
            words.extend(values.into_iter().map(|v| format!("{key}={v}")));
        }
        Ok(words)
    }
}

/// A request's target, taken apart (a version prefix checked and dropped).
#[derive(Debug)]
pub struct Target {
    /// The path's segments after the version prefix.
    pub path: Vec<String>,
    pub query: Query,
}

/// Splits a request target into the path's segments without the `/vN.NN` prefix (a version
/// outside the ones served is refused), and the query's parameters.
pub fn parse_target(path: &str, query: Option<&str>) -> Result<Target, ApiError> {
    let mut segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    if let Some(v) = segments.first().and_then(|s| s.strip_prefix('v')).and_then(parse_version) {
        if v < MIN_VERSION {
            return Err(ApiError::bad(format!(
                "client version {} is too old. Minimum supported API version is {}, please upgrade your client to a newer version",
                version_text(v),
                version_text(MIN_VERSION)
            )));
        }
        if v > MAX_VERSION {
            return Err(ApiError::bad(format!(
                "client version {} is too new. Maximum supported API version is {}",
                version_text(v),
                version_text(MAX_VERSION)
            )));
        }
        segments.remove(0);
    }
    let params = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    Ok(Target { path: segments, query: Query(params) })
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// `%XX` escapes and `+` (a space, in a query) decoded; bad escapes are kept as they are.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The response of a reply, with the headers every answer of Docker's carries.
pub fn respond(reply: Result<Reply, ApiError>) -> Response<Body> {
    let (status, kind, body, extra) = match reply {
        Ok(reply) => parts(reply),
        Err(e) => {
            let body = full(json_bytes(&serde_json::json!({"message": e.message})));
            (e.status, Some("application/json"), body, Vec::new())
        }
    };
    let mut builder = with_server_headers(Response::builder().status(status));
    if let Some(kind) = kind {
        builder = builder.header("Content-Type", kind);
    }
    for (name, value) in extra {
        builder = builder.header(name, value);
    }
    builder.body(body).expect("a valid response")
}

/// A reply's status, content type, body and headers of its own.
type Parts = (StatusCode, Option<&'static str>, Body, Vec<(&'static str, String)>);

fn parts(reply: Reply) -> Parts {
    match reply {
        Reply::Json(status, value) => (status, Some("application/json"), full(json_bytes(&value)), Vec::new()),
        Reply::Empty(status) => (status, None, empty(), Vec::new()),
        Reply::Bytes(kind, bytes) => (StatusCode::OK, Some(kind), full(bytes), Vec::new()),
        Reply::Stream(kind, rx) => (StatusCode::OK, Some(kind), stream(rx), Vec::new()),
        Reply::Headed(headers, inner) => {
            let mut p = parts(*inner);
            p.3.extend(headers);
            p
        }
    }
}

pub fn with_server_headers(builder: hyper::http::response::Builder) -> hyper::http::response::Builder {
    builder
        .header("Api-Version", version_text(MAX_VERSION))
        .header("Docker-Experimental", "false")
        .header("Ostype", "linux")
        .header("Server", format!("berth/{}", env!("CARGO_PKG_VERSION")))
}

/// Docker's content types of a container's streams.
pub const RAW: &str = "application/vnd.docker.raw-stream";
pub const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";

/// A request that takes the connection over must ask for it (`Connection: Upgrade`,
/// `Upgrade: tcp`), as Docker's clients do; hyper cannot take over a connection otherwise.
pub fn require_upgrade(headers: &hyper::HeaderMap) -> Result<(), ApiError> {
    if headers.contains_key(hyper::header::UPGRADE) {
        return Ok(());
    }
    Err(ApiError::bad("this request takes the connection over: send Connection: Upgrade and Upgrade: tcp"))
}

/// The 101 answer that hands the connection to the stream.
pub fn upgraded_response(kind: &str) -> Response<Body> {
    with_server_headers(Response::builder().status(StatusCode::SWITCHING_PROTOCOLS))
        .header("Content-Type", kind)
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(empty())
        .expect("a valid response")
}

/// A value as Docker writes JSON: compact, one line.
pub fn json_bytes(value: &Value) -> Bytes {
    let mut out = serde_json::to_vec(value).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

pub fn full(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

pub fn empty() -> Body {
    full(Bytes::new())
}

fn stream(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    let frames = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(Frame::data(b)), rx))
    });
    StreamBody::new(frames).boxed()
}

/// A channel for a [`Reply::Stream`] and the thread that fills it: `produce` runs on a thread
/// of its own (it may wait as long as a container runs) and sends with `blocking_send`; it
/// stops when the client goes away (a send fails).
pub fn streamed(kind: &'static str, produce: impl FnOnce(Sender) + Send + 'static) -> Reply {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    std::thread::spawn(move || produce(Sender(tx)));
    Reply::Stream(kind, rx)
}

/// The producing end of a streamed reply.
pub struct Sender(tokio::sync::mpsc::Sender<Bytes>);

impl Sender {
    /// Sends bytes; false once the client has gone.
    pub fn send(&self, bytes: impl Into<Bytes>) -> bool {
        self.0.blocking_send(bytes.into()).is_ok()
    }

    pub fn json(&self, value: &Value) -> bool {
        self.send(json_bytes(value))
    }

    /// Sends without waiting, from inside async code (a pull's progress): a message that
    /// finds the channel full is dropped, as a progress line may be.
    pub fn offer(&self, value: &Value) {
        let _ = self.0.try_send(json_bytes(value));
    }

    pub fn closed(&self) -> bool {
        self.0.is_closed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_prefixes_and_queries() {
        let t = parse_target("/v1.41/containers/abc/json", Some("all=1&filters=%7B%22a%22%3A1%7D")).expect("valid");
        assert_eq!(t.path, ["containers", "abc", "json"]);
        assert_eq!(t.query.get("filters"), Some(r#"{"a":1}"#));
        assert_eq!(t.query.get("all"), Some("1"));
        let t = parse_target("/images/get", Some("names=a&names=b%3A1")).expect("valid");
        assert_eq!(t.query.all("names"), ["a", "b:1"]);
        let t = parse_target("/_ping", None).expect("valid");
        assert_eq!(t.path, ["_ping"]);
        let too_new = parse_target("/v1.99/info", None).expect_err("refused");
        assert!(too_new.message.contains("Maximum supported API version is 1.47"), "{}", too_new.message);
        assert!(parse_target("/v1.12/info", None).is_err());
        assert_eq!(percent_decode("a%2Fb+c%zz%"), "a/b c%zz%");
    }

    #[test]
    fn filters_in_both_shapes() {
        let call = |f: &str| Call {
            method: Method::GET,
            path: Vec::new(),
            query: Query(vec![("filters".to_string(), f.to_string())]),
            body: Bytes::new(),
            upload: Default::default(),
            registry_auth: None,
        };
        assert_eq!(
            call(r#"{"label":["a=b"],"status":["running"]}"#).filters().expect("valid"),
            ["label=a=b", "status=running"]
        );
        assert_eq!(call(r#"{"name":{"web":true,"db":false}}"#).filters().expect("valid"), ["name=web"]);
        assert_eq!(call(r#"{"name":"web"}"#).filters().expect_err("refused").status, StatusCode::BAD_REQUEST);
        assert_eq!(call("{").filters().expect_err("refused").status, StatusCode::BAD_REQUEST);
    }
}
