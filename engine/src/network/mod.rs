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

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use berth_network::ipam::{self, Subnet};
use berth_network::link::{self, Netlink};
use berth_network::{NetError, firewall, netns};
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::container::store::{Container, ContainerError};
use crate::fsutil::{self, Lock};
use crate::store::Store;

mod dns;
mod endpoint;
mod etc;

pub use dns::{ensure_dns, records, serve_dns, sync_dns};
pub use endpoint::{
    EndpointRequest, allocate, attach, check_ports, connect, detach, disconnect, namespace_for, netns_path, release,
    remove_links,
};
pub use etc::{hosts_file, resolv_conf};

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
    #[error("{what}")]
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

/// The files of `<root>/networks/` by name (the layout at the top of this file).
struct NetworksDir(PathBuf);

/// The files of the DNS server, in the networks directory.
#[derive(Clone, Copy)]
enum DnsFile {
    Records,
    Lock,
    Pid,
    Bound,
    Log,
}

impl NetworksDir {
    fn of(store: &Store) -> NetworksDir {
        NetworksDir(store.root.join("networks"))
    }

    fn path(&self) -> &Path {
        &self.0
    }

    fn lock(&self) -> PathBuf {
        self.0.join(".lock")
    }

    fn record(&self, id: &str) -> PathBuf {
        self.0.join(format!("{id}.json"))
    }

    /// Whether `path`, found in the directory, is a network's record.
    fn is_record(path: &Path) -> bool {
        path.extension().is_some_and(|e| e == "json") && !path.ends_with(DnsFile::Records.name())
    }

    fn dns(&self, file: DnsFile) -> PathBuf {
        self.0.join(file.name())
    }
}

impl DnsFile {
    fn name(self) -> &'static str {
        match self {
            DnsFile::Records => "dns.json",
            DnsFile::Lock => "dns.lock",
            DnsFile::Pid => "dns.pid",
            DnsFile::Bound => "dns.bound",
            DnsFile::Log => "dns.log",
        }
    }
}

/// Held while addresses are chosen and while the firewall is rewritten.
pub fn lock(store: &Store) -> Result<Lock> {
    let d = NetworksDir::of(store);
    std::fs::create_dir_all(d.path()).map_err(io_error(format!("cannot create {}", d.path().display())))?;
    Lock::acquire(&d.lock()).map_err(io_error("cannot lock the networks"))
}

pub fn list(store: &Store) -> Result<Vec<NetworkRecord>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(NetworksDir::of(store).path()) else { return Ok(out) };
    for entry in entries.flatten() {
        let path = entry.path();
        if NetworksDir::is_record(&path) {
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
    let path = NetworksDir::of(store).record(&record.id);
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
        let _ = std::fs::remove_file(NetworksDir::of(store).record(&record.id));
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
    let path = NetworksDir::of(store).record(&record.id);
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
