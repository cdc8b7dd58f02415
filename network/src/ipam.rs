//! IP address management: which subnet a new network gets, and which address a new endpoint
//! gets in it. Pure functions of what is already in use (the host's routes, the other
//! networks, the addresses taken), so every decision is a unit test.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 subnet: a network address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpamError {
    #[error("invalid subnet {0:?}: use a.b.c.d/n")]
    BadSubnet(String),
    #[error("no free subnet left in the address pools (every candidate overlaps a route or a network)")]
    PoolExhausted,
    #[error("subnet {0} overlaps {1}, which is already in use")]
    Overlap(Subnet, String),
    #[error("address {addr} is not in subnet {subnet}")]
    OutsideSubnet { addr: Ipv4Addr, subnet: Subnet },
    #[error("address {0} is already in use")]
    Taken(Ipv4Addr),
    #[error("no free address left in {0}")]
    Full(Subnet),
}

impl Subnet {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Subnet {
        let prefix = prefix.min(32);
        Subnet { addr: Ipv4Addr::from(u32::from(addr) & mask(prefix)), prefix }
    }

    fn first(&self) -> u32 {
        u32::from(self.addr)
    }

    fn last(&self) -> u32 {
        self.first() | !mask(self.prefix)
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.prefix) == self.first()
    }

    pub fn overlaps(&self, other: &Subnet) -> bool {
        self.first() <= other.last() && other.first() <= self.last()
    }

    /// The gateway Docker picks: the first host address.
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.first() + 1)
    }

    /// The subnets of length `prefix` that make up this one, in order.
    pub fn split(&self, prefix: u8) -> impl Iterator<Item = Subnet> + '_ {
        let step = 1u64 << (32 - prefix as u32);
        let count = if prefix < self.prefix { 0 } else { 1u64 << (prefix - self.prefix) };
        (0..count).map(move |i| Subnet::new(Ipv4Addr::from((self.first() as u64 + i * step) as u32), prefix))
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { u32::MAX << (32 - prefix as u32) }
}

impl std::fmt::Display for Subnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl serde::Serialize for Subnet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Subnet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Subnet, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for Subnet {
    type Err = IpamError;
    fn from_str(s: &str) -> Result<Subnet, IpamError> {
        let bad = || IpamError::BadSubnet(s.to_string());
        let (addr, prefix) = s.split_once('/').ok_or_else(bad)?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Ok(Subnet::new(addr.parse().map_err(|_| bad())?, prefix))
    }
}

/// Docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s.
pub fn default_pools() -> Vec<(Subnet, u8)> {
    let mut pools: Vec<(Subnet, u8)> = (17..=31).map(|b| (Subnet::new(Ipv4Addr::new(172, b, 0, 0), 16), 16)).collect();
    pools.push((Subnet::new(Ipv4Addr::new(192, 168, 0, 0), 16), 20));
    pools
}

/// The first subnet of the pools that overlaps none of `in_use` (the host's routes and the
/// other networks' subnets).
pub fn choose_subnet(pools: &[(Subnet, u8)], in_use: &[Subnet]) -> Result<Subnet, IpamError> {
    pools
        .iter()
        .flat_map(|(pool, size)| pool.split(*size))
        .find(|candidate| !in_use.iter().any(|u| u.overlaps(candidate)))
        .ok_or(IpamError::PoolExhausted)
}

/// Checks a subnet the user chose (`ipam.config.subnet`) against what is in use.
pub fn check_subnet(subnet: Subnet, in_use: &[(Subnet, String)]) -> Result<(), IpamError> {
    match in_use.iter().find(|(u, _)| u.overlaps(&subnet)) {
        Some((_, what)) => Err(IpamError::Overlap(subnet, what.clone())),
        None => Ok(()),
    }
}

/// An address for a new endpoint: `wanted` if given (it must be free and in the subnet), else
/// the lowest free host address in `range` (the subnet by default), never the network, the
/// gateway or the broadcast address.
pub fn allocate(
    subnet: Subnet,
    range: Option<Subnet>,
    gateway: Ipv4Addr,
    taken: &BTreeSet<Ipv4Addr>,
    wanted: Option<Ipv4Addr>,
) -> Result<Ipv4Addr, IpamError> {
    let reserved = |ip: u32| ip == subnet.first() || ip == subnet.last() || ip == u32::from(gateway);
    if let Some(ip) = wanted {
        if !subnet.contains(ip) {
            return Err(IpamError::OutsideSubnet { addr: ip, subnet });
        }
        if taken.contains(&ip) || reserved(u32::from(ip)) {
            return Err(IpamError::Taken(ip));
        }
        return Ok(ip);
    }
    let range = range.unwrap_or(subnet);
    (range.first()..=range.last())
        .filter(|ip| subnet.contains(Ipv4Addr::from(*ip)) && !reserved(*ip))
        .map(Ipv4Addr::from)
        .find(|ip| !taken.contains(ip))
        .ok_or(IpamError::Full(subnet))
}

/// The destinations of the host's IPv4 routes, from `/proc/net/route` text (hexadecimal,
/// little-endian): subnets a new network must not overlap. The default route is left out.
pub fn routes_from_proc(text: &str) -> Vec<Subnet> {
    routes_by_device(text).into_iter().map(|(_, s)| s).collect()
}

/// As [`routes_from_proc`], with the device each route goes through.
pub fn routes_by_device(text: &str) -> Vec<(String, Subnet)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let dest = u32::from_str_radix(fields.get(1)?, 16).ok()?;
            let mask = u32::from_str_radix(fields.get(7)?, 16).ok()?;
            // The kernel prints the address as the u32 it holds in memory (network byte order),
            // read in host order: its native bytes are the address.
            let subnet = Subnet::new(Ipv4Addr::from(dest.to_ne_bytes()), mask.count_ones() as u8);
            (mask != 0).then(|| (fields[0].to_string(), subnet))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Subnet {
        text.parse().expect("subnet")
    }

    #[test]
    fn subnets() {
        assert_eq!(s("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert!(s("172.17.0.0/16").contains(Ipv4Addr::new(172, 17, 3, 4)));
        assert!(s("172.17.0.0/16").overlaps(&s("172.17.5.0/24")));
        assert!(!s("172.17.0.0/16").overlaps(&s("172.18.0.0/16")));
        assert_eq!(s("192.168.0.0/16").split(20).nth(1), Some(s("192.168.16.0/20")));
        assert!("300.1.1.1/8".parse::<Subnet>().is_err());
        assert!("10.0.0.0/33".parse::<Subnet>().is_err());
    }

    #[test]
    fn a_new_network_avoids_routes_and_other_networks() {
        let pools = default_pools();
        assert_eq!(choose_subnet(&pools, &[]), Ok(s("172.17.0.0/16")));
        let in_use = [s("172.17.0.0/16"), s("172.18.0.0/24"), s("10.0.0.0/8")];
        assert_eq!(choose_subnet(&pools, &in_use), Ok(s("172.19.0.0/16")));
        let everything = [s("0.0.0.0/1"), s("128.0.0.0/1")];
        assert_eq!(choose_subnet(&pools, &everything), Err(IpamError::PoolExhausted));
        assert!(matches!(
            check_subnet(s("172.17.1.0/24"), &[(s("172.17.0.0/16"), "network shop_back".into())]),
            Err(IpamError::Overlap(..))
        ));
    }

    #[test]
    fn addresses() {
        let net = s("172.20.0.0/29");
        let gw = net.gateway();
        let mut taken = BTreeSet::new();
        let first = allocate(net, None, gw, &taken, None).expect("free");
        assert_eq!(first, Ipv4Addr::new(172, 20, 0, 2), "after the gateway");
        taken.insert(first);
        assert_eq!(allocate(net, None, gw, &taken, None), Ok(Ipv4Addr::new(172, 20, 0, 3)));
        assert_eq!(
            allocate(net, None, gw, &taken, Some(Ipv4Addr::new(172, 20, 0, 6))),
            Ok(Ipv4Addr::new(172, 20, 0, 6))
        );
        assert_eq!(allocate(net, None, gw, &taken, Some(first)), Err(IpamError::Taken(first)));
        assert!(matches!(
            allocate(net, None, gw, &taken, Some(Ipv4Addr::new(10, 0, 0, 1))),
            Err(IpamError::OutsideSubnet { .. })
        ));
        for ip in 3..=6 {
            taken.insert(Ipv4Addr::new(172, 20, 0, ip));
        }
        assert_eq!(allocate(net, None, gw, &taken, None), Err(IpamError::Full(net)), "never .7, the broadcast address");
        let range = s("172.20.0.4/30");
        assert_eq!(allocate(net, Some(range), gw, &BTreeSet::new(), None), Ok(Ipv4Addr::new(172, 20, 0, 4)));
    }

    #[test]
    fn routes() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                    docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        assert_eq!(routes_from_proc(text), vec![s("192.168.2.0/24"), s("172.17.0.0/16")]);
    }
}
