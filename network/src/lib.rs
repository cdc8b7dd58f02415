//! berth-network: IPAM, bridges, veth pairs, firewall rules, published ports and the DNS server
//! (DESIGN.md §5).
//!
//! The crate knows nothing of containers or of berth's state directory: it takes values (a
//! bridge name and subnet, a network namespace path, the list of published ports) and does one
//! thing with them. The engine decides what to ask for and records the outcome.
//!
//! - [`ipam`]: which subnet a network gets and which address an endpoint gets (pure).
//! - [`netns`]: persistent network namespaces, bind-mounted on a file.
//! - [`link`]: bridges, veth pairs, addresses and routes over rtnetlink.
//! - [`firewall`]: berth's nftables table, rendered whole from the wanted state (pure) and
//!   applied atomically with `nft -f`.
//! - [`ports`]: published ports: parsing, random host ports, checking a port is free.
//! - [`dns`]: the records a container may resolve (pure) and the server that answers them.

pub mod dns;
pub mod firewall;
pub mod ipam;
pub mod link;
pub mod netns;
pub mod ports;

/// What went wrong, with what berth was doing at the time.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("{what}")]
    Netlink { what: String, source: rtnetlink::Error },
    #[error("{what}")]
    Io { what: String, source: std::io::Error },
    #[error("firewall: {0}")]
    Firewall(String),
    #[error(transparent)]
    Ipam(#[from] ipam::IpamError),
    #[error("{0}")]
    Invalid(String),
}

impl NetError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetError {
        let what = what.into();
        move |source| NetError::Io { what, source }
    }

    pub(crate) fn netlink(what: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> NetError {
        let what = what.into();
        move |source| NetError::Netlink { what, source }
    }
}

pub type Result<T, E = NetError> = std::result::Result<T, E>;
