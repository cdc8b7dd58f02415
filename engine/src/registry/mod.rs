//! A client of the OCI distribution API: manifests and blobs, pulled and pushed, with
//! anonymous, bearer-token and basic authentication, registry mirrors and insecure
//! registries from berth's configuration, and TLS trusted as Docker trusts it (`tls`).

pub mod auth;
mod client;
pub mod config;
pub mod tls;

pub use client::{Client, RegistryError};
