//! `network ls|inspect|create|rm|prune|connect|disconnect`, `port`, and the hidden `dns`
//! server.

use std::process::ExitCode;

use anyhow::Context;
use berth_engine::container::store::Container;
use berth_engine::container::{NetworkMode, NetworkSettings};
use berth_engine::net::ports::{self, PortBinding};
use berth_engine::network::{self, EndpointRequest, NetworkOptions, NetworkRecord};
use berth_engine::store::Store;

use crate::cli::{NetworkCommand, NetworkCreateArgs, RunArgs};
use crate::commands::filter::{self, KeyFilters};
use crate::format::{Columns, Format};
use crate::{engine, output};

pub fn run(command: NetworkCommand) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    match command {
        NetworkCommand::Ls { quiet, filter, format } => ls(&store, quiet, &filter, format.as_deref()),
        NetworkCommand::Inspect(a) => {
            let found: Vec<serde_json::Value> = a
                .names
                .iter()
                .map(|n| network::find(&store, n).map(|r| inspect(&store, &r)))
                .collect::<Result<_, _>>()?;
            super::inspect::print(&found, a.format.as_deref())?;
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Create(args) => {
            let record = network::create(&store, create_options(args)?)?;
            println!("{}", record.id);
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Rm { networks } => {
            let mut failed = false;
            for name in &networks {
                match network::find(&store, name).and_then(|r| network::remove(&store, &r)) {
                    Ok(()) => println!("{name}"),
                    Err(e) => {
                        output::print_error(&e.into());
                        failed = true;
                    }
                }
            }
            Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
        NetworkCommand::Prune(p) => super::prune::networks(&p),
        NetworkCommand::Connect { network: name, container, aliases, ip } => {
            let c = store.find_container(&container)?;
            let request = EndpointRequest { network: name, aliases, ipv4_address: ip, ..Default::default() };
            network::connect(&store, &c, request)?;
            Ok(ExitCode::SUCCESS)
        }
        NetworkCommand::Disconnect { network: name, container, force: _ } => {
            let c = store.find_container(&container)?;
            network::disconnect(&store, &c, &name)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn create_options(args: NetworkCreateArgs) -> anyhow::Result<NetworkOptions> {
    let subnet = |s: &Option<String>| -> anyhow::Result<_> {
        s.as_deref().map(str::parse).transpose().map_err(anyhow::Error::from)
    };
    Ok(NetworkOptions {
        name: args.name,
        driver: args.driver,
        subnet: subnet(&args.subnet)?,
        gateway: args.gateway,
        ip_range: subnet(&args.ip_range)?,
        internal: args.internal,
        attachable: args.attachable,
        enable_ipv6: args.ipv6,
        labels: super::key_values(&args.labels),
        options: super::key_values(&args.options),
    })
}

fn ls(store: &Store, quiet: bool, filter: &[String], format: Option<&str>) -> anyhow::Result<ExitCode> {
    let filters = KeyFilters::parse(filter, FILTER_KEYS)?;
    let containers = store.list_containers()?;
    let mut all = network::list(store)?;
    all.retain(|r| filters.matches(|key, value| matches(key, value, r, &containers)));
    if quiet {
        all.iter().for_each(|r| println!("{}", &r.id[..12]));
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<serde_json::Value> = all
        .iter()
        .map(|r| {
            let row = serde_json::json!({
                "ID": &r.id[..12], "Name": r.name, "Driver": r.driver, "Scope": "local",
                "Internal": r.internal.to_string(), "IPv6": "false", "CreatedAt": output::docker_time(&r.created),
                "Labels": crate::format::labels_text(&r.labels), "Subnet": r.subnet.to_string(),
            });
            crate::format::with_label_method(row, &r.labels)
        })
        .collect();
    Format::parse(format, &NETWORKS)?.print(&rows, &NETWORKS)?;
    Ok(ExitCode::SUCCESS)
}

/// What `network ls --filter` takes.
pub(crate) const FILTER_KEYS: &[&str] = &["driver", "id", "label", "label!", "name", "scope", "type", "dangling"];

/// One `network ls --filter`.
pub(crate) fn matches(key: &str, value: &str, r: &NetworkRecord, containers: &[Container]) -> bool {
    let used = || containers.iter().any(|c| c.config.network.endpoints.iter().any(|e| e.network_id == r.id));
    match key {
        "driver" => r.driver == value,
        "id" => r.id.starts_with(value),
        "label" => filter::label(&r.labels, value),
        "name" => r.name.contains(value),
        "scope" => value == "local",
        // berth has no networks of its own making, as Docker's bridge, host and none.
        "type" => value == "custom",
        "dangling" => filter::truth(value) != used(),
        _ => false,
    }
}

/// `network ls`'s columns: Docker's, and the subnet.
const NETWORKS: Columns = Columns {
    default: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}\t{{.Subnet}}",
    headers: &[
        ("ID", "NETWORK ID"),
        ("Name", "NAME"),
        ("Driver", "DRIVER"),
        ("Scope", "SCOPE"),
        ("Subnet", "SUBNET"),
        ("IPv6", "IPV6"),
        ("Internal", "INTERNAL"),
        ("CreatedAt", "CREATED AT"),
    ],
};

pub(crate) fn inspect(store: &Store, r: &NetworkRecord) -> serde_json::Value {
    let containers: serde_json::Map<String, serde_json::Value> = store
        .list_containers()
        .unwrap_or_default()
        .iter()
        .filter_map(|c| {
            let e = c.config.network.endpoints.iter().find(|e| e.network_id == r.id)?;
            Some((
                c.config.id.clone(),
                serde_json::json!({
                    "Name": c.config.name, "MacAddress": e.mac, "IPv4Address": format!("{}/{}", e.ip, e.prefix),
                    "Aliases": e.aliases, "Interface": e.ifname, "HostInterface": e.host_ifname,
                }),
            ))
        })
        .collect();
    serde_json::json!({
        "Name": r.name, "Id": r.id, "Created": r.created, "Scope": "local", "Driver": r.driver,
        "EnableIPv6": false, "Internal": r.internal, "Attachable": r.attachable,
        "IPAM": {"Driver": "default", "Config": [{
            "Subnet": r.subnet.to_string(), "Gateway": r.gateway.to_string(),
            "IPRange": r.ip_range.map(|s| s.to_string()),
        }]},
        "Options": {"com.docker.network.bridge.name": r.bridge},
        "Labels": r.labels, "Containers": containers,
    })
}

/// `port CONTAINER [PORT[/PROTO]]`: Docker's output, `80/tcp -> 0.0.0.0:8080`, or just the
/// address for one port.
pub fn port(container: &str, port: Option<&str>) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let c = store.find_container(container)?;
    print_ports(&c.config.network.ports, port, container)
}

pub fn print_ports(bindings: &[PortBinding], port: Option<&str>, what: &str) -> anyhow::Result<ExitCode> {
    let host = |b: &PortBinding| format!("{}:{}", b.host_ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED), b.host_port);
    match port {
        None => {
            for b in bindings {
                println!("{}/{} -> {}", b.container_port, b.protocol, host(b));
            }
        }
        Some(p) => {
            let (number, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            let number: u16 = number.parse().with_context(|| format!("invalid port {p:?}"))?;
            let proto: ports::Protocol = proto.parse()?;
            let found: Vec<&PortBinding> =
                bindings.iter().filter(|b| b.container_port == number && b.protocol == proto).collect();
            if found.is_empty() {
                anyhow::bail!("no public port '{number}/{proto}' published for {what}");
            }
            for b in found {
                println!("{}", host(b));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The network side of `run`/`create`: mode, endpoint, ports, resolver settings.
pub fn settings_for_run(store: &Store, args: &RunArgs) -> anyhow::Result<(NetworkSettings, Vec<EndpointRequest>)> {
    let mut settings = NetworkSettings {
        dns: args.dns.clone(),
        dns_search: args.dns_search.clone(),
        dns_options: args.dns_options.clone(),
        extra_hosts: args.add_hosts.clone(),
        domainname: args.domainname.clone(),
        exposed: args.expose.iter().map(|e| if e.contains('/') { e.clone() } else { format!("{e}/tcp") }).collect(),
        ..Default::default()
    };
    for p in &args.publish {
        settings.ports.extend(ports::parse_publish(p)?);
    }
    for l in &args.links {
        let (name, alias) = l.split_once(':').unwrap_or((l, l));
        let target = store.find_container(name)?;
        settings.links.insert(alias.to_string(), target.config.name);
    }
    let wanted = args.network.as_deref().unwrap_or(network::DEFAULT_NETWORK);
    let mut requests = Vec::new();
    settings.mode = match wanted {
        "host" => NetworkMode::Host,
        "none" => NetworkMode::None,
        other => match other.strip_prefix("container:") {
            Some(target) => NetworkMode::Container(store.find_container(target)?.config.id),
            None => {
                let record = if other == network::DEFAULT_NETWORK || other == "default" {
                    network::default_network(store)?
                } else {
                    network::find(store, other)?
                };
                requests.push(EndpointRequest {
                    network: record.name,
                    aliases: args.network_aliases.clone(),
                    ipv4_address: args.ip,
                    mac_address: args.mac_address.clone(),
                    priority: 0,
                });
                NetworkMode::Bridge
            }
        },
    };
    if !settings.ports.is_empty() && settings.mode != NetworkMode::Bridge {
        output::warn("published ports are discarded: the container does not have a network of its own");
        settings.ports.clear();
    }
    Ok((settings, requests))
}

/// `berth dns`: the DNS server of this state directory's networks.
pub fn dns() -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    network::serve_dns(&store)?;
    Ok(ExitCode::SUCCESS)
}
