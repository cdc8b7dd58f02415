//! berth's registry settings, in `/etc/berth/config.toml` (or the file `BERTH_CONFIG` names):
//!
//! ```toml
//! [registries]
//! insecure = ["registry.lan:5000"]          # plain HTTP
//! [registries.mirrors]
//! "docker.io" = ["https://mirror.example"]  # tried in order before the registry itself
//! ```
//!
//! Loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`) use plain HTTP without being
//! listed, as Docker does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub const DEFAULT_CONFIG: &str = "/etc/berth/config.toml";

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub registries: Registries,
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

    /// Base URLs to try for `registry`, mirrors first.
    pub fn endpoints(&self, registry: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .registries
            .mirrors
            .get(registry)
            .into_iter()
            .flatten()
            .map(|m| m.trim_end_matches('/').to_string())
            .collect();
        let host = if registry == crate::reference::DOCKER_HUB { "registry-1.docker.io" } else { registry };
        let scheme = if self.is_insecure(registry) { "http" } else { "https" };
        out.push(format!("{scheme}://{host}"));
        out
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_schemes() {
        let c: Config = toml::from_str(
            "[registries]\ninsecure = ['lan:5000']\n[registries.mirrors]\n'docker.io' = ['http://m:1/']\n",
        )
        .expect("toml");
        assert_eq!(c.endpoints("docker.io"), ["http://m:1", "https://registry-1.docker.io"]);
        assert_eq!(c.endpoints("lan:5000"), ["http://lan:5000"]);
        assert_eq!(c.endpoints("127.0.0.1:5000"), ["http://127.0.0.1:5000"]);
        assert_eq!(c.endpoints("quay.io"), ["https://quay.io"]);
        assert!(toml::from_str::<Config>("[registries]\ninsecur = []\n").is_err(), "a misspelt key is an error");
    }
}
