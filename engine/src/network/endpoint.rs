//! A container's place on its networks: addresses chosen at creation, the namespace and veth
//! pairs set up before its shim starts, and connecting or disconnecting a running one.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use berth_network::ipam;
use berth_network::link::{self, Netlink};
use berth_network::{NetError, netns, ports};
use sha2::Digest as _;

use super::{NetworkError, Result, bring_up_again, ensure_dns, find, io_error, list, lock, sync_dns, sync_firewall};
use crate::container::store::Container;
use crate::container::{ContainerConfig, Endpoint, NetworkMode};
use crate::store::Store;

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
    containers: &[ContainerConfig],
) -> Result<Vec<Endpoint>> {
    allocate_among(store, container_id, requests, containers, 0)
}

fn allocate_among(
    store: &Store,
    container_id: &str,
    requests: &[EndpointRequest],
    containers: &[ContainerConfig],
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
            .flat_map(|c| c.network.endpoints.iter())
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
    store.container_dir(id).netns()
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
        let containers = store.list_configs()?;
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
