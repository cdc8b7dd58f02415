//! `run` and `create`: a new container from an image and the command line's flags, started
//! (attached or not) or only created.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use berth_engine::container::attach::Streams;
use berth_engine::container::create::{self, CreateOptions};
use berth_engine::container::launch::{self, LaunchError};
use berth_engine::container::{HostConfig, RestartPolicy};
use berth_engine::image::manifest::Platform;
use berth_engine::image::ops::ImageError;
use berth_engine::image::pull;
use berth_engine::reference::ImageRef;
use berth_engine::store::Store;

use super::EXIT_ENGINE;
use crate::cli::RunArgs;
use crate::commands::logs::{Follower, Show};
use crate::{engine, output, progress};

pub fn run(args: RunArgs, start: bool) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let opts = create_options(&store, &args)?;
    let (image_name, record) = image_for_run(&store, &args.image, &args.pull)?;
    let config = create::create(&store, &image_name, &record, opts)?;
    if !start {
        println!("{}", config.id);
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    let shown = args.detach.then_some(config.id.as_str());
    start_new(&store, &config, &exe, shown)
}

/// What `run`'s flags ask of a new container (the image aside); the API's `create` comes
/// here too, its request turned into these flags.
pub(crate) fn create_options(store: &Store, args: &RunArgs) -> anyhow::Result<CreateOptions> {
    let restart = RestartPolicy::parse(&args.restart).with_context(|| {
        format!("invalid restart policy {:?}: use no, always, on-failure[:N] or unless-stopped", args.restart)
    })?;
    if args.rm && restart != RestartPolicy::No {
        anyhow::bail!("--rm and --restart cannot be used together");
    }
    let env = args
        .env
        .iter()
        .filter_map(
            |e| if e.contains('=') { Some(e.clone()) } else { std::env::var(e).ok().map(|v| format!("{e}={v}")) },
        )
        .collect();
    let labels: BTreeMap<String, String> = crate::commands::key_values(&args.labels);
    let (network, networks) = crate::commands::network::settings_for_run(store, args)?;
    let mut opts = CreateOptions {
        network,
        networks,
        mounts: crate::commands::volume::mounts_for_run(args)?,
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
        restart_on_unhealthy: args.restart_on_unhealthy,
        open_stdin: args.interactive,
        stdin_once: args.interactive && !args.detach,
        tty: args.tty,
        stop_signal: args.stop_signal.clone(),
        stop_timeout: args.stop_timeout,
        log: Default::default(),
        health: health_flags(args)?,
        host: host_flags(args)?,
        post_start: Vec::new(),
        pre_stop: Vec::new(),
        files: Vec::new(),
    };
    let mut log_opts = BTreeMap::new();
    for o in &args.log_opts {
        let (k, v) = o.split_once('=').with_context(|| format!("invalid log option {o:?}: use KEY=VALUE"))?;
        log_opts.insert(k.to_string(), v.to_string());
    }
    let (log, warnings) = berth_engine::container::logdriver::config(args.log_driver.as_deref(), &log_opts)
        .map_err(|e| anyhow::anyhow!("logging: {e}"))?;
    for w in warnings {
        tracing::warn!("{w}");
    }
    opts.log = log;
    Ok(opts)
}

/// What the flags ask of the host: resources, namespaces and privileges.
fn host_flags(args: &RunArgs) -> anyhow::Result<HostConfig> {
    let bytes = |what: &str, v: &Option<String>| -> anyhow::Result<Option<u64>> {
        v.as_deref()
            .map(|m| berth_compose::model::types::ByteSize::parse(m).map(|b| b.0))
            .transpose()
            .map_err(|e| anyhow::anyhow!("{what}: {e}"))
    };
    let memory_swap = match args.memory_swap.as_deref() {
        Some("-1") => Some(-1),
        _ => bytes("--memory-swap", &args.memory_swap)?.map(|b| b as i64),
    };
    let sysctls = args
        .sysctls
        .iter()
        .map(|kv| kv.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect::<Option<BTreeMap<_, _>>>()
        .context("invalid --sysctl: use KEY=VALUE")?;
    Ok(HostConfig {
        // The terminal's size from the container's first byte, not after it may have asked.
        console_size: args.tty.then(crate::commands::attach::window_size).flatten().map(|(rows, cols)| [rows, cols]),
        memory: bytes("--memory", &args.memory)?,
        cpus: args.cpus,
        pids_limit: args.pids_limit,
        memory_reservation: bytes("--memory-reservation", &args.memory_reservation)?,
        memory_swap,
        memory_swappiness: args.memory_swappiness,
        oom_kill_disable: args.oom_kill_disable,
        oom_score_adj: args.oom_score_adj,
        cpu_shares: args.cpu_shares,
        cpu_quota: args.cpu_quota,
        cpu_period: args.cpu_period,
        cpu_rt_runtime: args.cpu_rt_runtime,
        cpu_rt_period: args.cpu_rt_period,
        cpuset_cpus: args.cpuset_cpus.clone(),
        shm_size: bytes("--shm-size", &args.shm_size)?,
        sysctls,
        group_add: args.group_add.clone(),
        pid_mode: args.pid.clone(),
        ipc_mode: args.ipc.clone(),
        uts_mode: args.uts.clone(),
        cgroupns_mode: args.cgroupns.clone(),
        cgroup_parent: args.cgroup_parent.clone(),
        annotations: crate::commands::key_values(&args.annotations),
        device_cgroup_rules: args.device_cgroup_rules.clone(),
        blkio: None,
        devices: args
            .devices
            .iter()
            .map(|d| berth_engine::container::options::Device::parse(d).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?,
        security_opt: args
            .security_opt
            .iter()
            .map(|o| berth_engine::container::seccomp::inline(o, Path::new(".")).map_err(anyhow::Error::msg))
            .collect::<anyhow::Result<_>>()?,
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
    })
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
            let how = crate::commands::attach::Relay { input: config.open_stdin, terminal: true };
            let dir = store.container_dir(&config.id);
            if crate::commands::attach::relay(conn.into(), how, crate::commands::attach::resize_container(&dir))?
                == crate::commands::attach::Ended::Detached
            {
                return Ok(ExitCode::SUCCESS);
            }
            launch::wait_exit(&mut started).unwrap_or(EXIT_ENGINE as i32)
        }
        Some(conn) => {
            // Input only: a thread sends it while the log shows the output.
            std::thread::spawn(move || crate::commands::attach::send_input_only(conn.into()));
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
    let from = berth_engine::container::logs::Start::Current;
    let mut follower = Follower::open(&store.container_dir(id), from, Show::default())?;
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
