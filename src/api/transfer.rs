//! What moves files and images through the API: a container's archive (`docker cp` both
//! ways), image archives (`save`, `load`) and pushes.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use berth_engine::container::{copy, copy_stream};
use berth_engine::image::pull::Progress;
use berth_engine::image::{archive, push as pusher};
use berth_engine::reference::ImageRef;
use berth_engine::registry::auth::Credentials;
use hyper::StatusCode;
use serde_json::json;

use super::http::{ApiError, Call, Reply, Sender, streamed};
use crate::engine;

/// Writes into a streamed reply, a chunk per write.
pub struct ToClient(pub Sender);

impl Write for ToClient {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.0.send(bytes::Bytes::copy_from_slice(data)) {
            Ok(data.len())
        } else {
            Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"))
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `X-Docker-Container-Path-Stat`: the path's name, size, Go file mode, time and link target.
fn path_stat(root: &std::path::Path, path: &str, host: Option<&std::path::Path>) -> std::io::Result<String> {
    use rustix::fs::{FileType, OFlags};
    let name = std::path::Path::new(path).file_name().map_or("/".into(), |n| n.to_string_lossy().into_owned());
    let (kind, perm, size, mtime, link) = match host {
        Some(file) => {
            let m = std::fs::metadata(file)?;
            (FileType::RegularFile, m.mode() & 0o7777, m.len(), m.mtime(), String::new())
        }
        None => {
            let in_root = berth_engine::fsutil::InRoot::open(root)?;
            let fd = in_root.open_at(path, OFlags::PATH | OFlags::NOFOLLOW)?;
            let st = rustix::fs::fstat(&fd)?;
            let kind = FileType::from_raw_mode(st.st_mode);
            let link = if kind == FileType::Symlink {
                rustix::fs::readlinkat(&fd, "", Vec::new())?.to_string_lossy().into_owned()
            } else {
                String::new()
            };
            (kind, st.st_mode & 0o7777, st.st_size as u64, st.st_mtime, link)
        }
    };
    // Go's os.FileMode: the permissions, and a bit for the kind.
    let bits: u32 = match kind {
        FileType::Directory => 1 << 31,
        FileType::Symlink => 1 << 27,
        FileType::Fifo => 1 << 25,
        FileType::Socket => 1 << 24,
        FileType::CharacterDevice => (1 << 26) | (1 << 21),
        FileType::BlockDevice => 1 << 26,
        _ => 0,
    };
    let stat = json!({"name": name, "size": size, "mode": bits | perm, "mtime": berth_engine::time::rfc3339(mtime), "linkTarget": link});
    Ok(base64::engine::general_purpose::STANDARD.encode(stat.to_string()))
}

fn no_path(path: &str, c: &str) -> ApiError {
    ApiError::not_found(format!("Could not find the file {path} in container {c}"))
}

/// `HEAD` and `GET /containers/{id}/archive?path=P`: the path's stat, and (`GET`) the path as
/// a tar stream whose one top entry is its name.
pub fn archive_out(call: &Call, id: &str, with_body: bool) -> Result<Reply, ApiError> {
    let path =
        call.query("path").filter(|p| !p.is_empty()).ok_or_else(|| ApiError::bad("path is required"))?.to_string();
    let store = engine::store()?;
    let c = store.find_container(id)?;
    let root = copy::root(&store, &c).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot reach the files of {}: {e}", c.config.name))
    })?;
    let host = copy_stream::etc_file(&store, &c, &path);
    let stat = path_stat(&root.path(), &path, host.as_deref()).map_err(|_| no_path(&path, &c.config.name))?;
    let headers = vec![("X-Docker-Container-Path-Stat", stat)];
    if !with_body {
        return Ok(Reply::Headed(headers, Box::new(Reply::Empty(StatusCode::OK))));
    }
    let stream = streamed("application/x-tar", move |tx| {
        let out = ToClient(tx);
        if let Err(e) = copy_stream::copy_out_tar(&store, &root.path(), &path, host.as_deref(), false, out) {
            tracing::warn!("cannot copy {path} out of {}: {e}", c.config.name);
        }
    });
    Ok(Reply::Headed(headers, Box::new(stream)))
}

/// `PUT /containers/{id}/archive?path=DIR`: the request's tar stream unpacked into `DIR`.
pub fn archive_in(call: &Call, id: &str) -> Result<Reply, ApiError> {
    let path = call.query("path").filter(|p| !p.is_empty()).ok_or_else(|| ApiError::bad("path is required"))?;
    let store = engine::store()?;
    let c = store.find_container(id)?;
    let root = copy::root(&store, &c).map_err(|e| {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot reach the files of {}: {e}", c.config.name))
    })?;
    if path_stat(&root.path(), path, None).is_err() {
        return Err(no_path(path, &c.config.name));
    }
    let upload = call.upload()?;
    copy_stream::copy_in_tar(&store, &root.path(), upload, path)
        .map_err(|e| ApiError::bad(format!("cannot copy into {path} of {}: {e}", c.config.name)))?;
    Ok(Reply::Empty(StatusCode::OK))
}

/// `GET /images/get?names=...` and `GET /images/{name}/get`: the images as one archive.
pub fn save(names: &[&str]) -> Result<Reply, ApiError> {
    if names.is_empty() {
        return Err(ApiError::bad("give the images to save (names)"));
    }
    let store = engine::store()?;
    let mut images = Vec::new();
    for query in names {
        let (name, record) = store.find_image(query)?;
        let name = match name {
            Some(n) => ImageRef::parse(&n).map_err(|e| ApiError::bad(e.to_string()))?,
            None => return Err(ApiError::bad(format!("save {query} by name, so that the archive can name it"))),
        };
        images.push((name, record));
    }
    Ok(streamed("application/x-tar", move |tx| {
        if let Err(e) = archive::save(&store, &images, std::io::BufWriter::with_capacity(256 << 10, ToClient(tx))) {
            tracing::warn!("cannot save images: {e}");
        }
    }))
}

/// `POST /images/load`: an archive read as it comes; Docker's JSON messages name each image.
pub fn load(call: &Call) -> Result<Reply, ApiError> {
    let store = engine::store()?;
    let loaded = archive::load(&store, call.upload()?, None)
        .map_err(|e| ApiError::bad(format!("cannot load the archive: {:#}", anyhow::Error::new(e))))?;
    let lines: Vec<u8> = loaded
        .iter()
        .flat_map(|n| super::http::json_bytes(&json!({"stream": format!("Loaded image: {}\n", n.familiar())})))
        .collect();
    Ok(Reply::Bytes("application/json", lines.into()))
}

/// The credentials a client sent with a pull or a push (`X-Registry-Auth`: base64 of JSON with
/// `username` and `password`, or `auth` as `user:password`). Tokens berth cannot use are
/// refused by name; none at all is fine (the stored ones, from `berth login`, apply).
pub fn sent_credentials(call: &Call) -> Result<Option<Credentials>, ApiError> {
    let Some(header) = call.registry_auth.as_deref().map(str::trim).filter(|h| !h.is_empty()) else { return Ok(None) };
    let engines = [
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
    ];
    let decoded = engines
        .iter()
        .find_map(|e| e.decode(header).ok())
        .ok_or_else(|| ApiError::bad("X-Registry-Auth is not base64"))?;
    let auth: serde_json::Value =
        serde_json::from_slice(&decoded).map_err(|e| ApiError::bad(format!("X-Registry-Auth is not JSON: {e}")))?;
    credentials_of(&auth)
}

/// Credentials from Docker's AuthConfig object.
pub fn credentials_of(auth: &serde_json::Value) -> Result<Option<Credentials>, ApiError> {
    let field = |k: &str| auth[k].as_str().filter(|v| !v.is_empty());
    if let Some(token) = ["identitytoken", "registrytoken"].into_iter().find(|k| field(k).is_some()) {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!("berth does not use registry tokens ({token}): send a username and password"),
        ));
    }
    if let (Some(username), Some(password)) = (field("username"), field("password")) {
        return Ok(Some(Credentials { username: username.into(), password: password.into() }));
    }
    let pair = field("auth")
        .and_then(|a| base64::engine::general_purpose::STANDARD.decode(a).ok())
        .and_then(|d| String::from_utf8(d).ok());
    Ok(pair.and_then(|p| p.split_once(':').map(|(u, pw)| Credentials { username: u.into(), password: pw.into() })))
}

/// The configuration for one pull or push: berth's, with the credentials the client sent.
pub fn registry_config(call: &Call, registry: &str) -> Result<berth_engine::registry::config::Config, ApiError> {
    let mut config = engine::config()?;
    if let Some(c) = sent_credentials(call)? {
        config.credentials.insert(registry.to_string(), c);
    }
    Ok(config)
}

/// `POST /auth`: whether the registry takes the credentials (the docker CLI's `login`, which
/// then keeps them itself and sends them with each pull and push).
pub fn login(call: &Call) -> Result<Reply, ApiError> {
    let auth: serde_json::Value = call.json()?;
    let credentials = credentials_of(&auth)?.ok_or_else(|| ApiError::bad("login needs a username and a password"))?;
    let server =
        auth["serveraddress"].as_str().filter(|s| !s.is_empty()).unwrap_or(berth_engine::reference::DOCKER_HUB);
    let registry = server.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
    let registry = if registry == "index.docker.io/v1" { berth_engine::reference::DOCKER_HUB } else { registry };
    crate::commands::login::check(registry, &credentials)
        .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, format!("{e:#}")))?;
    Ok(Reply::Json(StatusCode::OK, json!({"Status": "Login Succeeded", "IdentityToken": ""})))
}

/// `POST /images/{name}/push?tag=T`: the push's progress as Docker's JSON messages.
pub fn push(call: &Call, name: &str) -> Result<Reply, ApiError> {
    let full = match call.query("tag").filter(|t| !t.is_empty()) {
        Some(tag) => format!("{name}:{tag}"),
        None => name.to_string(),
    };
    let store = engine::store()?;
    let target = ImageRef::parse(&full).map_err(|e| ApiError::bad(e.to_string()))?;
    let (_, record) = store.find_image(&full)?;
    let config = registry_config(call, &target.registry)?;
    Ok(streamed("application/json", move |tx| {
        let tx = Arc::new(tx);
        tx.json(&json!({"status": format!("The push refers to repository [{}]", target.name())}));
        let progress = json_progress(tx.clone());
        let pushed = engine::runtime().map_err(|e| e.to_string()).and_then(|rt| {
            rt.block_on(pusher::push(&store, &config, &record, &target, progress))
                .map_err(|e| format!("{:#}", anyhow::Error::new(e)))
        });
        match pushed {
            Ok(digest) => {
                let tag = target.tag.clone().unwrap_or_else(|| "latest".into());
                tx.json(&json!({"status": format!("{tag}: digest: {digest}")}));
                tx.json(&json!({"progressDetail": {}, "aux": {"Tag": tag, "Digest": digest.to_string()}}));
            }
            Err(message) => {
                tx.json(&json!({"errorDetail": {"message": message}, "error": message}));
            }
        }
    }))
}

/// A pull's or a push's progress as Docker's JSON messages to `tx`.
pub fn json_progress(tx: Arc<Sender>) -> Arc<dyn Progress> {
    Arc::new(JsonProgress { tx, totals: Mutex::new(HashMap::new()) })
}

/// Progress as Docker's JSON messages, one per status and one per megabyte or so.
struct JsonProgress {
    tx: Arc<Sender>,
    totals: Mutex<HashMap<String, (u64, u64, u64)>>,
}

impl Progress for JsonProgress {
    fn status(&self, id: &str, status: &str) {
        self.tx.offer(&json!({"status": status, "id": short(id)}));
    }

    fn start(&self, id: &str, total: u64) {
        self.totals.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_string(), (0, total, 0));
    }

    fn advance(&self, id: &str, bytes: u64) {
        let mut totals = self.totals.lock().unwrap_or_else(|e| e.into_inner());
        let (current, total, shown) = totals.entry(id.to_string()).or_insert((0, 0, 0));
        *current += bytes;
        if *current - *shown >= 1 << 20 || *current == *total {
            *shown = *current;
            self.tx.offer(&json!({"status": "Downloading", "progressDetail": {"current": *current, "total": *total}, "id": short(id)}));
        }
    }
}

/// A layer as Docker's progress names it: the first twelve hex digits of its digest.
fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}
