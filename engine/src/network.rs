//! berth's networks as records in the state directory, and the network side of a container's
//! life: addresses chosen at creation, the namespace and veth pairs set up before its shim
//! starts, the firewall and the DNS records kept in step with the state.
//!
//! Layout of `<root>/networks/`:
//!
//! ```text
//! <id>.json   NetworkRecord
//! .lock       held while addresses are chosen and while the firewall is rewritten
//! dns.json    the records `berth dns` serves (berth_network::dns::Records)
//! dns.lock    held by the running `berth dns` for its whole life; dns.pid names it
//! dns.bound   the gateway addresses it listens on, rewritten after every reload
//! ```
//!
//! A container's namespace is bind-mounted on `<root>/containers/<id>/netns`. It lives from the
//! container's first start to its removal, so a restart keeps its addresses.

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_network::dns::{DnsEndpoint, DnsNetwork, Records};
use berth_network::ipam::{self, Subnet};
use berth_network::link::{self, Netlink};
use berth_network::{NetError, firewall, netns, ports};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::container::store::{Container, ContainerError};
use crate::container::{ContainerConfig, Endpoint, NetworkMode};
use crate::fsutil::{self, Lock};
use crate::store::Store;

/// The network Docker calls `bridge`: where `run` puts a container when told nothing else.
pub const DEFAULT_NETWORK: &str = "bridge";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub driver: String,
    /// The Linux bridge (`br-<id12>`).
    pub bridge: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Subnet>,
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub attachable: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    pub created: String,
}

/// What `network create` (or a Compose `networks:` entry) asks for.
#[derive(Debug, Clone, Default)]
pub struct NetworkOptions {
    pub name: String,
    pub driver: Option<String>,
    pub subnet: Option<Subnet>,
    pub gateway: Option<Ipv4Addr>,
    pub ip_range: Option<Subnet>,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network {0} already exists")]
    Exists(String),
    #[error("invalid network name {0:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit")]
    BadName(String),
    #[error("network {name} is in use by {containers}; remove or disconnect them first")]
    InUse { name: String, containers: String },
    #[error("network driver {0:?} is not supported: berth has bridge networks (and the host and none modes)")]
    Driver(String),
    #[error("network {0}: IPv6 (enable_ipv6) is not supported by berth yet")]
    Ipv6(String),
    #[error("network {network}: {message}")]
    Address { network: String, message: String },
    #[error("container {container} is already on network {network}")]
    AlreadyConnected { container: String, network: String },
    #[error("container {container} is not on network {network}")]
    NotConnected { container: String, network: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Net(#[from] NetError),
    #[error(transparent)]
    Container(#[from] ContainerError),
}

fn io_error(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetworkError {
    let what = what.into();
    move |source| NetworkError::Io { what, source }
}

type Result<T, E = NetworkError> = std::result::Result<T, E>;

fn dir(store: &Store) -> PathBuf {
    store.root.join("networks")
}

/// Held while addresses are chosen and while the firewall is rewritten.
pub fn lock(store: &Store) -> Result<Lock> {
    let d = dir(store);
    std::fs::create_dir_all(&d).map_err(io_error(format!("cannot create {}", d.display())))?;
    Lock::acquire(&d.join(".lock")).map_err(io_error("cannot lock the networks"))
}

pub fn list(store: &Store) -> Result<Vec<NetworkRecord>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir(store)) else { return Ok(out) };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "json") && !path.ends_with("dns.json") {
            let bytes = std::fs::read(&path).map_err(io_error(format!("cannot read {}", path.display())))?;
            match serde_json::from_slice::<NetworkRecord>(&bytes) {
                Ok(r) => out.push(r),
                Err(e) => tracing::warn!("ignoring {}: {e}", path.display()),
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A network by name, full ID or unique ID prefix.
pub fn find(store: &Store, query: &str) -> Result<NetworkRecord> {
    let all = list(store)?;
    if let Some(n) = all.iter().find(|n| n.name == query || n.id == query) {
        return Ok(n.clone());
    }
    let matches: Vec<&NetworkRecord> = all.iter().filter(|n| !query.is_empty() && n.id.starts_with(query)).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        _ => Err(NetworkError::NotFound(query.to_string())),
    }
}

fn save(store: &Store, record: &NetworkRecord) -> Result<()> {
    let path = dir(store).join(format!("{}.json", record.id));
    let bytes = serde_json::to_vec_pretty(record).expect("a network record serialises");
    fsutil::write_atomic(&path, &bytes).map_err(io_error(format!("cannot write {}", path.display())))
}

/// The nftables table of this state directory: `berth` for the system's, one per directory
/// otherwise (tests run several side by side).
pub fn table_name(store: &Store) -> String {
    if store.root == Path::new(crate::store::DEFAULT_ROOT) {
        return "berth".into();
    }
    let hash = sha2::Sha256::digest(store.root.as_os_str().as_encoded_bytes());
    format!("berth_{}", hash.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>())
}

/// Creates a network: its record, its bridge with the gateway address, its firewall rules.
/// On failure nothing is left.
pub fn create(store: &Store, opts: NetworkOptions) -> Result<NetworkRecord> {
    if !crate::container::store::valid_name(&opts.name) {
        return Err(NetworkError::BadName(opts.name));
    }
    if let Some(driver) = opts.driver.as_deref().filter(|d| *d != "bridge") {
        return Err(NetworkError::Driver(driver.to_string()));
    }
    if opts.enable_ipv6 {
        return Err(NetworkError::Ipv6(opts.name));
    }
    let _lock = lock(store)?;
    let existing = list(store)?;
    if existing.iter().any(|n| n.name == opts.name) {
        return Err(NetworkError::Exists(opts.name));
    }
    // The host's routes are read, the subnet chosen and the bridge made under one lock of the
    // whole host: two berth processes (of two state directories, say) choosing at the same
    // moment would otherwise both take the first free subnet.
    let _host = host_lock()?;
    let address_error =
        |e: ipam::IpamError| NetworkError::Address { network: opts.name.clone(), message: e.to_string() };
    let routes = std::fs::read_to_string("/proc/net/route").map(|t| ipam::routes_from_proc(&t)).unwrap_or_default();
    let mut in_use: Vec<(Subnet, String)> =
        existing.iter().map(|n| (n.subnet, format!("network {}", n.name))).collect();
    // The bridges of other state directories are routes of the host like any other.
    in_use.extend(
        routes
            .iter()
            .filter(|r| !existing.iter().any(|n| n.subnet == **r))
            .map(|r| (*r, format!("the host's route to {r}"))),
    );
    let subnet = match opts.subnet {
        Some(s) => {
            ipam::check_subnet(s, &in_use).map_err(address_error)?;
            s
        }
        None => {
            let taken: Vec<Subnet> = in_use.iter().map(|(s, _)| *s).collect();
            ipam::choose_subnet(&ipam::default_pools(), &taken).map_err(address_error)?
        }
    };
    let gateway = opts.gateway.unwrap_or_else(|| subnet.gateway());
    if !subnet.contains(gateway) {
        return Err(address_error(ipam::IpamError::OutsideSubnet { addr: gateway, subnet }));
    }
    if let Some(range) = opts.ip_range {
        if !subnet.contains(range.addr) || range.prefix < subnet.prefix {
            return Err(NetworkError::Address {
                network: opts.name,
                message: format!("ip_range {range} is not inside subnet {subnet}"),
            });
        }
    }
    let id = crate::container::new_id();
    let record = NetworkRecord {
        bridge: format!("br-{}", &id[..12]),
        id,
        name: opts.name,
        driver: "bridge".into(),
        subnet,
        gateway,
        ip_range: opts.ip_range,
        internal: opts.internal,
        attachable: opts.attachable,
        labels: opts.labels,
        options: opts.options,
        created: crate::time::now_nanos(),
    };
    // The record first: a command killed between the two leaves a network that `network ls`
    // shows and `rm` removes (its bridge is made again when needed), never a bridge that
    // nothing knows of.
    let setup = || -> Result<()> {
        save(store, &record)?;
        bring_up(&record)?;
        sync_firewall_locked(store)?;
        sync_dns(store)
    };
    if let Err(e) = setup() {
        let _ = std::fs::remove_file(dir(store).join(format!("{}.json", record.id)));
        let _ = Netlink::host().and_then(|nl| nl.delete(&record.bridge));
        let _ = sync_firewall_locked(store);
        return Err(e);
    }
    Ok(record)
}

/// The lock of the host's subnets, shared by every berth process whatever its state directory.
fn host_lock() -> Result<Lock> {
    Lock::acquire(Path::new(HOST_LOCK)).map_err(io_error(format!("cannot lock {HOST_LOCK}")))
}

const HOST_LOCK: &str = "/run/berth/subnets.lock";

/// The bridge of a network made earlier (after a reboot, or a bridge deleted by hand), once it
/// is known that nothing else on the host routes its subnet now: two bridges with one route
/// leave one network's containers unreachable.
fn bring_up_again(record: &NetworkRecord) -> Result<()> {
    let _host = host_lock()?;
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let clash = ipam::routes_by_device(&routes)
        .into_iter()
        .find(|(device, subnet)| *device != record.bridge && subnet.overlaps(&record.subnet));
    if let Some((device, subnet)) = clash {
        return Err(NetworkError::Address {
            network: record.name.clone(),
            message: format!(
                "its subnet {} overlaps the host's route to {subnet} on {device}; remove that route, or the network (berth network rm)",
                record.subnet
            ),
        });
    }
    bring_up(record)
}

/// The network's bridge, as it should be (again, after a reboot).
fn bring_up(record: &NetworkRecord) -> Result<()> {
    let nl = Netlink::host()?;
    nl.ensure_bridge(&record.bridge, record.gateway, record.subnet.prefix)?;
    // Ports published on 127.0.0.1 are DNATed to this bridge; the kernel routes loopback
    // sources out of it only when told to.
    link::sysctl(&format!("ipv4/conf/{}/route_localnet", record.bridge), "1")?;
    if !record.internal {
        link::sysctl("ipv4/ip_forward", "1")?;
    }
    Ok(())
}

/// The containers with an endpoint on `network`.
fn members(store: &Store, network: &NetworkRecord) -> Result<Vec<Container>> {
    Ok(store
        .list_containers()?
        .into_iter()
        .filter(|c| c.config.network.endpoints.iter().any(|e| e.network_id == network.id))
        .collect())
}

/// Removes a network nobody uses: its bridge, its rules, its record.
pub fn remove(store: &Store, record: &NetworkRecord) -> Result<()> {
    let _lock = lock(store)?;
    let users = members(store, record)?;
    if !users.is_empty() {
        let names: Vec<String> = users.iter().map(|c| c.config.name.clone()).collect();
        return Err(NetworkError::InUse { name: record.name.clone(), containers: names.join(", ") });
    }
    Netlink::host()?.delete(&record.bridge)?;
    let path = dir(store).join(format!("{}.json", record.id));
    std::fs::remove_file(&path).map_err(io_error(format!("cannot remove {}", path.display())))?;
    sync_firewall_locked(store)?;
    sync_dns(store)
}

/// The network `run` uses by default, created the first time it is needed.
pub fn default_network(store: &Store) -> Result<NetworkRecord> {
    match find(store, DEFAULT_NETWORK) {
        Ok(n) => Ok(n),
        Err(NetworkError::NotFound(_)) => {
            match create(store, NetworkOptions { name: DEFAULT_NETWORK.into(), ..Default::default() }) {
                Err(NetworkError::Exists(_)) => find(store, DEFAULT_NETWORK),
                other => other,
            }
        }
        Err(e) => Err(e),
    }
}

/// What a container asks of one network.
#[derive(Debug, Clone, Default)]
pub struct EndpointRequest {
    pub network: String,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<Ipv4Addr>,
    pub mac_address: Option<String>,
    pub priority: i64,
}

/// The host end of a container's veth on a network: short enough for an interface name (15),
/// stable for the pair, unique on the host.
fn host_ifname(container: &str, network: &str) -> String {
    let hash = sha2::Sha256::digest(format!("{container}/{network}").as_bytes());
    format!("vb{}", hash.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>())[..13].to_string()
}

/// Chooses the addresses of a new container's endpoints, given every container recorded. Call
/// under [`lock`], and keep it until the container is recorded, so that two containers never
/// get one address.
pub fn allocate(
    store: &Store,
    container_id: &str,
    requests: &[EndpointRequest],
    containers: &[Container],
) -> Result<Vec<Endpoint>> {
    allocate_among(store, container_id, requests, containers, 0)
}

fn allocate_among(
    store: &Store,
    container_id: &str,
    requests: &[EndpointRequest],
    containers: &[Container],
    first_index: usize,
) -> Result<Vec<Endpoint>> {
    let mut ordered: Vec<&EndpointRequest> = requests.iter().collect();
    // Docker's order: higher priority first, then by name.
    ordered.sort_by(|a, b| b.priority.cmp(&a.priority).then(a.network.cmp(&b.network)));
    let mut out = Vec::new();
    for (i, req) in ordered.into_iter().enumerate() {
        let network = find(store, &req.network)?;
        let taken: BTreeSet<Ipv4Addr> = containers
            .iter()
            .flat_map(|c| c.config.network.endpoints.iter())
            .filter(|e| e.network_id == network.id)
            .map(|e| e.ip)
            .collect();
        let ip = ipam::allocate(network.subnet, network.ip_range, network.gateway, &taken, req.ipv4_address)
            .map_err(|e| NetworkError::Address { network: network.name.clone(), message: e.to_string() })?;
        let mac = match &req.mac_address {
            Some(m) => {
                link::parse_mac(m).ok_or_else(|| NetworkError::Address {
                    network: network.name.clone(),
                    message: format!("invalid MAC address {m:?}"),
                })?;
                m.to_ascii_lowercase()
            }
            None => link::mac_for(ip).iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
        };
        out.push(Endpoint {
            network: network.name.clone(),
            network_id: network.id.clone(),
            ip,
            prefix: network.subnet.prefix,
            gateway: network.gateway,
            mac,
            aliases: req.aliases.clone(),
            ifname: format!("eth{}", first_index + i),
            host_ifname: host_ifname(container_id, &network.id),
            internal: network.internal,
            priority: req.priority,
        });
    }
    Ok(out)
}

pub fn netns_path(store: &Store, id: &str) -> PathBuf {
    store.container_dir(id).join("netns")
}

/// The namespace file a container's runtime spec joins, if it joins one.
pub fn namespace_for(store: &Store, config: &ContainerConfig) -> Option<PathBuf> {
    match &config.network.mode {
        NetworkMode::Bridge => Some(netns_path(store, &config.id)),
        NetworkMode::Container(other) => {
            let own = netns_path(store, other);
            if netns::exists(&own) {
                return Some(own);
            }
            let pid = store.load_container(other).ok()?.state.pid?;
            Some(PathBuf::from(format!("/proc/{pid}/ns/net")))
        }
        NetworkMode::Host | NetworkMode::None => None,
    }
}

/// Checks that the container's published ports are free: not held by a program on the host,
/// nor published by another running berth container.
pub fn check_ports(store: &Store, config: &ContainerConfig) -> Result<()> {
    if config.network.ports.is_empty() {
        return Ok(());
    }
    let others = store.list_containers()?;
    for b in &config.network.ports {
        for other in others.iter().filter(|o| o.config.id != config.id && crate::container::store::is_live(o)) {
            let clash = other.config.network.ports.iter().any(|p| ports::overlaps(p, b));
            if clash {
                return Err(NetworkError::Net(NetError::Invalid(format!(
                    "cannot publish port {}/{}: container {} already publishes it",
                    b.host_port, b.protocol, other.config.name
                ))));
            }
        }
        ports::check_free(b)?;
    }
    Ok(())
}

/// Sets up the container's network before its shim starts: the namespace, one veth pair per
/// endpoint (missing ones only: a restart finds them in place), the published ports and the
/// DNS server. On failure what this call created is removed again.
pub fn attach(store: &Store, config: &ContainerConfig) -> Result<()> {
    if config.network.mode != NetworkMode::Bridge {
        return Ok(());
    }
    check_ports(store, config)?;
    let path = netns_path(store, &config.id);
    let fresh = !netns::exists(&path);
    link::create_netns(&path)?;
    let outcome = (|| -> Result<()> {
        let host = Netlink::host()?;
        let inside = Netlink::in_netns(&path)?;
        let ns_file = std::fs::File::open(&path).map_err(io_error(format!("cannot open {}", path.display())))?;
        let route_via = config.network.endpoints.iter().find(|e| !e.internal).map(|e| e.ifname.clone());
        let networks = list(store)?;
        for e in &config.network.endpoints {
            if inside.index(&e.ifname)?.is_some() {
                continue;
            }
            let record = networks
                .iter()
                .find(|n| n.id == e.network_id)
                .ok_or_else(|| NetworkError::NotFound(e.network.clone()))?;
            if host.index(&record.bridge)?.is_none() {
                bring_up_again(record)?;
            }
            let _ = host.delete(&e.host_ifname); // a leftover of a crash
            let mac = link::parse_mac(&e.mac).unwrap_or_else(|| link::mac_for(e.ip));
            host.add_veth(&e.host_ifname, &e.ifname, mac, &record.bridge, &ns_file)?;
            let gateway = (route_via.as_deref() == Some(e.ifname.as_str())).then_some(e.gateway);
            if let Err(err) = inside.configure_endpoint(&e.ifname, e.ip, e.prefix, gateway) {
                let _ = host.delete(&e.host_ifname);
                return Err(err.into());
            }
        }
        if !config.network.ports.is_empty() {
            sync_firewall(store)?;
        }
        ensure_dns(store)
    })();
    if outcome.is_err() && fresh {
        let _ = detach(store, config);
    }
    outcome
}

/// Takes the container off its networks: namespace, published ports, veth pairs.
pub fn detach(store: &Store, config: &ContainerConfig) -> Result<()> {
    release(store, config)?;
    remove_links(config);
    Ok(())
}

/// The part of [`detach`] that others wait for: the namespace goes, and with it its published
/// ports. The kernel deletes the veth pairs with the namespace, in its own time.
pub fn release(store: &Store, config: &ContainerConfig) -> Result<()> {
    if config.network.mode != NetworkMode::Bridge {
        return Ok(());
    }
    let path = netns_path(store, &config.id);
    // The firewall forwards ports only to containers whose namespace is up: one that was not
    // attached (detached already by its shim, say) has no rules to take away.
    let attached = netns::exists(&path);
    netns::remove(&path)?;
    if attached && !config.network.ports.is_empty() {
        sync_firewall(store)?;
    }
    Ok(())
}

/// Deletes the host ends of the container's veth pairs that the kernel has not deleted yet
/// with the namespace (or that another process keeps alive). A deletion takes the kernel
/// 10-20 ms here, so the shim does this after it has reported the exit, and an attach deletes
/// a leftover of the same name first.
pub fn remove_links(config: &ContainerConfig) {
    if config.network.mode != NetworkMode::Bridge {
        return;
    }
    if let Ok(host) = Netlink::host() {
        for e in &config.network.endpoints {
            if host.index(&e.host_ifname).is_ok_and(|i| i.is_some()) {
                let _ = host.delete(&e.host_ifname);
            }
        }
    }
}

/// Rewrites the firewall from the state: every network's bridge, and the published ports of
/// every container whose namespace is up.
pub fn sync_firewall(store: &Store) -> Result<()> {
    let _lock = lock(store)?;
    sync_firewall_locked(store)
}

fn sync_firewall_locked(store: &Store) -> Result<()> {
    let networks = list(store)?;
    let bridges = networks
        .iter()
        .map(|n| firewall::Bridge {
            name: n.bridge.clone(),
            subnet: n.subnet,
            gateway: n.gateway,
            internal: n.internal,
        })
        .collect();
    let mut forwards = Vec::new();
    for c in store.list_containers()? {
        let net = &c.config.network;
        if net.ports.is_empty() || !netns::exists(&netns_path(store, &c.config.id)) {
            continue;
        }
        let Some(e) = net.endpoints.iter().find(|e| !e.internal) else { continue };
        forwards.extend(net.ports.iter().map(|b| firewall::Forward { binding: *b, container_ip: e.ip }));
    }
    firewall::apply(&firewall::Rules { table: table_name(store), bridges, forwards })?;
    Ok(())
}

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
        networks: networks.iter().map(|n| DnsNetwork { name: n.name.clone(), gateway: n.gateway }).collect(),
        endpoints,
    })
}

fn dns_file(store: &Store, name: &str) -> PathBuf {
    dir(store).join(name)
}

/// Writes the DNS records of the current state and tells the server (which exits when no
/// network is left).
pub fn sync_dns(store: &Store) -> Result<()> {
    let records = records(store)?;
    std::fs::create_dir_all(dir(store)).map_err(io_error("cannot create the networks directory"))?;
    let path = dns_file(store, "dns.json");
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
    let lock = std::fs::File::open(dns_file(store, "dns.lock")).ok()?;
    // A lock we can take is a lock nobody holds: no server.
    if nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusiveNonblock).is_ok() {
        return None;
    }
    std::fs::read_to_string(dns_file(store, "dns.pid")).ok()?.trim().parse().ok()
}

/// Makes sure `berth dns` runs and listens on every network's gateway.
pub fn ensure_dns(store: &Store) -> Result<()> {
    // The records are rewritten whenever they change (networks and containers created or
    // removed); only a state directory that never had them needs writing here.
    if !dns_file(store, "dns.json").exists() {
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
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    loop {
        let bound: BTreeSet<Ipv4Addr> = std::fs::read(dns_file(store, "dns.bound"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        if wanted.is_subset(&bound) {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            tracing::warn!(
                "the DNS server does not listen on every network yet; see {}",
                dns_file(store, "dns.log").display()
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
        .open(dns_file(store, "dns.log"))
        .map_err(io_error("cannot open the DNS server's log"))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("dns")
        .env("BERTH_ROOT", &store.root)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(log);
    crate::process::detach(&mut cmd);
    let mut child = cmd.spawn().map_err(io_error("cannot start the DNS server"))?;
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
    std::fs::create_dir_all(dir(store)).map_err(io_error("cannot create the networks directory"))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dns_file(store, "dns.lock"))
        .map_err(io_error("cannot open the DNS lock"))?;
    let Ok(_held) = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) else {
        println!("already running");
        return Ok(());
    };
    fsutil::write_atomic(&dns_file(store, "dns.pid"), std::process::id().to_string().as_bytes())
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
    let bound_path = dns_file(store, "dns.bound");
    let mut announced = false;
    let mut written: Option<Vec<Ipv4Addr>> = None;
    let outcome = berth_network::dns::serve(&dns_file(store, "dns.json"), &upstreams, |bound| {
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

/// /etc/hosts of a container: localhost, its own addresses, `extra_hosts`.
pub fn hosts_file(config: &ContainerConfig) -> String {
    let mut s = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    let host = &config.hostname;
    let names = match config.network.domainname.as_deref().filter(|d| !d.is_empty()) {
        Some(domain) => format!("{host}.{domain} {host}"),
        None => host.clone(),
    };
    match config.network.endpoints.first() {
        Some(e) if config.network.mode == NetworkMode::Bridge => s.push_str(&format!("{}\t{names}\n", e.ip)),
        _ => s.push_str(&format!("127.0.1.1\t{names}\n")),
    }
    for entry in &config.network.extra_hosts {
        // `name:address`, `name=address` (Compose), `host-gateway` for the gateway.
        let split = entry.split_once('=').or_else(|| entry.split_once(':'));
        if let Some((name, addr)) = split {
            let addr = if addr == "host-gateway" {
                config.network.endpoints.first().map(|e| e.gateway.to_string()).unwrap_or_else(|| "127.0.0.1".into())
            } else {
                addr.trim_start_matches('[').trim_end_matches(']').to_string()
            };
            s.push_str(&format!("{addr}\t{name}\n"));
        }
    }
    s
}

/// /etc/resolv.conf of a container: berth's DNS server on its first network (or the `dns`
/// servers it names), else the host's file.
pub fn resolv_conf(config: &ContainerConfig, host: &str) -> String {
    let net = &config.network;
    let own_namespace = net.mode == NetworkMode::Bridge && !net.endpoints.is_empty();
    if !own_namespace && net.dns.is_empty() && net.dns_search.is_empty() && net.dns_options.is_empty() {
        return host.to_string();
    }
    let mut s = String::new();
    let servers: Vec<String> = if !net.dns.is_empty() {
        net.dns.clone()
    } else if own_namespace {
        vec![net.endpoints[0].gateway.to_string()]
    } else {
        host.lines().filter_map(|l| l.trim().strip_prefix("nameserver")).map(|a| a.trim().to_string()).collect()
    };
    for server in servers {
        s.push_str(&format!("nameserver {server}\n"));
    }
    if !net.dns_search.is_empty() {
        s.push_str(&format!("search {}\n", net.dns_search.join(" ")));
    }
    if !net.dns_options.is_empty() {
        s.push_str(&format!("options {}\n", net.dns_options.join(" ")));
    }
    s
}

/// Puts an existing container on one more network (`network connect`). A running one gets
/// its interface at once.
pub fn connect(store: &Store, c: &Container, request: EndpointRequest) -> Result<()> {
    if c.config.network.mode != NetworkMode::Bridge {
        return Err(NetworkError::Net(NetError::Invalid(format!(
            "container {} does not use bridge networking",
            c.config.name
        ))));
    }
    let network = find(store, &request.network)?;
    if c.config.network.endpoints.iter().any(|e| e.network_id == network.id) {
        return Err(NetworkError::AlreadyConnected { container: c.config.name.clone(), network: network.name });
    }
    let started = std::time::Instant::now();
    let mut config = c.config.clone();
    {
        let _lock = lock(store)?;
        let containers = store.list_containers()?;
        let next = config.network.endpoints.len();
        let mut added = allocate_among(store, &config.id, &[request], &containers, next)?;
        config.network.endpoints.append(&mut added);
        store.save_config(&config)?;
    }
    if netns::exists(&netns_path(store, &config.id)) {
        attach(store, &config)?;
    }
    sync_dns(store)?;
    let micros = started.elapsed().as_micros();
    tracing::debug!(container = %config.name, network = %network.name, micros, "connected");
    Ok(())
}

/// Takes a container off one network (`network disconnect`).
pub fn disconnect(store: &Store, c: &Container, network: &str) -> Result<()> {
    let record = find(store, network)?;
    let mut config = c.config.clone();
    let Some(pos) = config.network.endpoints.iter().position(|e| e.network_id == record.id) else {
        return Err(NetworkError::NotConnected { container: c.config.name.clone(), network: record.name });
    };
    let endpoint = config.network.endpoints.remove(pos);
    store.save_config(&config)?;
    let _ = Netlink::host().and_then(|nl| nl.delete(&endpoint.host_ifname));
    sync_dns(store)
}
