//! `ps --filter KEY=VALUE`, as Docker reads it: the values given for one key are
//! alternatives, except labels (every one given has to match), and every key given has to
//! match.

use std::collections::BTreeMap;

use anyhow::bail;
use berth_engine::container::store::Container;
use berth_engine::reference::ImageRef;

const KEYS: [&str; 13] = [
    "id", "name", "label", "status", "exited", "health", "ancestor", "network", "volume", "before", "since", "publish",
    "expose",
];
const STATUSES: [&str; 7] = ["created", "restarting", "running", "removing", "paused", "exited", "dead"];
const HEALTH: [&str; 4] = ["starting", "healthy", "unhealthy", "none"];

/// The filters of one command, by key.
#[derive(Debug, Default)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    /// `KEY=VALUE` each; an unknown key or a value that cannot match is refused by name.
    pub fn parse(args: &[String]) -> anyhow::Result<Filters> {
        let checked = split(args, &KEYS, |key, value| match key {
            "status" if !STATUSES.contains(&value) => Err(format!("use {}", STATUSES.join(", "))),
            "health" if !HEALTH.contains(&value) => Err(format!("use {}", HEALTH.join(", "))),
            "exited" if value.parse::<i32>().is_err() => Err("an exit code is a number".into()),
            "name" if regex::Regex::new(value).is_err() => Err("not a regular expression".into()),
            "publish" | "expose" if PortFilter::parse(value).is_none() => {
                Err("use PORT, START-END, with /tcp or /udp".into())
            }
            _ => Ok(()),
        })?;
        Ok(Filters(checked))
    }

    /// Whether the filters choose containers by state, which shows stopped ones as well
    /// (as `--filter status=exited` does without `-a`).
    pub fn by_status(&self) -> bool {
        self.0.contains_key("status")
    }

    /// Whether `c` passes every filter; `all` holds the containers `before` and `since` name.
    pub fn matches(&self, c: &Container, all: &[Container]) -> bool {
        self.0.iter().all(|(key, values)| match key.as_str() {
            "label" => values.iter().all(|v| matches_one(key, v, c, all)),
            _ => values.iter().any(|v| matches_one(key, v, c, all)),
        })
    }
}

fn matches_one(key: &str, value: &str, c: &Container, all: &[Container]) -> bool {
    let config = &c.config;
    match key {
        "id" => config.id.starts_with(value),
        // Docker's names start with a slash, and scripts write `name=^/web$`.
        "name" => {
            regex::Regex::new(value).is_ok_and(|r| r.is_match(&config.name) || r.is_match(&format!("/{}", config.name)))
        }
        "label" => label(&config.labels, value),
        "status" => c.state.status.to_string() == value,
        "exited" => {
            c.state.status == berth_engine::container::Status::Exited
                && c.state.exit_code.is_some_and(|code| value.parse() == Ok(code))
        }
        "health" => match &c.state.health {
            Some(h) => h.status.to_string() == value,
            None => value == "none",
        },
        "ancestor" => ancestor(value, c),
        "network" => config.network.endpoints.iter().any(|e| e.network == value || e.network_id.starts_with(value)),
        "volume" => config.mounts.iter().any(|m| m.source.as_deref() == Some(value) || m.target == value),
        "before" | "since" => {
            let Some(other) = all.iter().find(|o| o.config.name == value || o.config.id.starts_with(value)) else {
                return false;
            };
            match key {
                "before" => config.created < other.config.created,
                _ => config.created > other.config.created,
            }
        }
        "publish" => PortFilter::parse(value)
            .is_some_and(|f| config.network.ports.iter().any(|p| f.covers(p.container_port, &p.protocol.to_string()))),
        "expose" => PortFilter::parse(value).is_some_and(|f| {
            let exposed = config.network.exposed.iter().filter_map(|e| {
                let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
                Some((port.parse().ok()?, proto.to_string()))
            });
            let published = config.network.ports.iter().map(|p| (p.container_port, p.protocol.to_string()));
            exposed.chain(published).any(|(port, proto)| f.covers(port, &proto))
        }),
        _ => false,
    }
}

/// The filters of the other listings (images, networks, volumes, the prune commands): each
/// key one of the listing's, the values of a key alternatives, every key to match.
#[derive(Debug, Default)]
pub struct KeyFilters(BTreeMap<String, Vec<String>>);

impl KeyFilters {
    /// `KEY=VALUE` each, `KEY` one of `keys` (`label!` is "no such label").
    pub fn parse(args: &[String], keys: &[&str]) -> anyhow::Result<KeyFilters> {
        let checked = split(args, keys, |key, value| match key {
            "dangling" if !["true", "false", "1", "0"].contains(&value) => Err("use true or false".into()),
            "until" if until_secs(value).is_none() => Err("use a duration (24h, 10m) or a time".into()),
            _ => Ok(()),
        })?;
        Ok(KeyFilters(checked))
    }

    /// Whether every key has a value for which `one(key, value)` holds (`label`: all of its
    /// values, as Docker's; `label!`: none of its values may hold for `label`).
    pub fn matches(&self, one: impl Fn(&str, &str) -> bool) -> bool {
        self.0.iter().all(|(key, values)| match key.strip_suffix('!') {
            Some(key) => !values.iter().any(|v| one(key, v)),
            None if key == "label" => values.iter().all(|v| one(key, v)),
            None => values.iter().any(|v| one(key, v)),
        })
    }

    /// The filters of `keys` alone (`system prune` hands each kind of object the ones it takes).
    pub fn only(&self, keys: &[&str]) -> KeyFilters {
        KeyFilters(
            self.0.iter().filter(|(k, _)| keys.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect(),
        )
    }

    /// The values given for `key`.
    pub fn values(&self, key: &str) -> &[String] {
        self.0.get(key).map_or(&[], Vec::as_slice)
    }
}

/// `KEY=VALUE` arguments by key, each key one of `keys` and each value passing `check`; what
/// does not is refused by name.
fn split(
    args: &[String],
    keys: &[&str],
    check: impl Fn(&str, &str) -> Result<(), String>,
) -> anyhow::Result<BTreeMap<String, Vec<String>>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for arg in args {
        let Some((key, value)) = arg.split_once('=') else { bail!("invalid filter {arg:?}: use KEY=VALUE") };
        let key = key.trim().to_lowercase();
        if !keys.contains(&key.as_str()) {
            bail!("invalid filter {key:?}: filter on {}", keys.join(", "));
        }
        if let Err(what) = check(&key, value) {
            bail!("invalid filter {key}={value:?}: {what}");
        }
        out.entry(key).or_default().push(value.to_string());
    }
    Ok(out)
}

/// `label=KEY` or `label=KEY=VALUE` against some labels.
pub fn label(labels: &BTreeMap<String, String>, value: &str) -> bool {
    match value.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|l| l == v),
        None => labels.contains_key(value),
    }
}

/// `dangling=true|1` as a boolean.
pub fn truth(value: &str) -> bool {
    value == "true" || value == "1"
}

/// A shell-style pattern (`*`, `?`), as Docker matches `reference=` filters.
pub fn wildcard(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // Positions in the pattern reachable after each character of the text.
    let mut states = vec![false; p.len() + 1];
    states[0] = true;
    let close = |states: &mut Vec<bool>| {
        for i in 0..p.len() {
            if states[i] && p[i] == '*' {
                states[i + 1] = true;
            }
        }
    };
    close(&mut states);
    for c in t {
        let mut next = vec![false; p.len() + 1];
        for i in 0..p.len() {
            if states[i] && (p[i] == '*' || p[i] == '?' || p[i] == c) {
                next[if p[i] == '*' { i } else { i + 1 }] = true;
            }
        }
        close(&mut next);
        states = next;
    }
    states[p.len()]
}

/// `until=`: a Go duration before now (`24h`, `1h30m`, `90s`) or an RFC 3339 time or Unix
/// seconds, as seconds since the epoch.
pub fn until_secs(value: &str) -> Option<i64> {
    if let Ok(secs) = value.parse::<i64>() {
        return Some(secs);
    }
    if let Some(t) = crate::output::parse_rfc3339(value) {
        return Some(t);
    }
    let (mut total, mut number) = (0f64, String::new());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            number.push(c);
            continue;
        }
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                0.001
            }
            ('h', _) => 3600.0,
            ('m', _) => 60.0,
            ('s', _) => 1.0,
            _ => return None,
        };
        total += number.parse::<f64>().ok()? * unit;
        number.clear();
    }
    if !number.is_empty() || value.is_empty() {
        return None;
    }
    Some(crate::output::now_secs() - total as i64)
}

/// An image named as the container's was (`busybox` is `busybox:latest`), or its ID.
fn ancestor(value: &str, c: &Container) -> bool {
    let id = c.config.image_id.to_string();
    if id.trim_start_matches("sha256:").starts_with(value.trim_start_matches("sha256:")) && value.len() >= 6 {
        return true;
    }
    match (ImageRef::parse(value), ImageRef::parse(&c.config.image)) {
        (Ok(a), Ok(b)) => a.to_string() == b.to_string(),
        _ => value == c.config.image,
    }
}

/// `80`, `8000-8080`, either with `/tcp` or `/udp` (TCP when none is given).
struct PortFilter {
    start: u16,
    end: u16,
    protocol: String,
}

impl PortFilter {
    fn parse(text: &str) -> Option<PortFilter> {
        let (ports, protocol) = text.split_once('/').unwrap_or((text, "tcp"));
        if protocol != "tcp" && protocol != "udp" {
            return None;
        }
        let (start, end) = match ports.split_once('-') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => (ports.parse().ok()?, ports.parse().ok()?),
        };
        (start <= end).then(|| PortFilter { start, end, protocol: protocol.to_string() })
    }

    fn covers(&self, port: u16, protocol: &str) -> bool {
        (self.start..=self.end).contains(&port) && self.protocol == protocol
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_engine::container::{ContainerConfig, ContainerState, Status};

    fn container(name: &str, created: &str, status: Status, labels: &[(&str, &str)]) -> Container {
        let config = ContainerConfig {
            id: format!("{name}0123456789abcdef"),
            name: name.into(),
            image: "busybox".into(),
            created: created.into(),
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Default::default()
        };
        let state = ContainerState { status, exit_code: Some(3), ..Default::default() };
        Container { config, state, dir: berth_engine::container::dir::ContainerDir::new("/nonexistent".into()) }
    }

    fn chosen(filters: &[&str], all: &[Container]) -> Vec<String> {
        let args: Vec<String> = filters.iter().map(|f| f.to_string()).collect();
        let f = Filters::parse(&args).expect("valid filters");
        all.iter().filter(|c| f.matches(c, all)).map(|c| c.config.name.clone()).collect()
    }

    #[test]
    fn values_of_a_key_are_alternatives_and_keys_all_match() {
        let all = [
            container("web", "2026-01-01T00:00:01Z", Status::Running, &[("tier", "front")]),
            container("db", "2026-01-01T00:00:02Z", Status::Exited, &[("tier", "back")]),
            container("cache", "2026-01-01T00:00:03Z", Status::Running, &[]),
        ];
        assert_eq!(chosen(&["status=running"], &all), ["web", "cache"]);
        assert_eq!(chosen(&["status=running", "status=exited"], &all), ["web", "db", "cache"]);
        assert_eq!(chosen(&["status=running", "label=tier"], &all), ["web"]);
        assert_eq!(chosen(&["label=tier=back"], &all), ["db"]);
        // Labels are the exception, as in Docker: each one given must be there.
        assert_eq!(chosen(&["label=tier", "label=tier=front"], &all), ["web"]);
        assert!(chosen(&["label=tier=back", "label=tier=front"], &all).is_empty());
        assert_eq!(chosen(&["name=^/web$"], &all), ["web"]);
        assert_eq!(chosen(&["name=c"], &all), ["cache"]);
        assert_eq!(chosen(&["exited=3"], &all), ["db"]);
        assert_eq!(chosen(&["health=none"], &all).len(), 3);
        assert_eq!(chosen(&["before=db"], &all), ["web"]);
        assert_eq!(chosen(&["since=db"], &all), ["cache"]);
        assert_eq!(chosen(&["ancestor=busybox:latest"], &all).len(), 3);
        assert_eq!(chosen(&["id=web01"], &all), ["web"]);
    }

    #[test]
    fn bad_filters_are_refused_by_name() {
        let refused = |f: &str| Filters::parse(&[f.to_string()]).expect_err("refused").to_string();
        assert!(refused("colour=red").contains("\"colour\""));
        assert!(refused("status=sleeping").contains("status=\"sleeping\""));
        assert!(refused("exited=x").contains("number"));
        assert!(refused("name=(").contains("regular expression"));
        assert!(refused("publish=80/sctp").contains("publish"));
        assert!(refused("nothing").contains("KEY=VALUE"));
    }

    #[test]
    fn key_filters_wildcards_and_durations() {
        let f = |args: &[&str]| {
            KeyFilters::parse(
                &args.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                &["label", "label!", "dangling", "until"],
            )
        };
        let labels: BTreeMap<String, String> = [("keep".to_string(), "yes".to_string())].into();
        assert!(f(&["label=keep"]).expect("valid").matches(|_, v| label(&labels, v)));
        // Labels are all required, as Docker's are.
        assert!(!f(&["label=keep", "label=other"]).expect("valid").matches(|_, v| label(&labels, v)));
        assert!(!f(&["label!=keep=yes"]).expect("valid").matches(|_, v| label(&labels, v)));
        assert!(f(&["label!=other"]).expect("valid").matches(|_, v| label(&labels, v)));
        assert!(f(&["colour=red"]).expect_err("refused").to_string().contains("\"colour\""));
        assert!(f(&["dangling=maybe"]).is_err() && f(&["until=soon"]).is_err());
        assert!(wildcard("busy*", "busybox") && wildcard("b?sybox:*", "busybox:1.36") && !wildcard("busy", "busybox"));
        assert!(wildcard("*", "") && wildcard("a*b*c", "aXXbYc") && !wildcard("a*b*c", "aXXbY"));
        let now = crate::output::now_secs();
        assert!((until_secs("1h30m").expect("a duration") - (now - 5400)).abs() <= 1);
        assert_eq!(until_secs("2024-01-01T00:00:00Z"), Some(1_704_067_200));
        assert_eq!(until_secs("1704067200"), Some(1_704_067_200));
        assert_eq!(until_secs("10x"), None);
    }

    #[test]
    fn ports_and_ranges() {
        let f = PortFilter::parse("8000-8080").expect("a range");
        assert!(f.covers(8000, "tcp") && f.covers(8080, "tcp") && !f.covers(8081, "tcp") && !f.covers(8000, "udp"));
        assert!(PortFilter::parse("53/udp").is_some_and(|f| f.covers(53, "udp")));
        assert!(PortFilter::parse("90-80").is_none());
    }
}
