//! Links, addresses and routes over rtnetlink: the bridge of a network, the veth pair of an
//! endpoint, and the configuration of the endpoint inside its namespace.
//!
//! rtnetlink is asynchronous; berth's callers are not (a container start is a short sequence of
//! blocking steps), so a [`Netlink`] carries its own single-threaded runtime and each operation
//! runs to completion on it.

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use futures_util::TryStreamExt;
use rtnetlink::packet_core::DefaultNla;
use rtnetlink::packet_route::AddressFamily;
use rtnetlink::packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkMessage, LinkProtoInfoBridge};
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::netns;
use crate::{NetError, Result};

/// A netlink connection in one network namespace.
pub struct Netlink {
    runtime: tokio::runtime::Runtime,
    handle: Handle,
}

const ENODEV: i32 = 19;
const EEXIST: i32 = 17;

/// The errno a netlink request failed with.
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

impl Netlink {
    /// A connection in this thread's namespace (the host's, for berth's commands).
    pub fn host() -> Result<Netlink> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(NetError::io("cannot start a runtime for netlink"))?;
        let (connection, handle, _) = {
            let _entered = runtime.enter();
            rtnetlink::new_connection().map_err(NetError::io("cannot open a netlink socket"))?
        };
        runtime.spawn(connection);
        Ok(Netlink { runtime, handle })
    }

    /// A connection inside the namespace mounted at `path`: the socket is opened by a thread
    /// that entered it, and keeps that namespace for its whole life.
    pub fn in_netns(path: &Path) -> Result<Netlink> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(NetError::io("cannot start a runtime for netlink"))?;
        let handle = runtime.handle().clone();
        let (connection, handle, _) = crate::netns::run_in(path, move || {
            let _entered = handle.enter();
            rtnetlink::new_connection().map_err(NetError::io("cannot open a netlink socket"))
        })?;
        runtime.spawn(connection);
        Ok(Netlink { runtime, handle })
    }

    /// The index of link `name`, if it exists.
    pub fn index(&self, name: &str) -> Result<Option<u32>> {
        let request = self.handle.link().get().match_name(name.to_string()).execute();
        match self.runtime.block_on(async {
            futures_util::pin_mut!(request);
            request.try_next().await
        }) {
            Ok(link) => Ok(link.map(|l| l.header.index)),
            Err(e) if errno(&e) == Some(ENODEV) => Ok(None),
            Err(e) => Err(NetError::netlink(format!("cannot look up link {name}"))(e)),
        }
    }

    fn require(&self, name: &str) -> Result<u32> {
        self.index(name)?.ok_or_else(|| NetError::Invalid(format!("link {name} does not exist")))
    }

    pub fn set_up(&self, name: &str) -> Result<()> {
        let index = self.require(name)?;
        self.runtime
            .block_on(self.handle.link().set(LinkUnspec::new_with_index(index).up().build()).execute())
            .map_err(NetError::netlink(format!("cannot bring {name} up")))
    }

    /// Adds `addr/prefix` to link `index`; an address already there is fine.
    fn add_address(&self, name: &str, index: u32, addr: Ipv4Addr, prefix: u8) -> Result<()> {
        match self.runtime.block_on(self.handle.address().add(index, IpAddr::V4(addr), prefix).execute()) {
            Err(e) if errno(&e) != Some(EEXIST) => {
                Err(NetError::netlink(format!("cannot add address {addr}/{prefix} to {name}"))(e))
            }
            _ => Ok(()),
        }
    }

    /// Creates bridge `name` with `gateway/prefix` and brings it up. Returns whether it was
    /// created (false: it existed and was brought to the same state).
    pub fn ensure_bridge(&self, name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<bool> {
        let created = match self.index(name)? {
            Some(_) => false,
            None => {
                self.runtime
                    .block_on(self.handle.link().add(LinkBridge::new(name).build()).execute())
                    .map_err(NetError::netlink(format!("cannot create bridge {name}")))?;
                true
            }
        };
        let configure = || -> Result<()> {
            let index = self.require(name)?;
            self.add_address(name, index, gateway, prefix)?;
            self.set_up(name)
        };
        if let Err(e) = configure() {
            if created {
                let _ = self.delete(name);
            }
            return Err(e);
        }
        Ok(created)
    }

    /// Deletes link `name` (a veth takes its peer with it). Returns whether it existed.
    pub fn delete(&self, name: &str) -> Result<bool> {
        let Some(index) = self.index(name)? else { return Ok(false) };
        match self.runtime.block_on(self.handle.link().del(index).execute()) {
            Err(e) if errno(&e) != Some(ENODEV) => Err(NetError::netlink(format!("cannot delete link {name}"))(e)),
            _ => Ok(true),
        }
    }

    /// Creates the veth pair `host`/`peer` with `peer` born inside the namespace `netns`,
    /// already named and carrying `mac`, and `host` plugged into `bridge` (in hairpin mode)
    /// and up. Creating the peer in place, rather than moving it afterwards, spares the
    /// namespace move, the slowest step of an attach (about 20 ms). On failure nothing is left
    /// behind.
    pub fn add_veth(&self, host: &str, peer: &str, mac: [u8; 6], bridge: &str, netns: &std::fs::File) -> Result<()> {
        let bridge_index = self.require(bridge)?;
        let peer_message = rtnetlink::LinkMessageBuilder::<LinkUnspec>::new()
            .name(peer.to_string())
            .address(mac.to_vec())
            .setns_by_fd(netns.as_raw_fd())
            .build();
        let pair = LinkVeth::new(host, peer)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_message)))
            .controller(bridge_index)
            .up()
            .build();
        self.runtime
            .block_on(self.handle.link().add(pair).execute())
            .map_err(NetError::netlink(format!("cannot create veth pair {host}")))?;
        self.set_hairpin(host).inspect_err(|_| {
            let _ = self.delete(host);
        })
    }

    /// Puts bridge port `name` in hairpin mode. A container reaching its own published port
    /// through a host address: on hosts with br_netfilter the DNAT happens at the bridge, which
    /// then sends the frame back out of the port it came in on, which a bridge only does in
    /// hairpin mode. Asked over netlink, which waits for the kernel's lock of the links, rather
    /// than through sysfs, whose write of `brport/hairpin_mode` retries at once while another
    /// thread holds that lock: with ten containers attached at once, it spun for a fifth of
    /// `up`'s own time.
    fn set_hairpin(&self, name: &str) -> Result<()> {
        const IFLA_BRPORT_MODE: u16 = 4;
        let mut message = LinkMessage::default();
        message.header.interface_family = AddressFamily::Bridge;
        message.header.index = self.require(name)?;
        message.attributes.push(LinkAttribute::ProtoInfoBridge(vec![LinkProtoInfoBridge::Other(DefaultNla::new(
            IFLA_BRPORT_MODE,
            vec![1],
        ))]));
        self.runtime
            .block_on(self.handle.link().set(message).execute())
            .map_err(NetError::netlink(format!("cannot set hairpin mode on {name}")))
    }

    /// Inside a container's namespace: gives the link `name` the address `addr/prefix`, brings
    /// it up, and routes the default through `gateway` if given.
    pub fn configure_endpoint(&self, name: &str, addr: Ipv4Addr, prefix: u8, gateway: Option<Ipv4Addr>) -> Result<()> {
        let index = self.require(name)?;
        self.add_address(name, index, addr, prefix)?;
        self.set_up(name)?;
        if let Some(gateway) = gateway {
            let route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gateway).build();
            match self.runtime.block_on(self.handle.route().add(route).execute()) {
                Err(e) if errno(&e) != Some(EEXIST) => {
                    return Err(NetError::netlink(format!("cannot route through {gateway}"))(e));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// A MAC address derived from an IPv4 address, as Docker derives them (`02:42:` + the address):
/// locally administered, unique on a network, and stable across restarts.
pub fn mac_for(addr: Ipv4Addr) -> [u8; 6] {
    let o = addr.octets();
    [0x02, 0x42, o[0], o[1], o[2], o[3]]
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = text.split(':').map(|p| u8::from_str_radix(p, 16)).collect::<Result<_, _>>().ok()?;
    parts.try_into().ok().filter(|_| text.split(':').all(|p| p.len() == 2))
}

/// Writes a sysctl under /proc/sys/net (`ipv4/ip_forward`, `ipv4/conf/<link>/route_localnet`).
pub fn sysctl(key: &str, value: &str) -> Result<()> {
    let path = Path::new("/proc/sys/net").join(key);
    if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(&path, value).map_err(NetError::io(format!("cannot set {}", path.display())))
}

/// Creates a network namespace on `path` ([`netns::create`]) with its loopback up; a new one
/// that cannot have its loopback up is removed again.
pub fn create_netns(path: &Path) -> Result<()> {
    let fresh = !netns::exists(path);
    netns::create(path)?;
    if let Err(e) = Netlink::in_netns(path).and_then(|nl| nl.set_up("lo")) {
        if fresh {
            let _ = netns::remove(path);
        }
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(mac_for(Ipv4Addr::new(172, 18, 0, 2)), [2, 0x42, 172, 18, 0, 2]);
        assert_eq!(parse_mac("02:42:ac:12:00:02"), Some([2, 0x42, 0xac, 0x12, 0, 2]));
        assert_eq!(parse_mac("02:42:ac:12:00"), None);
        assert_eq!(parse_mac("2:42:ac:12:00:02"), None);
        assert_eq!(parse_mac("zz:42:ac:12:00:02"), None);
    }
}
