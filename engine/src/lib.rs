//! berth-engine: images, snapshots, containers, the shim and the project reconciler
//! (DESIGN.md §4). Today: image references, the content store and the layer unpacker.

pub use berth_network as net;

pub mod build;
pub mod container;
pub mod digest;
pub mod fsutil;
pub mod image;
pub mod labels;
pub mod network;
pub mod process;
pub mod project;
pub mod reference;
pub mod registry;
pub mod store;
pub mod time;
pub mod usage;
pub mod volume;
