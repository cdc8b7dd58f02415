//! TLS to registries, trusted as Docker trusts it: the host's store (the system bundle, or
//! `SSL_CERT_FILE` / `SSL_CERT_DIR`), and for each registry the files of
//! `certs.d/<host[:port]>/` under /etc/berth and /etc/docker: `*.crt` are authorities,
//! `*.cert` with the `*.key` of the same name a client certificate. A certificate placed
//! there is also accepted as the registry's own when the registry presents exactly it, even
//! a self-signed CA certificate (what `openssl req -x509` makes), but only for that registry.
//!
//! A refused certificate is described in words (`Failure`), with what to do about it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Where per-registry certificates are looked for, berth's own first.
pub const CERTS_DIRS: [&str; 2] = ["/etc/berth/certs.d", "/etc/docker/certs.d"];

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {}: {message}", path.display())]
    Read { path: PathBuf, message: String },
    #[error("the client key {} has no certificate {} beside it", key.display(), key.with_extension("cert").display())]
    KeyWithoutCert { key: PathBuf },
    #[error("the client certificate {} has no key {} beside it", cert.display(), cert.with_extension("key").display())]
    CertWithoutKey { cert: PathBuf },
    #[error("cannot use the client certificate {}: {message}", cert.display())]
    Client { cert: PathBuf, message: String },
    #[error("cannot set up TLS for {host}: {message}")]
    Setup { host: String, message: String },
}

/// The last certificate a verifier refused, in words; the client reads it to explain a
/// failed connection instead of the TLS library's terse error.
#[derive(Debug, Default, Clone)]
pub struct Failure(Arc<Mutex<Option<String>>>);

impl Failure {
    pub fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    fn set(&self, message: String) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
    }
}

/// The TLS set-up for `host` (`host[:port]`, as in the URL): verified against the host's
/// store and its certs.d files, or, for an insecure registry, not verified at all.
pub fn client_config(host: &str, verify: bool) -> Result<(ClientConfig, Failure), TlsError> {
    client_config_in(host, verify, &CERTS_DIRS.map(Path::new))
}

fn client_config_in(host: &str, verify: bool, dirs: &[&Path]) -> Result<(ClientConfig, Failure), TlsError> {
    let files = HostFiles::read(host, dirs)?;
    let verifier = Verifier::new(host, verify, files.cas)?;
    let failure = verifier.failure.clone();
    let setup = |e: rustls::Error| TlsError::Setup { host: host.to_string(), message: e.to_string() };
    let builder = ClientConfig::builder_with_provider(verifier.provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(setup)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let config = match files.client {
        Some((cert, chain, key)) => {
            builder.with_client_auth_cert(chain, key).map_err(|e| TlsError::Client { cert, message: e.to_string() })?
        }
        None => builder.with_no_client_auth(),
    };
    Ok((config, failure))
}

/// The host's trust store, read once: `SSL_CERT_FILE`/`SSL_CERT_DIR` or the system bundle;
/// the roots compiled into berth only when the host has none at all.
fn system_roots() -> &'static RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots = RootCertStore::empty();
        let found = rustls_native_certs::load_native_certs();
        for e in &found.errors {
            tracing::debug!("reading the host's trust store: {e}");
        }
        let (added, _) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            tracing::warn!("the host's trust store has no certificates; using the roots built into berth");
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        roots
    })
}

/// What `certs.d/<host>/` holds, over all the directories.
#[derive(Default)]
struct HostFiles {
    cas: Vec<CertificateDer<'static>>,
    /// The certificate's path, its chain and its key.
    client: Option<(PathBuf, Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
}

impl HostFiles {
    fn read(host: &str, dirs: &[&Path]) -> Result<HostFiles, TlsError> {
        let mut files = HostFiles::default();
        for dir in dirs {
            let dir = dir.join(host);
            let read = |path: &Path, e: &dyn std::fmt::Display| TlsError::Read {
                path: path.to_path_buf(),
                message: e.to_string(),
            };
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(read(&dir, &e)),
            };
            let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            paths.sort();
            for path in paths {
                match path.extension().and_then(|e| e.to_str()) {
                    Some("crt") => {
                        let certs: Vec<_> = CertificateDer::pem_file_iter(&path)
                            .and_then(|certs| certs.collect::<Result<_, _>>())
                            .map_err(|e| read(&path, &e))?;
                        if certs.is_empty() {
                            return Err(read(&path, &"no PEM certificate in it"));
                        }
                        files.cas.extend(certs);
                    }
                    Some("cert") => {
                        let key = path.with_extension("key");
                        if !key.exists() {
                            return Err(TlsError::CertWithoutKey { cert: path });
                        }
                        let chain: Vec<_> = CertificateDer::pem_file_iter(&path)
                            .and_then(|certs| certs.collect::<Result<_, _>>())
                            .map_err(|e| read(&path, &e))?;
                        let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| read(&key, &e))?;
                        if files.client.is_none() {
                            files.client = Some((path, chain, key));
                        }
                    }
                    Some("key") if !path.with_extension("cert").exists() => {
                        return Err(TlsError::KeyWithoutCert { key: path });
                    }
                    _ => {}
                }
            }
        }
        Ok(files)
    }
}

#[derive(Debug)]
struct Verifier {
    host: String,
    /// `None` for an insecure registry: any certificate is accepted.
    inner: Option<Arc<WebPkiServerVerifier>>,
    /// The certificates of the registry's certs.d directory.
    pinned: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
    failure: Failure,
}

impl Verifier {
    /// Trusts the host's store and `cas`, or (with `verify` false) any certificate.
    fn new(host: &str, verify: bool, cas: Vec<CertificateDer<'static>>) -> Result<Verifier, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let inner = if verify {
            let mut roots = system_roots().clone();
            for ca in &cas {
                // One that is no usable authority may still be the registry's own certificate.
                let _ = roots.add(ca.clone());
            }
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| TlsError::Setup { host: host.to_string(), message: e.to_string() })?;
            Some(verifier)
        } else {
            None
        };
        Ok(Verifier { host: host.to_string(), inner, pinned: cas, provider, failure: Failure::default() })
    }

    fn algorithms(&self) -> &WebPkiSupportedAlgorithms {
        &self.provider.signature_verification_algorithms
    }
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        let error = match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Ok(verified) => return Ok(verified),
            Err(e) => e,
        };
        let error = if self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) {
            match pinned(end_entity, server_name, now) {
                Ok(()) => return Ok(ServerCertVerified::assertion()),
                Err(e) => e,
            }
        } else {
            error
        };
        self.failure.set(describe(&self.host, &server_name.to_str(), &error, end_entity));
        Err(error)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms())
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms().supported_schemes()
    }
}

/// Checks a certificate the registry's certs.d directory holds, presented as the registry's
/// own: its name and validity, as Docker does for a leaf in its pool.
fn pinned(cert: &CertificateDer<'_>, server_name: &ServerName<'_>, now: UnixTime) -> Result<(), rustls::Error> {
    verify_server_name(&ParsedCertificate::try_from(cert)?, server_name)?;
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref())
        .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let now = now.as_secs() as i64;
    let validity = parsed.validity();
    if now > validity.not_after.timestamp() {
        return Err(rustls::Error::InvalidCertificate(CertificateError::Expired));
    }
    if now < validity.not_before.timestamp() {
        return Err(rustls::Error::InvalidCertificate(CertificateError::NotValidYet));
    }
    Ok(())
}

/// A failed connection explained, when TLS was the cause: a registry that does not speak
/// TLS, or one that demands a client certificate. `error` is any error whose chain holds
/// the TLS library's.
pub fn explain(host: &str, error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return explain_tls(host, tls);
        }
        // An I/O error's `source` skips the error it wraps; that may be the TLS one.
        source = match e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    None
}

fn explain_tls(host: &str, error: &rustls::Error) -> Option<String> {
    use rustls::AlertDescription as Alert;
    let insecure = format!("list \"{host}\" in `insecure` under [registries] in {}", super::config::DEFAULT_CONFIG);
    match error {
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => Some(format!(
            "{host} does not speak TLS (it may serve plain HTTP); berth speaks plain HTTP only to a loopback \
             registry or one listed as insecure: if it is on a network you trust, {insecure}"
        )),
        rustls::Error::AlertReceived(
            Alert::CertificateRequired | Alert::BadCertificate | Alert::UnknownCA | Alert::CertificateUnknown,
        ) => Some(format!(
            "{host} demands a client certificate and refused berth's ({error}); put the client certificate and \
             its key in {}/{host}/client.cert and client.key",
            CERTS_DIRS[1]
        )),
        _ => None,
    }
}

/// A refused certificate in words, with what to do about it.
fn describe(host: &str, name: &str, error: &rustls::Error, cert: &CertificateDer<'_>) -> String {
    let Ok((_, parsed)) = x509_parser::parse_x509_certificate(cert.as_ref()) else {
        return format!("the certificate of {host} cannot be read ({error})");
    };
    let subject = parsed.subject().to_string();
    let what = format!("the certificate of {host} (subject {subject:?})");
    let rustls::Error::InvalidCertificate(e) = error else {
        return format!("{what} was refused: {error}");
    };
    match e {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
            format!("{what} expired on {}; the registry needs a new one", parsed.validity().not_after)
        }
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            format!("{what} is not valid before {} (is this host's clock right?)", parsed.validity().not_before)
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!("{what} is for {}, not for {name}", names(&parsed))
        }
        CertificateError::UnknownIssuer | CertificateError::Other(_) | CertificateError::BadSignature => format!(
            "{what}, issued by {:?}, is signed by an authority this host does not trust. To trust it for this \
             registry, put the authority's certificate (for a self-signed certificate, the certificate itself) in \
             {}/{}/ca.crt; or install the authority in the host's trust store (update-ca-certificates); or, on a \
             network you trust, list \"{host}\" in `insecure` under [registries] in {}",
            parsed.issuer().to_string(),
            CERTS_DIRS[1],
            host,
            super::config::DEFAULT_CONFIG,
        ),
        other => format!("{what} was refused: {other:?}"),
    }
}

/// The names a certificate is valid for, as `DNS:x, IP:y`, or its subject's CN without any.
fn names(cert: &x509_parser::certificate::X509Certificate<'_>) -> String {
    use x509_parser::extensions::GeneralName;
    let mut out = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(d) => out.push(format!("DNS:{d}")),
                GeneralName::IPAddress(ip) => {
                    let ip = match ip.len() {
                        4 => <[u8; 4]>::try_from(*ip).ok().map(std::net::IpAddr::from),
                        _ => <[u8; 16]>::try_from(*ip).ok().map(std::net::IpAddr::from),
                    };
                    out.extend(ip.map(|ip| format!("IP:{ip}")));
                }
                _ => {}
            }
        }
    }
    if out.is_empty() { "no name at all (no subjectAltName)".into() } else { out.join(", ") }
}

#[cfg(test)]
mod tests {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};

    use super::*;

    fn params(cn: &str, names: &[&str]) -> CertificateParams {
        let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).expect("params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p
    }

    /// Writes `certs.d/<host>/NAME` with `pem`.
    fn put(dir: &Path, host: &str, name: &str, pem: &str) {
        std::fs::create_dir_all(dir.join(host)).expect("mkdir");
        std::fs::write(dir.join(host).join(name), pem).expect("write");
    }

    fn verify(dir: &Path, host: &str, name: &str, cert: &[u8]) -> Result<(), String> {
        let files = HostFiles::read(host, &[dir]).map_err(|e| e.to_string())?;
        let verifier = Verifier::new(host, true, files.cas).map_err(|e| e.to_string())?;
        let server = ServerName::try_from(name.to_string()).expect("name");
        match verifier.verify_server_cert(&CertificateDer::from(cert.to_vec()), &[], &server, &[], UnixTime::now()) {
            Ok(_) => Ok(()),
            Err(e) => Err(verifier.failure.take().unwrap_or_else(|| format!("no words for {e}"))),
        }
    }

    #[test]
    fn a_self_signed_ca_certificate_in_certs_d_is_the_registrys_own_and_only_its_own() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = KeyPair::generate().expect("key");
        let mut p = params("registry.test", &["registry.test", "192.0.2.1"]);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = p.self_signed(&key).expect("cert");
        put(dir.path(), "registry.test:5443", "ca.crt", &cert.pem());
        assert_eq!(verify(dir.path(), "registry.test:5443", "registry.test", cert.der()), Ok(()));
        assert_eq!(verify(dir.path(), "registry.test:5443", "192.0.2.1", cert.der()), Ok(()));
        let other = verify(dir.path(), "other.test:5443", "registry.test", cert.der()).expect_err("another registry");
        assert!(other.contains("not trust") && other.contains("/etc/docker/certs.d/other.test:5443/ca.crt"), "{other}");
        assert!(other.contains("registry.test") && other.contains("insecure"), "{other}");
        let name = verify(dir.path(), "registry.test:5443", "wrong.test", cert.der()).expect_err("the name is checked");
        assert!(name.contains("is for DNS:registry.test, IP:192.0.2.1, not for wrong.test"), "{name}");
    }

    #[test]
    fn an_authority_in_certs_d_signs_for_its_registry_and_expiry_is_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let ca_key = KeyPair::generate().expect("key");
        let mut ca = params("berth test CA", &[]);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).expect("ca");
        let issuer = Issuer::new(ca, &ca_key);
        put(dir.path(), "192.0.2.1:5443", "company-ca.crt", &ca_cert.pem());
        let key = KeyPair::generate().expect("key");
        let leaf = params("registry", &["192.0.2.1"]).signed_by(&key, &issuer).expect("leaf");
        assert_eq!(verify(dir.path(), "192.0.2.1:5443", "192.0.2.1", leaf.der()), Ok(()));

        let mut old = params("registry", &["192.0.2.1"]);
        old.not_before = rcgen::date_time_ymd(2020, 1, 1);
        old.not_after = rcgen::date_time_ymd(2021, 1, 1);
        let old = old.signed_by(&key, &issuer).expect("expired leaf");
        let e = verify(dir.path(), "192.0.2.1:5443", "192.0.2.1", old.der()).expect_err("expired");
        assert!(e.contains("expired on") && e.contains("2021") && e.contains("CN=registry"), "{e}");

        // Pinned as the registry's own, an expired certificate is still refused.
        put(dir.path(), "192.0.2.1:5443", "old.crt", &old.pem());
        let e = verify(dir.path(), "192.0.2.1:5443", "192.0.2.1", old.der()).expect_err("expired and pinned");
        assert!(e.contains("expired on"), "{e}");
    }

    #[test]
    fn client_pairs_and_unreadable_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let key = KeyPair::generate().expect("key");
        let cert = params("client", &[]).self_signed(&key).expect("cert");
        put(dir.path(), "r:1", "client.cert", &cert.pem());
        let e = client_config_in("r:1", true, &[dir.path()]).map(|_| ()).expect_err("no key");
        assert!(e.to_string().contains("has no key") && e.to_string().contains("client.key"), "{e}");
        put(dir.path(), "r:1", "client.key", &key.serialize_pem());
        let files = HostFiles::read("r:1", &[dir.path()]).expect("pair");
        assert!(files.client.is_some() && files.cas.is_empty());
        assert!(client_config_in("r:1", true, &[dir.path()]).is_ok());
        put(dir.path(), "r:2", "lonely.key", &key.serialize_pem());
        let e = client_config_in("r:2", true, &[dir.path()]).map(|_| ()).expect_err("no cert");
        assert!(e.to_string().contains("lonely.cert"), "{e}");
        put(dir.path(), "r:3", "ca.crt", "not a certificate\n");
        let e = client_config_in("r:3", true, &[dir.path()]).map(|_| ()).expect_err("no PEM");
        assert!(e.to_string().contains("ca.crt"), "{e}");
        assert!(client_config_in("nothing-here:1", true, &[dir.path()]).is_ok(), "no directory is no extra trust");
    }
}
