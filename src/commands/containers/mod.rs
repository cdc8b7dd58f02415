//! Container commands outside a project: `start`, `stop`, `kill`, `restart`, `rm`, `pause`,
//! `top`, `wait`, `cp`, `commit`, `inspect`; `run`/`create` and `exec` have modules of their own.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use berth_engine::container::control::{self, Request};
use berth_engine::container::launch;
use berth_engine::container::store::Container;
use berth_engine::container::{Status, remove, shim};
use berth_engine::reference::ImageRef;
use berth_engine::store::Store;

use crate::cli::{KillArgs, RmArgs, StopArgs};
use crate::{engine, output};

/// Docker's exit code when the engine itself fails to run a container.
mod exec;
pub(crate) mod object;
pub(crate) mod run;

pub(crate) use exec::exec;

const EXIT_ENGINE: u8 = 125;

pub fn start(names: &[String]) -> anyhow::Result<ExitCode> {
    need_some(names)?;
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

/// A restart policy as Docker's inspect shows it: `{"Name": "on-failure", "MaximumRetryCount": 3}`.
/// The processes of a running container as a table.
fn processes(c: &Container) -> anyhow::Result<output::Table> {
    let mut table = output::Table::new(&["UID", "PID", "PPID", "CMD"]);
    for row in process_rows(c)? {
        table.row(row.to_vec());
    }
    Ok(table)
}

/// UID, PID, PPID and command line of each process in a running container's cgroup.
pub(crate) fn process_rows(c: &Container) -> anyhow::Result<Vec<[String; 4]>> {
    if !remove::is_live(c) {
        anyhow::bail!(remove::RemoveError::NotRunning(c.config.name.clone()));
    }
    let procs = berth_engine::container::cgroup::container_cgroups(&c.config.cgroups_path())
        .iter()
        .find_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok().filter(|p| !p.trim().is_empty()))
        .with_context(|| format!("cannot find the cgroup of {}", c.config.name))?;
    let mut rows = Vec::new();
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
        rows.push([uid, pid.to_string(), ppid, cmd]);
    }
    Ok(rows)
}

/// `berth cp`: one side is `CONTAINER:PATH`, the other a host path.
pub fn cp(source: &str, destination: &str, follow: bool) -> anyhow::Result<ExitCode> {
    use berth_engine::container::{copy, copy_stream};
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
            let host = copy_stream::etc_file(&store, &c, &path);
            let failed = || format!("cannot copy {path} out of {}", c.config.name);
            let to = std::path::Path::new(destination);
            match (destination, &host) {
                ("-", _) => {
                    let out = std::io::BufWriter::new(std::io::stdout().lock());
                    copy_stream::copy_out_tar(&store, &root.path(), &path, host.as_deref(), follow, out)
                        .and_then(|mut w| w.flush())
                        .with_context(failed)?;
                }
                (_, Some(file)) => {
                    let target = if to.is_dir() { to.join(file.file_name().unwrap_or_default()) } else { to.into() };
                    std::fs::copy(file, target).with_context(failed)?;
                }
                _ => copy::copy_out(&root.path(), &path, to, follow).with_context(failed)?,
            }
        }
        (None, Some((c, path))) => {
            let c = store.find_container(&c)?;
            let root =
                copy::root(&store, &c).with_context(|| format!("cannot reach the files of {}", c.config.name))?;
            let failed = || format!("cannot copy {source} into {}", c.config.name);
            match source {
                "-" => copy_stream::copy_in_tar(&store, &root.path(), std::io::stdin().lock(), &path)
                    .with_context(failed)?,
                _ => copy::copy_in(&root.path(), std::path::Path::new(source), &path).with_context(failed)?,
            }
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

/// `diff`: the container's changes to its image's files, a line each (`C /etc`).
pub fn diff(name: &str) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let c = store.find_container(name)?;
    let changes = berth_engine::container::commit::changes(&store, &c)
        .with_context(|| format!("cannot read the changes of container {}", c.config.name))?;
    let mut out = std::io::stdout().lock();
    for (kind, path) in changes {
        writeln!(out, "{} {path}", kind.letter())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `rename`: a new name, under which the container is found and resolved on its networks.
pub fn rename(name: &str, new_name: &str) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let c = store.find_container(name)?;
    if c.config.name == new_name {
        anyhow::bail!("container {name} is already called {new_name}: renaming a container needs another name");
    }
    rename_to(&store, &c, new_name)?;
    Ok(ExitCode::SUCCESS)
}

/// Gives `c` the name `name`, in its record and in the names the DNS server answers.
pub(crate) fn rename_to(store: &Store, c: &Container, name: &str) -> anyhow::Result<()> {
    store.rename_container(&c.config.id, name)?;
    if !c.config.network.endpoints.is_empty() {
        berth_engine::network::sync_dns(store)?;
    }
    Ok(())
}

/// `export`: the container's files as a tar stream, to `output` or standard output (never
/// to a terminal).
pub fn export(name: &str, output: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let c = store.find_container(name)?;
    let failed = || format!("cannot export container {}", c.config.name);
    match output {
        Some(path) => {
            // Written whole under a temporary name, so a failed export leaves no half archive.
            let temp = path.with_file_name(format!(".{}.part", path.file_name().unwrap_or_default().to_string_lossy()));
            let file = std::fs::File::create(&temp).with_context(|| format!("cannot write {}", temp.display()))?;
            let result = berth_engine::container::export::export(&store, &c, std::io::BufWriter::new(file))
                .and_then(|w| w.into_inner().map_err(|e| e.into_error()))
                .and_then(|f| f.sync_all())
                .and_then(|()| std::fs::rename(&temp, path));
            if result.is_err() {
                let _ = std::fs::remove_file(&temp);
            }
            result.with_context(failed)?;
        }
        None => {
            if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
                anyhow::bail!(
                    "cowardly refusing to write an archive to a terminal: use -o FILE or redirect the output"
                );
            }
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            berth_engine::container::export::export(&store, &c, out)
                .and_then(|mut w| w.flush())
                .with_context(failed)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `update`: new limits and restart policy, for the next start and, in a running
/// container, at once.
pub fn update(
    names: &[String],
    memory: Option<&str>,
    cpus: Option<f64>,
    pids_limit: Option<i64>,
    restart: Option<&str>,
) -> anyhow::Result<ExitCode> {
    use berth_engine::container::update::{self, Update};
    let memory = memory
        .map(|m| berth_compose::model::types::ByteSize::parse(m).map(|b| b.0))
        .transpose()
        .map_err(|e| anyhow::anyhow!("invalid --memory: {e}"))?;
    let restart = restart
        .map(|r| {
            berth_engine::container::RestartPolicy::parse(r)
                .with_context(|| format!("invalid --restart {r:?}: use no, always, unless-stopped or on-failure[:N]"))
        })
        .transpose()?;
    let change = Update { memory, cpus, pids_limit, restart };
    if change == Update::default() {
        anyhow::bail!("nothing to update: give --memory, --cpus, --pids-limit or --restart");
    }
    each(names, |store, c| Ok(update::update(store, c, &change)?))
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
            match control::send(&store.container_dir(&c.config.id), &Request::Wait, None) {
                Ok(reply) => control::exit_code(&reply).unwrap_or(EXIT_ENGINE as i32),
                // The shim ended between the look and the question (its socket's queue goes
                // with it): the record it saved first has the exit.
                Err(e) => match store.load_container(&c.config.id) {
                    Ok(again) if !remove::is_live(&again) => again.state.exit_code.unwrap_or(0),
                    _ => return Err(e).with_context(|| format!("cannot reach the shim of {}", c.config.name)),
                },
            }
        } else {
            c.state.exit_code.unwrap_or(0)
        };
        println!("{code}");
    }
    Ok(ExitCode::SUCCESS)
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
        out.push(object::inspect(&store, &c));
    }
    crate::commands::inspect::print(&out, format)?;
    Ok(ExitCode::SUCCESS)
}
