//! A registry that misbehaves on purpose: an in-process HTTP server on a loopback port that
//! serves one small valid image, except for the fault it is told to inject. Every loop is
//! bounded; the server thread ends when the test drops it.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
}

pub struct FakeRegistry {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

struct Image {
    manifest: Vec<u8>,
    config: Vec<u8>,
    config_digest: String,
    layer: Vec<u8>,
    layer_digest: String,
}

fn image() -> Image {
    let (tar, gz) = Layer::new().file("hello", b"world", 0o644).finish();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": crate::registry::host_arch(), "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [sha256(&tar)]},
    }))
    .expect("json");
    let (config_digest, layer_digest) = (sha256(&config), sha256(&gz));
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
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            let image = image();
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = serve(stream, &image, fault, port);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        FakeRegistry { port, stop }
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

fn serve(stream: TcpStream, image: &Image, fault: Fault, port: u16) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    // A TLS handshake (berth asks an insecure registry in HTTPS first): refused as a plain
    // HTTP server refuses it.
    if reader.fill_buf()?.first() == Some(&0x16) {
        return write!(&stream, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
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
    let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut out = stream;
    let respond = |out: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]| -> std::io::Result<()> {
        write!(out, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len())?;
        for (k, v) in headers {
            write!(out, "{k}: {v}\r\n")?;
        }
        write!(out, "\r\n")?;
        out.write_all(body)
    };
    if fault == Fault::BearerOnly {
        // base64("tester:s3cret")
        if path.starts_with("/token") {
            return if authorization == "Basic dGVzdGVyOnMzY3JldA==" {
                respond(&mut out, "200 OK", &[("Content-Type", "application/json".into())], br#"{"token":"t0k3n"}"#)
            } else {
                respond(&mut out, "401 Unauthorized", &[], b"")
            };
        }
        if authorization != "Bearer t0k3n" {
            let challenge = format!(
                r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake",scope="repository:fake/image:pull""#
            );
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
