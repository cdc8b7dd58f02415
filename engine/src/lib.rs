//! berth-engine: images, snapshots, containers, the shim and the project reconciler
//! (DESIGN.md §4). Empty until the images and runtime issues land; the crate exists so that the
//! dependency direction `berth -> engine -> {compose, network, volumes}` is fixed from the start.
