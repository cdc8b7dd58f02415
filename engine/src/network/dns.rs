//! The DNS records of the state and the `berth dns` server that answers them.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use berth_network::dns::{DnsEndpoint, DnsNetwork, Records};

use super::{DnsFile, NetworksDir, Result, io_error, list};
use crate::fsutil;
use crate::store::Store;

/// The DNS records of the current state.
pub fn records(store: &Store) -> Result<Records> {
    let networks = list(store)?;
    let containers = store.list_containers()?;
    let ids: BTreeMap<&str, &str> = containers.iter().map(|c| (c.config.name.as_str(), c.config.id.as_str())).collect();
    let mut endpoints = Vec::new();
    for c in &containers {
        let cfg = &c.config;
        let links: BTreeMap<String, String> = cfg
            .network
            .links
            .iter()
            .filter_map(|(alias, target)| {
                ids.get(target.as_str()).map(|id| (alias.to_ascii_lowercase(), id.to_string()))
            })
            .collect();
        for e in &cfg.network.endpoints {
            let mut names = vec![cfg.name.clone(), cfg.id[..12].to_string()];
            if let Some(service) = cfg.labels.get(crate::labels::SERVICE) {
                names.push(service.clone());
            }
            names.extend(e.aliases.iter().cloned());
            endpoints.push(DnsEndpoint {
                container: cfg.id.clone(),
                network: e.network.clone(),
                ip: e.ip,
                names,
                links: links.clone(),
            });
        }
    }
    Ok(Records {
        networks: networks
            .iter()
            .map(|n| DnsNetwork { name: n.name.clone(), gateway: n.gateway, internal: n.internal })
            .collect(),
        endpoints,
    })
}

fn dns_file(store: &Store, file: DnsFile) -> PathBuf {
    NetworksDir::of(store).dns(file)
}

/// Writes the DNS records of the current state and tells the server (which exits when no
/// network is left).
pub fn sync_dns(store: &Store) -> Result<()> {
    let records = records(store)?;
    std::fs::create_dir_all(NetworksDir::of(store).path()).map_err(io_error("cannot create the networks directory"))?;
    let path = dns_file(store, DnsFile::Records);
    // Rewritten from the state at every change: nothing to flush to disk.
    fsutil::write_derived(&path, &serde_json::to_vec(&records).expect("records serialise"))
        .map_err(io_error(format!("cannot write {}", path.display())))?;
    if let Some(pid) = dns_pid(store) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGHUP);
    }
    Ok(())
}

/// The running DNS server's PID, if one runs for this state directory.
fn dns_pid(store: &Store) -> Option<i32> {
    let lock = std::fs::File::open(dns_file(store, DnsFile::Lock)).ok()?;
    // A lock we can take is a lock nobody holds: no server.
    if nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok() {
        return None;
    }
    std::fs::read_to_string(dns_file(store, DnsFile::Pid)).ok()?.trim().parse().ok()
}

/// Makes sure `berth dns` runs and listens on every network's gateway.
pub fn ensure_dns(store: &Store) -> Result<()> {
    // The records are rewritten whenever they change (networks and containers created or
    // removed); only a state directory that never had them needs writing here.
    if !dns_file(store, DnsFile::Records).exists() {
        sync_dns(store)?;
    }
    let wanted: BTreeSet<Ipv4Addr> = list(store)?.iter().map(|n| n.gateway).collect();
    if wanted.is_empty() {
        return Ok(());
    }
    if dns_pid(store).is_none() {
        spawn_dns(store)?;
    }
    // The server binds new gateways when it reloads; a container must not ask before.
    // Polled, not watched: the server answers within milliseconds, and an inotify instance
    // would cost more than that when it is closed.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let bound: BTreeSet<Ipv4Addr> = std::fs::read(dns_file(store, DnsFile::Bound))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if wanted.is_subset(&bound) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            tracing::warn!(
                "the DNS server does not listen on every network yet; see {}",
                dns_file(store, DnsFile::Log).display()
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn spawn_dns(store: &Store) -> Result<()> {
    let exe = std::env::current_exe().map_err(io_error("cannot find the berth binary"))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dns_file(store, DnsFile::Log))
        .map_err(io_error("cannot open the DNS server's log"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("dns")
        .env("BERTH_ROOT", &store.root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(log);
    let mut child = crate::process::spawn_detached(&mut cmd).map_err(io_error("cannot start the DNS server"))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    // Not waited for: it lives on, reparented to init.
    drop(child);
    Ok(())
}

/// `berth dns`: serves this state directory's records until no network is left. Only one
/// runs per state directory (it holds `dns.lock`); a second one exits at once.
pub fn serve_dns(store: &Store) -> Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(NetworksDir::of(store).path()).map_err(io_error("cannot create the networks directory"))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dns_file(store, DnsFile::Lock))
        .map_err(io_error("cannot open the DNS lock"))?;
    let Ok(_held) = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) else {
        println!("already running");
        return Ok(());
    };
    fsutil::write_atomic(&dns_file(store, DnsFile::Pid), std::process::id().to_string().as_bytes())
        .map_err(io_error("cannot write the DNS server's PID"))?;
    let gateways: Vec<Ipv4Addr> = list(store)?.iter().map(|n| n.gateway).collect();
    let upstreams: Vec<std::net::SocketAddr> = match std::env::var("BERTH_DNS_UPSTREAM") {
        Ok(list) => list.split(',').filter_map(|a| a.trim().parse().ok()).collect(),
        Err(_) => berth_network::dns::upstreams_from_resolv_conf(
            &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        )
        .into_iter()
        .filter(|a| !matches!(a.ip(), std::net::IpAddr::V4(ip) if gateways.contains(&ip)))
        .collect(),
    };
    let bound_path = dns_file(store, DnsFile::Bound);
    let mut announced = false;
    let mut written: Option<Vec<Ipv4Addr>> = None;
    let outcome = berth_network::dns::serve(&dns_file(store, DnsFile::Records), &upstreams, |bound| {
        // The server reloads every second; the file changes only when the addresses do.
        if written.as_deref() != Some(bound) {
            let _ = fsutil::write_atomic(&bound_path, &serde_json::to_vec(bound).expect("addresses serialise"));
            written = Some(bound.to_vec());
        }
        if !announced {
            announced = true;
            let mut out = std::io::stdout();
            let _ = writeln!(out, "ready");
            let _ = out.flush();
            // Let go of the pipe: the command that started us reads until it closes.
            if let Ok(null) = std::fs::File::open("/dev/null") {
                let _ = nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 1);
            }
        }
    });
    let _ = std::fs::remove_file(&bound_path);
    outcome.map_err(io_error("the DNS server failed"))
}
