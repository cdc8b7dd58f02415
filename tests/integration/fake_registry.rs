//! A registry that misbehaves on purpose: an in-process HTTP server on a loopback port that
//! serves one small valid image, except for the fault it is told to inject. Every loop is
//! bounded; the server thread ends when the test drops it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::registry::{Layer, sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// None: a well-behaved registry that wants a bearer token from its own token service,
    /// which takes the user `tester` with the password `s3cret` (Debian has no token server
    /// to run, so this one stands in for the bearer flow).
    BearerOnly,
    /// The layer blob has the right size but other bytes.
    WrongDigest,
    /// The layer blob stops half-way (the announced length is not reached).
    Truncated,
    /// The layer blob never ends (the server gives up after 64 MiB).
    Endless,
    /// The manifest comes as a schema 1 manifest.
    WrongMediaType,
    /// The manifest URL redirects to itself.
    RedirectLoop,
    /// The manifest names its layer by a digest that is a path (`sha256:../..`).
    PathDigest,
    /// The layer is a gzip bomb: 300 MiB of zeros in about 300 KiB.
    GzipBomb,
    /// As `BearerOnly`, with the layer blob redirected to another host (127.0.0.2), which
    /// records the `Authorization` header it is sent.
    RedirectElsewhere,
    /// As `BearerOnly`, with the token service on another host (127.0.0.2), which records
    /// the `Authorization` header it is sent.
    RealmElsewhere,
    /// The first connection that asks for the manifest is closed without an answer, as a
    /// registry under load or behind a proxy closes one; the next is answered.
    ClosesFirstConnection,
}

pub struct FakeRegistry {
    pub port: u16,
    stop: Arc<AtomicBool>,
    /// What the other host of `RedirectElsewhere` or `RealmElsewhere` was sent as `Authorization` ("" for none),
    /// one entry a request.
    pub elsewhere: Arc<std::sync::Mutex<Vec<String>>>,
}

struct Image {
    manifest: Vec<u8>,
    config: Vec<u8>,
    config_digest: String,
    layer: Vec<u8>,
    layer_digest: String,
}

/// 300 MiB of zeros as a tar of one file, in gzip members of 1 MiB each (about 1 KiB
/// compressed): what a decompression bomb is.
fn gzip_bomb() -> Vec<u8> {
    use flate2::{Compression, write::GzEncoder};
    let member = |data: &[u8]| {
        let mut gz = GzEncoder::new(Vec::new(), Compression::best());
        gz.write_all(data).expect("gzip");
        gz.finish().expect("gzip")
    };
    let mut header = tar::Header::new_gnu();
    header.set_path("zeros").expect("path");
    header.set_size((300 << 20) - 1024);
    header.set_mode(0o644);
    header.set_cksum();
    let mut out = member(header.as_bytes());
    let zeros = member(&vec![0u8; 1 << 20]);
    for _ in 0..300 {
        out.extend_from_slice(&zeros);
    }
    out
}

fn image(fault: Fault) -> Image {
    let (tar, gz) = Layer::new().file("hello", b"world", 0o644).finish();
    let (diff_id, gz) = match fault {
        Fault::GzipBomb => (sha256(b"never reached"), gzip_bomb()),
        _ => (sha256(&tar), gz),
    };
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": crate::registry::host_arch(), "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .expect("json");
    let config_digest = sha256(&config);
    let layer_digest = match fault {
        Fault::PathDigest => "sha256:../../../../../../tmp/berth-path-digest".to_string(),
        _ => sha256(&gz),
    };
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": layer_digest, "size": gz.len()}],
    }))
    .expect("json");
    Image { manifest, config, config_digest, layer: gz, layer_digest }
}

impl FakeRegistry {
    pub fn start(fault: Fault) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let elsewhere = Arc::new(Mutex::new(Vec::new()));
        let image = Arc::new(image(fault));
        let other = matches!(fault, Fault::RedirectElsewhere | Fault::RealmElsewhere).then(|| {
            let listener = TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
            let other = listener.local_addr().expect("addr").port();
            let (image, seen) = (image.clone(), elsewhere.clone());
            listen(listener, stop.clone(), move |stream| {
                let _ = serve_elsewhere(stream, &image, &seen);
            });
            other
        });
        let mut closed_one = false;
        listen(listener, stop.clone(), move |stream| {
            let _ = serve(stream, &image, fault, port, other, &mut closed_one);
        });
        FakeRegistry { port, stop, elsewhere }
    }

    pub fn name(&self) -> String {
        format!("127.0.0.1:{}/fake/image:1", self.port)
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Serves the connections of `listener` one at a time until `stop` is set.
fn listen(listener: TcpListener, stop: Arc<AtomicBool>, mut serve: impl FnMut(TcpStream) + Send + 'static) {
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => serve(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
}

/// The request line's path and the `Authorization` header; `None` for a TLS handshake (berth
/// asks an insecure registry in HTTPS first), which is refused as a plain HTTP server does.
fn read_request(stream: &TcpStream) -> std::io::Result<Option<(String, String)>> {
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    if reader.fill_buf()?.first() == Some(&0x16) {
        write!(&*stream, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")?;
        return Ok(None);
    }
    let mut request = String::new();
    reader.read_line(&mut request)?;
    let mut authorization = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authorization = v.trim().to_string();
            }
        }
    }
    Ok(Some((request.split_whitespace().nth(1).unwrap_or("/").to_string(), authorization)))
}

/// The token service: a token for the user `tester` with the password `s3cret`.
fn serve_token(out: &mut TcpStream, authorization: &str) -> std::io::Result<()> {
    // base64("tester:s3cret")
    let (status, body): (_, &[u8]) = if authorization == "Basic dGVzdGVyOnMzY3JldA==" {
        ("200 OK", br#"{"token":"t0k3n"}"#)
    } else {
        ("401 Unauthorized", b"")
    };
    write!(out, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
    out.write_all(body)
}

/// The other host of `RedirectElsewhere` and `RealmElsewhere`: serves tokens and the layer,
/// noting what it was sent.
fn serve_elsewhere(mut stream: TcpStream, image: &Image, seen: &Mutex<Vec<String>>) -> std::io::Result<()> {
    let Some((path, authorization)) = read_request(&stream)? else { return Ok(()) };
    seen.lock().unwrap_or_else(|e| e.into_inner()).push(authorization.clone());
    if path.starts_with("/token") {
        return serve_token(&mut stream, &authorization);
    }
    write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", image.layer.len())?;
    stream.write_all(&image.layer)
}

fn serve(
    stream: TcpStream,
    image: &Image,
    fault: Fault,
    port: u16,
    other: Option<u16>,
    closed_one: &mut bool,
) -> std::io::Result<()> {
    let Some((path, authorization)) = read_request(&stream)? else { return Ok(()) };
    if fault == Fault::ClosesFirstConnection && path.contains("/manifests/") && !*closed_one {
        *closed_one = true;
        return Ok(());
    }
    let mut out = stream;
    let respond = |out: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]| -> std::io::Result<()> {
        write!(out, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len())?;
        for (k, v) in headers {
            write!(out, "{k}: {v}\r\n")?;
        }
        write!(out, "\r\n")?;
        out.write_all(body)
    };
    if matches!(fault, Fault::BearerOnly | Fault::RedirectElsewhere | Fault::RealmElsewhere) {
        if path.starts_with("/token") {
            return serve_token(&mut out, &authorization);
        }
        if authorization != "Bearer t0k3n" {
            let realm = match (fault, other) {
                (Fault::RealmElsewhere, Some(other)) => format!("127.0.0.2:{other}"),
                _ => format!("127.0.0.1:{port}"),
            };
            let challenge =
                format!(r#"Bearer realm="http://{realm}/token",service="fake",scope="repository:fake/image:pull""#);
            return respond(&mut out, "401 Unauthorized", &[("WWW-Authenticate", challenge)], b"");
        }
    }
    if path == "/v2/fake/image/manifests/1" {
        return match fault {
            Fault::RedirectLoop => {
                respond(&mut out, "302 Found", &[("Location", format!("http://127.0.0.1:{port}{path}"))], b"")
            }
            Fault::WrongMediaType => respond(
                &mut out,
                "200 OK",
                &[("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws".into())],
                br#"{"schemaVersion":1,"name":"fake/image","tag":"1","fsLayers":[]}"#,
            ),
            _ => respond(
                &mut out,
                "200 OK",
                &[("Content-Type", "application/vnd.oci.image.manifest.v1+json".into())],
                &image.manifest,
            ),
        };
    }
    if path == format!("/v2/fake/image/blobs/{}", image.config_digest) {
        return respond(&mut out, "200 OK", &[], &image.config);
    }
    if path == format!("/v2/fake/image/blobs/{}", image.layer_digest) {
        return match fault {
            Fault::WrongDigest => respond(&mut out, "200 OK", &[], &vec![b'x'; image.layer.len()]),
            Fault::RedirectElsewhere => {
                let location = format!("http://127.0.0.2:{}/layer", other.expect("the other host"));
                respond(&mut out, "307 Temporary Redirect", &[("Location", location)], b"")
            }
            Fault::Truncated => {
                write!(out, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", image.layer.len())?;
                out.write_all(&image.layer[..image.layer.len() / 2])
            }
            Fault::Endless => {
                write!(out, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
                let chunk = vec![0u8; 64 * 1024];
                for _ in 0..1024 {
                    out.write_all(&chunk)?;
                }
                Ok(())
            }
            _ => respond(&mut out, "200 OK", &[], &image.layer),
        };
    }
    if path == "/v2/" {
        return respond(&mut out, "200 OK", &[], b"{}");
    }
    respond(&mut out, "404 Not Found", &[], br#"{"errors":[{"code":"NOT_FOUND","message":"not here"}]}"#)
}
