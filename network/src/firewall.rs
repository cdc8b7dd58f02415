//! berth's firewall: one nftables table per berth state directory, rendered whole from what
//! should be (the networks and the published ports) and replaced atomically with `nft -f`.
//! Nothing outside the table is touched, except one rule on hosts whose iptables `FORWARD`
//! chain exists (another engine's, often with a DROP policy): that rule accepts exactly the
//! packets berth's own forward chain marked as berth's, and is removed with the last network.
//!
//! Rendering is a pure function of [`Rules`], so every rule is a unit test; only [`apply`]
//! runs `nft`.

use std::fmt::Write;
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use crate::ipam::Subnet;
use crate::ports::{PortBinding, Protocol};
use crate::{NetError, Result};

/// The packet mark bit berth's forward chain sets on traffic it accepts, for the rule in the
/// iptables FORWARD chain to recognise.
pub const MARK: u32 = 0x0080_0000;

/// A network's bridge, as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    pub name: String,
    pub subnet: Subnet,
    pub gateway: Ipv4Addr,
    /// No traffic in or out of the network but between its own members.
    pub internal: bool,
}

/// A published port and the container address it leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    pub binding: PortBinding,
    pub container_ip: Ipv4Addr,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// The table's name (`berth`, or one per state directory for tests).
    pub table: String,
    pub bridges: Vec<Bridge>,
    pub forwards: Vec<Forward>,
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| format!("\"{i}\"")).collect();
    format!("{{ {} }}", items.join(", "))
}

/// The nft script that makes the table exactly `rules` (or removes it when there are no
/// bridges): a declaration, a delete and the new table, in one transaction.
pub fn render(rules: &Rules) -> String {
    let t = &rules.table;
    let mut s = format!("table ip {t}\ndelete table ip {t}\n");
    if rules.bridges.is_empty() {
        return s;
    }
    let all = set(rules.bridges.iter().map(|b| b.name.as_str()));
    let _ = writeln!(s, "table ip {t} {{");
    if !rules.forwards.is_empty() {
        let gateways: Vec<String> = rules.bridges.iter().map(|b| b.gateway.to_string()).collect();
        let _ = writeln!(s, "\tchain prerouting {{\n\t\ttype nat hook prerouting priority dstnat; policy accept;");
        // Queries to berth's DNS server on a gateway are never redirected; any other port of a
        // gateway address is the host's, and published ports answer there too.
        let gateways = gateways.join(", ");
        let _ = writeln!(s, "\t\tip daddr {{ {gateways} }} meta l4proto {{ tcp, udp }} th dport 53 return");
        let _ = writeln!(s, "\t\tfib daddr type local jump published\n\t}}");
        let _ = writeln!(s, "\tchain output {{\n\t\ttype nat hook output priority -100; policy accept;");
        let _ = writeln!(s, "\t\tfib daddr type local jump published\n\t}}");
        let _ = writeln!(s, "\tchain published {{");
        for f in &rules.forwards {
            let b = &f.binding;
            let proto = match b.protocol {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
            };
            let daddr =
                b.host_ip.filter(|ip| !ip.is_unspecified()).map(|ip| format!("ip daddr {ip} ")).unwrap_or_default();
            let _ =
                writeln!(s, "\t\t{daddr}{proto} dport {} dnat to {}:{}", b.host_port, f.container_ip, b.container_port);
        }
        let _ = writeln!(s, "\t}}");
    }
    let _ = writeln!(s, "\tchain postrouting {{\n\t\ttype nat hook postrouting priority srcnat; policy accept;");
    for b in &rules.bridges {
        let (n, net) = (&b.name, b.subnet);
        // Published on 127.0.0.1: the reply must come back to the host, not to its loopback.
        let _ = writeln!(s, "\t\toifname \"{n}\" ip saddr 127.0.0.0/8 masquerade");
        // A container reaching a port its own network publishes, through the host's address.
        let _ = writeln!(s, "\t\toifname \"{n}\" ip saddr {net} ct status dnat masquerade");
        if !b.internal {
            let _ = writeln!(s, "\t\tip saddr {net} oifname != \"{n}\" masquerade");
        }
    }
    let _ = writeln!(s, "\t}}");
    let _ = writeln!(s, "\tchain forward {{\n\t\ttype filter hook forward priority filter - 10; policy accept;");
    for b in rules.bridges.iter().filter(|b| b.internal) {
        let _ = writeln!(
            s,
            "\t\tiifname \"{0}\" oifname != \"{0}\" drop\n\t\toifname \"{0}\" iifname != \"{0}\" drop",
            b.name
        );
    }
    let mark = format!("meta mark set meta mark | {MARK:#x} accept");
    let _ = writeln!(s, "\t\tct status dnat oifname {all} {mark}");
    for b in &rules.bridges {
        let others: Vec<&str> = rules.bridges.iter().filter(|o| o.name != b.name).map(|o| o.name.as_str()).collect();
        if !others.is_empty() {
            let _ = writeln!(s, "\t\tiifname \"{}\" oifname {} drop", b.name, set(others));
        }
    }
    let _ = writeln!(s, "\t\tiifname {all} {mark}");
    let _ = writeln!(s, "\t\toifname {all} ct state established,related {mark}");
    let _ = writeln!(s, "\t}}\n}}");
    s
}

fn nft(args: &[&str], input: Option<&str>) -> Result<String> {
    // Boot scripts and tests may run with a PATH without the sbin directories.
    let program =
        ["/usr/sbin/nft", "/sbin/nft"].into_iter().find(|p| std::path::Path::new(p).exists()).unwrap_or("nft");
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            NetError::Firewall(if e.kind() == std::io::ErrorKind::NotFound {
                "the nft command is missing: install the nftables package".to_string()
            } else {
                format!("cannot run nft: {e}")
            })
        })?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(text.as_bytes()).map_err(|e| NetError::Firewall(format!("cannot write to nft: {e}")))?;
    }
    let out = child.wait_with_output().map_err(|e| NetError::Firewall(format!("nft: {e}")))?;
    if !out.status.success() {
        return Err(NetError::Firewall(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Replaces berth's table with `rules`, then adds or removes the accept rule in an existing
/// iptables FORWARD chain.
pub fn apply(rules: &Rules) -> Result<()> {
    nft(&["-f", "-"], Some(&render(rules)))?;
    forward_hook(&rules.table, !rules.bridges.is_empty())
}

/// Keeps the one rule berth adds to `ip filter FORWARD` (when that chain exists) in step with
/// whether berth has networks: it accepts packets carrying [`MARK`], and nothing else.
fn forward_hook(table: &str, wanted: bool) -> Result<()> {
    let Ok(listing) = nft(&["-a", "list", "chain", "ip", "filter", "FORWARD"], None) else {
        return Ok(()); // No iptables FORWARD chain: nothing can drop berth's traffic there.
    };
    let comment = format!("comment \"{table}\"");
    let handles: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains(&comment))
        .filter_map(|l| l.rsplit_once("# handle ").map(|(_, h)| h.trim()))
        .collect();
    if wanted && handles.is_empty() {
        let rule = format!("meta mark & {MARK:#x} == {MARK:#x} counter accept {comment}");
        nft(&["insert", "rule", "ip", "filter", "FORWARD", &rule], None)?;
    } else if !wanted {
        for h in handles {
            nft(&["delete", "rule", "ip", "filter", "FORWARD", "handle", h], None)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge(name: &str, net: &str, internal: bool) -> Bridge {
        let subnet: Subnet = net.parse().expect("subnet");
        Bridge { name: name.into(), subnet, gateway: subnet.gateway(), internal }
    }

    #[test]
    fn no_networks_removes_the_table() {
        let s = render(&Rules { table: "berth".into(), ..Rules::default() });
        assert_eq!(s, "table ip berth\ndelete table ip berth\n");
    }

    #[test]
    fn networks_masquerade_and_isolate() {
        let rules = Rules {
            table: "berth".into(),
            bridges: vec![bridge("br-a", "172.18.0.0/16", false), bridge("br-i", "172.19.0.0/16", true)],
            forwards: vec![],
        };
        let s = render(&rules);
        assert!(s.contains("ip saddr 172.18.0.0/16 oifname != \"br-a\" masquerade"), "{s}");
        assert!(!s.contains("ip saddr 172.19.0.0/16 oifname != \"br-i\" masquerade"), "internal has no egress: {s}");
        assert!(s.contains("iifname \"br-i\" oifname != \"br-i\" drop"), "{s}");
        assert!(s.contains("iifname \"br-a\" oifname { \"br-i\" } drop"), "{s}");
        assert!(!s.contains("published"), "no ports, no DNAT: {s}");
    }

    #[test]
    fn published_ports() {
        let b = |ip: Option<Ipv4Addr>, port, protocol| PortBinding {
            host_ip: ip,
            host_port: port,
            container_port: 80,
            protocol,
        };
        let rules = Rules {
            table: "t".into(),
            bridges: vec![bridge("br-a", "172.18.0.0/16", false)],
            forwards: vec![
                Forward { binding: b(None, 8080, Protocol::Tcp), container_ip: Ipv4Addr::new(172, 18, 0, 2) },
                Forward {
                    binding: b(Some(Ipv4Addr::LOCALHOST), 5353, Protocol::Udp),
                    container_ip: Ipv4Addr::new(172, 18, 0, 3),
                },
            ],
        };
        let s = render(&rules);
        assert!(s.contains("\t\ttcp dport 8080 dnat to 172.18.0.2:80\n"), "{s}");
        assert!(s.contains("ip daddr 127.0.0.1 udp dport 5353 dnat to 172.18.0.3:80"), "{s}");
        assert!(
            s.contains("ip daddr { 172.18.0.1 } meta l4proto { tcp, udp } th dport 53 return"),
            "the DNS server's port is not redirected: {s}"
        );
    }
}
