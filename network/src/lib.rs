//! berth-network: IPAM, bridges, veth pairs, firewall rules, published ports and the DNS server
//! (DESIGN.md §5). Empty until the networking issue lands.
