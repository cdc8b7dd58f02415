//! A client of the OCI distribution API: manifests and blobs, pulled and pushed, with
//! anonymous, bearer-token and basic authentication, registry mirrors and plain-HTTP
//! registries from berth's configuration.

pub mod auth;
mod client;
pub mod config;

pub use client::{Client, RegistryError};
