//! `system boot`, `system install` and the hidden `shim` command: what the host's init and
//! the engine run, not people.

use std::os::fd::AsFd;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use berth_engine::container::shim;

use crate::format::{Columns, Format};
use crate::{engine, output};

/// `berth system boot`: after a reboot (or a crash of every shim), starts the containers whose
/// restart policy says so, projects in dependency order (`project::boot`).
pub fn boot() -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    let failures = berth_engine::project::boot(&store, &exe, &crate::report::Lines)?;
    for why in &failures {
        output::print_error(&anyhow::anyhow!("{why}"));
    }
    Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(output::EXIT_FAILURE) })
}

/// `system df`: the space each kind of object takes, as Docker's table shows it.
pub fn df(verbose: bool, format: Option<&str>) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    if verbose {
        return df_verbose(&store);
    }
    let format = Format::parse(format, &DF)?;
    let usage =
        berth_engine::usage::disk_usage(&store).map_err(|e| anyhow::anyhow!("cannot measure the disk usage: {e}"))?;
    let reclaimable = |u: &berth_engine::usage::Usage| {
        let size = crate::output::human_size(u.reclaimable);
        match (u.kind, u.size) {
            ("Build Cache", _) => size,
            (_, 0) => format!("{size} (0%)"),
            (_, total) => format!("{size} ({}%)", u.reclaimable * 100 / total),
        }
    };
    let rows: Vec<serde_json::Value> = usage
        .iter()
        .map(|u| {
            serde_json::json!({
                "Active": u.active.to_string(), "Reclaimable": reclaimable(u),
                "Size": crate::output::human_size(u.size), "TotalCount": u.total.to_string(), "Type": u.kind,
            })
        })
        .collect();
    format.print(&rows, &DF)?;
    Ok(ExitCode::SUCCESS)
}

/// `system df`'s columns, as Docker names them.
const DF: Columns = Columns {
    default: "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
    headers: &[
        ("Type", "TYPE"),
        ("TotalCount", "TOTAL"),
        ("Active", "ACTIVE"),
        ("Size", "SIZE"),
        ("Reclaimable", "RECLAIMABLE"),
    ],
};

/// `system df -v`: each image (with the space it shares with others), container, volume and
/// build cache record, under Docker's headings.
fn df_verbose(store: &berth_engine::store::Store) -> anyhow::Result<ExitCode> {
    use crate::output::{Table, human_size, since};
    use berth_engine::usage;
    let containers = store.list_containers()?;
    let rows = store.image_rows()?;
    // How many images each layer belongs to (one count per image ID, however many names).
    let mut ids = std::collections::BTreeMap::new();
    for r in &rows {
        ids.entry(r.record.id.clone()).or_insert(&r.config.rootfs.diff_ids);
    }
    let mut holders: std::collections::BTreeMap<_, usize> = std::collections::BTreeMap::new();
    for layers in ids.values() {
        for d in layers.iter().collect::<std::collections::BTreeSet<_>>() {
            *holders.entry(d.clone()).or_default() += 1;
        }
    }
    println!("Images space usage:\n");
    let mut t =
        Table::new(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"]);
    for r in &rows {
        let shared: u64 =
            r.config.rootfs.diff_ids.iter().filter(|d| holders[*d] > 1).map(|d| store.snapshot_size(d)).sum();
        let users = containers.iter().filter(|c| c.config.image_id == r.record.id).count();
        t.row(vec![
            super::images::repository(&r.name),
            r.name.tag.clone().unwrap_or_else(|| "<none>".into()),
            r.record.id.short().to_string(),
            since(r.config.created.as_deref()),
            human_size(r.size),
            human_size(shared),
            human_size(r.size - shared.min(r.size)),
            users.to_string(),
        ]);
    }
    print!("{t}");
    println!("\nContainers space usage:\n");
    let mut t =
        Table::new(&["CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"]);
    for c in &containers {
        let volumes = c.config.mounts.iter().filter(|m| m.kind == berth_engine::volume::MountKind::Volume).count();
        t.row(vec![
            c.config.id[..12].to_string(),
            c.config.image.clone(),
            super::ps::short_command(&c.config.args),
            volumes.to_string(),
            human_size(usage::container_size(store, c)),
            since(Some(&c.config.created)),
            super::ps::status_text(c),
            c.config.name.clone(),
        ]);
    }
    print!("{t}");
    println!("\nLocal Volumes space usage:\n");
    let vs = berth_engine::volume::volumes(store);
    let mut t = Table::new(&["VOLUME NAME", "LINKS", "SIZE"]);
    for v in vs.list()? {
        let size = usage::volume_size(&vs, &v);
        let links = berth_engine::volume::users(store, &v.name)?.len();
        t.row(vec![v.name.clone(), links.to_string(), human_size(size)]);
    }
    print!("{t}");
    let cache = usage::build_cache_usage(store, &usage::image_blobs(store));
    println!("\nBuild cache usage: {}\n", human_size(cache.size));
    let mut t = Table::new(&["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"]);
    for record in store.build_cache_records() {
        let made = since(Some(&berth_engine::time::rfc3339(record.modified)));
        let key = record.key.chars().take(12).collect::<String>();
        t.row(vec![key, "regular".into(), human_size(record.size), made.clone(), made, "1".into(), "false".into()]);
    }
    print!("{t}");
    Ok(ExitCode::SUCCESS)
}

/// `berth system install`: the systemd unit that runs `berth system boot` once at boot (and
/// with `api` the units of the API service), bash's completion script and the manual pages.
pub fn install(unit_dir: &Path, completion_dir: &Path, man_dir: &Path, api: bool) -> anyhow::Result<ExitCode> {
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
    if api {
        install_api(unit_dir, &exe, &root)?;
    }
    let mut script = Vec::new();
    let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
    clap_complete::generate(clap_complete::Shell::Bash, &mut command, "berth", &mut script);
    std::fs::create_dir_all(completion_dir).with_context(|| format!("cannot create {}", completion_dir.display()))?;
    let path = completion_dir.join("berth");
    std::fs::write(&path, script).with_context(|| format!("cannot write {}", path.display()))?;
    println!("Wrote {} (bash completion)", path.display());
    let pages = man_pages(man_dir)?;
    println!("Wrote {pages} manual pages in {}", man_dir.display());
    Ok(ExitCode::SUCCESS)
}

/// The socket unit that listens on the API's socket and the service it starts on the first
/// connection; the service ends after ten idle minutes and the socket starts it again. The
/// containers' shims outlive both.
fn install_api(unit_dir: &Path, exe: &Path, root: &Path) -> anyhow::Result<()> {
    let group = nix::unistd::Group::from_name("berth").ok().flatten().map_or("root", |_| "berth");
    let socket = format!(
        "[Unit]\nDescription=berth's Docker Engine API socket\n\n[Socket]\nListenStream={}\nSocketMode=0660\n\
         SocketUser=root\nSocketGroup={group}\nRemoveOnStop=yes\n\n[Install]\nWantedBy=sockets.target\n",
        crate::cli::API_SOCKET
    );
    let service = format!(
        "[Unit]\nDescription=berth's Docker Engine API\nRequires=berth-api.socket\nAfter=berth-api.socket network-online.target\n\n\
         [Service]\nEnvironment=BERTH_ROOT={}\nExecStart={} system service --socket {} --timeout 600\n\
         # The shims of the containers it starts outlive it.\nKillMode=process\n\n[Install]\nAlso=berth-api.socket\n",
        root.display(),
        exe.display(),
        crate::cli::API_SOCKET
    );
    for (name, text) in [("berth-api.socket", socket), ("berth-api.service", service)] {
        let path = unit_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("Wrote {}", path.display());
    }
    println!("Enable it with: systemctl daemon-reload && systemctl enable --now berth-api.socket");
    Ok(())
}

/// Writes a manual page for berth and one for each of its commands (`berth-up.1`,
/// `berth-image-ls.1`...), made from the command definitions. Returns how many.
pub fn man_pages(dir: &Path) -> anyhow::Result<usize> {
    fn write(dir: &Path, command: &clap::Command, name: &str) -> anyhow::Result<usize> {
        let mut page = Vec::new();
        let man = clap_mangen::Man::new(command.clone()).title(name.to_string());
        man.render(&mut page).with_context(|| format!("cannot render {name}.1"))?;
        let path = dir.join(format!("{name}.1"));
        std::fs::write(&path, page).with_context(|| format!("cannot write {}", path.display()))?;
        let mut count = 1;
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
            count += write(dir, sub, &format!("{name}-{}", sub.get_name()))?;
        }
        Ok(count)
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
    command.build();
    write(dir, &command, "berth")
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
