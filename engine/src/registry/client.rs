//! HTTP requests to one registry repository, with authentication handled on a 401.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use tokio::sync::Mutex;

use super::auth::{self, Challenge, Credentials};
use super::config::Endpoint;
use super::tls::{self, Failure, TlsError};
use crate::digest::Digest;

/// The largest manifest or token response read into memory.
const MAX_DOCUMENT: usize = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot reach {url}: {message}")]
    Http { url: String, message: String },
    #[error("{url} answered {status}{detail}")]
    Status { url: String, status: StatusCode, detail: String },
    #[error("{url} requires authentication; log in with `berth login {registry}`")]
    Unauthorized { url: String, registry: String },
    #[error("{url} sent more than {limit} bytes; the transfer was stopped")]
    TooLarge { url: String, limit: u64 },
    #[error("the transfer of {url} ended after {got} of {expected} bytes{detail}")]
    Truncated { url: String, got: u64, expected: u64, detail: String },
    #[error("{message}")]
    Certificate { url: String, message: String },
    #[error("cannot use the certificates for {registry}")]
    Tls {
        registry: String,
        #[source]
        source: TlsError,
    },
    #[error(
        "{url} asks for the credentials of {registry} in plain HTTP; berth sends them only over HTTPS, \
         or to a registry listed in `insecure` under [registries] in berth's configuration"
    )]
    PlainHttp { url: String, registry: String },
    #[error("cannot store what {url} sent")]
    Write {
        url: String,
        #[source]
        source: std::io::Error,
    },
}

fn http_error(url: &str, e: reqwest::Error) -> RegistryError {
    if e.is_redirect() {
        return RegistryError::Http { url: url.to_string(), message: "too many redirects (a redirect loop?)".into() };
    }
    let mut message = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    RegistryError::Http { url: url.to_string(), message }
}

/// The base URL each insecure registry answered on in this process: once it has answered
/// HTTPS it is never spoken to in plain HTTP.
static RESOLVED: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// A client for one repository on one registry endpoint.
pub struct Client {
    http: reqwest::Client,
    base: String,
    registry: String,
    repository: String,
    credentials: Option<Credentials>,
    /// Whether credentials may go to this endpoint in plain HTTP.
    insecure: bool,
    push: bool,
    /// Why the last certificate was refused, in words.
    failure: Failure,
    /// The `Authorization` header that worked, reused for every later request.
    authorization: Mutex<Option<String>>,
}

impl Client {
    /// A client of `endpoint`; `registry` is the name used for credentials (`docker.io`).
    /// An insecure endpoint is asked once over HTTPS (unverified) and falls back to plain
    /// HTTP when it does not speak TLS.
    pub async fn open(
        endpoint: &Endpoint,
        registry: &str,
        repository: &str,
        push: bool,
    ) -> Result<Client, RegistryError> {
        let host = endpoint.host();
        let (tls, failure) = tls::client_config(host, !endpoint.insecure)
            .map_err(|e| RegistryError::Tls { registry: host.to_string(), source: e })?;
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::limited(10))
            .user_agent(concat!("berth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| http_error(&endpoint.url, e))?;
        let mut base = endpoint.url.trim_end_matches('/').to_string();
        if endpoint.insecure && base.starts_with("https://") {
            base = resolve(&http, &base).await;
        }
        Ok(Client {
            http,
            base,
            registry: registry.to_string(),
            repository: repository.to_string(),
            credentials: auth::lookup(registry),
            insecure: endpoint.insecure,
            push,
            failure,
            authorization: Mutex::new(None),
        })
    }

    pub fn with_credentials(mut self, credentials: Option<Credentials>) -> Client {
        if credentials.is_some() {
            self.credentials = credentials;
        }
        self
    }

    pub fn endpoint(&self) -> &str {
        &self.base
    }

    /// A failed request, explained by the refused certificate when that was the cause.
    fn error(&self, url: &str, e: reqwest::Error) -> RegistryError {
        let explained = self.failure.take().or_else(|| tls::explain(Endpoint::host_of(url), &e));
        match explained {
            Some(message) => RegistryError::Certificate { url: url.to_string(), message },
            None => http_error(url, e),
        }
    }

    /// Credentials go in plain HTTP only to an insecure registry (as Docker has it).
    fn may_send_credentials(&self, url: &str) -> Result<(), RegistryError> {
        if url.starts_with("http://") && !self.insecure {
            return Err(RegistryError::PlainHttp { url: url.to_string(), registry: self.registry.clone() });
        }
        Ok(())
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base, self.repository)
    }

    /// Sends a request built by `build`, authenticating and retrying once on a 401.
    async fn send(
        &self,
        url: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut attempt = 0;
        loop {
            let authorization = self.authorization.lock().await.clone();
            let resp = self
                .dispatch(url, || {
                    let req = build(&self.http);
                    match &authorization {
                        Some(h) => req.header(AUTHORIZATION, h),
                        None => req,
                    }
                })
                .await?;
            if resp.status() != StatusCode::UNAUTHORIZED || attempt > 0 {
                if resp.status() == StatusCode::UNAUTHORIZED {
                    return Err(RegistryError::Unauthorized { url: url.to_string(), registry: self.registry.clone() });
                }
                return Ok(resp);
            }
            attempt += 1;
            let challenge =
                resp.headers().get(WWW_AUTHENTICATE).and_then(|h| h.to_str().ok()).and_then(auth::parse_challenge);
            let header = match challenge {
                Some(Challenge::Bearer { realm, service, scope }) => {
                    self.token(&realm, service.as_deref(), scope.as_deref()).await?
                }
                Some(Challenge::Basic) => match &self.credentials {
                    Some(c) => {
                        self.may_send_credentials(url)?;
                        c.basic_header()
                    }
                    None => {
                        return Err(RegistryError::Unauthorized {
                            url: url.to_string(),
                            registry: self.registry.clone(),
                        });
                    }
                },
                None => {
                    return Err(RegistryError::Unauthorized { url: url.to_string(), registry: self.registry.clone() });
                }
            };
            *self.authorization.lock().await = Some(header);
        }
    }

    /// Sends the request `build` makes, and sends it once more when the connection failed
    /// before any answer came for a reason other than TLS or a timeout (a registry that closed
    /// a fresh or pooled connection), as Go's HTTP client retries a request it had not written.
    async fn dispatch(
        &self,
        url: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, RegistryError> {
        let mut retried = false;
        loop {
            let e = match build().send().await {
                Ok(resp) => return Ok(resp),
                Err(e) => e,
            };
            let transient = !retried && (e.is_connect() || e.is_request()) && !e.is_timeout();
            let error = self.error(url, e);
            if !transient || !matches!(error, RegistryError::Http { .. }) {
                return Err(error);
            }
            retried = true;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Gets a bearer token from the realm named in a challenge.
    async fn token(&self, realm: &str, service: Option<&str>, scope: Option<&str>) -> Result<String, RegistryError> {
        let action = if self.push { "pull,push" } else { "pull" };
        let default_scope = format!("repository:{}:{action}", self.repository);
        let mut query =
            vec![("scope", if self.push { default_scope.as_str() } else { scope.unwrap_or(&default_scope) })];
        if let Some(s) = service {
            query.push(("service", s));
        }
        if self.credentials.is_some() {
            self.may_send_credentials(realm)?;
        }
        let resp = self
            .dispatch(realm, || {
                let req = self.http.get(realm).query(&query);
                match &self.credentials {
                    Some(c) => req.header(AUTHORIZATION, c.basic_header()),
                    None => req,
                }
            })
            .await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(RegistryError::Unauthorized { url: realm.to_string(), registry: self.registry.clone() });
        }
        let body = read_limited(resp, realm, MAX_DOCUMENT).await?;
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token = serde_json::from_slice(&body).map_err(|e| RegistryError::Http {
            url: realm.to_string(),
            message: format!("the token service answered something that is not a token: {e}"),
        })?;
        let token = t.token.or(t.access_token).ok_or_else(|| RegistryError::Http {
            url: realm.to_string(),
            message: "the token service answered without a token".into(),
        })?;
        Ok(format!("Bearer {token}"))
    }

    /// Checks that the credentials work: `GET /v2/`, authenticating as needed.
    pub async fn check(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base);
        let resp = self.send(&url, |h| h.get(&url)).await?;
        ok_status(resp, &url).await.map(|_| ())
    }

    /// Fetches a manifest or index: its bytes and media type.
    pub async fn manifest(&self, reference: &str, accept: &[&str]) -> Result<(Vec<u8>, String), RegistryError> {
        let url = self.url(&format!("manifests/{reference}"));
        let accept = accept.join(", ");
        let resp = self.send(&url, |h| h.get(&url).header(ACCEPT, &accept)).await?;
        let resp = ok_status(resp, &url).await?;
        let media_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
            .unwrap_or_default();
        let body = read_limited(resp, &url, MAX_DOCUMENT).await?;
        Ok((body, media_type))
    }

    /// Streams blob `digest` of `size` bytes into `out`, calling `progress` with each chunk's
    /// length. Stops at once when the registry sends more than `size`.
    pub async fn blob<W: std::io::Write>(
        &self,
        digest: &Digest,
        size: u64,
        out: &mut W,
        mut progress: impl FnMut(u64),
    ) -> Result<(), RegistryError> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send(&url, |h| h.get(&url)).await?;
        let mut resp = ok_status(resp, &url).await?;
        let mut got: u64 = 0;
        loop {
            let chunk = match resp.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => {
                    let detail = match http_error(&url, e) {
                        RegistryError::Http { message, .. } => format!(" ({message})"),
                        other => format!(" ({other})"),
                    };
                    return Err(RegistryError::Truncated { url, got, expected: size, detail });
                }
            };
            got += chunk.len() as u64;
            if got > size {
                return Err(RegistryError::TooLarge { url, limit: size });
            }
            out.write_all(&chunk).map_err(|source| RegistryError::Write { url: url.clone(), source })?;
            progress(chunk.len() as u64);
        }
        if got != size {
            return Err(RegistryError::Truncated { url, got, expected: size, detail: String::new() });
        }
        Ok(())
    }

    pub async fn has_blob(&self, digest: &Digest) -> Result<bool, RegistryError> {
        let url = self.url(&format!("blobs/{digest}"));
        let resp = self.send(&url, |h| h.head(&url)).await?;
        Ok(resp.status().is_success())
    }

    /// Uploads a blob in one request (`POST` then `PUT ?digest=`).
    pub async fn push_blob(&self, digest: &Digest, data: Vec<u8>) -> Result<(), RegistryError> {
        let start = self.url("blobs/uploads/");
        let resp = self.send(&start, |h| h.post(&start).header(reqwest::header::CONTENT_LENGTH, 0)).await?;
        let resp = ok_status(resp, &start).await?;
        let location = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| {
            RegistryError::Http { url: start.clone(), message: "the upload was accepted without a Location".into() }
        })?;
        let mut upload =
            if location.starts_with("http") { location.to_string() } else { format!("{}{location}", self.base) };
        upload.push(if upload.contains('?') { '&' } else { '?' });
        upload.push_str(&format!("digest={digest}"));
        let body = bytes_body(data);
        let resp = self
            .send(&upload, |h| h.put(&upload).header(CONTENT_TYPE, "application/octet-stream").body(body.clone()))
            .await?;
        ok_status(resp, &upload).await.map(|_| ())
    }

    pub async fn put_manifest(&self, reference: &str, media_type: &str, data: Vec<u8>) -> Result<(), RegistryError> {
        let url = self.url(&format!("manifests/{reference}"));
        let body = bytes_body(data);
        let resp = self.send(&url, |h| h.put(&url).header(CONTENT_TYPE, media_type).body(body.clone())).await?;
        ok_status(resp, &url).await.map(|_| ())
    }
}

/// The base URL of an insecure registry: `https_base` when it answers HTTPS (any status),
/// else the same host in plain HTTP. Remembered for the rest of the process.
async fn resolve(http: &reqwest::Client, https_base: &str) -> String {
    let remembered = |base: &str| {
        let resolved = RESOLVED.lock().unwrap_or_else(|e| e.into_inner());
        resolved.iter().find(|(b, _)| b == base).map(|(_, r)| r.clone())
    };
    if let Some(r) = remembered(https_base) {
        return r;
    }
    let probe = http.get(format!("{https_base}/v2/")).timeout(Duration::from_secs(15)).send().await;
    let base = match probe {
        Ok(_) => https_base.to_string(),
        Err(e) => {
            tracing::debug!("{https_base} does not answer HTTPS ({e}); using plain HTTP");
            https_base.replacen("https://", "http://", 1)
        }
    };
    let mut resolved = RESOLVED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, r)) = resolved.iter().find(|(b, _)| b == https_base) {
        return r.clone();
    }
    resolved.push((https_base.to_string(), base.clone()));
    base
}

/// A body that is cheap to clone for the retry after authentication.
fn bytes_body(data: Vec<u8>) -> bytes::Bytes {
    bytes::Bytes::from(data)
}

async fn ok_status(resp: reqwest::Response, url: &str) -> Result<reqwest::Response, RegistryError> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body = read_limited(resp, url, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&body);
    let detail = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["errors"][0]["message"].as_str().map(str::to_string))
        .map(|m| format!(": {m}"))
        .unwrap_or_else(|| if text.trim().is_empty() { String::new() } else { format!(": {}", text.trim()) });
    Err(RegistryError::Status { url: url.to_string(), status, detail })
}

async fn read_limited(mut resp: reqwest::Response, url: &str, limit: usize) -> Result<Vec<u8>, RegistryError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| http_error(url, e))? {
        if out.len() + chunk.len() > limit {
            return Err(RegistryError::TooLarge { url: url.to_string(), limit: limit as u64 });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}
