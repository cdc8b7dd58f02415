//! The typed Compose model: what the loader produces and everything downstream consumes.
//!
//! It describes the application, not how berth runs it (DESIGN.md §8): nothing here names a
//! berth-only concept, so the same `Project` can be exported to other engines later.

mod deploy;
mod mounts;
mod resources;
mod service;
pub mod types;

use std::collections::BTreeMap;
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

pub use deploy::*;
pub use mounts::*;
pub use resources::{FileObject, Ipam, IpamPool, Network, Volume};
pub use service::*;

/// `x-` extension attributes, kept as written. Serialised under the `__extensions` key and lifted
/// into the enclosing mapping by the output code (see `berth config`).
pub type Extensions = IndexMap<String, serde_json::Value>;

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// A loaded, merged and normalised Compose project.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Project {
    pub name: String,
    /// The directory relative paths were resolved against.
    #[serde(skip)]
    pub working_dir: PathBuf,
    /// The Compose files that made this project, in order.
    #[serde(skip)]
    pub compose_files: Vec<PathBuf>,
    /// The profiles that were active when the project was loaded.
    #[serde(skip)]
    pub active_profiles: Vec<String>,
    /// Services that exist in the file but are left out by the active profiles.
    #[serde(skip)]
    pub disabled_services: BTreeMap<String, Service>,
    /// The variables `environment` secrets and configs name, from the environment the file
    /// was interpolated with (the process's, then `.env` or `--env-file`), as Docker Compose
    /// reads them.
    #[serde(skip)]
    pub environment: BTreeMap<String, String>,
    pub services: BTreeMap<String, Service>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub networks: BTreeMap<String, Network>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub volumes: BTreeMap<String, Volume>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub secrets: BTreeMap<String, FileObject>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, FileObject>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub models: BTreeMap<String, serde_json::Value>,
    #[serde(rename = "__extensions", skip_serializing_if = "IndexMap::is_empty")]
    pub extensions: Extensions,
}
