//! From the global flags to a loaded project, with the loader's warnings shown once.

use std::io::Read;

use anyhow::Context;
use berth_compose::{Loaded, Options};

use crate::cli::GlobalArgs;
use crate::output;

/// Load options for the current directory and process environment.
pub fn options(global: &GlobalArgs) -> anyhow::Result<Options> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let mut opts = Options::new(cwd, std::env::vars().collect());
    opts.files = global.files.clone();
    opts.project_name = global.project_name.clone();
    opts.profiles = global.profiles.clone();
    opts.env_files = global.env_files.clone();
    opts.project_directory = global.project_directory.clone();
    if opts.files.iter().any(|f| f.as_os_str() == "-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read the Compose file from standard input")?;
        opts.stdin = Some(text);
    }
    Ok(opts)
}

/// Loads the project; on failure every problem is in the error.
pub fn load(opts: &Options) -> anyhow::Result<Loaded> {
    let loaded = berth_compose::load(opts).map_err(output::LoadError)?;
    for warning in &loaded.warnings {
        output::warn(warning);
    }
    Ok(loaded)
}
