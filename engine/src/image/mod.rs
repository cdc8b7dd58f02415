//! Images: the content store, the image index, layer unpacking into snapshots, and the
//! registry client that fills them.

pub mod content;
pub mod manifest;
pub mod ops;
pub mod pull;
pub mod snapshot;
pub mod unpack;
