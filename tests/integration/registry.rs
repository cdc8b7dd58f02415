//! Test fixtures for images: a real `docker-registry` on a free loopback port, OCI image
//! layouts built offline (busybox from Debian's busybox-static), skopeo to push them, and a
//! per-test berth state directory.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

/// Fails loudly when a tool the tests need is missing: CI installs them (.ci/run).
pub fn tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("{name} is not installed; .ci/run installs it (apt-get install docker-registry skopeo busybox-static)")
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A `docker-registry` serving from its own storage directory; stopped when dropped.
pub struct Registry {
    child: Child,
    pub addr: std::net::IpAddr,
    pub port: u16,
    _dir: tempfile::TempDir,
}

/// How a registry serves TLS: its certificate and key, and the authorities whose client
/// certificates it demands (mutual TLS) if any.
#[derive(Default)]
pub struct Tls {
    pub certificate: PathBuf,
    pub key: PathBuf,
    pub client_cas: Option<PathBuf>,
}

/// How a test registry asks for credentials.
enum Auth<'a> {
    Open,
    /// HTTP basic authentication of one account.
    Password(&'a str, &'a str),
    /// Bearer tokens from the service at `realm`, signed by a key of the certificates in
    /// `bundle` (none of which the tests get that far with).
    Token {
        realm: &'a str,
        bundle: &'a Path,
    },
}

impl Registry {
    pub fn start() -> Registry {
        Registry::launch(Auth::Open, None, [127, 0, 0, 1].into())
    }

    /// A registry that takes HTTP basic authentication for `user` with `password`.
    pub fn start_with_password(user: &str, password: &str) -> Registry {
        Registry::launch(Auth::Password(user, password), None, [127, 0, 0, 1].into())
    }

    /// A plain-HTTP registry on `addr` that takes basic authentication.
    pub fn start_plain_with_password(addr: std::net::IpAddr, user: &str, password: &str) -> Registry {
        Registry::launch(Auth::Password(user, password), None, addr)
    }

    /// A registry serving HTTPS on `addr`, with basic authentication if `account` is given.
    pub fn start_tls(addr: std::net::IpAddr, tls: &Tls, account: Option<(&str, &str)>) -> Registry {
        let auth = account.map_or(Auth::Open, |(user, password)| Auth::Password(user, password));
        Registry::launch(auth, Some(tls), addr)
    }

    /// A registry serving HTTPS on `addr` that sends clients for a token to `realm`.
    pub fn start_tls_with_token_realm(addr: std::net::IpAddr, tls: &Tls, realm: &str) -> Registry {
        Registry::launch(Auth::Token { realm, bundle: &tls.certificate }, Some(tls), addr)
    }

    fn launch(auth: Auth, tls: Option<&Tls>, addr: std::net::IpAddr) -> Registry {
        let dir = tempfile::Builder::new().prefix("berth-registry-").tempdir().expect("tmp");
        let auth = match auth {
            Auth::Open => String::new(),
            Auth::Password(user, password) => {
                let htpasswd = dir.path().join("htpasswd");
                let out = Command::new(tool("htpasswd"))
                    .args(["-Bbc"])
                    .arg(&htpasswd)
                    .args([user, password])
                    .output()
                    .expect("htpasswd");
                assert!(out.status.success(), "htpasswd failed: {}", String::from_utf8_lossy(&out.stderr));
                format!("auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n", htpasswd.display())
            }
            Auth::Token { realm, bundle } => format!(
                "auth:\n  token:\n    realm: {realm}\n    service: berth-test\n    issuer: berth-test\n    \
                 rootcertbundle: {}\n",
                bundle.display()
            ),
        };
        let port = free_port();
        let mut tls_config = String::new();
        if let Some(tls) = tls {
            tls_config =
                format!("  tls:\n    certificate: {}\n    key: {}\n", tls.certificate.display(), tls.key.display());
            if let Some(cas) = &tls.client_cas {
                tls_config.push_str(&format!("    clientcas:\n      - {}\n", cas.display()));
            }
        }
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
                 http:\n  addr: {addr}:{port}\n{tls_config}{auth}",
                dir.path().join("data").display()
            ),
        )
        .expect("registry config");
        let child = Command::new(tool("docker-registry"))
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let registry = Registry { child, addr, port, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect((addr, port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start listening on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    pub fn host(&self) -> String {
        format!("{}:{}", self.addr, self.port)
    }

    /// Pushes an OCI layout (all its platforms) with skopeo, the third-party client.
    pub fn push_layout(&self, layout: &Path, name: &str) {
        self.push(layout, name, &[]);
    }

    /// The same, with `user:password` for a registry that wants them.
    pub fn push_layout_as(&self, layout: &Path, name: &str, creds: &str) {
        self.push(layout, name, &["--dest-creds", creds]);
    }

    fn push(&self, layout: &Path, name: &str, extra: &[&str]) {
        let (src, dest) = (format!("oci:{}:latest", layout.display()), format!("docker://{}/{name}", self.host()));
        let mut args = vec!["copy", "--all", "--dest-tls-verify=false"];
        args.extend_from_slice(extra);
        args.extend([src.as_str(), dest.as_str()]);
        skopeo(&args);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn skopeo(args: &[&str]) {
    let out = Command::new(tool("skopeo")).arg("--insecure-policy").args(args).output().expect("skopeo runs");
    assert!(out.status.success(), "skopeo {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A layer under construction.
pub struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    pub fn new() -> Layer {
        let mut b = tar::Builder::new(Vec::new());
        b.mode(tar::HeaderMode::Deterministic);
        Layer(b)
    }

    fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_700_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h
    }

    pub fn file(mut self, path: &str, data: &[u8], mode: u32) -> Layer {
        let mut h = Self::header(tar::EntryType::Regular, mode, data.len() as u64);
        self.0.append_data(&mut h, path, data).expect("tar file");
        self
    }

    pub fn dir(mut self, path: &str) -> Layer {
        let mut h = Self::header(tar::EntryType::Directory, 0o755, 0);
        self.0.append_data(&mut h, path, std::io::empty()).expect("tar dir");
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Layer {
        let mut h = Self::header(tar::EntryType::Symlink, 0o777, 0);
        self.0.append_link(&mut h, path, target).expect("tar symlink");
        self
    }

    /// The uncompressed tar and its gzip form.
    pub fn finish(self) -> (Vec<u8>, Vec<u8>) {
        let tar = self.0.into_inner().expect("tar");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).expect("gzip");
        (tar, gz.finish().expect("gzip"))
    }
}

/// The busybox image: the static binary and a link per applet, a minimal /etc.
pub fn busybox_layer() -> Layer {
    let mut binary = Vec::new();
    std::fs::File::open(tool("busybox")).expect("busybox").read_to_end(&mut binary).expect("read busybox");
    let list = Command::new(tool("busybox")).arg("--list").output().expect("busybox --list");
    let mut layer = Layer::new().dir("bin/").file("bin/busybox", &binary, 0o755);
    for applet in String::from_utf8_lossy(&list.stdout).lines().filter(|a| !a.is_empty() && *a != "busybox") {
        layer = layer.symlink(&format!("bin/{applet}"), "busybox");
    }
    layer
        .dir("etc/")
        .file(
            "etc/passwd",
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            0o644,
        )
        .file("etc/group", b"root:x:0:\nnogroup:x:65534:\n", 0o644)
        .dir("tmp/")
        .dir("root/")
}

/// Writes blobs into an OCI layout and returns descriptors.
pub struct Layout {
    pub dir: PathBuf,
    manifests: Vec<serde_json::Value>,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("layout dir");
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("oci-layout");
        Layout { dir: dir.to_path_buf(), manifests: Vec::new() }
    }

    fn blob(&self, data: &[u8]) -> String {
        let digest = sha256(data);
        std::fs::write(self.dir.join("blobs/sha256").join(&digest[7..]), data).expect("blob");
        digest
    }

    /// Adds an image of `layers` for `arch`; returns the manifest digest.
    pub fn image(&mut self, arch: &str, layers: Vec<(Vec<u8>, Vec<u8>)>, cmd: &[&str]) -> String {
        let diff_ids: Vec<String> = layers.iter().map(|(tar, _)| sha256(tar)).collect();
        let descriptors: Vec<serde_json::Value> = layers
            .iter()
            .map(|(_, gz)| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": self.blob(gz), "size": gz.len()}))
            .collect();
        let config = serde_json::json!({
            "created": "2026-01-01T00:00:00Z", "architecture": arch, "os": "linux",
            "config": {"Env": ["PATH=/bin"], "Cmd": cmd, "WorkingDir": "/"},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config = serde_json::to_vec(&config).expect("json");
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": self.blob(&config), "size": config.len()},
            "layers": descriptors,
        });
        let manifest = serde_json::to_vec(&manifest).expect("json");
        let digest = self.blob(&manifest);
        self.manifests.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": manifest.len(),
            "platform": {"architecture": arch, "os": "linux"},
        }));
        digest
    }

    /// Writes `index.json` naming the images `latest`: one image directly, several through a
    /// nested multi-platform index.
    pub fn finish(self) -> PathBuf {
        let top = if self.manifests.len() == 1 {
            let mut m = self.manifests[0].clone();
            m["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "latest"});
            m.as_object_mut().expect("object").remove("platform");
            m
        } else {
            let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": self.manifests});
            let data = serde_json::to_vec(&index).expect("json");
            serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": self.blob(&data), "size": data.len(),
                "annotations": {"org.opencontainers.image.ref.name": "latest"}})
        };
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [top]});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec(&index).expect("json")).expect("index.json");
        self.dir
    }
}

/// The architecture name of this host, as image configs spell it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
