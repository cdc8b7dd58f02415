//! Building images from Dockerfiles with the engine's own runtime and image store.

pub mod dockerfile;
