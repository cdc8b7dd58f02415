//! The `/etc/hosts` and `/etc/resolv.conf` a container is given.

use crate::container::{ContainerConfig, NetworkMode};

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
