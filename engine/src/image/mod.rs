//! Images: the content store, the image index, layer unpacking into snapshots, and the
//! registry client that fills them.

pub mod content;
pub mod unpack;
