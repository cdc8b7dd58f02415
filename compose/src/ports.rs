//! The short syntax of `ports` (`[HOST_IP:][PUBLISHED[-END]:]TARGET[-END][/PROTOCOL]`), expanded
//! into one long-syntax entry per container port, as Docker Compose does.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortEntry {
    pub host_ip: Option<String>,
    pub target: u16,
    /// A port, a range `8000-8010`, or none for a random host port.
    pub published: Option<String>,
    pub protocol: String,
}

/// Parses one short-syntax port; the error is a sentence about what is wrong.
pub fn parse_short(spec: &str) -> Result<Vec<PortEntry>, String> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_string()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!("invalid protocol {protocol:?} in port {spec:?}: use tcp, udp or sctp"));
    }
    // An IPv6 host address is written in brackets: `[::1]:8080:80`.
    let (host_ip, rest) = if let Some(after) = rest.strip_prefix('[') {
        let (ip, tail) = after.split_once(']').ok_or_else(|| format!("invalid port {spec:?}: unclosed `[`"))?;
        (Some(ip.to_string()), tail.strip_prefix(':').unwrap_or(tail))
    } else {
        (None, rest)
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (host_ip, published, target) = match (host_ip, parts.as_slice()) {
        (None, [t]) => (None, None, *t),
        (None, [p, t]) => (None, Some(*p), *t),
        (None, [ip, p, t]) => (Some(ip.to_string()), Some(*p), *t),
        (Some(ip), [t]) => (Some(ip), None, *t),
        (Some(ip), [p, t]) => (Some(ip), Some(*p), *t),
        _ => return Err(format!("invalid port {spec:?}: expected [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]")),
    };
    let published = published.filter(|p| !p.is_empty());
    let host_ip = host_ip.filter(|ip| !ip.is_empty());
    let (t_start, t_end) = parse_range(target, spec)?;
    let targets = t_end - t_start + 1;
    let entry = |target: u16, published: Option<String>| PortEntry {
        host_ip: host_ip.clone(),
        target,
        published,
        protocol: protocol.clone(),
    };
    match published {
        None => Ok((t_start..=t_end).map(|t| entry(t, None)).collect()),
        Some(p) => {
            let (p_start, p_end) = parse_range(p, spec)?;
            let published_count = p_end - p_start + 1;
            if targets == 1 {
                // One container port published on a range of host ports: one entry, the range kept.
                let range = if published_count == 1 { p_start.to_string() } else { format!("{p_start}-{p_end}") };
                Ok(vec![entry(t_start, Some(range))])
            } else if targets == published_count {
                Ok((0..targets).map(|i| entry(t_start + i, Some((p_start + i).to_string()))).collect())
            } else {
                Err(format!("invalid port {spec:?}: the host range and the container range differ in size"))
            }
        }
    }
}

/// Parses `8000` or `8000-8010` into inclusive bounds.
pub fn parse_range(s: &str, spec: &str) -> Result<(u16, u16), String> {
    let bad = || format!("invalid port {spec:?}: {s:?} is not a port number (1-65535) or range");
    let (a, b) = match s.split_once('-') {
        Some((a, b)) => (a, b),
        None => (s, s),
    };
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if b < a {
        return Err(format!("invalid port {spec:?}: range {s:?} ends before it starts"));
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn short(spec: &str) -> Vec<(Option<String>, u16, Option<String>, String)> {
        parse_short(spec).expect("valid").into_iter().map(|p| (p.host_ip, p.target, p.published, p.protocol)).collect()
    }

    #[test]
    fn forms() {
        assert_eq!(short("80"), [(None, 80, None, "tcp".into())]);
        assert_eq!(short("8080:80"), [(None, 80, Some("8080".into()), "tcp".into())]);
        assert_eq!(short("127.0.0.1:8080:80/udp"), [(Some("127.0.0.1".into()), 80, Some("8080".into()), "udp".into())]);
        assert_eq!(short("127.0.0.1::80"), [(Some("127.0.0.1".into()), 80, None, "tcp".into())]);
        assert_eq!(short("[::1]:53:53/udp"), [(Some("::1".into()), 53, Some("53".into()), "udp".into())]);
        assert_eq!(short("3001-3002").len(), 2);
        assert_eq!(short("9090-9091:8080-8081")[1], (None, 8081, Some("9091".into()), "tcp".into()));
        assert_eq!(short("8080-8082:80"), [(None, 80, Some("8080-8082".into()), "tcp".into())]);
    }

    #[test]
    fn mistakes() {
        assert!(parse_short("70000").is_err());
        assert!(parse_short("80/xdp").is_err());
        assert!(parse_short("1-3:1-2").is_err());
        assert!(parse_short("abc").is_err());
        assert!(parse_short("90-80").is_err());
    }
}
