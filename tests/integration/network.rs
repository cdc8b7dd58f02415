//! Networks as a user meets them: names that resolve on shared networks and nowhere else,
//! aliases and links, fixed addresses, every form of published port from the host and from
//! another container, internal networks, the host and none modes, a host whose FORWARD policy
//! is DROP, and a leak check over 50 set-up/tear-down cycles.

use std::net::{TcpListener, UdpSocket};
use std::process::Command;
use std::sync::{RwLock, RwLockReadGuard};

use crate::containers::{IMAGE, code, state_with_busybox};
use crate::images::State;
use crate::support::{stderr, stdout};

/// The test that sets the host's FORWARD policy to DROP holds this for writing; tests whose
/// containers talk to each other (bridged and forwarded traffic both cross that chain on hosts
/// with br_netfilter) hold it for reading, so the policy does not change under networks whose
/// accept rule was set up before the chain existed.
static HOST_NETWORK: RwLock<()> = RwLock::new(());

pub(crate) fn forwarding() -> RwLockReadGuard<'static, ()> {
    HOST_NETWORK.read().unwrap_or_else(|e| e.into_inner())
}

fn sh(state: &State, network: &str, script: &str) -> std::process::Output {
    state.berth(&["run", "--rm", "--network", network, IMAGE, "sh", "-c", script])
}

/// A free port on the host, for publishing.
fn free_port() -> u16 {
    TcpListener::bind("0.0.0.0:0").expect("bind").local_addr().expect("addr").port()
}

/// The first of two free ports in a row, for a published range (both are tried).
fn free_port_pair() -> u16 {
    (0..100)
        .find_map(|_| {
            let first = TcpListener::bind("0.0.0.0:0").ok()?;
            let port = first.local_addr().ok()?.port();
            let _second = TcpListener::bind(("0.0.0.0", port.checked_add(1)?)).ok()?;
            Some(port)
        })
        .expect("two free ports in a row")
}

fn web(state: &State, name: &str, network: &str, extra: &[&str]) {
    let script = format!("echo hello from {name} > /tmp/index.html; exec httpd -f -p 80 -h /tmp");
    let mut args = vec!["run", "-d", "--name", name, "--network", network];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[IMAGE, "sh", "-c", &script]);
    state.ok(&args);
    crate::containers::wait_for("the web server", || {
        state.berth(&["exec", name, "wget", "-qO-", "http://127.0.0.1/index.html"]).status.success()
    });
}

fn gateway(state: &State, network: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&state.ok(&["network", "inspect", network])).expect("json");
    v[0]["IPAM"]["Config"][0]["Gateway"].as_str().expect("gateway").to_string()
}

/// A UDP echo server on port 5353, for python3.
const UDP_ECHO: &str = "import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 5353))
while True:
    data, peer = s.recvfrom(512)
    s.sendto(b'echo ' + data, peer)
";

/// A UDP client for python3: sends `ping` to argv[1]:argv[2] until an answer comes, prints it.
const UDP_ASK: &str = "import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.2)
for _ in range(50):
    s.sendto(b'ping', (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recv(512).decode())
        break
    except socket.timeout:
        pass
";

fn free_udp_port() -> u16 {
    UdpSocket::bind("0.0.0.0:0").expect("bind").local_addr().expect("addr").port()
}

/// The answer of the UDP server at `addr` to `ping`, asked from the host, retried while the
/// server starts.
fn udp_ask(addr: &str) -> String {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.set_read_timeout(Some(std::time::Duration::from_millis(200))).expect("timeout");
    let mut buf = [0u8; 512];
    for _ in 0..50 {
        socket.send_to(b"ping", addr).expect("send");
        if let Ok(n) = socket.recv(&mut buf) {
            return String::from_utf8_lossy(&buf[..n]).into_owned();
        }
    }
    panic!("no answer over UDP from {addr}");
}

/// A page from the host (HTTP/1.0 by hand: the host may have no HTTP client), retried
/// while the server in the container starts.
pub(crate) fn http_get(addr: &str) -> String {
    use std::io::{Read, Write};
    let get = || -> Option<String> {
        let mut s = std::net::TcpStream::connect(addr).ok()?;
        s.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
        s.write_all(b"GET /index.html HTTP/1.0\r\n\r\n").ok()?;
        let mut reply = String::new();
        s.read_to_string(&mut reply).ok()?;
        reply.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
    };
    for _ in 0..50 {
        if let Some(page) = get().filter(|p| !p.is_empty()) {
            return page;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    get().unwrap_or_default()
}

#[test]
fn names_resolve_on_shared_networks_only() {
    let _host = forwarding();
    let state = state_with_busybox();
    state.ok(&["network", "create", "front"]);
    state.ok(&["network", "create", "back"]);
    web(&state, "web", "front", &["--network-alias", "www"]);
    state.ok(&["run", "-d", "--name", "db", "--network", "back", IMAGE, "sleep", "600"]);
    let out = sh(
        &state,
        "front",
        "nslookup web && nslookup www && wget -qO- http://web/index.html && wget -qO- http://www/index.html",
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!(stdout(&out).matches("hello from web").count(), 2, "{}", stdout(&out));
    let hidden = sh(&state, "front", "nslookup db");
    assert!(!hidden.status.success() && stdout(&hidden).contains("NXDOMAIN"), "{}", stdout(&hidden));
    // A container on both networks sees both; a link is the linking container's own name.
    let both = state.berth(&[
        "run",
        "--rm",
        "--network",
        "back",
        "--link",
        "db:database",
        IMAGE,
        "sh",
        "-c",
        "nslookup database && nslookup db",
    ]);
    assert!(both.status.success(), "{}{}", stdout(&both), stderr(&both));
    let other = sh(&state, "back", "nslookup database");
    assert!(!other.status.success(), "nobody else resolves the link's alias: {}", stdout(&other));
    // Two replicas behind one alias: one A record each.
    web(&state, "web2", "front", &["--network-alias", "www"]);
    let two = sh(&state, "front", "nslookup www");
    assert_eq!(stdout(&two).matches("Address: ").count(), 2, "{}", stdout(&two));
    // A renamed container is found, and resolved, by its new name only.
    state.ok(&["rename", "db", "datastore"]);
    assert!(sh(&state, "back", "nslookup datastore").status.success(), "the new name resolves");
    assert!(!sh(&state, "back", "nslookup db").status.success(), "the old name is gone");
    assert_eq!(state.ok(&["exec", "datastore", "echo", "found"]), "found\n");
    let taken = state.berth(&["rename", "datastore", "web"]);
    assert!(!taken.status.success() && stderr(&taken).contains("\"web\""), "{}", stderr(&taken));
    let same = state.berth(&["rename", "datastore", "datastore"]);
    assert!(!same.status.success() && stderr(&same).contains("another name"), "{}", stderr(&same));
}

#[test]
fn static_addresses_survive_restarts() {
    let _host = forwarding();
    let state = state_with_busybox();
    state.ok(&["network", "create", "--subnet", "10.231.7.0/24", "--ip-range", "10.231.7.128/25", "fixed"]);
    state.ok(&["run", "-d", "--name", "pinned", "--network", "fixed", "--ip", "10.231.7.50", IMAGE, "sleep", "600"]);
    let addr = |name: &str| stdout(&state.berth(&["exec", name, "ip", "-4", "-o", "addr", "show", "eth0"]));
    assert!(addr("pinned").contains("10.231.7.50/24"), "{}", addr("pinned"));
    state.ok(&["run", "-d", "--name", "ranged", "--network", "fixed", IMAGE, "sleep", "600"]);
    assert!(addr("ranged").contains("10.231.7.128/24"), "allocated from the range: {}", addr("ranged"));
    state.ok(&["restart", "-t", "0", "pinned"]);
    assert!(addr("pinned").contains("10.231.7.50/24"), "kept across a restart: {}", addr("pinned"));
    let taken = state.berth(&["run", "--rm", "--network", "fixed", "--ip", "10.231.7.50", IMAGE, "true"]);
    assert!(!taken.status.success() && stderr(&taken).contains("10.231.7.50"), "{}", stderr(&taken));
    let overlap = state.berth(&["network", "create", "--subnet", "10.231.0.0/16", "overlap"]);
    assert!(!overlap.status.success() && stderr(&overlap).contains("overlaps"), "{}", stderr(&overlap));
}

#[test]
fn published_ports_in_every_form() {
    let _host = forwarding();
    let state = state_with_busybox();
    state.ok(&["network", "create", "pubnet"]);
    state.ok(&["network", "create", "othernet"]);
    let (any, local, range) = (free_port(), free_port(), free_port_pair());
    let range_spec = format!("{range}-{}:80-81", range + 1);
    web(
        &state,
        "web",
        "pubnet",
        &["-p", &format!("{any}:80"), "-p", &format!("127.0.0.1:{local}:80"), "-p", &range_spec, "-p", "80"],
    );
    assert_eq!(http_get(&format!("127.0.0.1:{any}")), "hello from web\n");
    assert_eq!(http_get(&format!("127.0.0.1:{local}")), "hello from web\n");
    assert_eq!(http_get(&format!("127.0.0.1:{range}")), "hello from web\n");
    // From other containers, through a gateway address of the host: one on the same network,
    // one on another network, and the server itself (hairpin).
    for (network, gw) in [("pubnet", gateway(&state, "pubnet")), ("othernet", gateway(&state, "othernet"))] {
        let page = sh(&state, network, &format!("wget -qO- http://{gw}:{any}/index.html"));
        assert_eq!(stdout(&page), "hello from web\n", "from {network}: {}", stderr(&page));
    }
    let own = state.berth(&[
        "exec",
        "web",
        "wget",
        "-qO-",
        &format!("http://{}:{any}/index.html", gateway(&state, "pubnet")),
    ]);
    assert_eq!(stdout(&own), "hello from web\n", "hairpin: {}", stderr(&own));
    // `80` alone gets a port of the host's choosing, which `port` tells.
    let random = state.ok(&["port", "web", "80"]);
    let picked = random
        .lines()
        .find(|l| {
            !l.ends_with(&format!(":{any}")) && !l.ends_with(&format!(":{local}")) && !l.ends_with(&format!(":{range}"))
        })
        .expect("a random port")
        .to_string();
    assert_eq!(http_get(&picked.replace("0.0.0.0", "127.0.0.1")), "hello from web\n", "{random}");
}

#[test]
fn published_udp_ports_and_taken_ports() {
    let _host = forwarding();
    let state = state_with_busybox();
    state.ok(&["network", "create", "pubnet"]);
    state.ok(&["network", "create", "othernet"]);
    // UDP: busybox has no UDP server, so the container runs the host's python3 (the host's root
    // mounted read-only) as an echo server, published on 127.0.0.1 and on every address.
    let (local_udp, any_udp) = (free_udp_port(), free_udp_port());
    state.ok(&[
        "run",
        "-d",
        "--name",
        "echo",
        "--network",
        "pubnet",
        "-v",
        "/:/host:ro",
        "-p",
        &format!("127.0.0.1:{local_udp}:5353/udp"),
        "-p",
        &format!("{any_udp}:5353/udp"),
        IMAGE,
        "chroot",
        "/host",
        "python3",
        "-c",
        UDP_ECHO,
    ]);
    assert_eq!(state.ok(&["port", "echo", "5353/udp"]), format!("127.0.0.1:{local_udp}\n0.0.0.0:{any_udp}\n"));
    assert_eq!(udp_ask(&format!("127.0.0.1:{local_udp}")), "echo ping");
    assert_eq!(udp_ask(&format!("127.0.0.1:{any_udp}")), "echo ping");
    let gw = gateway(&state, "othernet");
    let out = state.berth(&[
        "run",
        "--rm",
        "--network",
        "othernet",
        "-v",
        "/:/host:ro",
        IMAGE,
        "chroot",
        "/host",
        "python3",
        "-c",
        UDP_ASK,
        &gw,
        &any_udp.to_string(),
    ]);
    assert_eq!(stdout(&out), "echo ping\n", "UDP from another container: {}", stderr(&out));
    let held_udp = UdpSocket::bind("0.0.0.0:0").expect("bind");
    let taken = held_udp.local_addr().expect("addr").port().to_string();
    let out = state.berth(&[
        "run",
        "-d",
        "--name",
        "udpclash",
        "--network",
        "pubnet",
        "-p",
        &format!("{taken}:53/udp"),
        IMAGE,
        "sleep",
        "60",
    ]);
    assert!(!out.status.success() && stderr(&out).contains(&format!("{taken}/udp")), "{}", stderr(&out));

    // A port some program holds is refused before the container starts.
    let held = TcpListener::bind("0.0.0.0:0").expect("bind");
    let port = held.local_addr().expect("addr").port().to_string();
    let out = state.berth(&[
        "run",
        "-d",
        "--name",
        "clash",
        "--network",
        "pubnet",
        "-p",
        &format!("{port}:80"),
        IMAGE,
        "sleep",
        "60",
    ]);
    assert!(!out.status.success(), "a taken port is refused");
    assert!(stderr(&out).contains(&port) && stderr(&out).contains("already in use"), "{}", stderr(&out));
    let ps = state.ok(&["ps"]);
    assert!(!ps.contains("clash"), "nothing started: {ps}");
}

#[test]
fn networks_are_isolated_and_internal_ones_closed() {
    let _host = forwarding();
    let state = state_with_busybox();
    state.ok(&["network", "create", "red"]);
    state.ok(&["network", "create", "blue"]);
    state.ok(&["network", "create", "--internal", "vault"]);
    web(&state, "redweb", "red", &[]);
    let v: serde_json::Value = serde_json::from_str(&state.ok(&["network", "inspect", "red"])).expect("json");
    let ip = v[0]["Containers"].as_object().expect("containers").values().next().expect("one")["IPv4Address"]
        .as_str()
        .expect("ip")
        .split('/')
        .next()
        .expect("ip")
        .to_string();
    let same = sh(&state, "red", &format!("nc -w 3 {ip} 80 </dev/null && echo reached"));
    assert!(stdout(&same).contains("reached"), "{}", stderr(&same));
    let other = sh(&state, "blue", &format!("nc -w 3 {ip} 80 </dev/null && echo reached"));
    assert!(!stdout(&other).contains("reached"), "blue cannot reach red");
    let gw = gateway(&state, "red");
    let internal = sh(
        &state,
        "vault",
        &format!("ip route; nc -w 3 {ip} 80 </dev/null && echo reached; nc -w 3 {gw} 1 </dev/null; true"),
    );
    assert!(!stdout(&internal).contains("default"), "no default route: {}", stdout(&internal));
    assert!(!stdout(&internal).contains("reached"), "the internal network has no way out");
}

#[test]
fn an_internal_network_sends_no_query_upstream_and_dns_listens_only_on_gateways() {
    let _host = forwarding();
    let state = state_with_busybox();
    // The upstream resolver is a socket of this test's, which counts what reaches it.
    let upstream = UdpSocket::bind("127.0.0.1:0").expect("bind");
    upstream.set_read_timeout(Some(std::time::Duration::from_secs(3))).expect("timeout");
    let address = upstream.local_addr().expect("addr").to_string();
    let berth = |args: &[&str]| {
        let out = state.command(args).env("BERTH_DNS_UPSTREAM", &address).output().expect("berth runs");
        assert!(out.status.success(), "berth {args:?}: {}", stderr(&out));
        stdout(&out)
    };
    berth(&["network", "create", "--internal", "sealed"]);
    berth(&["network", "create", "open"]);
    let ask = |network: &str, name: &str| {
        let script = format!("timeout 5 nslookup {name} >/dev/null 2>&1; true");
        berth(&["run", "--rm", "--network", network, IMAGE, "sh", "-c", &script]);
    };
    ask("sealed", "secret-from-sealed.example");
    ask("open", "asked-from-open.example");
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while let Ok(n) = upstream.recv(&mut buf) {
        seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(seen.iter().any(|q| q.contains("asked-from-open")), "the open network's query went upstream");
    assert!(!seen.iter().any(|q| q.contains("secret-from-sealed")), "the internal network's query did not: {seen:?}");

    // The helper listens on port 53 of the two gateways and on no other address of the host.
    let pid = std::fs::read_to_string(state.root().join("networks/dns.pid")).expect("dns.pid");
    let mut listening = udp_ports_of(pid.trim(), 53);
    listening.sort();
    let mut gateways = vec![gateway(&state, "sealed"), gateway(&state, "open")];
    gateways.sort();
    assert_eq!(listening, gateways);
}

/// The addresses on which process `pid` holds UDP sockets bound to `port`, from /proc/net/udp.
fn udp_ports_of(pid: &str, port: u16) -> Vec<String> {
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("the helper's fds")
        .flatten()
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .filter_map(|l| l.to_str()?.strip_prefix("socket:[")?.strip_suffix(']').map(str::to_string))
        .collect();
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/udp")).expect("udp table");
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (addr, p) = fields.get(1)?.split_once(':')?;
            let ip = u32::from_str_radix(addr, 16).ok()?;
            (u16::from_str_radix(p, 16).ok()? == port && inodes.iter().any(|i| Some(&i.as_str()) == fields.get(9)))
                .then(|| std::net::Ipv4Addr::from(ip.swap_bytes()).to_string())
        })
        .collect()
}

#[test]
fn host_and_none_modes() {
    let state = state_with_busybox();
    let none = state.ok(&["run", "--rm", "--network", "none", IMAGE, "ip", "-o", "link"]);
    assert_eq!(none.lines().count(), 1, "only the loopback: {none}");
    let host_links = Command::new("ip").args(["-o", "link"]).output().expect("ip");
    let first_host_link =
        stdout(&host_links).lines().nth(1).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string());
    let host = state.ok(&["run", "--rm", "--network", "host", IMAGE, "ip", "-o", "link"]);
    if let Some(name) = first_host_link {
        assert!(host.contains(&name), "the host's {name} is visible: {host}");
    }
    state.ok(&["run", "-d", "--name", "owner", "--network", "none", IMAGE, "sleep", "600"]);
    let shared = state.ok(&["run", "--rm", "--network", "container:owner", IMAGE, "ip", "-o", "link"]);
    assert_eq!(shared.lines().count(), 1, "{shared}");
}

/// Restores the FORWARD policy and removes the iptables table if the test created it.
struct ForwardPolicy {
    had_table: bool,
}

impl Drop for ForwardPolicy {
    fn drop(&mut self) {
        let _ = Command::new("iptables").args(["-P", "FORWARD", "ACCEPT"]).status();
        if !self.had_table {
            let _ = Command::new("nft").args(["delete", "table", "ip", "filter"]).status();
        }
    }
}

#[test]
fn works_with_a_forward_policy_of_drop() {
    // The README's set-up command installs iptables: without it this test cannot do its job.
    assert!(Command::new("iptables").arg("-V").output().is_ok(), "iptables is not installed; run the README's set-up");
    let _host = HOST_NETWORK.write().unwrap_or_else(|e| e.into_inner());
    let had_table =
        Command::new("nft").args(["list", "table", "ip", "filter"]).output().is_ok_and(|o| o.status.success());
    let policy = ForwardPolicy { had_table };
    assert!(Command::new("iptables").args(["-P", "FORWARD", "DROP"]).status().expect("iptables").success());
    let state = state_with_busybox();
    state.ok(&["network", "create", "left"]);
    state.ok(&["network", "create", "right"]);
    let port = free_port();
    web(&state, "web", "right", &["-p", &format!("{port}:80")]);
    assert_eq!(http_get(&format!("127.0.0.1:{port}")), "hello from web\n");
    // Forwarded traffic, which the DROP policy would stop: between the two networks through
    // the published port.
    let page = sh(&state, "left", &format!("wget -qO- http://{}:{port}/index.html", gateway(&state, "left")));
    assert_eq!(stdout(&page), "hello from web\n", "{}", stderr(&page));
    let forward =
        || stdout(&Command::new("nft").args(["list", "chain", "ip", "filter", "FORWARD"]).output().expect("nft"));
    let table = table_of(&state);
    let rules = forward();
    assert!(rules.contains(&format!("comment \"{table}\"")), "berth's accept rule is in FORWARD: {rules}");
    assert!(rules.contains("policy drop"), "the host's policy is untouched");
    drop(state);
    let rules = forward();
    assert!(!rules.contains(&format!("comment \"{table}\"")), "berth's rule left with its networks: {rules}");
    drop(policy);
}

/// What berth may have left on the host: the links and routes of these bridges and veth pairs,
/// nftables tables by these names, and named namespaces. (Other tests run beside this one, so
/// only this test's own objects are compared.)
fn leftovers(names: &[String], tables: &[String]) -> Vec<String> {
    let run = |cmd: &str, args: &[&str]| Command::new(cmd).args(args).output().map(|o| stdout(&o)).unwrap_or_default();
    let mut found: Vec<String> = run("ip", &["-o", "link"])
        .lines()
        .chain(run("ip", &["route"]).lines())
        .filter(|l| names.iter().any(|n| l.contains(n.as_str())))
        .map(str::to_string)
        .collect();
    found.extend(
        run("nft", &["list", "tables"])
            .lines()
            .filter(|l| tables.iter().any(|t| l.ends_with(t.as_str())))
            .map(str::to_string),
    );
    found.extend(
        std::fs::read_dir("/run/netns").into_iter().flatten().flatten().map(|e| e.path().display().to_string()),
    );
    found
}

/// The nftables table of a state directory (see `network::table_name`).
fn table_of(state: &State) -> String {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(state.root().as_os_str().as_encoded_bytes());
    format!("berth_{}", hash.iter().take(4).map(|b| format!("{b:02x}")).collect::<String>())
}

#[test]
fn fifty_cycles_leave_the_host_as_it_was() {
    let _host = forwarding();
    let state = state_with_busybox();
    let links_before = stdout(&Command::new("ip").args(["-o", "link"]).output().expect("ip")).lines().count();
    let mut names: Vec<String> = Vec::new();
    let tables = vec![table_of(&state)];
    for cycle in 0..50 {
        for n in ["one", "two", "three"] {
            state.ok(&["network", "create", n]);
            let v: serde_json::Value = serde_json::from_str(&state.ok(&["network", "inspect", n])).expect("json");
            names.push(v[0]["Options"]["com.docker.network.bridge.name"].as_str().expect("bridge").to_string());
        }
        let port = free_port().to_string();
        state.ok(&["run", "-d", "--name", "a", "--network", "one", "-p", &format!("{port}:80"), IMAGE, "sleep", "600"]);
        state.ok(&["run", "-d", "--name", "b", "--network", "two", IMAGE, "sleep", "600"]);
        state.ok(&["network", "connect", "three", "b"]);
        state.ok(&["run", "-d", "--name", "c", "--network", "three", IMAGE, "sleep", "600"]);
        for n in ["one", "two", "three"] {
            let v: serde_json::Value = serde_json::from_str(&state.ok(&["network", "inspect", n])).expect("json");
            for c in v[0]["Containers"].as_object().expect("containers").values() {
                names.push(c["HostInterface"].as_str().expect("veth").to_string());
            }
        }
        let out = state.berth(&["exec", "c", "nslookup", "b"]);
        assert_eq!(code(&out), 0, "cycle {cycle}: {}", stdout(&out));
        state.ok(&["rm", "-f", "a", "b", "c"]);
        state.ok(&["network", "rm", "one", "two", "three"]);
        assert_eq!(leftovers(&names, &tables), Vec::<String>::new(), "cycle {cycle} left something behind");
    }
    assert_eq!(names.len(), 50 * 7);
    let links_after = stdout(&Command::new("ip").args(["-o", "link"]).output().expect("ip")).lines().count();
    assert!(links_after <= links_before + 20, "links: {links_before} before, {links_after} after");
}
