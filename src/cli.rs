//! Command-line syntax, in the shape of `docker compose`: global project flags, then a
//! subcommand with its own flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(name = "berth", version, about = "Run Compose stacks with berth's own container engine")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags that choose and shape the project, accepted before or after the subcommand.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Compose configuration files (repeatable; `-` reads standard input)
    #[arg(short = 'f', long = "file", global = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name", global = true, value_name = "NAME")]
    pub project_name: Option<String>,
    /// Enable a profile (repeatable)
    #[arg(long = "profile", global = true, value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Environment file for interpolation, instead of `.env` (repeatable)
    #[arg(long = "env-file", global = true, value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Working directory of the project (default: the first Compose file's directory)
    #[arg(long = "project-directory", global = true, value_name = "DIR")]
    pub project_directory: Option<PathBuf>,
    /// Log filter, such as `debug` or `berth_compose=trace` (default: BERTH_LOG, else `warn`)
    #[arg(long = "log-level", global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, resolve and render the Compose file in canonical format
    Config(ConfigArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Services to show (their profiles are enabled); default: all
    pub services: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: Format,
    /// Print the service names, one per line, in start order
    #[arg(long = "services")]
    pub list_services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Print the network names, one per line
    #[arg(long)]
    pub networks: bool,
    /// Print the profile names, one per line
    #[arg(long = "profiles")]
    pub list_profiles: bool,
    /// Print the image names, one per line
    #[arg(long)]
    pub images: bool,
    /// Print the configuration hash of the named services (`*` for all)
    #[arg(long, value_name = "SERVICE")]
    pub hash: Option<String>,
    /// Only validate the configuration; print nothing
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not interpolate variables
    #[arg(long)]
    pub no_interpolate: bool,
    /// Do not fill `environment` entries without a value from the environment
    #[arg(long)]
    pub no_env_resolution: bool,
    /// Skip the consistency checks (references between services and resources)
    #[arg(long)]
    pub no_consistency: bool,
    /// Write the output to this file instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}
