//! Service discovery: the names a container may resolve ([`Records`], pure) and the server that
//! answers them on each network's gateway address ([`serve`], run as `berth dns`).
//!
//! A query is answered from the point of view of the container that asked (found by its source
//! address on the network the query arrived on): a name resolves to the addresses of its
//! targets on every network the asker shares with them, and on no other. A name berth knows
//! only on networks the asker is not on gets NXDOMAIN (it never leaks out to the host's
//! resolvers); any other name is forwarded to them.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType, rdata};
use serde::{Deserialize, Serialize};

/// Everything the DNS server knows, written by the engine whenever endpoints change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Records {
    pub networks: Vec<DnsNetwork>,
    pub endpoints: Vec<DnsEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsNetwork {
    pub name: String,
    pub gateway: Ipv4Addr,
    /// An `internal: true` network: its containers' queries are never forwarded upstream
    /// (unless the container is also on a network that reaches out), so DNS cannot carry
    /// data out of a network that has no way out (moby CVE-2024-29018).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub internal: bool,
}

/// One container on one network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsEndpoint {
    /// The container's ID.
    pub container: String,
    pub network: String,
    pub ip: Ipv4Addr,
    /// Names that resolve to this endpoint for every container on the network: the container's
    /// name, its service, its aliases on the network.
    pub names: Vec<String>,
    /// Names only this container resolves (`links`): alias to the target container's ID.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub links: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The name's addresses as the asker sees them.
    Found(Vec<Ipv4Addr>),
    /// A berth name on networks the asker does not share: it does not exist for the asker.
    Hidden,
    /// Not a berth name: ask the host's resolvers.
    Unknown,
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Records {
    /// The answer for `name` asked by `client` through the gateway address `gateway`.
    pub fn resolve(&self, client: Ipv4Addr, gateway: Ipv4Addr, name: &str) -> Answer {
        let name = normalise(name);
        let Some(network) = self.networks.iter().find(|n| n.gateway == gateway) else {
            return Answer::Unknown;
        };
        let asker = self.endpoints.iter().find(|e| e.network == network.name && e.ip == client);
        let shared: Vec<&str> = match asker {
            Some(a) => {
                self.endpoints.iter().filter(|e| e.container == a.container).map(|e| e.network.as_str()).collect()
            }
            None => vec![network.name.as_str()],
        };
        let on_shared = |e: &&DnsEndpoint| shared.contains(&e.network.as_str());
        let link_target = asker.and_then(|a| {
            self.endpoints.iter().filter(|e| e.container == a.container).find_map(|e| e.links.get(&name))
        });
        let mut found: Vec<Ipv4Addr> = match link_target {
            Some(target) => {
                self.endpoints.iter().filter(on_shared).filter(|e| &e.container == target).map(|e| e.ip).collect()
            }
            None => self
                .endpoints
                .iter()
                .filter(on_shared)
                .filter(|e| e.names.iter().any(|n| normalise(n) == name))
                .map(|e| e.ip)
                .collect(),
        };
        found.sort();
        found.dedup();
        if !found.is_empty() {
            Answer::Found(found)
        } else if link_target.is_some() || self.endpoints.iter().any(|e| e.names.iter().any(|n| normalise(n) == name)) {
            Answer::Hidden
        } else {
            Answer::Unknown
        }
    }
}

/// How long berth's answers may be cached (Docker's embedded server says 600 s).
const TTL: u32 = 600;

/// What to do with one query: a reply to send now, or a query to forward.
fn answer(records: &Records, client: Ipv4Addr, gateway: Ipv4Addr, query: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let q = request.queries().first()?.clone();
    let found = records.resolve(client, gateway, &q.name().to_ascii());
    let mut reply = Message::new();
    reply
        .set_id(request.id())
        .set_message_type(MessageType::Response)
        .set_op_code(request.op_code())
        .set_recursion_desired(request.recursion_desired())
        .set_recursion_available(true)
        .set_authoritative(true)
        .add_query(q.clone());
    match found {
        Answer::Unknown => return None,
        Answer::Hidden => {
            reply.set_response_code(ResponseCode::NXDomain);
        }
        Answer::Found(ips) => {
            if q.query_type() == RecordType::A {
                for ip in ips {
                    reply.add_answer(Record::from_rdata(q.name().clone(), TTL, RData::A(rdata::A(ip))));
                }
            }
        }
    }
    reply.to_vec().ok()
}

fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let mut reply = Message::error_msg(request.id(), request.op_code(), ResponseCode::ServFail);
    reply.add_queries(request.queries().to_vec());
    reply.to_vec().ok()
}

/// The host's resolvers, from `resolv.conf` text (port 53).
pub fn upstreams_from_resolv_conf(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

static RELOAD: AtomicBool = AtomicBool::new(false);

extern "C" fn on_hup(_: nix::libc::c_int) {
    RELOAD.store(true, Ordering::Relaxed);
}

/// A query sent on to the host's resolvers, waiting for its answer.
struct Pending {
    socket: UdpSocket,
    /// The listening socket (by gateway) and the client to answer.
    gateway: Ipv4Addr,
    client: SocketAddr,
    query: Vec<u8>,
    deadline: Instant,
}

/// How long a forwarded query may take before the client gets SERVFAIL.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(3);

/// Serves the records in `path` until they list no network. Reloads them on SIGHUP and when the
/// file changes (checked every second). Binds `<gateway>:53/udp` for every network, adding and
/// dropping sockets as networks come and go; `on_reload` hears which addresses it listens on.
pub fn serve(path: &Path, upstreams: &[SocketAddr], mut on_reload: impl FnMut(&[Ipv4Addr])) -> std::io::Result<()> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
    // No SA_RESTART: a SIGHUP interrupts poll, and the reload happens at once.
    let action = SigAction::new(SigHandler::Handler(on_hup), SaFlags::empty(), SigSet::empty());
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe { sigaction(Signal::SIGHUP, &action) }.map_err(std::io::Error::from)?;

    let mut records = Records::default();
    let mut loaded: Option<SystemTime> = None;
    let mut sockets: BTreeMap<Ipv4Addr, UdpSocket> = BTreeMap::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut last_check = Instant::now();
    let mut buf = vec![0u8; 4096];
    loop {
        let reload =
            RELOAD.swap(false, Ordering::Relaxed) || loaded.is_none() || last_check.elapsed() >= Duration::from_secs(1);
        if reload {
            last_check = Instant::now();
            let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
            if modified != loaded || modified.is_none() {
                records = std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
                loaded = modified.or(Some(SystemTime::UNIX_EPOCH));
                tracing::info!("loaded {} networks, {} endpoints", records.networks.len(), records.endpoints.len());
            }
            if records.networks.is_empty() {
                tracing::info!("no networks left: exiting");
                return Ok(());
            }
            listen_on_gateways(&mut sockets, &records)?;
            on_reload(&sockets.keys().copied().collect::<Vec<_>>());
        }
        let listening: Vec<(Ipv4Addr, &UdpSocket)> = sockets.iter().map(|(g, s)| (*g, s)).collect();
        let mut fds: Vec<PollFd> = listening
            .iter()
            .map(|(_, s)| s.as_fd())
            .chain(pending.iter().map(|p| p.socket.as_fd()))
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        match poll(&mut fds, PollTimeout::from(1000u16)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
        let readable: Vec<bool> =
            fds.iter().map(|f| f.revents().is_some_and(|r| r.intersects(PollFlags::POLLIN))).collect();
        drop(fds);
        for (i, (gateway, socket)) in listening.iter().enumerate() {
            if !readable[i] {
                continue;
            }
            answer_queries(socket, *gateway, &records, upstreams, &mut buf, &mut pending);
        }
        let offset = listening.len();
        let now = Instant::now();
        let mut i = 0;
        pending.retain(|p| {
            let ready = readable.get(offset + i).copied().unwrap_or(false);
            i += 1;
            let reply = if ready {
                p.socket.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
            } else if now >= p.deadline {
                servfail(&p.query)
            } else {
                return true;
            };
            if let (Some(reply), Some(out)) = (reply, sockets.get(&p.gateway)) {
                let _ = out.send_to(&reply, p.client);
            }
            false
        });
    }
}

/// One socket on port 53 of each network's gateway: new networks get one, the sockets of
/// networks that are gone are closed.
fn listen_on_gateways(sockets: &mut BTreeMap<Ipv4Addr, UdpSocket>, records: &Records) -> std::io::Result<()> {
    sockets.retain(|gw, _| records.networks.iter().any(|n| n.gateway == *gw));
    for n in &records.networks {
        if let std::collections::btree_map::Entry::Vacant(slot) = sockets.entry(n.gateway) {
            match UdpSocket::bind(SocketAddrV4::new(n.gateway, 53)) {
                Ok(s) => {
                    s.set_nonblocking(true)?;
                    slot.insert(s);
                }
                Err(e) => tracing::warn!("cannot listen on {}:53 for network {}: {e}", n.gateway, n.name),
            }
        }
    }
    Ok(())
}

/// Answers the queries waiting on the socket of `gateway`: from the records, or forwarded
/// upstream (the answer comes later, through `pending`), or SERVFAIL when no upstream takes it.
fn answer_queries(
    socket: &UdpSocket,
    gateway: Ipv4Addr,
    records: &Records,
    upstreams: &[SocketAddr],
    buf: &mut [u8],
    pending: &mut Vec<Pending>,
) {
    while let Ok((n, from)) = socket.recv_from(buf) {
        let SocketAddr::V4(client) = from else { continue };
        let query = &buf[..n];
        match answer(records, *client.ip(), gateway, query) {
            Some(reply) => {
                let _ = socket.send_to(&reply, from);
            }
            None if !may_forward(records, *client.ip(), gateway) => {
                if let Some(reply) = servfail(query) {
                    let _ = socket.send_to(&reply, from);
                }
            }
            None => match forward(upstreams, query) {
                Some(s) => pending.push(Pending {
                    socket: s,
                    gateway,
                    client: from,
                    query: query.to_vec(),
                    deadline: Instant::now() + UPSTREAM_TIMEOUT,
                }),
                None => {
                    if let Some(reply) = servfail(query) {
                        let _ = socket.send_to(&reply, from);
                    }
                }
            },
        }
    }
}

/// Whether a query from `client`, asked at `gateway`, may go upstream: when the container
/// is on a network that is not internal (the one asked at, if the client is not known).
pub fn may_forward(records: &Records, client: Ipv4Addr, gateway: Ipv4Addr) -> bool {
    let internal = |name: &str| records.networks.iter().any(|n| n.name == name && n.internal);
    let Some(asked) = records.networks.iter().find(|n| n.gateway == gateway) else { return false };
    let container = records.endpoints.iter().find(|e| e.network == asked.name && e.ip == client);
    match container {
        Some(c) => records.endpoints.iter().any(|e| e.container == c.container && !internal(&e.network)),
        None => !asked.internal,
    }
}

/// Sends `query` to the first upstream that takes it, on a socket of its own.
fn forward(upstreams: &[SocketAddr], query: &[u8]) -> Option<UdpSocket> {
    upstreams.iter().find_map(|up| {
        let local: SocketAddr = if up.is_ipv4() { "0.0.0.0:0".parse().ok()? } else { "[::]:0".parse().ok()? };
        let s = UdpSocket::bind(local).ok()?;
        s.connect(up).ok()?;
        s.set_nonblocking(true).ok()?;
        s.send(query).ok()?;
        Some(s)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(container: &str, network: &str, ip: [u8; 4], names: &[&str]) -> DnsEndpoint {
        DnsEndpoint {
            container: container.into(),
            network: network.into(),
            ip: Ipv4Addr::from(ip),
            names: names.iter().map(|n| n.to_string()).collect(),
            links: BTreeMap::new(),
        }
    }

    fn records() -> Records {
        let mut client = ep("c", "front", [10, 0, 0, 4], &["client"]);
        client.links.insert("database".into(), "d1".into());
        Records {
            networks: vec![
                DnsNetwork { name: "front".into(), gateway: Ipv4Addr::new(10, 0, 0, 1), internal: false },
                DnsNetwork { name: "back".into(), gateway: Ipv4Addr::new(10, 1, 0, 1), internal: true },
            ],
            endpoints: vec![
                ep("w1", "front", [10, 0, 0, 2], &["web", "p-web-1", "www"]),
                ep("w2", "front", [10, 0, 0, 3], &["web", "p-web-2"]),
                ep("w1", "back", [10, 1, 0, 2], &["web", "p-web-1"]),
                client,
                ep("d1", "back", [10, 1, 0, 5], &["db", "p-db-1"]),
            ],
        }
    }

    const FRONT: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const BACK: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 1);

    #[test]
    fn queries_go_upstream_only_from_containers_with_a_way_out() {
        let r = records();
        assert!(may_forward(&r, Ipv4Addr::new(10, 0, 0, 4), FRONT), "a container on front");
        assert!(!may_forward(&r, Ipv4Addr::new(10, 1, 0, 5), BACK), "db is only on the internal back");
        assert!(may_forward(&r, Ipv4Addr::new(10, 1, 0, 2), BACK), "w1 is on front too");
        assert!(!may_forward(&r, Ipv4Addr::new(10, 1, 0, 9), BACK), "an unknown client of back");
        assert!(may_forward(&r, Ipv4Addr::new(10, 0, 0, 9), FRONT), "an unknown client of front");
        assert!(!may_forward(&r, Ipv4Addr::new(10, 0, 0, 4), Ipv4Addr::new(10, 9, 0, 1)), "no such gateway");
    }

    #[test]
    fn one_record_per_replica_on_shared_networks() {
        let r = records();
        let client = Ipv4Addr::new(10, 0, 0, 4);
        assert_eq!(
            r.resolve(client, FRONT, "web"),
            Answer::Found(vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 0, 0, 3)])
        );
        assert_eq!(r.resolve(client, FRONT, "WWW."), Answer::Found(vec![Ipv4Addr::new(10, 0, 0, 2)]));
        // web-1 asks from the back network: it shares both networks with itself.
        let w1 = Ipv4Addr::new(10, 1, 0, 2);
        assert_eq!(
            r.resolve(w1, BACK, "p-web-1"),
            Answer::Found(vec![Ipv4Addr::new(10, 0, 0, 2), Ipv4Addr::new(10, 1, 0, 2)])
        );
    }

    #[test]
    fn names_on_other_networks_are_hidden() {
        let r = records();
        let client = Ipv4Addr::new(10, 0, 0, 4);
        assert_eq!(r.resolve(client, FRONT, "db"), Answer::Hidden);
        assert_eq!(r.resolve(client, FRONT, "example.org"), Answer::Unknown);
    }

    #[test]
    fn links_are_the_askers_own() {
        let r = records();
        // The link names a container on a network the client is not on: still hidden.
        assert_eq!(r.resolve(Ipv4Addr::new(10, 0, 0, 4), FRONT, "database"), Answer::Hidden);
        let mut r = r;
        r.endpoints.push(ep("d1", "front", [10, 0, 0, 9], &["db"]));
        assert_eq!(
            r.resolve(Ipv4Addr::new(10, 0, 0, 4), FRONT, "database"),
            Answer::Found(vec![Ipv4Addr::new(10, 0, 0, 9)])
        );
        // Nobody else resolves the client's link alias.
        assert_eq!(r.resolve(Ipv4Addr::new(10, 0, 0, 2), FRONT, "database"), Answer::Unknown);
    }

    #[test]
    fn wire_answers() {
        use hickory_proto::op::Query;
        use hickory_proto::rr::Name;
        let mut q = Message::new();
        q.set_id(7)
            .set_recursion_desired(true)
            .add_query(Query::query(Name::from_ascii("web.").expect("name"), RecordType::A));
        let bytes = q.to_vec().expect("encode");
        let reply = answer(&records(), Ipv4Addr::new(10, 0, 0, 4), FRONT, &bytes).expect("answered");
        let reply = Message::from_vec(&reply).expect("decode");
        assert_eq!(reply.id(), 7);
        assert_eq!(reply.answers().len(), 2);
        let hidden = answer(&records(), Ipv4Addr::new(10, 0, 0, 4), FRONT, &{
            let mut q = q.clone();
            q.queries_mut()[0] = Query::query(Name::from_ascii("db.").expect("name"), RecordType::A);
            q.to_vec().expect("encode")
        })
        .expect("answered");
        assert_eq!(Message::from_vec(&hidden).expect("decode").response_code(), ResponseCode::NXDomain);
        assert_eq!(upstreams_from_resolv_conf("search x\nnameserver 10.255.255.53\n").len(), 1);
        assert!(servfail(&bytes).is_some());
    }
}
