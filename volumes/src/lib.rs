//! berth-volumes: named volumes, bind mounts and tmpfs mounts (DESIGN.md §6).
//!
//! - [`store`]: named volumes as directories (`<dir>/<name>/_data`) with a record beside the
//!   data; data is only ever deleted by [`store::VolumeStore::remove`].
//! - [`mount`]: what a container mounts, parsed from `-v`/`--mount` and checked before
//!   anything is created.
//! - [`seed`]: the first-use copy of an image's content into an empty volume.
//!
//! The crate knows nothing of containers: the engine says which volumes are in use.

pub mod mount;
pub mod seed;
pub mod store;

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("invalid volume name {0:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit")]
    BadName(String),
    #[error("volume {0} not found")]
    NotFound(String),
    #[error("volume driver {0:?} is not supported: berth has the local driver")]
    Driver(String),
    #[error("volume {name}: {message}")]
    Options { name: String, message: String },
    #[error("{0}")]
    Mount(String),
    #[error("{what}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Wraps an I/O error with what was being done.
pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> VolumeError {
    let what = what.into();
    move |source| VolumeError::Io { what, source }
}

pub type Result<T, E = VolumeError> = std::result::Result<T, E>;
