//! berth-network: IPAM, bridges, veth pairs, firewall rules, published ports and the DNS server
//! (DESIGN.md §5). Today: IPAM, as pure functions ([`ipam`]); the rest comes with the
//! networking issue.

pub mod ipam;
