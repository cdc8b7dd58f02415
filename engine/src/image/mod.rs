//! Images: the content store, the image index, layer unpacking into snapshots, and the
//! registry client that fills them.

pub mod archive;
pub mod content;
pub mod expansion;
pub mod import;
pub mod local;
pub mod manifest;
pub mod ops;
pub mod pull;
pub mod push;
pub mod snapshot;
pub mod unpack;
