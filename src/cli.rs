//! Command-line syntax, in the shape of `docker compose`: global project flags, then a
//! subcommand with its own flags.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Where `system service` listens unless told (and the socket unit `system install --api`
/// writes).
pub const API_SOCKET: &str = "/run/berth/docker.sock";

#[derive(Debug, Parser)]
#[command(name = "berth", version, about = "Run Compose stacks with berth's own container engine")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags that choose and shape the project, given before the subcommand as with `docker compose`.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Compose configuration files (repeatable; `-` reads standard input)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    pub project_name: Option<String>,
    /// Enable a profile (repeatable)
    #[arg(long = "profile", value_name = "PROFILE")]
    pub profiles: Vec<String>,
    /// Environment file for interpolation, instead of `.env` (repeatable)
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_files: Vec<PathBuf>,
    /// Working directory of the project (default: the first Compose file's directory)
    #[arg(long = "project-directory", value_name = "DIR")]
    pub project_directory: Option<PathBuf>,
    /// Log filter, such as `debug` or `berth_compose=trace` (default: BERTH_LOG, else `warn`)
    #[arg(long = "log-level", value_name = "FILTER")]
    pub log_level: Option<String>,
    /// How progress is shown: a redrawn block on a terminal (`auto`, `tty`), lines (`plain`),
    /// one JSON object per event (`json`), or nothing (`quiet`)
    #[arg(long, global = true, value_enum, default_value = "auto", env = "COMPOSE_PROGRESS")]
    pub progress: crate::report::Progress,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create and start the project's containers, networks and volumes
    Up(UpArgs),
    /// Stop and remove the project's containers and networks (and volumes with -v)
    Down(DownArgs),
    /// List the Compose projects on this host
    Ls {
        /// Show stopped projects too
        #[arg(short, long)]
        all: bool,
        #[arg(short, long)]
        quiet: bool,
        /// `table` (the default), `table TEMPLATE`, `json` (an array) or a Go template
        #[arg(long)]
        format: Option<String>,
    },
    /// Parse, resolve and render the Compose file in canonical format
    Config(ConfigArgs),
    /// Pull an image from a registry
    Pull(PullArgs),
    /// List images
    Images(ImagesArgs),
    /// Give an image another name
    Tag(TagArgs),
    /// Remove images
    Rmi(RmiArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Save images to a tar archive (Docker and OCI layout formats in one)
    Save(SaveArgs),
    /// Load images from a tar archive
    Load(LoadArgs),
    /// Make an image from a root file system tarball
    Import(ImportArgs),
    /// Push an image to a registry
    Push(PushArgs),
    /// Create and start a container
    Run(RunArgs),
    /// Create a container without starting it
    Create(RunArgs),
    /// Start stopped containers
    Start {
        /// Containers; in a project, services (none: all of them)
        containers: Vec<String>,
    },
    /// Stop running containers (stop signal, then SIGKILL after the grace period)
    Stop(StopArgs),
    /// Send a signal to running containers
    Kill(KillArgs),
    /// Remove containers
    Rm(RmArgs),
    /// Stop and start containers again
    Restart(StopArgs),
    /// Copy files between a container and the host (`C:PATH HOST` or `HOST C:PATH`)
    Cp {
        /// `CONTAINER:PATH` (in a project, `SERVICE:PATH`) or a host path
        source: String,
        destination: String,
        /// In a project: which replica of the service
        #[arg(long, default_value_t = 1)]
        index: u64,
        /// Always follow symbol link in SRC_PATH
        #[arg(short = 'L', long)]
        follow_link: bool,
    },
    /// Kubernetes: `generate` a project's manifests, `play` manifests here
    #[command(subcommand)]
    Kube(KubeCommand),
    /// In a project: draw the dependency graph (levels, conditions, networks, images, ports)
    Viz {
        /// `text` (a tree), `dot` (Graphviz) or `mermaid`
        #[arg(long, value_enum, default_value = "text")]
        format: VizFormat,
        /// Show each service's image
        #[arg(long)]
        image: bool,
        /// Show the networks (as clusters in dot and mermaid)
        #[arg(long)]
        networks: bool,
        /// Show the published ports
        #[arg(long)]
        ports: bool,
    },
    /// In a project: stream the containers' events (create, start, die, health, destroy...)
    Events {
        services: Vec<String>,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
        /// Only events that match: container, event, image, label, service, type (`KEY=VALUE`)
        #[arg(long)]
        filter: Vec<String>,
        /// `json` or a Go template over Docker's event (`{{.Action}} {{.Actor.Attributes.name}}`)
        #[arg(long)]
        format: Option<String>,
    },
    /// Make an image from a container's changes
    Commit {
        container: String,
        /// The new image's name
        image: String,
        /// A message for the image's history
        #[arg(short, long)]
        message: Option<String>,
        /// Do not pause the container while its changes are read
        #[arg(long = "pause", default_value_t = true, action = clap::ArgAction::Set)]
        pause: bool,
    },
    /// Inspect changes to files or directories on a container's filesystem
    Diff { container: String },
    /// Rename a container
    Rename { container: String, new_name: String },
    /// Display a live stream of container(s) resource usage statistics
    Stats(StatsArgs),
    /// Update configuration of one or more containers
    Update {
        containers: Vec<String>,
        /// Memory limit (`512m`, `1g`)
        #[arg(short, long)]
        memory: Option<String>,
        /// Number of CPUs (`1.5`)
        #[arg(long)]
        cpus: Option<f64>,
        /// Tune container pids limit (set -1 for unlimited)
        #[arg(long, allow_hyphen_values = true)]
        pids_limit: Option<i64>,
        /// Restart policy to apply when a container exits
        #[arg(long)]
        restart: Option<String>,
    },
    /// Generate the autocompletion script for the specified shell
    Completion { shell: clap_complete::Shell },
    /// Export a container's filesystem as a tar archive
    Export {
        container: String,
        /// Write to a file, instead of STDOUT
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Show the processes of a container
    Top {
        /// Containers; in a project, its services (default: all)
        containers: Vec<String>,
    },
    /// Host-level operations
    #[command(subcommand)]
    System(SystemCommand),
    /// Display system-wide information
    Info {
        /// `pretty` (the default), `json` or a Go template (`{{.CgroupVersion}}`)
        #[arg(long)]
        format: Option<String>,
    },
    /// Manage containers (`container prune`)
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage the build cache (`builder prune`)
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// List containers
    Ps(PsArgs),
    /// Show a container's output
    Logs(LogsArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Join this terminal's input and output to a running container's (Ctrl-P Ctrl-Q detaches)
    Attach(AttachArgs),
    /// Freeze every process of containers
    Pause {
        /// Containers; in a project, its services (default: all)
        containers: Vec<String>,
    },
    /// Thaw paused containers
    Unpause {
        /// Containers; in a project, its services (default: all)
        containers: Vec<String>,
    },
    /// Wait for containers to stop, and print their exit codes
    Wait {
        /// Containers; in a project, its services (default: all)
        containers: Vec<String>,
    },
    /// Show the details of containers or images as JSON
    Inspect(InspectArgs),
    /// The DNS server of berth's networks (started by berth itself)
    #[command(hide = true)]
    Dns,
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Show a container's published ports, or where one port is published
    Port {
        /// A container; in a project, a service
        container: String,
        /// `PORT[/PROTO]`
        port: Option<String>,
        /// In a project: which replica of the service
        #[arg(long, default_value_t = 1)]
        index: u64,
    },
    /// Bring the services up, then apply their develop.watch rules as files change
    Watch {
        /// Services to watch (default: every service with rules)
        services: Vec<String>,
        /// Do not bring the services up first
        #[arg(long)]
        no_up: bool,
    },
    /// Build images: in a project, its services' (`build:`); otherwise a context directory
    Build(BuildArgs),
    /// Show berth's version
    Version {
        /// Only the number
        #[arg(long)]
        short: bool,
        /// `pretty` (the default), `json` or a Go template (`{{.Version}}`)
        #[arg(long)]
        format: Option<String>,
    },
    /// In a project: set the number of containers of services (`SERVICE=N`) and converge
    Scale {
        #[arg(required = true, value_name = "SERVICE=N")]
        services: Vec<String>,
        /// Do not start the services these depend on
        #[arg(long)]
        no_deps: bool,
    },
    /// Log in to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
}

/// The objects of an `inspect` and how to print them.
#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// Print each through a Go-style template instead, such as `{{.State.Pid}}`
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The context directory; in a project, services (default: all with a build section)
    pub targets: Vec<String>,
    /// The image's name (repeatable)
    #[arg(short, long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// The Dockerfile (default: CONTEXT/Dockerfile)
    #[arg(short, long)]
    pub file: Option<PathBuf>,
    /// A build argument (`KEY=VALUE`, or `KEY` to pass this one's)
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    pub build_args: Vec<String>,
    /// The stage to build (default: the last)
    #[arg(long)]
    pub target: Option<String>,
    /// Run every step, ignoring the cache
    #[arg(long)]
    pub no_cache: bool,
    /// A label for the image (`KEY=VALUE`)
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Print only the image ID
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build an image from a Dockerfile
    Build(BuildArgs),
    /// Show the details of images as JSON
    Inspect(InspectArgs),
    /// Show the history of an image
    History {
        image: String,
        /// Don't truncate output
        #[arg(long)]
        no_trunc: bool,
        /// Only show image IDs
        #[arg(short, long)]
        quiet: bool,
        /// `table` (the default) or `json`, a line per layer
        #[arg(long)]
        format: Option<String>,
    },
    /// List images
    #[command(alias = "list")]
    Ls(ImagesArgs),
    /// Pull an image from a registry
    Pull(PullArgs),
    /// Remove images
    Rm(RmiArgs),
    /// Give an image another name
    Tag(TagArgs),
    /// Save images to a tar archive
    Save(SaveArgs),
    /// Load images from a tar archive
    Load(LoadArgs),
    /// Make an image from a root file system tarball
    Import(ImportArgs),
    /// Push an image to a registry
    Push(PushArgs),
    /// Remove unused images: with -a every image no container uses, then the layers and blobs
    /// no image uses
    Prune {
        /// Remove every image no container uses, not only dangling ones
        #[arg(short, long)]
        all: bool,
        #[command(flatten)]
        prune: PruneArgs,
    },
}

/// What every prune command takes.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
    /// Only what matches: until=DURATION|TIME (made before), label=KEY[=VALUE], label!=...
    #[arg(long)]
    pub filter: Vec<String>,
}

/// `viz --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VizFormat {
    Text,
    Dot,
    Mermaid,
}

#[derive(Debug, Subcommand)]
pub enum KubeCommand {
    /// Write the project's services as Kubernetes objects (to standard output, or a directory)
    Generate {
        /// Services to generate (default: all)
        services: Vec<String>,
        /// A directory for a file per object and a kustomization.yaml
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// The namespace of every object
        #[arg(long)]
        namespace: Option<String>,
        /// Put before the names of images berth builds (`registry.lan/team/`)
        #[arg(long, value_name = "REGISTRY/")]
        image_prefix: Option<String>,
        /// The type of the Services of published ports: ClusterIP, NodePort or LoadBalancer
        #[arg(long)]
        service_type: Option<String>,
        /// Make bind mounts hostPath volumes of the node (refused otherwise)
        #[arg(long)]
        hostpath: bool,
        /// A claim's size when its volume has no `x-kube-size` (default 1Gi)
        #[arg(long)]
        volume_size: Option<String>,
    },
    /// Run Kubernetes manifests here, as a project named after their namespace
    Play {
        /// A manifest file (documents separated by ---) or a directory of them
        path: PathBuf,
        /// Take the project away again, volumes too
        #[arg(long)]
        down: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Remove all stopped containers
    Prune(PruneArgs),
}

#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Remove the build cache
    Prune {
        /// Accepted for Docker's scripts: berth's cache has no shared records to keep
        #[arg(short, long)]
        all: bool,
        #[command(flatten)]
        prune: PruneArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Start the containers whose restart policy says so (run once at boot)
    Boot,
    /// Serve the Docker Engine API on a Unix socket, for the docker CLI, Docker Compose and
    /// other Docker clients
    Service {
        /// The socket to listen on (`/var/run/docker.sock` for a drop-in)
        #[arg(long, default_value = API_SOCKET)]
        socket: std::path::PathBuf,
        /// End after this many seconds without a client (0: never)
        #[arg(long, default_value_t = 0)]
        timeout: u64,
        /// Also listen on this TCP address, which must be a loopback one (the API has no
        /// authentication: whoever reaches it runs containers as root)
        #[arg(long, value_name = "ADDRESS:PORT")]
        tcp: Option<std::net::SocketAddr>,
    },
    /// Show berth disk usage
    Df {
        /// Show the images, containers, volumes and build cache one by one
        #[arg(short, long)]
        verbose: bool,
        /// `table` (the default), `table TEMPLATE`, `json` (a line per type) or a Go template
        #[arg(long)]
        format: Option<String>,
    },
    /// Display system-wide information
    Info {
        /// `pretty` (the default), `json` or a Go template (`{{.CgroupVersion}}`)
        #[arg(long)]
        format: Option<String>,
    },
    /// Remove stopped containers, unused networks, dangling images and the build cache
    Prune {
        /// Remove every image no container uses, not only dangling ones
        #[arg(short, long)]
        all: bool,
        /// Remove anonymous volumes no container uses too
        #[arg(long)]
        volumes: bool,
        #[command(flatten)]
        prune: PruneArgs,
    },
    /// Write the systemd unit that runs `berth system boot` at boot
    Install {
        /// Where to write the unit
        #[arg(long, default_value = "/etc/systemd/system")]
        unit_dir: std::path::PathBuf,
        /// Where to write bash's completion script
        #[arg(long, default_value = "/usr/share/bash-completion/completions")]
        completion_dir: std::path::PathBuf,
        /// Where to write the manual pages (berth.1, berth-up.1...)
        #[arg(long, default_value = "/usr/share/man/man1")]
        man_dir: std::path::PathBuf,
        /// Also write the units that serve the Docker API on /run/berth/docker.sock (a socket
        /// unit that starts the service on the first connection)
        #[arg(long)]
        api: bool,
    },
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The image: NAME[:TAG] or NAME@DIGEST; in a project, services (default: all)
    pub image: Vec<String>,
    /// The platform to pull from a multi-platform image (default: this host's)
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Print only the image name
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only images of this repository (and tag)
    pub repository: Option<String>,
    /// Print only image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Only images that match: dangling, label, reference, before, since (`KEY=VALUE`)
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// `table` (the default), `table TEMPLATE`, `json` (a line per image) or a Go template
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// The image to name (name or ID)
    pub source: String,
    /// The new name
    pub target: String,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Remove every name of an image given by ID
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to this file instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from this file instead of standard input
    #[arg(short, long, value_name = "FILE")]
    pub input: Option<std::path::PathBuf>,
    /// Name for an OCI archive whose image carries no name
    #[arg(long)]
    pub name: Option<String>,
    /// Print only the names loaded
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The tarball (plain, gzip or zstd), or `-` for standard input
    pub file: std::path::PathBuf,
    /// The image name
    pub name: String,
    /// Set the config: `CMD ...`, `ENTRYPOINT ...`, `ENV K=V`, `WORKDIR /d`, `USER u` (repeatable)
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The image name to push (with its registry); in a project, services (default: all)
    pub image: Vec<String>,
    /// Print only the digest
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run in the background and print the container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Mount a volume or a host path: `NAME:/path[:ro]`, `/host:/path[:ro]`, `/path`
    #[arg(short = 'v', long = "volume", value_name = "SOURCE:TARGET[:OPTIONS]")]
    pub volumes: Vec<String>,
    /// Mount: `type=bind|volume|tmpfs,source=...,target=...[,readonly]`
    #[arg(long = "mount", value_name = "SPEC")]
    pub mounts: Vec<String>,
    /// Network: a network's name, `bridge` (default), `host`, `none`, `container:NAME`
    #[arg(long = "network", alias = "net", value_name = "NETWORK")]
    pub network: Option<String>,
    /// Publish a port: `[IP:][HOST:]CONTAINER[/PROTO]`, ranges allowed
    #[arg(short = 'p', long = "publish", value_name = "PORT")]
    pub publish: Vec<String>,
    /// Expose a port without publishing it
    #[arg(long, value_name = "PORT")]
    pub expose: Vec<String>,
    /// Another name for the container on its network
    #[arg(long = "network-alias", value_name = "NAME")]
    pub network_aliases: Vec<String>,
    /// A fixed IPv4 address on the network
    #[arg(long = "ip", value_name = "ADDRESS")]
    pub ip: Option<std::net::Ipv4Addr>,
    #[arg(long = "mac-address")]
    pub mac_address: Option<String>,
    /// A DNS server for the container (replaces berth's)
    #[arg(long)]
    pub dns: Vec<String>,
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    #[arg(long = "dns-option", value_name = "OPTION")]
    pub dns_options: Vec<String>,
    /// Add a line to /etc/hosts: `NAME:ADDRESS`
    #[arg(long = "add-host", value_name = "NAME:ADDRESS")]
    pub add_hosts: Vec<String>,
    #[arg(long)]
    pub domainname: Option<String>,
    /// Link to another container: `NAME[:ALIAS]`
    #[arg(long = "link", value_name = "NAME[:ALIAS]")]
    pub links: Vec<String>,
    /// Keep the container's standard input open (in the foreground, this command's)
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the container a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// In a project: no terminal, even at one (a one-off container gets one by default there)
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable (`KEY=VALUE`, or `KEY` to pass this one's)
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// User (name or UID, optionally `:group`)
    #[arg(short, long)]
    pub user: Option<String>,
    /// Override the image's entrypoint
    #[arg(long)]
    pub entrypoint: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    /// Restart policy: no, always, on-failure[:N], unless-stopped
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Restart the container when its healthcheck turns unhealthy, whatever the restart policy
    #[arg(long)]
    pub restart_on_unhealthy: bool,
    /// Set a label (`KEY=VALUE`)
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The signal `stop` sends first
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits before SIGKILL
    #[arg(long)]
    pub stop_timeout: Option<u64>,
    /// Pull the image: missing (default), always, never
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Memory limit (`512m`, `1g`)
    #[arg(short, long)]
    pub memory: Option<String>,
    /// CPUs (`0.5`, `2`)
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Maximum number of processes
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Memory soft limit (`256m`)
    #[arg(long, value_name = "BYTES")]
    pub memory_reservation: Option<String>,
    /// Memory and swap together (`1g`; -1 for unlimited swap)
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// How readily the kernel swaps the container's memory (0-100)
    #[arg(long, value_name = "N")]
    pub memory_swappiness: Option<u64>,
    /// Do not let the kernel's OOM killer kill the container's processes
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// The OOM killer's preference for the container's processes (-1000 to 1000)
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// CPU weight relative to other containers (1024 by default)
    #[arg(short = 'c', long, value_name = "N")]
    pub cpu_shares: Option<u64>,
    /// CFS quota in microseconds per period
    #[arg(long, value_name = "US", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CFS period in microseconds
    #[arg(long, value_name = "US")]
    pub cpu_period: Option<u64>,
    /// Real-time CPU time in microseconds per real-time period
    #[arg(long, value_name = "US")]
    pub cpu_rt_runtime: Option<u64>,
    /// Real-time period in microseconds (1 s when not given)
    #[arg(long, value_name = "US")]
    pub cpu_rt_period: Option<u64>,
    /// CPUs the container may run on (`0-2,4`)
    #[arg(long, value_name = "CPUS")]
    pub cpuset_cpus: Option<String>,
    /// Size of /dev/shm (`256m`; 64m by default)
    #[arg(long, value_name = "BYTES")]
    pub shm_size: Option<String>,
    /// A kernel parameter of the container's own namespaces (`net.ipv4.ip_forward=1`)
    #[arg(long = "sysctl", value_name = "KEY=VALUE")]
    pub sysctls: Vec<String>,
    /// One more group for the process (a number, or a name in the image's /etc/group)
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// `host` or `container:NAME` to share that process namespace
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// `host` or `container:NAME` to share that IPC namespace (`private`, `shareable`: others may
    /// join it, and `none`: no /dev/shm, have their own)
    #[arg(long, value_name = "MODE")]
    pub ipc: Option<String>,
    /// `host` to share the host's UTS namespace (its host name)
    #[arg(long, value_name = "MODE")]
    pub uts: Option<String>,
    /// A device cgroup rule (`c 1:3 rwm`)
    #[arg(long = "device-cgroup-rule", value_name = "RULE")]
    pub device_cgroup_rules: Vec<String>,
    /// An OCI annotation on the container (`KEY=VALUE`)
    #[arg(long = "annotation", value_name = "KEY=VALUE")]
    pub annotations: Vec<String>,
    /// A host device for the container (`/dev/fuse`, `/dev/sdb:/dev/xvdb:r`)
    #[arg(long = "device", value_name = "SOURCE[:TARGET][:PERMS]")]
    pub devices: Vec<String>,
    /// `private` for a cgroup namespace of the container's own, `host` (the default) for none
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
    /// The cgroup to put the container's under, from the root of each hierarchy (`/berth` when
    /// not given)
    #[arg(long, value_name = "CGROUP")]
    pub cgroup_parent: Option<String>,
    /// `no-new-privileges`, `seccomp=unconfined`, `systempaths=unconfined`
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Mount the root file system read-only
    #[arg(long)]
    pub read_only: bool,
    /// Mount a tmpfs (`/path[:options]`)
    #[arg(long, value_name = "PATH[:OPTIONS]")]
    pub tmpfs: Vec<String>,
    /// Add a capability (`NET_ADMIN`, `ALL`)
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop a capability
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Give the container every capability and device
    #[arg(long)]
    pub privileged: bool,
    /// Run an init as PID 1 that reaps zombies and forwards signals
    #[arg(long)]
    pub init: bool,
    /// A resource limit: `nofile=1024[:4096]`
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]")]
    pub ulimits: Vec<String>,
    /// The logging driver: json-file (the default), local, none, syslog or journald
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// Log options: `max-size=10m`, `max-file=3`, `syslog-address=udp://host:514`, `tag=...`
    #[arg(long = "log-opt", value_name = "KEY=VALUE")]
    pub log_opts: Vec<String>,
    /// Healthcheck command, run with /bin/sh -c in the container
    #[arg(long)]
    pub health_cmd: Option<String>,
    /// Time between checks (`30s`)
    #[arg(long)]
    pub health_interval: Option<String>,
    /// Time a check may take (`30s`)
    #[arg(long)]
    pub health_timeout: Option<String>,
    /// Failures in a row that make the container unhealthy
    #[arg(long)]
    pub health_retries: Option<u32>,
    /// Time after start during which failures do not count
    #[arg(long)]
    pub health_start_period: Option<String>,
    /// Time between checks during the start period
    #[arg(long)]
    pub health_start_interval: Option<String>,
    /// Disable the image's healthcheck
    #[arg(long)]
    pub no_healthcheck: bool,
    /// In a project: do not start the services the one-off container depends on
    #[arg(long)]
    pub no_deps: bool,
    /// In a project: publish the service's ports on the one-off container
    #[arg(long)]
    pub service_ports: bool,
    /// An image; in a project, a service (a one-off container of it)
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Start the command and return at once
    #[arg(short, long)]
    pub detach: bool,
    /// Keep standard input open
    #[arg(short, long)]
    pub interactive: bool,
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    #[arg(short, long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    #[arg(short, long)]
    pub user: Option<String>,
    /// In a project: which replica of the service
    #[arg(long, default_value_t = 1)]
    pub index: u64,
    /// Give the process a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Give the process every capability
    #[arg(long)]
    pub privileged: bool,
    /// No terminal (Docker Compose's spelling; without -t there is none)
    #[arg(short = 'T', long = "no-tty")]
    pub no_tty: bool,
    /// A container; in a project, a service
    pub container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Do not send this command's standard input
    #[arg(long)]
    pub no_stdin: bool,
    /// In a project: which replica of the service
    #[arg(long, default_value_t = 1)]
    pub index: u64,
    /// A container; in a project, a service
    pub container: String,
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Containers; in a project, its services (default: all)
    pub containers: Vec<String>,
    /// Seconds to wait before SIGKILL (default: the container's stop timeout)
    #[arg(short, long)]
    pub time: Option<u64>,
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Containers; in a project, its services (default: all)
    pub containers: Vec<String>,
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Containers; in a project, its services (default: all stopped ones)
    pub containers: Vec<String>,
    /// Remove running containers too (with SIGKILL); in a project, do not ask
    #[arg(short, long)]
    pub force: bool,
    /// In a project: stop the containers first
    #[arg(short, long)]
    pub stop: bool,
}

#[derive(Debug, Args)]
pub struct PsArgs {
    /// In a project: only these services
    pub services: Vec<String>,
    /// Show stopped containers too
    #[arg(short, long)]
    pub all: bool,
    /// In a project: print the services' names only
    #[arg(long = "services")]
    pub list_services: bool,
    /// Only containers in this state: created, running, paused, restarting, exited, dead
    #[arg(long)]
    pub status: Vec<String>,
    /// Only containers that match: id, name, label, status, exited, health, ancestor, network,
    /// volume, before, since, publish, expose (`KEY=VALUE`; repeat a key for either value)
    #[arg(long)]
    pub filter: Vec<String>,
    /// Print only IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// `table` (the default), `table TEMPLATE`, `json` (a line per container) or a Go template
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Containers; in a project, its services (default: the running ones)
    pub containers: Vec<String>,
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// `table` (the default) or `json`, a line per container
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// A container; in a project, its services (default: all)
    pub targets: Vec<String>,
    /// In a project: no `name |` prefix
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Keep following the output until the container stops
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines
    #[arg(short = 'n', long)]
    pub tail: Option<usize>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show the extra details the logging options add (`labels`, `env`, `tag`)
    #[arg(long)]
    pub details: bool,
    /// Only entries from this time: RFC 3339, Unix seconds, or a duration ago (`10m`)
    #[arg(long)]
    pub since: Option<String>,
    /// Only entries up to this time
    #[arg(long)]
    pub until: Option<String>,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry (default: Docker Hub)
    pub server: Option<String>,
    #[arg(short, long)]
    pub username: Option<String>,
    /// The password (prefer --password-stdin)
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (default: Docker Hub)
    pub server: Option<String>,
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

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// List networks
    #[command(alias = "list")]
    Ls {
        /// Only print IDs
        #[arg(short, long)]
        quiet: bool,
        /// Only networks that match: driver, id, label, name, scope, type, dangling (`KEY=VALUE`)
        #[arg(long)]
        filter: Vec<String>,
        /// `table` (the default), `table TEMPLATE`, `json` (a line per network) or a Go template
        #[arg(long)]
        format: Option<String>,
    },
    /// Show networks in detail, as JSON
    Inspect(InspectArgs),
    /// Create a network
    Create(NetworkCreateArgs),
    /// Remove networks
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        networks: Vec<String>,
    },
    /// Remove every network no container uses
    Prune(PruneArgs),
    /// Put a container on a network
    Connect {
        network: String,
        container: String,
        #[arg(long = "alias")]
        aliases: Vec<String>,
        #[arg(long = "ip")]
        ip: Option<std::net::Ipv4Addr>,
    },
    /// Take a container off a network
    Disconnect {
        network: String,
        container: String,
        /// Accepted for Docker's scripts
        #[arg(short, long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct NetworkCreateArgs {
    pub name: String,
    #[arg(short, long)]
    pub driver: Option<String>,
    #[arg(long)]
    pub subnet: Option<String>,
    #[arg(long)]
    pub gateway: Option<std::net::Ipv4Addr>,
    #[arg(long = "ip-range")]
    pub ip_range: Option<String>,
    /// No traffic in or out of the network but between its members
    #[arg(long)]
    pub internal: bool,
    #[arg(long)]
    pub attachable: bool,
    #[arg(long)]
    pub ipv6: bool,
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE")]
    pub options: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// List volumes
    #[command(alias = "list")]
    Ls {
        /// Only print names
        #[arg(short, long)]
        quiet: bool,
        /// Only volumes that match: dangling, driver, label, name (`KEY=VALUE`)
        #[arg(long)]
        filter: Vec<String>,
        /// `table` (the default), `table TEMPLATE`, `json` (a line per volume) or a Go template
        #[arg(long)]
        format: Option<String>,
    },
    /// Show volumes in detail, as JSON
    Inspect(InspectArgs),
    /// Create a volume
    Create {
        name: String,
        #[arg(short, long)]
        driver: Option<String>,
        /// Driver option: `type=tmpfs`, `o=size=10m`, `device=/path`
        #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE")]
        options: Vec<String>,
        #[arg(long = "label", value_name = "KEY=VALUE")]
        labels: Vec<String>,
    },
    /// Remove volumes (never one in use)
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        volumes: Vec<String>,
    },
    /// Remove anonymous volumes no container uses (with --all, every unused volume)
    Prune {
        #[arg(short, long)]
        all: bool,
        #[command(flatten)]
        prune: PruneArgs,
    },
}

#[derive(Debug, Args)]
pub struct UpArgs {
    /// Services to bring up (and what they depend on); default: all
    pub services: Vec<String>,
    /// Apply the services' develop.watch rules while attached
    #[arg(short, long)]
    pub watch: bool,
    /// Build every service with a build section first
    #[arg(long, conflicts_with = "no_build")]
    pub build: bool,
    /// Build nothing, even images that are missing
    #[arg(long)]
    pub no_build: bool,
    /// Start in the background and return
    #[arg(short, long)]
    pub detach: bool,
    /// Wait until the services run and are healthy (implies -d)
    #[arg(long)]
    pub wait: bool,
    /// Seconds --wait waits at most
    #[arg(long, value_name = "SECONDS")]
    pub wait_timeout: Option<u64>,
    /// Pull images: missing (default), always, never
    #[arg(long, default_value = "missing")]
    pub pull: String,
    /// Recreate containers even if nothing changed
    #[arg(long, conflicts_with = "no_recreate")]
    pub force_recreate: bool,
    /// Keep existing containers even if their configuration changed
    #[arg(long)]
    pub no_recreate: bool,
    /// Do not start the services the named ones depend on
    #[arg(long)]
    pub no_deps: bool,
    /// Remove containers of services no longer in the file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Replicas of a service: `SERVICE=N` (repeatable)
    #[arg(long, value_name = "SERVICE=N")]
    pub scale: Vec<String>,
    /// Recreate anonymous volumes instead of reusing their data
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Create the containers, do not start them
    #[arg(long)]
    pub no_start: bool,
    /// Stop the project when any container stops
    #[arg(long)]
    pub abort_on_container_exit: bool,
    /// Stop the project when any container fails
    #[arg(long)]
    pub abort_on_container_failure: bool,
    /// Return this service's exit code (implies --abort-on-container-exit)
    #[arg(long, value_name = "SERVICE")]
    pub exit_code_from: Option<String>,
    /// Seconds to wait for containers to stop
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Show the output of these services only
    #[arg(long, value_name = "SERVICE")]
    pub attach: Vec<String>,
    /// Do not show the output of these services
    #[arg(long, value_name = "SERVICE")]
    pub no_attach: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Remove named volumes declared in the file and anonymous volumes too
    #[arg(short, long)]
    pub volumes: bool,
    /// Remove the services' images too: `all`, or `local` (those without a custom tag)
    #[arg(long, value_name = "local|all")]
    pub rmi: Option<String>,
    /// Remove containers of services no longer in the file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Seconds to wait for containers to stop
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
}
