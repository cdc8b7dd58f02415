//! Opening the engine's state for a command: the store under `BERTH_ROOT` (or
//! `/var/lib/berth`), berth's configuration, and an async runtime for network work.

use anyhow::Context;
use berth_engine::registry::config::Config;
use berth_engine::store::{self, Store};

pub fn store() -> anyhow::Result<Store> {
    let root = store::default_root();
    Store::open(&root).with_context(|| format!("cannot open berth's state in {}", root.display()))
}

pub fn config() -> anyhow::Result<Config> {
    Ok(Config::load()?)
}

/// A runtime for commands that talk to registries: downloads overlap, unpacking runs on the
/// blocking pool.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
