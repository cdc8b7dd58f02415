//! What a load is asked to do: the files, the directory, the environment and the switches of
//! the CLI's global flags.

use std::collections::HashMap;
use std::path::PathBuf;

/// What to load and how; the fields mirror the global flags of the CLI.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-f` files in order; `-` is standard input. Empty: discover from `working_dir` upwards.
    pub files: Vec<PathBuf>,
    /// The directory the command runs in.
    pub working_dir: PathBuf,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// `--profile`; `COMPOSE_PROFILES` when none is given.
    pub profiles: Vec<String>,
    /// `--env-file`; empty means `.env` in the project directory.
    pub env_files: Vec<PathBuf>,
    /// The process environment.
    pub environment: HashMap<String, String>,
    /// The content of `-f -`.
    pub stdin: Option<String>,
    /// Services named on the command line: their profiles are enabled.
    pub targets: Vec<String>,
    /// `--no-interpolate` sets this to false.
    pub interpolate: bool,
    /// `--no-consistency` sets this to false.
    pub consistency: bool,
    /// `--no-env-resolution` sets this to false: `environment` names without a value stay unset.
    pub resolve_environment: bool,
}

impl Options {
    pub fn new(working_dir: PathBuf, environment: HashMap<String, String>) -> Self {
        Options {
            working_dir,
            environment,
            interpolate: true,
            consistency: true,
            resolve_environment: true,
            ..Default::default()
        }
    }
}
