//! berth's registry settings, in `/etc/berth/config.toml` (or the file `BERTH_CONFIG` names):
//!
//! ```toml
//! [registries]
//! insecure = ["registry.lan:5000"]          # HTTPS unverified, else plain HTTP
//! [registries.mirrors]
//! "docker.io" = ["https://mirror.example"]  # tried in order before the registry itself
//! ```
//!
//! Loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`) are insecure without being
//! listed, as Docker has them: HTTPS first without verifying the certificate, then plain
//! HTTP if the registry does not speak TLS.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_CONFIG: &str = "/etc/berth/config.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub registries: Registries,
    /// Credentials given for this operation by registry (a Docker client's `X-Registry-Auth`),
    /// used before the stored ones; never read from the file.
    #[serde(skip)]
    pub credentials: BTreeMap<String, crate::registry::auth::Credentials>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registries {
    #[serde(default)]
    pub insecure: Vec<String>,
    #[serde(default)]
    pub mirrors: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot read berth's configuration {path}: {message}")]
pub struct ConfigError {
    pub path: PathBuf,
    pub message: String,
}

impl Config {
    /// Reads `BERTH_CONFIG` or the default file; a missing default file is an empty config.
    pub fn load() -> Result<Config, ConfigError> {
        match std::env::var_os("BERTH_CONFIG") {
            Some(path) => Config::read(Path::new(&path)),
            None if Path::new(DEFAULT_CONFIG).exists() => Config::read(Path::new(DEFAULT_CONFIG)),
            None => Ok(Config::default()),
        }
    }

    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        let err = |message: String| ConfigError { path: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        toml::from_str(&text).map_err(|e| err(e.to_string()))
    }

    /// The endpoints to try for `registry`, mirrors first, the registry itself last.
    pub fn endpoints(&self, registry: &str) -> Vec<Endpoint> {
        let mut out: Vec<Endpoint> = self
            .registries
            .mirrors
            .get(registry)
            .into_iter()
            .flatten()
            .map(|m| {
                let url = m.trim_end_matches('/').to_string();
                let insecure = self.is_insecure(Endpoint::host_of(&url));
                Endpoint { url, insecure }
            })
            .collect();
        let host = if registry == crate::reference::DOCKER_HUB { "registry-1.docker.io" } else { registry };
        out.push(Endpoint { url: format!("https://{host}"), insecure: self.is_insecure(registry) });
        out
    }

    /// The registry itself, without its mirrors: where `push` and `login` go.
    pub fn registry_endpoint(&self, registry: &str) -> Endpoint {
        self.endpoints(registry).pop().expect("the registry itself is always an endpoint")
    }

    /// Whether `registry` (`host[:port]`) is loopback or listed as insecure.
    pub fn is_insecure(&self, registry: &str) -> bool {
        let host = registry
            .rsplit_once(':')
            .map_or(registry, |(h, port)| if port.chars().all(|c| c.is_ascii_digit()) { h } else { registry });
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
            || self.registries.insecure.iter().any(|r| r == registry)
    }
}

/// One base URL of a registry or a mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://host[:port]`, or a mirror's URL as configured (which may be plain HTTP).
    pub url: String,
    /// Loopback or listed as insecure: its certificate is not verified, plain HTTP is
    /// tried when it does not speak TLS, and credentials may go to it in plain HTTP.
    pub insecure: bool,
}

impl Endpoint {
    /// `host[:port]` of a URL: what certs.d directories and the insecure list name.
    pub fn host_of(url: &str) -> &str {
        let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
        rest.split(['/', '?']).next().unwrap_or(rest)
    }

    pub fn host(&self) -> &str {
        Endpoint::host_of(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_schemes() {
        let c: Config = toml::from_str(
            "[registries]\ninsecure = ['lan:5000']\n[registries.mirrors]\n'docker.io' = ['http://m:1/']\n",
        )
        .expect("toml");
        let urls = |r: &str| c.endpoints(r).into_iter().map(|e| (e.url, e.insecure)).collect::<Vec<_>>();
        assert_eq!(urls("docker.io"), [("http://m:1".into(), false), ("https://registry-1.docker.io".into(), false)]);
        assert_eq!(urls("lan:5000"), [("https://lan:5000".into(), true)]);
        assert_eq!(urls("127.0.0.1:5000"), [("https://127.0.0.1:5000".into(), true)]);
        assert_eq!(urls("localhost"), [("https://localhost".into(), true)]);
        assert_eq!(urls("[::1]:5000"), [("https://[::1]:5000".into(), true)]);
        assert_eq!(urls("quay.io"), [("https://quay.io".into(), false)]);
        assert_eq!(urls("lan:5001"), [("https://lan:5001".into(), false)], "the port is part of the name");
        assert_eq!(c.registry_endpoint("docker.io").url, "https://registry-1.docker.io");
        assert_eq!(Endpoint::host_of("https://r.example:5443/v2/x"), "r.example:5443");
        assert_eq!(Endpoint::host_of("http://[::1]:80"), "[::1]:80");
        assert!(toml::from_str::<Config>("[registries]\ninsecur = []\n").is_err(), "a misspelt key is an error");
    }
}
