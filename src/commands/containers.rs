//! Container commands: `run`, `create`, `start`, `stop`, `kill`, `rm`, `ps`, `logs`, `wait`,
//! `inspect`, and the hidden `shim`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use berth_engine::container::attach::Streams;
use berth_engine::container::control::{self, Request};
use berth_engine::container::create::{self, CreateOptions};
use berth_engine::container::launch::{self, LaunchError};
use berth_engine::container::store::Container;
use berth_engine::container::{HostConfig, RestartPolicy, Status, logs, remove, shim};
use berth_engine::image::manifest::Platform;
use berth_engine::image::ops::ImageError;
use berth_engine::image::pull;
use berth_engine::reference::ImageRef;
use berth_engine::store::Store;

use crate::cli::{Format, KillArgs, LogsArgs, PsArgs, RmArgs, RunArgs, StopArgs};
use crate::{engine, output, progress};

/// Docker's exit code when the engine itself fails to run a container.
const EXIT_ENGINE: u8 = 125;

pub fn run(args: RunArgs, start: bool) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let restart = RestartPolicy::parse(&args.restart).with_context(|| {
        format!("invalid restart policy {:?}: use no, always, on-failure[:N] or unless-stopped", args.restart)
    })?;
    if args.rm && restart != RestartPolicy::No {
        anyhow::bail!("--rm and --restart cannot be used together");
    }
    let (image_name, record) = image_for_run(&store, &args.image, &args.pull)?;
    let env = args
        .env
        .iter()
        .filter_map(
            |e| if e.contains('=') { Some(e.clone()) } else { std::env::var(e).ok().map(|v| format!("{e}={v}")) },
        )
        .collect();
    let labels: BTreeMap<String, String> = super::key_values(&args.labels);
    let (network, networks) = super::network::settings_for_run(&store, &args)?;
    let opts = CreateOptions {
        network,
        networks,
        mounts: super::volume::mounts_for_run(&args)?,
        name: args.name.clone(),
        env,
        working_dir: args.workdir.clone(),
        user: args.user.clone(),
        entrypoint: args.entrypoint.as_ref().map(|e| if e.is_empty() { Vec::new() } else { vec![e.clone()] }),
        args: args.command.clone(),
        hostname: args.hostname.clone(),
        labels,
        restart,
        auto_remove: args.rm,
        open_stdin: args.interactive,
        stdin_once: args.interactive && !args.detach,
        tty: args.tty,
        stop_signal: args.stop_signal.clone(),
        stop_timeout: args.stop_timeout,
        log: Default::default(),
        health: health_flags(&args)?,
        host: HostConfig {
            memory: args
                .memory
                .as_deref()
                .map(|m| berth_compose::model::types::ByteSize::parse(m).map(|b| b.0).map_err(anyhow::Error::msg))
                .transpose()?,
            cpus: args.cpus,
            pids_limit: args.pids_limit,
            read_only: args.read_only,
            tmpfs: args.tmpfs.clone(),
            cap_add: args.cap_add.clone(),
            cap_drop: args.cap_drop.clone(),
            privileged: args.privileged,
            init: args.init,
            ulimits: args
                .ulimits
                .iter()
                .map(|u| berth_engine::container::parse_ulimit(u).map_err(anyhow::Error::msg))
                .collect::<anyhow::Result<_>>()?,
        },
    };
    let mut opts = opts;
    for o in &args.log_opts {
        match o.split_once('=') {
            Some(("max-size", v)) => {
                opts.log.max_size = Some(berth_compose::model::types::ByteSize::parse(v).map_err(anyhow::Error::msg)?.0)
            }
            Some(("max-file", v)) => {
                opts.log.max_file =
                    v.parse().ok().filter(|n| *n >= 1).with_context(|| format!("invalid max-file {v:?}"))?
            }
            _ => anyhow::bail!("unknown log option {o:?}: berth takes max-size and max-file"),
        }
    }
    let config = create::create(&store, &image_name, &record, opts)?;
    if !start {
        println!("{}", config.id);
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    let shown = args.detach.then_some(config.id.as_str());
    start_new(&store, &config, &exe, shown)
}

/// Starts a container just created. In the foreground, shows its output until it ends and
/// returns its exit code (with `-i`, sending it this command's input; with `-t`, through its
/// terminal); detached, prints `detached` (its ID or name) and returns at once.
pub(crate) fn start_new(
    store: &Store,
    config: &berth_engine::container::ContainerConfig,
    exe: &std::path::Path,
    detached: Option<&str>,
) -> anyhow::Result<ExitCode> {
    // In the foreground the streams are joined before the container starts, so that nothing
    // it writes or reads first is missed. Without a terminal, output comes from the log.
    let attach = (detached.is_none() && (config.open_stdin || config.tty))
        .then_some(Streams { input: config.open_stdin, output: config.tty });
    let mut started = match launch::launch_attached(store, &config.id, exe, attach) {
        Ok(s) => s,
        Err(LaunchError::Failed { code, message }) => {
            output::print_error(&anyhow::anyhow!("cannot start container {}: {message}", config.name));
            return Ok(ExitCode::from(code.clamp(0, 255) as u8));
        }
        Err(e) => {
            // The shim removes a `--rm` container that failed to start; one whose shim never
            // ran (a port taken, say) is removed here.
            if config.auto_remove {
                if let Err(cleanup) = berth_engine::container::remove::discard(store, config) {
                    tracing::warn!("cannot remove container {}: {cleanup}", config.name);
                }
            }
            return Err(e.into());
        }
    };
    if let Some(shown) = detached {
        println!("{shown}");
        return Ok(ExitCode::SUCCESS);
    }
    let code = match started.attached.take() {
        Some(conn) if config.tty => {
            let how = super::attach::Relay { input: config.open_stdin, terminal: true };
            let dir = store.container_dir(&config.id);
            if super::attach::relay(conn.into(), how, super::attach::resize_container(&dir))?
                == super::attach::Ended::Detached
            {
                return Ok(ExitCode::SUCCESS);
            }
            launch::wait_exit(&mut started).unwrap_or(EXIT_ENGINE as i32)
        }
        Some(conn) => {
            // Input only: a thread sends it while the log shows the output.
            std::thread::spawn(move || super::attach::send_input_only(conn.into()));
            follow_until_exit(store, &config.id, &mut started)?
        }
        None => follow_until_exit(store, &config.id, &mut started)?,
    };
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

fn health_flags(args: &RunArgs) -> anyhow::Result<create::HealthOverride> {
    let ms = |flag: &str, v: &Option<String>| -> anyhow::Result<Option<u64>> {
        v.as_deref()
            .map(|d| {
                berth_compose::model::types::Duration::parse(d)
                    .map(|d| d.0.as_millis() as u64)
                    .map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
            })
            .transpose()
    };
    Ok(create::HealthOverride {
        test: args.health_cmd.as_ref().map(|c| vec!["CMD-SHELL".to_string(), c.clone()]),
        interval_ms: ms("health-interval", &args.health_interval)?,
        timeout_ms: ms("health-timeout", &args.health_timeout)?,
        start_period_ms: ms("health-start-period", &args.health_start_period)?,
        start_interval_ms: ms("health-start-interval", &args.health_start_interval)?,
        retries: args.health_retries,
        disable: args.no_healthcheck,
    })
}

/// The image to run: found locally, or pulled as `--pull` says.
fn image_for_run(
    store: &Store,
    image: &str,
    policy: &str,
) -> anyhow::Result<(String, berth_engine::store::ImageRecord)> {
    let local = store.find_image(image);
    let must_pull = match (policy, &local) {
        ("always", _) => true,
        ("missing", Err(ImageError::NotFound(_))) => true,
        ("never", Err(ImageError::NotFound(_))) => anyhow::bail!("no such image: {image} (and --pull never)"),
        ("missing" | "never", _) => false,
        (other, _) => anyhow::bail!("invalid --pull {other:?}: use missing, always or never"),
    };
    if !must_pull {
        let (_, record) = local?;
        return Ok((image.to_string(), record));
    }
    let reference = ImageRef::parse(image)?;
    eprintln!("Unable to find image '{}' locally", reference.familiar());
    let config = engine::config()?;
    let pulled = engine::runtime()?
        .block_on(pull::pull(store, &config, &reference, &Platform::host(), progress::for_terminal(false)))
        .with_context(|| format!("cannot pull {}", reference.familiar()))?;
    Ok((image.to_string(), pulled.record))
}

/// Prints the container's output as it comes until the shim reports the exit; returns the code.
fn follow_until_exit(store: &Store, id: &str, started: &mut launch::Started) -> anyhow::Result<i32> {
    let mut follower = Follower::open(&store.container_dir(id).join("log.json"), Show::default())?;
    loop {
        follower.pump();
        let mut fds = [nix::poll::PollFd::new(started.pipe.get_ref().as_fd(), nix::poll::PollFlags::POLLIN)];
        let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(20u16));
        if fds[0].revents().is_some_and(|r| !r.is_empty()) {
            let code = launch::wait_exit(started);
            follower.pump();
            return match code {
                Some(c) => Ok(c),
                None => Ok(store.load_container(id).ok().and_then(|c| c.state.exit_code).unwrap_or(EXIT_ENGINE as i32)),
            };
        }
    }
}

/// Follows a container's log across rotations: the file being read is known by its inode, and
/// when `log.json` is a new file the rotated files that came after the old one are read first.
pub(crate) struct Follower {
    path: std::path::PathBuf,
    pub(crate) reader: BufReader<std::fs::File>,
    ino: u64,
    pending: String,
    pub(crate) show: Show,
}

fn inode(path: &std::path::Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| std::os::unix::fs::MetadataExt::ino(&m))
}

impl Follower {
    pub(crate) fn open(path: &std::path::Path, show: Show) -> anyhow::Result<Follower> {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let ino = std::os::unix::fs::MetadataExt::ino(&file.metadata()?);
        Ok(Follower { path: path.to_path_buf(), reader: BufReader::new(file), ino, pending: String::new(), show })
    }

    pub(crate) fn pump(&mut self) {
        print_new_entries(&mut self.reader, &mut self.pending, &self.show);
        let Some(now) = inode(&self.path) else { return };
        if now == self.ino {
            return;
        }
        let files = logs::files(&self.path);
        let rotated = &files[..files.len() - 1];
        // The files newer than the one just finished; all of them if it was already deleted.
        let start = rotated.iter().position(|f| inode(f) == Some(self.ino)).map_or(0, |i| i + 1);
        for f in &rotated[start..] {
            if let Ok(file) = std::fs::File::open(f) {
                self.pending.clear();
                print_new_entries(&mut BufReader::new(file), &mut self.pending, &self.show);
            }
        }
        if let Ok(file) = std::fs::File::open(&self.path) {
            self.ino = file.metadata().map_or(now, |m| std::os::unix::fs::MetadataExt::ino(&m));
            self.reader = BufReader::new(file);
            self.pending.clear();
            print_new_entries(&mut self.reader, &mut self.pending, &self.show);
        }
    }
}

/// Prints the complete lines added to the log since the last call.
/// How log entries are shown: with timestamps or not, and the time window (RFC 3339 with
/// nanoseconds, UTC, so that they compare as strings with the entries' times).
#[derive(Clone, Default)]
pub(crate) struct Show {
    pub(crate) timestamps: bool,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
    /// Put before every line (`name | ` for a project's logs).
    pub(crate) prefix: String,
}

/// `--since`/`--until` values: an RFC 3339 time, Unix seconds, or a duration back from now
/// (`10m`, `1h30m`).
pub(crate) fn log_time(value: &str) -> anyhow::Result<String> {
    let secs = if let Ok(n) = value.parse::<i64>() {
        n
    } else if let Ok(d) = berth_compose::model::types::Duration::parse(value) {
        // To the nanosecond: `--since 1s` means the last second, not the last one or two.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let then = now.saturating_sub(d.0);
        return Ok(berth_engine::time::with_nanos(then.as_secs() as i64, then.subsec_nanos()));
    } else if value.len() >= 19 && value.as_bytes()[10] == b'T' {
        return Ok(normalise_time(value));
    } else {
        anyhow::bail!(
            "invalid time {value:?}: use RFC 3339 (2026-01-02T15:04:05Z), Unix seconds, or a duration like 10m"
        );
    };
    Ok(berth_engine::time::with_nanos(secs, 0))
}

/// `2026-01-02T15:04:05[.frac]Z` to nine fraction digits.
fn normalise_time(t: &str) -> String {
    let base = &t[..19];
    let frac: String = t[19..].trim_start_matches('.').chars().take_while(|c| c.is_ascii_digit()).collect();
    format!("{base}.{frac:0<9}Z")
}

fn print_new_entries<R: BufRead>(log: &mut R, pending: &mut String, show: &Show) {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    loop {
        match log.read_line(pending) {
            Ok(0) | Err(_) => break,
            Ok(_) if !pending.ends_with('\n') => break,
            Ok(_) => {
                if let Ok(entry) = serde_json::from_str::<logs::Entry>(pending) {
                    let shown = show.since.as_deref().is_none_or(|s| entry.time.as_str() >= s)
                        && show.until.as_deref().is_none_or(|u| entry.time.as_str() <= u);
                    if !shown {
                        pending.clear();
                        continue;
                    }
                    let stamp = if show.timestamps { format!("{} ", entry.time) } else { String::new() };
                    let prefix = format!("{}{stamp}", show.prefix);
                    let _ = match entry.stream.as_str() {
                        "stderr" => write!(err, "{prefix}{}", entry.log),
                        _ => write!(out, "{prefix}{}", entry.log),
                    };
                }
                pending.clear();
            }
        }
    }
    let _ = out.flush();
}

pub fn start(names: &[String]) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    let mut failed = false;
    for name in names {
        let c = store.find_container(name)?;
        if remove::is_live(&c) {
            println!("{name}");
            continue;
        }
        match launch::launch(&store, &c.config.id, &exe) {
            Ok(_) => println!("{name}"),
            Err(e) => {
                output::print_error(&anyhow::anyhow!("cannot start container {}: {e}", c.config.name));
                failed = true;
            }
        }
    }
    Ok(if failed { ExitCode::from(output::EXIT_FAILURE) } else { ExitCode::SUCCESS })
}

/// Outside a project, the container commands need at least one container.
fn need_some(names: &[String]) -> anyhow::Result<()> {
    if names.is_empty() {
        anyhow::bail!("this command needs at least one container (or a project: -f, -p, or a compose.yaml here)");
    }
    Ok(())
}

/// Runs `f` on each named container, printing its name on success and the error otherwise.
fn each(names: &[String], f: impl Fn(&Store, &Container) -> anyhow::Result<()>) -> anyhow::Result<ExitCode> {
    need_some(names)?;
    let store = engine::store()?;
    let mut failed = false;
    for name in names {
        match store.find_container(name).map_err(anyhow::Error::from).and_then(|c| f(&store, &c)) {
            Ok(()) => println!("{name}"),
            Err(e) => {
                output::print_error(&e);
                failed = true;
            }
        }
    }
    Ok(if failed { ExitCode::from(output::EXIT_FAILURE) } else { ExitCode::SUCCESS })
}

pub fn stop(args: StopArgs) -> anyhow::Result<ExitCode> {
    each(&args.containers, |store, c| {
        remove::stop(store, c, args.time.unwrap_or(c.config.stop_timeout))?;
        Ok(())
    })
}

pub fn kill(args: KillArgs) -> anyhow::Result<ExitCode> {
    let signal = shim::signal_by_name(&args.signal).with_context(|| format!("invalid signal {:?}", args.signal))?;
    each(&args.containers, |store, c| Ok(remove::kill(store, c, signal as i32)?))
}

pub fn restart(args: StopArgs) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    each(&args.containers, |store, c| {
        remove::stop(store, c, args.time.unwrap_or(c.config.stop_timeout))?;
        // The shim is on its way out; wait for it before starting another.
        remove::wait_for_shim_exit(c, Duration::from_secs(5));
        launch::launch(store, &c.config.id, &exe)?;
        Ok(())
    })
}

/// `berth top`: the processes in the container's cgroup (v1's pids controller, or v2).
pub fn top(names: &[String]) -> anyhow::Result<ExitCode> {
    need_some(names)?;
    let store = engine::store()?;
    for (i, name) in names.iter().enumerate() {
        let c = store.find_container(name)?;
        if names.len() > 1 {
            println!("{}{}", if i > 0 { "\n" } else { "" }, c.config.name);
        }
        print!("{}", processes(&c)?);
    }
    Ok(ExitCode::SUCCESS)
}

/// The processes of a running container as a table.
fn processes(c: &Container) -> anyhow::Result<output::Table> {
    if !remove::is_live(c) {
        anyhow::bail!("container {} is not running", c.config.name);
    }
    let procs = [
        format!("/sys/fs/cgroup/pids/berth/{}/cgroup.procs", c.config.id),
        format!("/sys/fs/cgroup/berth/{}/cgroup.procs", c.config.id),
    ]
    .iter()
    .find_map(|p| std::fs::read_to_string(p).ok())
    .with_context(|| format!("cannot find the cgroup of {}", c.config.name))?;
    let mut table = output::Table::new(&["UID", "PID", "PPID", "CMD"]);
    for pid in procs.split_whitespace() {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1)).unwrap_or("?").to_string();
        let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:").and_then(|v| v.split_whitespace().next().map(str::to_string)))
            })
            .unwrap_or_default();
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ").trim().to_string();
        table.row(vec![uid, pid.to_string(), ppid, cmd]);
    }
    Ok(table)
}

/// `berth system boot`: after a reboot (or a crash of every shim), starts the containers whose
/// restart policy says so, projects in dependency order (`project::boot`).
pub fn boot() -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    let failures = berth_engine::project::boot(&store, &exe, &crate::output::Lines)?;
    for why in &failures {
        output::print_error(&anyhow::anyhow!("{why}"));
    }
    Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(output::EXIT_FAILURE) })
}

/// `berth system install`: the systemd unit that runs `berth system boot` once at boot.
pub fn install(unit_dir: &std::path::Path) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    let root = berth_engine::store::default_root();
    let unit = format!(
        "[Unit]\nDescription=Start berth containers whose restart policy says so\nAfter=network-online.target local-fs.target\n\
         Wants=network-online.target\n\n[Service]\nType=oneshot\nEnvironment=BERTH_ROOT={}\nExecStart={} system boot\n\
         RemainAfterExit=yes\n# The shims it starts outlive this unit.\nKillMode=process\n\n[Install]\nWantedBy=multi-user.target\n",
        root.display(),
        exe.display()
    );
    std::fs::create_dir_all(unit_dir).with_context(|| format!("cannot create {}", unit_dir.display()))?;
    let path = unit_dir.join("berth-boot.service");
    std::fs::write(&path, unit).with_context(|| format!("cannot write {}", path.display()))?;
    println!("Wrote {}", path.display());
    println!("Enable it with: systemctl daemon-reload && systemctl enable berth-boot.service");
    Ok(ExitCode::SUCCESS)
}

/// `berth cp`: one side is `CONTAINER:PATH`, the other a host path.
pub fn cp(source: &str, destination: &str) -> anyhow::Result<ExitCode> {
    use berth_engine::container::copy;
    let store = engine::store()?;
    // A host path may hold a `:` too; only a container name before it makes it a container side.
    let split = |s: &str| {
        s.split_once(':')
            .filter(|(c, _)| !c.contains('/') && store.find_container(c).is_ok())
            .map(|(c, p)| (c.to_string(), p.to_string()))
    };
    match (split(source), split(destination)) {
        (Some((c, path)), None) => {
            let c = store.find_container(&c)?;
            let root =
                copy::root(&store, &c).with_context(|| format!("cannot reach the files of {}", c.config.name))?;
            copy::copy_out(&root.path, &path, std::path::Path::new(destination))
                .with_context(|| format!("cannot copy {path} out of {}", c.config.name))?;
        }
        (None, Some((c, path))) => {
            let c = store.find_container(&c)?;
            let root =
                copy::root(&store, &c).with_context(|| format!("cannot reach the files of {}", c.config.name))?;
            copy::copy_in(&root.path, std::path::Path::new(source), &path)
                .with_context(|| format!("cannot copy {source} into {}", c.config.name))?;
        }
        _ => anyhow::bail!("give one side as CONTAINER:PATH and the other as a host path"),
    }
    Ok(ExitCode::SUCCESS)
}

/// `berth commit`: the container's changes as a new image; a running container is paused
/// while they are read, so the layer is consistent.
pub fn commit(name: &str, image: &str, message: Option<&str>, pause: bool) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let c = store.find_container(name)?;
    let target = ImageRef::parse(image)?;
    let paused = pause && remove::is_live(&c) && c.state.status == Status::Running;
    if paused {
        remove::pause(&store, &c, true)?;
    }
    let result = berth_engine::container::commit::commit(&store, &c, &target, message);
    if paused {
        remove::pause(&store, &c, false)?;
    }
    println!("{}", result?.id);
    Ok(ExitCode::SUCCESS)
}

pub fn pause(names: &[String], pause: bool) -> anyhow::Result<ExitCode> {
    each(names, |store, c| Ok(remove::pause(store, c, pause)?))
}

pub fn rm(args: RmArgs) -> anyhow::Result<ExitCode> {
    each(&args.containers, |store, c| Ok(remove::remove(store, c, args.force)?))
}

pub fn wait(names: &[String]) -> anyhow::Result<ExitCode> {
    need_some(names)?;
    let store = engine::store()?;
    for name in names {
        let c = store.find_container(name)?;
        let code = if remove::is_live(&c) {
            let reply = control::send(&store.container_dir(&c.config.id), &Request::Wait, None)
                .with_context(|| format!("cannot reach the shim of {}", c.config.name))?;
            control::exit_code(&reply).unwrap_or(EXIT_ENGINE as i32)
        } else {
            c.state.exit_code.unwrap_or(0)
        };
        println!("{code}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A command as `ps` shows it: quoted, on one line, cut to 20 characters.
pub fn short_command(args: &[String]) -> String {
    let mut command = args.join(" ").replace(['\n', '\r', '\t'], " ");
    if command.chars().count() > 20 {
        command = command.chars().take(19).collect::<String>() + "…";
    }
    format!("\"{command}\"")
}

pub fn status_text(c: &Container) -> String {
    let s = &c.state;
    match s.status {
        Status::Running => {
            let health = match s.health.as_ref().map(|h| h.status) {
                Some(berth_engine::container::HealthStatus::Starting) => " (health: starting)".to_string(),
                Some(status) => format!(" ({status})"),
                None => String::new(),
            };
            format!("Up {}{health}", output::up_for(s.started_at.as_deref()))
        }
        Status::Exited => match s.finished_at.as_deref() {
            Some(t) => format!("Exited ({}) {}", s.exit_code.unwrap_or(0), output::since(Some(t))),
            None => "Created".into(),
        },
        Status::Restarting => {
            format!("Restarting ({}) {}", s.exit_code.unwrap_or(0), output::since(s.finished_at.as_deref()))
        }
        Status::Created => "Created".into(),
        Status::Paused => "Up (Paused)".into(),
        Status::Dead => "Dead".into(),
    }
}

pub fn ps(args: PsArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    if !args.services.is_empty() || args.list_services {
        anyhow::bail!("services are a project's: give -f or -p, or run this where compose.yaml is");
    }
    let mut all = store.list_containers()?;
    all.retain(|c| args.all || !args.status.is_empty() || remove::is_live(c));
    all.retain(|c| args.status.is_empty() || args.status.contains(&c.state.status.to_string()));
    all.reverse();
    if args.quiet {
        for c in &all {
            println!("{}", &c.config.id[..12]);
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.format == Some(Format::Json) {
        for c in &all {
            let line = serde_json::json!({
                "ID": &c.config.id[..12], "Image": c.config.image, "Command": format!("\"{}\"", c.config.args.join(" ")),
                "CreatedAt": c.config.created, "State": c.state.status.to_string(), "Status": status_text(c),
                "Names": c.config.name, "Labels": c.config.labels, "ExitCode": c.state.exit_code,
            });
            println!("{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = output::Table::new(&["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]);
    for c in &all {
        table.row(vec![
            c.config.id[..12].to_string(),
            c.config.image.clone(),
            short_command(&c.config.args),
            output::since(Some(&c.config.created)),
            status_text(c),
            c.config.network.ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(", "),
            c.config.name.clone(),
        ]);
    }
    print!("{table}");
    Ok(ExitCode::SUCCESS)
}

pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let [container] = args.targets.as_slice() else {
        anyhow::bail!("logs takes one container (or run it in a Compose project for its services)");
    };
    let c = store.find_container(container)?;
    let path = store.container_dir(&c.config.id).join("log.json");
    if !path.exists() {
        return Ok(ExitCode::SUCCESS);
    }
    // Rotated files first, oldest first; with --tail, only the last N lines of them all.
    let files = logs::files(&path);
    let mut skip = match args.tail {
        Some(n) => {
            let total: usize =
                files.iter().map(|f| std::fs::File::open(f).map_or(0, |f| BufReader::new(f).lines().count())).sum();
            total.saturating_sub(n)
        }
        None => 0,
    };
    let show = Show {
        timestamps: args.timestamps,
        since: args.since.as_deref().map(log_time).transpose()?,
        until: args.until.as_deref().map(log_time).transpose()?,
        prefix: String::new(),
    };
    let mut pending = String::new();
    for file in &files[..files.len() - 1] {
        let Ok(f) = std::fs::File::open(file) else { continue };
        let mut reader = BufReader::new(f);
        skip_lines(&mut reader, &mut skip)?;
        print_new_entries(&mut reader, &mut pending, &show);
    }
    let mut follower =
        Follower::open(&path, show).with_context(|| format!("cannot read the log of {}", c.config.name))?;
    skip_lines(&mut follower.reader, &mut skip)?;
    follower.pump();
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    // Following crosses restarts and rotations: it ends when the container has stopped for good.
    loop {
        let live = store.load_container(&c.config.id).is_ok_and(|now| remove::is_live(&now));
        std::thread::sleep(Duration::from_millis(50));
        follower.pump();
        if !live {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn skip_lines<R: BufRead>(reader: &mut R, skip: &mut usize) -> anyhow::Result<()> {
    let mut line = String::new();
    while *skip > 0 {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        *skip -= 1;
    }
    Ok(())
}

pub fn exec(args: crate::cli::ExecArgs) -> anyhow::Result<ExitCode> {
    use berth_engine::container::exec::{self as executor, ExecOptions};
    let store = engine::store()?;
    let c = store.find_container(&args.container)?;
    let opts = ExecOptions {
        args: args.command.clone(),
        env: args.env.clone(),
        working_dir: args.workdir.clone(),
        user: args.user.clone(),
    };
    if args.tty && !args.no_tty && !args.detach {
        return exec_terminal(&store, &c, &opts, args.interactive);
    }
    if args.detach {
        let null =
            || std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").map(std::os::fd::OwnedFd::from);
        executor::spawn(&store, &c, &opts, [null()?, null()?, null()?])?;
        return Ok(ExitCode::SUCCESS);
    }
    if !args.interactive {
        // Without -i the process gets no input, as with Docker.
        let null = std::fs::File::open("/dev/null")?;
        nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0)?;
    }
    match executor::run(&store, &c, &opts) {
        Ok(code) => Ok(ExitCode::from(code.clamp(0, 255) as u8)),
        Err(e) => {
            output::print_error(&anyhow::anyhow!("cannot exec in {}: {e}", c.config.name));
            Ok(ExitCode::from(e.exit_code().clamp(0, 255) as u8))
        }
    }
}

/// `exec -t`: the process gets a terminal of its own, joined to this command's.
fn exec_terminal(
    store: &Store,
    c: &Container,
    opts: &berth_engine::container::exec::ExecOptions,
    input: bool,
) -> anyhow::Result<ExitCode> {
    use berth_engine::container::exec;
    nix::sys::prctl::set_child_subreaper(true).context("cannot become the subreaper")?;
    let (pid, master) = match exec::spawn_terminal(store, c, opts, super::attach::window_size()) {
        Ok(x) => x,
        Err(e) => {
            output::print_error(&anyhow::anyhow!("cannot exec in {}: {e}", c.config.name));
            return Ok(ExitCode::from(e.exit_code().clamp(0, 255) as u8));
        }
    };
    let terminal = master.try_clone().context("cannot set up the terminal")?;
    let how = super::attach::Relay { input, terminal: true };
    let resize = |rows, cols| {
        let _ = berth_engine::container::attach::resize(&terminal, rows, cols);
    };
    let ended = super::attach::relay(master, how, resize)?;
    if ended == super::attach::Ended::Detached {
        return Ok(ExitCode::SUCCESS);
    }
    let code = exec::wait(c, pid)?;
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

pub fn inspect(objects: &[String], format: Option<&str>) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let mut out = Vec::new();
    for query in objects {
        let mut c = match store.find_container(query) {
            Ok(c) => c,
            Err(_) if store.find_image(query).is_ok() => return crate::commands::images::inspect(objects, format),
            Err(e) => return Err(e.into()),
        };
        c.state = berth_engine::container::remove::current_state(&store, &c);
        out.push(serde_json::json!({
            "Id": c.config.id,
            "Name": format!("/{}", c.config.name),
            "Created": c.config.created,
            "Image": c.config.image_id.to_string(),
            "State": {
                "Status": c.state.status.to_string(),
                "Running": c.state.status == Status::Running,
                "Restarting": c.state.status == Status::Restarting,
                "Dead": c.state.status == Status::Dead,
                "Pid": c.state.pid.unwrap_or(0),
                "ExitCode": c.state.exit_code.unwrap_or(0),
                "Error": c.state.error.clone().unwrap_or_default(),
                "StartedAt": c.state.started_at,
                "FinishedAt": c.state.finished_at,
                "LogLinesLost": c.state.log_lines_lost,
                "Health": c.state.health.as_ref().map(|h| serde_json::json!({
                    "Status": h.status.to_string(),
                    "FailingStreak": h.failing_streak,
                    "Log": h.log.iter().map(|r| serde_json::json!({"Start": r.start, "End": r.end, "ExitCode": r.exit_code, "Output": r.output})).collect::<Vec<_>>(),
                })),
            },
            "RestartCount": c.state.restart_count,
            "Config": {
                "Hostname": c.config.hostname, "User": c.config.user.clone().unwrap_or_default(), "Env": c.config.env,
                "Cmd": c.config.args, "Image": c.config.image, "WorkingDir": c.config.working_dir,
                "Labels": c.config.labels, "StopSignal": c.config.stop_signal, "StopTimeout": c.config.stop_timeout,
                "Tty": c.config.tty, "OpenStdin": c.config.open_stdin, "StdinOnce": c.config.stdin_once,
                "AttachStdin": c.config.open_stdin && c.config.stdin_once,
                "Healthcheck": c.config.healthcheck.as_ref().map(|h| serde_json::json!({
                    "Test": h.test, "Interval": h.interval_ms * 1_000_000, "Timeout": h.timeout_ms * 1_000_000,
                    "StartPeriod": h.start_period_ms * 1_000_000, "StartInterval": h.start_interval_ms * 1_000_000, "Retries": h.retries,
                })),
            },
            "HostConfig": { "RestartPolicy": c.config.restart, "AutoRemove": c.config.auto_remove },
            "LogPath": store.container_dir(&c.config.id).join("log.json"),
            "Mounts": c.config.mounts.iter().map(|m| serde_json::json!({
                "Type": m.kind, "Name": m.source.clone().filter(|_| m.kind == berth_engine::volume::MountKind::Volume),
                "Source": m.source, "Destination": m.target, "RW": !m.read_only,
            })).collect::<Vec<_>>(),
            "NetworkSettings": {
                "Networks": c.config.network.endpoints.iter().map(|e| (e.network.clone(), serde_json::json!({
                    "NetworkID": e.network_id, "IPAddress": e.ip.to_string(), "IPPrefixLen": e.prefix,
                    "Gateway": e.gateway.to_string(), "MacAddress": e.mac, "Aliases": e.aliases,
                }))).collect::<serde_json::Map<_, _>>(),
            },
        }));
    }
    super::inspect::print(&out, format)?;
    Ok(ExitCode::SUCCESS)
}

/// `berth shim ID`: standard output is the pipe to the command that started it; it becomes
/// the shim's channel to that command, and standard output itself goes to /dev/null.
pub fn shim(id: &str, attach: Option<&str>) -> anyhow::Result<ExitCode> {
    use std::os::fd::AsRawFd;
    let ready =
        std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned().context("cannot keep the start pipe")?);
    // With --attach, standard input is a connection of an attached client.
    let attached = match attach {
        Some(words) => {
            let streams = berth_engine::container::attach::Streams::parse(words)
                .with_context(|| format!("invalid --attach {words:?}: use in, out or in,out"))?;
            let fd = std::io::stdin().as_fd().try_clone_to_owned().context("cannot take the attached connection")?;
            Some((std::os::unix::net::UnixStream::from(fd), streams))
        }
        None => None,
    };
    let null = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null").context("cannot open /dev/null")?;
    nix::unistd::dup2(null.as_raw_fd(), 0).context("cannot redirect standard input")?;
    nix::unistd::dup2(null.as_raw_fd(), 1).context("cannot redirect standard output")?;
    let store = engine::store()?;
    let code = shim::run(&store, id, ready, attached);
    Ok(ExitCode::from(code as u8))
}
