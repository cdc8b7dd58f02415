//! Published ports: what `-p` and Compose's `ports:` ask for, a host port picked when none is
//! given, and the check that a host port is free before anything starts.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};

use crate::{NetError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

impl std::str::FromStr for Protocol {
    type Err = NetError;
    fn from_str(s: &str) -> Result<Protocol> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" | "" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            other => Err(NetError::Invalid(format!("unsupported protocol {other:?}: use tcp or udp"))),
        }
    }
}

/// One container port published on the host. `host_port` 0 means "pick one" until the
/// container is created, when a free port is chosen and recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortBinding {
    /// The host address; none means every address of the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<Ipv4Addr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl std::fmt::Display for PortBinding {
    /// `0.0.0.0:8080->80/tcp`, as `docker ps` shows it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ip = self.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        write!(f, "{ip}:{}->{}/{}", self.host_port, self.container_port, self.protocol)
    }
}

fn range(text: &str, what: &str, spec: &str) -> Result<(u16, u16)> {
    let bad = || NetError::Invalid(format!("invalid {what} {text:?} in port {spec:?}"));
    let number = |t: &str| t.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(bad);
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(bad());
            }
            Ok((a, b))
        }
        None => number(text).map(|p| (p, p)),
    }
}

/// Parses `-p` syntax: `[[IP:]HOST:]CONTAINER[/PROTO]`, each port a number or a range (a host
/// range must match the container range in length, or be given for one container port).
pub fn parse_publish(spec: &str) -> Result<Vec<PortBinding>> {
    let (ports, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
    let protocol: Protocol = proto.parse()?;
    let parts: Vec<&str> = ports.rsplitn(3, ':').collect();
    let (container, host, ip) = match parts.as_slice() {
        [c] => (*c, None, None),
        [c, h] => (*c, Some(*h), None),
        [c, h, ip] => (*c, Some(*h), Some(ip.trim_start_matches('[').trim_end_matches(']'))),
        _ => return Err(NetError::Invalid(format!("invalid port {spec:?}"))),
    };
    let host_ip = match ip.filter(|i| !i.is_empty()) {
        Some(ip) => Some(ip.parse::<Ipv4Addr>().map_err(|_| {
            NetError::Invalid(format!("invalid host address {ip:?} in port {spec:?} (IPv6 is not supported)"))
        })?),
        None => None,
    };
    let (c0, c1) = range(container, "container port", spec)?;
    let host = match host.filter(|h| !h.is_empty()) {
        Some(h) => Some(range(h, "host port", spec)?),
        None => None,
    };
    bindings(host_ip, host, (c0, c1), protocol).map_err(|e| NetError::Invalid(format!("port {spec:?}: {e}")))
}

/// Expands a host range and a container range into one binding per container port.
pub fn bindings(
    host_ip: Option<Ipv4Addr>,
    host: Option<(u16, u16)>,
    (c0, c1): (u16, u16),
    protocol: Protocol,
) -> std::result::Result<Vec<PortBinding>, String> {
    let count = c1 - c0;
    let host_port = |i: u16| match host {
        None => Ok(0),
        Some((h0, h1)) if h1 - h0 == count => Ok(h0 + i),
        // One container port and a host range: the first free port of the range is taken
        // when the container is created; record the range's start for now.
        Some((h0, _)) if count == 0 => Ok(h0),
        Some(_) => Err("the host range and the container range differ in length".to_string()),
    };
    (0..=count)
        .map(|i| Ok(PortBinding { host_ip, host_port: host_port(i)?, container_port: c0 + i, protocol }))
        .collect()
}

fn address(b: &PortBinding, port: u16) -> SocketAddrV4 {
    SocketAddrV4::new(b.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED), port)
}

/// Whether two bindings ask for the same host port: the same protocol and port on addresses
/// that overlap (no address, or 0.0.0.0, is every address).
pub fn overlaps(a: &PortBinding, b: &PortBinding) -> bool {
    let every = |ip: Option<Ipv4Addr>| ip.is_none_or(|ip| ip.is_unspecified());
    a.host_port == b.host_port
        && a.host_port != 0
        && a.protocol == b.protocol
        && (every(a.host_ip) || every(b.host_ip) || a.host_ip == b.host_ip)
}

/// Checks that the binding's host port is free on the host by binding it for a moment; a
/// port some program holds is an error that names it.
pub fn check_free(b: &PortBinding) -> Result<()> {
    let addr = address(b, b.host_port);
    let outcome = match b.protocol {
        Protocol::Tcp => TcpListener::bind(addr).map(drop),
        Protocol::Udp => UdpSocket::bind(addr).map(drop),
    };
    outcome.map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::AddrInUse { "already in use".to_string() } else { e.to_string() };
        NetError::Invalid(format!("cannot publish port {}/{} on {}: {why}", b.host_port, b.protocol, addr.ip()))
    })
}

/// A free host port for `b`, chosen by the kernel from its ephemeral range.
pub fn pick_port(b: &PortBinding) -> Result<u16> {
    let addr = address(b, 0);
    let port = match b.protocol {
        Protocol::Tcp => TcpListener::bind(addr).and_then(|l| l.local_addr()),
        Protocol::Udp => UdpSocket::bind(addr).and_then(|s| s.local_addr()),
    };
    port.map(|a| a.port()).map_err(NetError::io(format!("cannot find a free {} port on {}", b.protocol, addr.ip())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_host_ports() {
        let b = |ip: Option<[u8; 4]>, port, protocol| PortBinding {
            host_ip: ip.map(Ipv4Addr::from),
            host_port: port,
            container_port: 80,
            protocol,
        };
        let lo = Some([127, 0, 0, 1]);
        assert!(overlaps(&b(lo, 8080, Protocol::Tcp), &b(lo, 8080, Protocol::Tcp)));
        assert!(overlaps(&b(None, 8080, Protocol::Tcp), &b(lo, 8080, Protocol::Tcp)));
        assert!(overlaps(&b(Some([0, 0, 0, 0]), 8080, Protocol::Tcp), &b(lo, 8080, Protocol::Tcp)));
        assert!(!overlaps(&b(lo, 8080, Protocol::Tcp), &b(Some([127, 0, 0, 2]), 8080, Protocol::Tcp)));
        assert!(!overlaps(&b(lo, 8080, Protocol::Tcp), &b(lo, 8080, Protocol::Udp)));
        assert!(!overlaps(&b(lo, 8080, Protocol::Tcp), &b(lo, 8081, Protocol::Tcp)));
        // A port the host picks at creation clashes with nothing.
        assert!(!overlaps(&b(None, 0, Protocol::Tcp), &b(None, 0, Protocol::Tcp)));
    }

    fn one(spec: &str) -> PortBinding {
        let mut all = parse_publish(spec).expect(spec);
        assert_eq!(all.len(), 1, "{spec}");
        all.remove(0)
    }

    #[test]
    fn short_forms() {
        let b = one("8080:80");
        assert_eq!((b.host_ip, b.host_port, b.container_port, b.protocol), (None, 8080, 80, Protocol::Tcp));
        let b = one("127.0.0.1:8080:80/udp");
        assert_eq!((b.host_ip, b.host_port, b.protocol), (Some(Ipv4Addr::LOCALHOST), 8080, Protocol::Udp));
        assert_eq!(one("80").host_port, 0);
        assert_eq!(one("127.0.0.1::80").host_port, 0);
        let r = parse_publish("8080-8082:80-82").expect("range");
        assert_eq!(
            r.iter().map(|b| (b.host_port, b.container_port)).collect::<Vec<_>>(),
            [(8080, 80), (8081, 81), (8082, 82)]
        );
        assert_eq!(one("0.0.0.0:8080:80").to_string(), "0.0.0.0:8080->80/tcp");
    }

    #[test]
    fn bad_forms() {
        for bad in ["", "x:80", "8080:0", "8080-8081:80-84", "80/sctp", "::1:80:80", "9-8:80", "70000:80"] {
            assert!(parse_publish(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_port_in_use_is_refused() {
        let held = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = held.local_addr().expect("addr").port();
        let b = PortBinding {
            host_ip: Some(Ipv4Addr::LOCALHOST),
            host_port: port,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let e = check_free(&b).expect_err("in use").to_string();
        assert!(e.contains("already in use") && e.contains(&port.to_string()), "{e}");
        drop(held);
        assert!(check_free(&b).is_ok());
        assert!(pick_port(&b).expect("pick") > 0);
    }
}
