//! Private registries over TLS, against Debian's `docker-registry` serving HTTPS with
//! certificates the tests make (openssl's `req -x509` as the seed documents have it, rcgen
//! for authorities, client and expired certificates). A registry that is not loopback is
//! needed for verification to apply, so each test adds a TEST-NET-1 address (192.0.2.0/24)
//! to `lo`: the traffic never leaves the loopback interface.
//!
//! The tests write into the real /etc/docker/certs.d and /etc/berth/certs.d (where users
//! put certificates) under a directory of their own registry's address and port, removed
//! when the test ends; they run one at a time.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

use crate::images::{State, busybox_image};
use crate::registry::{Registry, Tls, skopeo, tool};
use crate::support::{require_root, stderr};

static SERIAL: Mutex<()> = Mutex::new(());

/// An address of TEST-NET-1 on `lo`, removed when dropped.
struct LoopbackAddress(IpAddr);

impl LoopbackAddress {
    fn add(last: u8) -> LoopbackAddress {
        require_root();
        let addr = IpAddr::from([192, 0, 2, last]);
        let _ = ip(&["addr", "del", &format!("{addr}/32"), "dev", "lo"]);
        assert!(ip(&["addr", "add", &format!("{addr}/32"), "dev", "lo"]), "cannot add {addr} to lo");
        LoopbackAddress(addr)
    }
}

impl Drop for LoopbackAddress {
    fn drop(&mut self) {
        ip(&["addr", "del", &format!("{}/32", self.0), "dev", "lo"]);
    }
}

fn ip(args: &[&str]) -> bool {
    Command::new("ip").args(args).output().is_ok_and(|o| o.status.success())
}

/// `BASE/<host>/` with the files given; removed (with the parents it made) when dropped.
struct CertsDir {
    dir: PathBuf,
    made: Vec<PathBuf>,
}

impl CertsDir {
    fn put(base: &str, host: &str, files: &[(&str, &str)]) -> CertsDir {
        let dir = Path::new(base).join(host);
        let made: Vec<PathBuf> = dir.ancestors().take_while(|p| !p.exists()).map(Path::to_path_buf).collect();
        std::fs::create_dir_all(&dir).expect("certs.d directory");
        for (name, text) in files {
            std::fs::write(dir.join(name), text).expect("certificate file");
        }
        CertsDir { dir, made }
    }
}

impl Drop for CertsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        for parent in &self.made {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// A certificate authority of the test's own.
struct Authority {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Authority {
    fn new() -> Authority {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, "berth test authority");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let pem = params.self_signed(&key).expect("authority").pem();
        Authority { issuer: Issuer::new(params, key), pem }
    }

    /// A certificate for `names` (and its key), written into `dir` as NAME.pem and NAME.key.
    fn sign(&self, dir: &Path, name: &str, names: &[String], expired: bool) -> (PathBuf, PathBuf, String) {
        let key = KeyPair::generate().expect("key");
        let mut params = CertificateParams::new(names.to_vec()).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        if expired {
            params.not_before = rcgen::date_time_ymd(2024, 1, 1);
            params.not_after = rcgen::date_time_ymd(2025, 1, 1);
        }
        let cert = params.signed_by(&key, &self.issuer).expect("certificate").pem();
        let (cert_path, key_path) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
        std::fs::write(&cert_path, &cert).expect("write certificate");
        std::fs::write(&key_path, key.serialize_pem()).expect("write key");
        (cert_path, key_path, cert)
    }
}

/// `openssl req -x509` for `addr`, as the seed documents make a registry's certificate: a
/// self-signed certificate that is also a CA's.
fn openssl_self_signed(dir: &Path, addr: IpAddr) -> Tls {
    let (certificate, key) = (dir.join("registry.crt"), dir.join("registry.key"));
    let out = Command::new(tool("openssl"))
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=registry.test"])
        .arg("-addext")
        .arg(format!("subjectAltName=DNS:registry.test,IP:{addr}"))
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&certificate)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl failed: {}", String::from_utf8_lossy(&out.stderr));
    Tls { certificate, key, client_cas: None }
}

fn failed(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "berth succeeded where it should not:\n{}", stderr(out));
    stderr(out)
}

#[test]
fn a_self_signed_certificate_trusted_through_docker_certs_d_for_login_pull_and_push() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lo = LoopbackAddress::add(11);
    let state = State::new();
    let tls = openssl_self_signed(state.dir.path(), lo.0);
    let registry = Registry::start_tls(lo.0, &tls, Some(("tester", "s3cret")));
    registry.push_layout_as(&busybox_image(state.dir.path()), "private/busybox:1", "tester:s3cret");
    let host = registry.host();
    let name = format!("{host}/private/busybox:1");

    let e = failed(&state.berth(&["pull", &name]));
    for words in [&format!("the certificate of {host}") as &str, "CN=registry.test", "does not trust"] {
        assert!(e.contains(words), "the refusal says {words:?}: {e}");
    }
    assert!(e.contains(&format!("/etc/docker/certs.d/{host}/ca.crt")) && e.contains("insecure"), "{e}");
    let login = ["login", "-u", "tester", "--password-stdin", host.as_str()];
    failed(&state.berth_with_input(&login, "s3cret\n"));

    let pem = std::fs::read_to_string(&tls.certificate).expect("certificate");
    let _trust = CertsDir::put("/etc/docker/certs.d", &host, &[("ca.crt", &pem)]);
    let out = state.berth_with_input(&login, "s3cret\n");
    assert!(out.status.success(), "login over TLS: {}", stderr(&out));
    state.ok(&["pull", "-q", &name]);
    let copy = format!("{host}/private/copy:2");
    state.ok(&["tag", &name, &copy]);
    state.ok(&["push", &copy]);
    skopeo(&["inspect", "--tls-verify=false", "--creds", "tester:s3cret", &format!("docker://{copy}")]);
}

#[test]
fn an_authority_trusted_through_berth_certs_d_or_the_system_store() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lo = LoopbackAddress::add(12);
    let state = State::new();
    let ca = Authority::new();
    let (certificate, key, _) = ca.sign(state.dir.path(), "registry", &[lo.0.to_string()], false);
    let registry = Registry::start_tls(lo.0, &Tls { certificate, key, client_cas: None }, None);
    registry.push_layout(&busybox_image(state.dir.path()), "test/busybox:1");
    let host = registry.host();
    let name = format!("{host}/test/busybox:1");

    let e = failed(&state.berth(&["pull", &name]));
    assert!(e.contains("berth test authority") && e.contains("does not trust"), "{e}");
    {
        let _trust = CertsDir::put("/etc/berth/certs.d", &host, &[("company.crt", &ca.pem)]);
        state.ok(&["pull", "-q", &name]);
        state.ok(&["rmi", &name]);
        // A mirror over TLS is trusted the same way, by its own address.
        let config = format!("[registries.mirrors]\n\"registry.invalid\" = [\"https://{host}\"]\n");
        std::fs::write(state.dir.path().join("config.toml"), config).expect("config");
        state.ok(&["pull", "-q", "registry.invalid/test/busybox:1"]);
        std::fs::remove_file(state.dir.path().join("config.toml")).expect("config");
    }
    let bundle = state.dir.path().join("bundle.pem");
    std::fs::write(&bundle, &ca.pem).expect("bundle");
    let out = state.command(&["pull", "-q", &name]).env("SSL_CERT_FILE", &bundle).output().expect("berth runs");
    assert!(out.status.success(), "trusted through SSL_CERT_FILE: {}", stderr(&out));
    state.ok(&["rmi", &name]);
    let out = state.command(&["pull", "-q", &name]).env("SSL_CERT_DIR", state.dir.path()).output().expect("berth runs");
    assert!(out.status.success(), "trusted through SSL_CERT_DIR: {}", stderr(&out));
}

#[test]
fn mutual_tls_with_a_client_certificate_and_without_one() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lo = LoopbackAddress::add(13);
    let state = State::new();
    let ca = Authority::new();
    let dir = state.dir.path();
    let (certificate, key, _) = ca.sign(dir, "registry", &[lo.0.to_string()], false);
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("ca");
    let registry = Registry::start_tls(lo.0, &Tls { certificate, key, client_cas: Some(ca_file) }, None);
    let (client_cert, client_key, _) = ca.sign(dir, "client", &[], false);
    let skopeo_certs = dir.join("skopeo-certs");
    std::fs::create_dir(&skopeo_certs).expect("mkdir");
    std::fs::copy(&client_cert, skopeo_certs.join("client.cert")).expect("copy");
    std::fs::copy(&client_key, skopeo_certs.join("client.key")).expect("copy");
    let layout = busybox_image(dir);
    let host = registry.host();
    let name = format!("{host}/test/busybox:1");
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-cert-dir",
        &skopeo_certs.display().to_string(),
        &format!("oci:{}:latest", layout.display()),
        &format!("docker://{name}"),
    ]);

    let e = {
        let _trust = CertsDir::put("/etc/docker/certs.d", &host, &[("ca.crt", &ca.pem)]);
        failed(&state.berth(&["pull", &name]))
    };
    assert!(e.contains("client certificate") && e.contains(&format!("/etc/docker/certs.d/{host}/")), "{e}");

    let read = |p: &Path| std::fs::read_to_string(p).expect("read");
    let (cert, key) = (read(&client_cert), read(&client_key));
    let files = [("ca.crt", ca.pem.as_str()), ("client.cert", cert.as_str()), ("client.key", key.as_str())];
    let _trust = CertsDir::put("/etc/docker/certs.d", &host, &files);
    state.ok(&["pull", "-q", &name]);
}

#[test]
fn an_expired_certificate_is_refused_by_name() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lo = LoopbackAddress::add(14);
    let state = State::new();
    let ca = Authority::new();
    let (certificate, key, _) = ca.sign(state.dir.path(), "old-registry", &[lo.0.to_string()], true);
    let registry = Registry::start_tls(lo.0, &Tls { certificate, key, client_cas: None }, None);
    let host = registry.host();
    let _trust = CertsDir::put("/etc/docker/certs.d", &host, &[("ca.crt", &ca.pem)]);
    let e = failed(&state.berth(&["pull", &format!("{host}/test/busybox:1")]));
    assert!(e.contains("CN=old-registry") && e.contains("expired on") && e.contains("2025"), "{e}");
}

#[test]
fn loopback_speaks_https_unverified_and_a_plain_registry_gets_no_credentials_unless_insecure() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let state = State::new();
    // Loopback is insecure as Docker has it: HTTPS without verification, no set-up at all.
    let tls = openssl_self_signed(state.dir.path(), [127, 0, 0, 1].into());
    let registry = Registry::start_tls([127, 0, 0, 1].into(), &tls, None);
    registry.push_layout(&busybox_image(state.dir.path()), "test/busybox:1");
    state.ok(&["pull", "-q", &format!("{}/test/busybox:1", registry.host())]);

    // A registry on a non-loopback address that serves plain HTTP is not spoken to in plain
    // HTTP (so no password goes over it) until it is listed as insecure.
    let lo = LoopbackAddress::add(15);
    let plain = Registry::start_plain_with_password(lo.0, "tester", "s3cret");
    let login = ["login", "-u", "tester", "--password-stdin", &plain.host()];
    let e = failed(&state.berth_with_input(&login, "s3cret\n"));
    assert!(e.contains("does not speak TLS") && e.contains("insecure"), "{e}");
    let config = format!("[registries]\ninsecure = [\"{}\"]\n", plain.host());
    std::fs::write(state.dir.path().join("config.toml"), config).expect("config");
    let out = state.berth_with_input(&login, "s3cret\n");
    assert!(out.status.success(), "listed as insecure, the registry gets the login: {}", stderr(&out));
}

/// A secure registry whose token service is in plain HTTP: the password would cross the
/// network in the clear, so berth refuses before sending it (Docker would send it).
#[test]
fn a_secure_registrys_token_realm_in_plain_http_gets_no_credentials() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let lo = LoopbackAddress::add(16);
    let state = State::new();
    let tls = openssl_self_signed(state.dir.path(), lo.0);
    let realm = std::net::TcpListener::bind("127.0.0.2:0").expect("bind 127.0.0.2");
    let url = format!("http://{}/token", realm.local_addr().expect("addr"));
    realm.set_nonblocking(true).expect("nonblocking");
    let registry = Registry::start_tls_with_token_realm(lo.0, &tls, &url);
    let host = registry.host();
    let pem = std::fs::read_to_string(&tls.certificate).expect("certificate");
    let _trust = CertsDir::put("/etc/docker/certs.d", &host, &[("ca.crt", &pem)]);

    let e = failed(&state.berth_with_input(&["login", "-u", "tester", "--password-stdin", &host], "s3cret\n"));
    assert!(e.contains(&url) && e.contains("plain HTTP"), "the refusal names the realm: {e}");
    assert!(realm.accept().is_err(), "the token service was asked at all");
}
