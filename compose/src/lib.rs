//! berth-compose: Compose files to a typed [`Project`] and its dependency graph.
//!
//! This crate never touches the system beyond reading the files it is asked to load: no
//! containers, no network. Entry point: [`load`]. The phases, in pipeline order, are the
//! modules [`yaml`], [`interpolate`] (with [`dotenv`] and [`env`]), [`canonical`], [`paths`],
//! the include/extends steps of [`loader`], [`merge`], [`normalize`], [`bind`] and
//! [`consistency`]; [`graph`] orders the result and [`hash`] fingerprints services.

pub mod bind;
pub mod canonical;
pub mod consistency;
pub mod defaults;
pub mod diag;
pub mod dotenv;
pub mod env;
#[doc(hidden)]
pub mod fuzzing;
pub mod graph;
pub mod hash;
pub mod interpolate;
pub mod loader;
pub mod merge;
pub mod model;
pub mod name;
pub mod node;
pub mod normalize;
pub mod options;
pub mod paths;
pub mod ports;
pub mod shell;
pub mod yaml;

pub use diag::{Diagnostic, Diagnostics};
pub use graph::{Cycle, Graph};
pub use loader::{Loaded, Options, load};
pub use model::Project;
