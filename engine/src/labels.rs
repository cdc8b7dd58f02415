//! The labels Docker Compose puts on what it creates; berth puts the same ones, so that tools
//! and habits built on them carry over.

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const IMAGE: &str = "com.docker.compose.image";
pub const VERSION: &str = "com.docker.compose.version";

/// Whether a label is in Docker Compose's namespace or berth's own: such labels decide project
/// membership and what `system boot` does, so they come only from berth, never from an image.
pub fn reserved(key: &str) -> bool {
    key.starts_with("com.docker.compose.") || key.starts_with("berth.")
}
