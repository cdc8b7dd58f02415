//! Logging drivers, as Docker's: `json-file` and `local` (the container's own log, rotated),
//! `none` (nothing kept), and `syslog` and `journald`, which get each line as it comes while
//! the container's own log is kept as well (Docker's "dual logging"), so that `logs` still
//! reads it.
//!
//! `syslog` sends to `syslog-address` (`udp://`, `tcp://`, `unix://`, `unixgram://`; the host's
//! `/dev/log` when not given) in `syslog-format` (`rfc3164`, the default, or `rfc5424`) with
//! `syslog-facility` and `tag`; `journald` sends entries in the journal's native protocol to
//! its socket, with the fields Docker's driver sets (`CONTAINER_ID`, `CONTAINER_NAME`,
//! `CONTAINER_TAG`, `IMAGE_NAME`, `SYSLOG_IDENTIFIER`, `PRIORITY`).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::ContainerConfig;

/// The journal's socket, where journald listens for entries.
pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
/// The host's syslog socket.
pub const DEV_LOG: &str = "/dev/log";

/// Where a container's output goes besides its own log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "name")]
pub enum LogDriver {
    #[default]
    JsonFile,
    Local,
    /// Nothing kept: `logs` has nothing to read.
    None,
    Syslog {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        facility: u8,
        rfc5424: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
    Journald {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tag: Option<String>,
    },
}

impl LogDriver {
    pub fn is_json_file(&self) -> bool {
        *self == LogDriver::JsonFile
    }

    /// Whether the container's own log is kept (every driver but `none`).
    pub fn keeps_log(&self) -> bool {
        *self != LogDriver::None
    }

    pub fn name(&self) -> &'static str {
        match self {
            LogDriver::JsonFile => "json-file",
            LogDriver::Local => "local",
            LogDriver::None => "none",
            LogDriver::Syslog { .. } => "syslog",
            LogDriver::Journald { .. } => "journald",
        }
    }
}

/// A `logging:` section (or `--log-driver` and `--log-opt`) as the container's log
/// configuration, with the warnings to give once. Refused: an unknown driver or option, a
/// driver whose socket this host lacks.
pub fn config(
    driver: Option<&str>,
    options: &BTreeMap<String, String>,
) -> Result<(super::LogConfig, Vec<String>), String> {
    let mut log = super::LogConfig::default();
    let mut warnings = Vec::new();
    let take = |key: &str| options.get(key).cloned();
    let known: &[&str] = match driver.unwrap_or("json-file") {
        "json-file" | "local" => &[
            "max-size",
            "max-file",
            "compress",
            "labels",
            "labels-regex",
            "env",
            "env-regex",
            "tag",
            "mode",
            "max-buffer-size",
        ],
        "none" => &[],
        "syslog" => &[
            "syslog-address",
            "syslog-facility",
            "syslog-format",
            "tag",
            "labels",
            "labels-regex",
            "env",
            "env-regex",
            "mode",
            "max-buffer-size",
        ],
        "journald" => &["tag", "labels", "labels-regex", "env", "env-regex", "mode", "max-buffer-size"],
        other => {
            return Err(format!("driver {other:?} is not supported: use json-file, local, none, syslog or journald"));
        }
    };
    if let Some(key) = options.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unknown option {key:?} of the {} driver", driver.unwrap_or("json-file")));
    }
    let name = driver.unwrap_or("json-file");
    if name == "local" {
        // Docker's `local` driver: 20 MB files, five of them, compressed.
        (log.max_size, log.max_file, log.compress) = (Some(20 << 20), 5, true);
    }
    if let Some(size) = take("max-size") {
        log.max_size = Some(berth_compose::model::types::ByteSize::parse(&size)?.0);
    }
    if let Some(n) = take("max-file") {
        log.max_file = n.parse().ok().filter(|n| *n >= 1).ok_or_else(|| format!("invalid max-file {n:?}"))?;
    }
    if let Some(c) = take("compress") {
        log.compress = parse_bool(&c).ok_or_else(|| format!("invalid compress {c:?}: use true or false"))?;
        if log.compress && log.max_file < 2 {
            return Err("compress cannot be true when max-file is less than 2".into());
        }
    }
    for key in ["labels-regex", "env-regex"] {
        if let Some(Err(e)) = options.get(key).map(|r| regex::Regex::new(r)) {
            return Err(format!("invalid {key}: {e}"));
        }
    }
    if name == "syslog" {
        for key in ["labels", "labels-regex", "env", "env-regex"].iter().filter(|k| options.contains_key(**k)) {
            warnings.push(format!(
                "logging option {key} changes nothing with the syslog driver: it sends the line alone, as Docker's does"
            ));
        }
    }
    for key in ["mode", "max-buffer-size"].iter().filter(|k| options.contains_key(**k)) {
        warnings.push(format!(
            "logging option {key} changes nothing: berth's shim stores each line as it comes and never blocks \
             the container on its log"
        ));
    }
    log.options = options.clone();
    log.driver = match driver.unwrap_or("json-file") {
        "json-file" => LogDriver::JsonFile,
        "local" => LogDriver::Local,
        "none" => LogDriver::None,
        "syslog" => {
            let address = take("syslog-address");
            if address.is_none() && !Path::new(DEV_LOG).exists() {
                return Err(format!("driver \"syslog\": this host has no {DEV_LOG}; give syslog-address"));
            }
            if let Some(a) = &address {
                Target::parse(a)?;
            }
            let rfc5424 = match take("syslog-format").as_deref() {
                None | Some("rfc3164") => false,
                Some("rfc5424" | "rfc5424micro") => true,
                Some(other) => return Err(format!("invalid syslog-format {other:?}: use rfc3164 or rfc5424")),
            };
            let facility = facility(take("syslog-facility").as_deref().unwrap_or("daemon"))?;
            LogDriver::Syslog { address, facility, rfc5424, tag: take("tag") }
        }
        _ => {
            if !Path::new(JOURNAL_SOCKET).exists() {
                return Err(format!("driver \"journald\": this host has no journal ({JOURNAL_SOCKET})"));
            }
            LogDriver::Journald { tag: take("tag") }
        }
    };
    Ok((log, warnings))
}

/// A boolean as Go's `strconv.ParseBool` reads it, as Docker reads `compress`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// What each entry carries besides its line, as Docker's drivers add it (`attrs` in a
/// json-file entry, fields of a journal entry): the container's labels named in `labels` or
/// matched by `labels-regex`, its environment variables named in `env` or matched by
/// `env-regex`, and for the file drivers the `tag` when one is given.
pub fn attributes(c: &ContainerConfig) -> BTreeMap<String, String> {
    let options = &c.log.options;
    let names = |key: &str| -> Vec<&str> {
        options.get(key).map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
    };
    let pattern = |key: &str| options.get(key).and_then(|r| regex::Regex::new(r).ok());
    let chosen = |names: &[&str], pattern: &Option<regex::Regex>, key: &str| {
        names.contains(&key) || pattern.as_ref().is_some_and(|p| p.is_match(key))
    };
    let mut out = BTreeMap::new();
    let (labels, labels_regex) = (names("labels"), pattern("labels-regex"));
    for (k, v) in c.labels.iter().filter(|(k, _)| chosen(&labels, &labels_regex, k)) {
        out.insert(k.clone(), v.clone());
    }
    let (env, env_regex) = (names("env"), pattern("env-regex"));
    for (k, v) in c.env.iter().filter_map(|e| e.split_once('=')).filter(|(k, _)| chosen(&env, &env_regex, k)) {
        out.insert(k.to_string(), v.to_string());
    }
    if matches!(c.log.driver, LogDriver::JsonFile | LogDriver::Local) {
        if let Some(t) = options.get("tag") {
            out.insert("tag".into(), tag(Some(t), c));
        }
    }
    out
}

/// A journal field name made of an attribute's key, as Docker's journald driver makes it:
/// upper case, `_` for anything but letters and digits, no leading `_`.
fn journal_key(key: &str) -> String {
    let upper: String =
        key.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    upper.trim_start_matches('_').to_string()
}

/// A syslog facility by name (`daemon`, `local0`...) or number.
fn facility(name: &str) -> Result<u8, String> {
    const NAMES: [&str; 24] = [
        "kern",
        "user",
        "mail",
        "daemon",
        "auth",
        "syslog",
        "lpr",
        "news",
        "uucp",
        "cron",
        "authpriv",
        "ftp",
        "ntp",
        "security",
        "console",
        "solaris-cron",
        "local0",
        "local1",
        "local2",
        "local3",
        "local4",
        "local5",
        "local6",
        "local7",
    ];
    NAMES
        .iter()
        .position(|n| *n == name)
        .or_else(|| name.parse().ok().filter(|n| *n < 24))
        .map(|n| n as u8)
        .ok_or_else(|| format!("invalid syslog-facility {name:?}"))
}

/// Docker's `tag` template with the fields it is most often given: `{{.ID}}` (12
/// characters, the default), `{{.FullID}}`, `{{.Name}}`, `{{.ImageName}}`, `{{.ImageID}}`,
/// `{{.DaemonName}}`.
pub fn tag(template: Option<&str>, c: &ContainerConfig) -> String {
    let short = |s: &str| s.trim_start_matches("sha256:").get(..12).unwrap_or(s).to_string();
    template
        .unwrap_or("{{.ID}}")
        .replace("{{.ID}}", &short(&c.id))
        .replace("{{.FullID}}", &c.id)
        .replace("{{.Name}}", &c.name)
        .replace("{{.ImageName}}", &c.image)
        .replace("{{.ImageID}}", &short(&c.image_id.to_string()))
        .replace("{{.DaemonName}}", "berth")
}

enum Target {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Stream(UnixStream),
    Datagram(UnixDatagram),
}

impl Target {
    /// Checks an address (`udp://host:port`, `tcp://host:port`, `unix:///path`,
    /// `unixgram:///path`).
    fn parse(address: &str) -> Result<(&str, &str), String> {
        let (scheme, rest) = address.split_once("://").ok_or_else(|| format!("invalid syslog-address {address:?}"))?;
        match scheme {
            "udp" | "tcp" | "unix" | "unixgram" if !rest.is_empty() => Ok((scheme, rest)),
            _ => Err(format!("invalid syslog-address {address:?}: use udp://, tcp://, unix:// or unixgram://")),
        }
    }

    fn connect(address: &str) -> io::Result<Target> {
        let (scheme, rest) = Target::parse(address).map_err(io::Error::other)?;
        Ok(match scheme {
            "udp" => {
                let socket = UdpSocket::bind(if rest.starts_with('[') { "[::]:0" } else { "0.0.0.0:0" })?;
                socket.connect(rest)?;
                Target::Udp(socket)
            }
            "tcp" => Target::Tcp(TcpStream::connect(rest)?),
            "unix" => Target::Stream(UnixStream::connect(rest)?),
            _ => {
                let socket = UnixDatagram::unbound()?;
                socket.connect(rest)?;
                Target::Datagram(socket)
            }
        })
    }

    fn send(&mut self, message: &[u8]) -> io::Result<()> {
        match self {
            Target::Udp(s) => s.send(message).map(drop),
            Target::Datagram(s) => s.send(message).map(drop),
            // A stream takes one message a line.
            Target::Tcp(s) => s.write_all(&[message, b"\n"].concat()),
            Target::Stream(s) => s.write_all(&[message, b"\n"].concat()),
        }
    }
}

/// Sends a container's lines to its driver's destination.
pub struct Forwarder {
    target: Target,
    driver: LogDriver,
    tag: String,
    hostname: String,
    /// Journald's fields of every entry.
    fields: Vec<(String, String)>,
}

impl Forwarder {
    /// The forwarder of `c`'s driver, if it sends anywhere.
    pub fn open(c: &ContainerConfig) -> io::Result<Option<Forwarder>> {
        let (target, tag) = match &c.log.driver {
            LogDriver::Syslog { address, tag, .. } => {
                let target = match address {
                    Some(a) => Target::connect(a)?,
                    None => Target::connect(&format!("unixgram://{DEV_LOG}"))
                        .or_else(|_| Target::connect(&format!("unix://{DEV_LOG}")))?,
                };
                (target, tag)
            }
            LogDriver::Journald { tag } => (Target::connect(&format!("unixgram://{JOURNAL_SOCKET}"))?, tag),
            _ => return Ok(None),
        };
        let tag = self::tag(tag.as_deref(), c);
        let hostname = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
        let short = c.id.get(..12).unwrap_or(&c.id).to_string();
        let mut fields: Vec<(String, String)> = [
            ("CONTAINER_ID", short),
            ("CONTAINER_ID_FULL", c.id.clone()),
            ("CONTAINER_NAME", c.name.clone()),
            ("CONTAINER_TAG", tag.clone()),
            ("IMAGE_NAME", c.image.clone()),
            ("SYSLOG_IDENTIFIER", tag.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        fields.extend(attributes(c).into_iter().map(|(k, v)| (journal_key(&k), v)).filter(|(k, _)| !k.is_empty()));
        Ok(Some(Forwarder { target, driver: c.log.driver.clone(), tag, hostname, fields }))
    }

    /// Sends one line of `stream` (`stdout` or `stderr`), without its newline.
    pub fn send(&mut self, stream: &str, line: &str) -> io::Result<()> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let message = match &self.driver {
            LogDriver::Syslog { facility, rfc5424, .. } => {
                syslog_message(*facility, stream, *rfc5424, &self.hostname, &self.tag, line)
            }
            _ => journal_entry(&self.fields, stream, line),
        };
        self.target.send(&message)
    }
}

/// One syslog message: RFC 3164 (`<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`) or RFC 5424
/// (`<PRI>1 TIMESTAMP HOST TAG PID TAG - MSG`), as Docker's driver writes them; stderr lines
/// at severity err, stdout at info.
fn syslog_message(facility: u8, stream: &str, rfc5424: bool, host: &str, tag: &str, line: &str) -> Vec<u8> {
    let severity = if stream == "stderr" { 3 } else { 6 };
    let pri = u32::from(facility) * 8 + severity;
    let pid = std::process::id();
    let now = now();
    if rfc5424 {
        format!("<{pri}>1 {} {host} {tag} {pid} {tag} - {line}", now.rfc3339).into_bytes()
    } else {
        format!("<{pri}>{} {host} {tag}[{pid}]: {line}", now.stamp).into_bytes()
    }
}

struct Now {
    rfc3339: String,
    stamp: String,
}

/// The time in RFC 3339 and in syslog's `Mmm dd hh:mm:ss` (UTC).
fn now() -> Now {
    let rfc3339 = crate::time::now_nanos();
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = rfc3339.get(5..7).and_then(|m| m.parse::<usize>().ok()).unwrap_or(1);
    let day = rfc3339.get(8..10).and_then(|d| d.parse::<u32>().ok()).unwrap_or(1);
    let clock = rfc3339.get(11..19).unwrap_or("00:00:00");
    let stamp = format!("{} {day:>2} {clock}", MONTHS[month.clamp(1, 12) - 1]);
    Now { rfc3339, stamp }
}

/// One entry in the journal's native protocol: `KEY=value` lines, and a value with a newline
/// as the key, a newline, its length as 64-bit little endian, the value and a newline.
fn journal_entry(fields: &[(String, String)], stream: &str, line: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut field = |key: &str, value: &str| {
        if value.contains('\n') {
            out.extend_from_slice(key.as_bytes());
            out.push(b'\n');
            out.extend_from_slice(&(value.len() as u64).to_le_bytes());
            out.extend_from_slice(value.as_bytes());
            out.push(b'\n');
        } else {
            out.extend_from_slice(format!("{key}={value}\n").as_bytes());
        }
    };
    field("MESSAGE", line);
    field("PRIORITY", if stream == "stderr" { "3" } else { "6" });
    for (k, v) in fields {
        field(k, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn drivers_and_their_options() {
        let (log, warnings) = config(None, &options(&[("max-size", "1m"), ("max-file", "3")])).expect("json-file");
        assert_eq!((log.max_size, log.max_file, log.driver), (Some(1 << 20), 3, LogDriver::JsonFile));
        assert!(warnings.is_empty());
        assert_eq!(config(Some("none"), &options(&[])).expect("none").0.driver, LogDriver::None);
        let (log, _) = config(
            Some("syslog"),
            &options(&[("syslog-address", "udp://127.0.0.1:514"), ("syslog-facility", "local3"), ("tag", "{{.Name}}")]),
        )
        .expect("syslog");
        assert_eq!(
            log.driver,
            LogDriver::Syslog {
                address: Some("udp://127.0.0.1:514".into()),
                facility: 19,
                rfc5424: false,
                tag: Some("{{.Name}}".into())
            }
        );
        assert!(config(Some("fluentd"), &options(&[])).expect_err("refused").contains("\"fluentd\""));
        assert!(config(Some("none"), &options(&[("max-size", "1m")])).expect_err("refused").contains("max-size"));
        let e = config(Some("syslog"), &options(&[("syslog-address", "http://x")])).expect_err("refused");
        assert!(e.contains("syslog-address"), "{e}");
        let e = config(None, &options(&[("compress", "true")])).expect_err("refused");
        assert!(e.contains("max-file"), "{e}");
        let (log, warnings) = config(Some("local"), &options(&[])).expect("local");
        assert_eq!((log.max_size, log.max_file, log.compress), (Some(20 << 20), 5, true));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(config(None, &options(&[("labels-regex", "(")])).expect_err("refused").contains("labels-regex"));
        assert_eq!(config(Some("local"), &options(&[("mode", "non-blocking")])).expect("warned").1.len(), 1);
    }

    #[test]
    fn messages_as_dockers_drivers_write_them() {
        let m = String::from_utf8(syslog_message(3, "stderr", false, "h", "abc", "boom")).expect("utf-8");
        assert!(m.starts_with("<27>") && m.contains(" h abc[") && m.ends_with("]: boom"), "{m}");
        let m = String::from_utf8(syslog_message(16, "stdout", true, "h", "abc", "hi")).expect("utf-8");
        assert!(m.starts_with("<134>1 ") && m.contains(" h abc ") && m.ends_with(" abc - hi"), "{m}");
        let entry = journal_entry(&[("CONTAINER_NAME".into(), "web".into())], "stdout", "two\nlines");
        assert!(entry.starts_with(b"MESSAGE\n\x09\0\0\0\0\0\0\0two\nlines\n"));
        assert!(entry.ends_with(b"PRIORITY=6\nCONTAINER_NAME=web\n"));
    }

    #[test]
    fn tags_fill_in_the_container() {
        let c = ContainerConfig {
            id: "0123456789abcdef".into(),
            name: "web".into(),
            image: "nginx".into(),
            ..Default::default()
        };
        assert_eq!(tag(None, &c), "0123456789ab");
        assert_eq!(tag(Some("{{.Name}}/{{.ImageName}}/{{.DaemonName}}"), &c), "web/nginx/berth");
    }

    #[test]
    fn attributes_are_the_labels_and_variables_asked_for() {
        let (log, _) = config(
            None,
            &options(&[("labels", "tier, owner"), ("env-regex", "^APP_"), ("env", "HOME"), ("tag", "{{.Name}}")]),
        )
        .expect("json-file");
        let c = ContainerConfig {
            name: "web".into(),
            labels: [("tier", "front"), ("other", "x")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            env: vec!["APP_MODE=prod".into(), "HOME=/root".into(), "PATH=/bin".into()],
            log,
            ..Default::default()
        };
        let got: Vec<(String, String)> = attributes(&c).into_iter().collect();
        let want = [("APP_MODE", "prod"), ("HOME", "/root"), ("tag", "web"), ("tier", "front")];
        assert_eq!(got, want.map(|(k, v)| (k.to_string(), v.to_string())));
        assert_eq!(journal_key("com.example.tier"), "COM_EXAMPLE_TIER");
        assert_eq!(journal_key("_x-y"), "X_Y");
    }
}
