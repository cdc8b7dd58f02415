//! Container logs as the command line shows them: `logs` of containers and of a project's
//! services, and the followers `run` and `up` print through.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use berth_engine::container::dir::ContainerDir;
use berth_engine::container::store::Container;
use berth_engine::container::{logs, remove};
use berth_engine::project;
use berth_engine::store::Store;

use crate::cli::LogsArgs;
use crate::commands::scope::Scope;
use crate::engine;

/// A container's log as the engine follows it, printed as `show` says.
pub(crate) struct Follower {
    log: logs::Follower,
    pub(crate) show: Show,
}

impl Follower {
    pub(crate) fn open(dir: &ContainerDir, from: logs::Start, show: Show) -> anyhow::Result<Follower> {
        let log = logs::Follower::open(dir, from).with_context(|| format!("cannot open {}", dir.log().display()))?;
        Ok(Follower { log, show })
    }

    /// Prints what was logged since the last call.
    pub(crate) fn pump(&mut self) {
        let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
        for entry in self.log.next_entries() {
            let show = &self.show;
            let shown = show.since.as_deref().is_none_or(|s| entry.time.as_str() >= s)
                && show.until.as_deref().is_none_or(|u| entry.time.as_str() <= u);
            if !shown {
                continue;
            }
            let stamp = if show.timestamps { format!("{} ", entry.time) } else { String::new() };
            let details = if show.details { details(&entry) } else { String::new() };
            let prefix = format!("{}{stamp}{details}", show.prefix);
            let _ = match entry.stream.as_str() {
                "stderr" => write!(err, "{prefix}{}", entry.log),
                _ => write!(out, "{prefix}{}", entry.log),
            };
        }
        let _ = out.flush();
    }
}

/// An entry's attributes as `--details` shows them, as Docker does: `key=value` pairs by key,
/// values URL-encoded, joined by commas, and a space (alone when there are none).
fn details(entry: &logs::Entry) -> String {
    let pairs: Vec<String> = entry
        .attrs
        .iter()
        .flatten()
        .map(|(k, v)| {
            let encoded: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                    b' ' => "+".into(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={encoded}")
        })
        .collect();
    format!("{} ", pairs.join(","))
}

/// How log entries are shown: with timestamps or not, and the time window (RFC 3339 with
/// nanoseconds, UTC, so that they compare as strings with the entries' times).
#[derive(Clone, Default)]
pub(crate) struct Show {
    pub(crate) timestamps: bool,
    /// Each entry's attributes before its line (`--details`).
    pub(crate) details: bool,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
    /// Put before every line (`name | ` for a project's logs).
    pub(crate) prefix: String,
}

impl Show {
    /// As `logs`'s flags say (no prefix: that is per container).
    fn of(args: &LogsArgs) -> anyhow::Result<Show> {
        Ok(Show {
            timestamps: args.timestamps,
            details: args.details,
            since: args.since.as_deref().map(log_time).transpose()?,
            until: args.until.as_deref().map(log_time).transpose()?,
            prefix: String::new(),
        })
    }
}

/// `--since`/`--until` values: an RFC 3339 time, Unix seconds, or a duration back from now
/// (`10m`, `1h30m`).
pub(crate) fn log_time(value: &str) -> anyhow::Result<String> {
    let secs = if let Ok(n) = value.parse::<i64>() {
        n
    } else if let Ok(d) = berth_compose::model::types::Duration::parse(value) {
        // To the nanosecond: `--since 1s` means the last second, not the last one or two.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let then = now.saturating_sub(d.0);
        return Ok(berth_engine::time::with_nanos(then.as_secs() as i64, then.subsec_nanos()));
    } else if value.len() >= 19 && value.as_bytes()[10] == b'T' {
        return Ok(normalise_time(value));
    } else {
        anyhow::bail!(
            "invalid time {value:?}: use RFC 3339 (2026-01-02T15:04:05Z), Unix seconds, or a duration like 10m"
        );
    };
    Ok(berth_engine::time::with_nanos(secs, 0))
}

/// `2026-01-02T15:04:05[.frac]Z` to nine fraction digits.
fn normalise_time(t: &str) -> String {
    let base = &t[..19];
    let frac: String = t[19..].trim_start_matches('.').chars().take_while(|c| c.is_ascii_digit()).collect();
    format!("{base}.{frac:0<9}Z")
}

pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let [container] = args.targets.as_slice() else {
        anyhow::bail!("logs takes one container (or run it in a Compose project for its services)");
    };
    let c = store.find_container(container)?;
    if !c.config.log.driver.keeps_log() {
        anyhow::bail!("configured logging driver does not support reading");
    }
    let dir = store.container_dir(&c.config.id);
    if !dir.log().exists() {
        return Ok(ExitCode::SUCCESS);
    }
    let show = Show::of(&args)?;
    // Rotated files first, oldest first; with --tail, only the last N lines of them all.
    let from = logs::Start::All { tail: args.tail };
    let mut follower =
        Follower::open(&dir, from, show).with_context(|| format!("cannot read the log of {}", c.config.name))?;
    follower.pump();
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    // Following crosses restarts and rotations: it ends when the container has stopped for good.
    loop {
        let live = store.load_container(&c.config.id).is_ok_and(|now| remove::is_live(&now));
        std::thread::sleep(Duration::from_millis(50));
        follower.pump();
        if !live {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Docker Compose's colours for the services' prefixes, in its order: cyan, yellow, green,
/// magenta, blue, then their bright forms.
const RAINBOW: [&str; 10] = ["36", "33", "32", "35", "34", "96", "93", "92", "95", "94"];

/// One log follower per container (across rotations and restarts), each line prefixed with
/// the container's name, padded to align.
#[derive(Default)]
pub(crate) struct Tails {
    followers: BTreeMap<String, Follower>,
    /// `logs` (every file of each log, the last `tail` lines of them) rather than `up` (what
    /// the containers write from now on).
    logs: bool,
    tail: Option<usize>,
    /// Timestamps and the time window; the prefix is set per container.
    show: Show,
}

impl Tails {
    /// `up`'s tails: what the containers write from `time` on, not what an earlier run of a
    /// container that is started again left in its log.
    pub(crate) fn since(time: String) -> Tails {
        Tails { show: Show { since: Some(time), ..Show::default() }, ..Tails::default() }
    }

    /// Prints what the containers logged since the last call.
    pub(crate) fn pump(&mut self, store: &Store, cs: &[Container], prefix: bool) {
        // As Docker Compose: the container's name without the project's, padded to one more
        // than the longest, in a colour of its own on a terminal.
        let short = |c: &Container| {
            let project = c.config.labels.get(berth_engine::labels::PROJECT);
            let name = c.config.name.as_str();
            project
                .and_then(|p| name.strip_prefix(p.as_str()))
                .and_then(|n| n.strip_prefix('-'))
                .unwrap_or(name)
                .to_string()
        };
        let width = cs.iter().map(|c| short(c).len()).max().unwrap_or(0) + 1;
        let colours = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        for (i, c) in cs.iter().enumerate() {
            let id = &c.config.id;
            if !self.followers.contains_key(id) {
                let from = if self.logs { logs::Start::All { tail: self.tail } } else { logs::Start::Current };
                let Ok(follower) = Follower::open(&store.container_dir(id), from, self.show.clone()) else { continue };
                self.followers.insert(id.clone(), follower);
            }
            if let Some(f) = self.followers.get_mut(id) {
                f.show.prefix = match (prefix, colours) {
                    (false, _) => String::new(),
                    (true, false) => format!("{:<width$} | ", short(c)),
                    (true, true) => format!("\x1b[{}m{:<width$} | \x1b[0m", RAINBOW[i % RAINBOW.len()], short(c)),
                };
                f.pump();
            }
        }
    }
}

pub fn project_logs(scope: &Scope, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let (store, name, _, cs) = scope.containers(&args.targets)?;
    for c in cs.iter().filter(|c| !c.config.log.driver.keeps_log()) {
        eprintln!("{}: configured logging driver does not support reading", c.config.name);
    }
    let show = Show::of(&args)?;
    let mut tails = Tails { logs: true, tail: args.tail, show, ..Tails::default() };
    tails.pump(&store, &cs, !args.no_log_prefix);
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = project::containers(&store, &name, false)?
            .into_iter()
            .filter(|c| args.targets.is_empty() || args.targets.iter().any(|s| s == project::service_of(c)))
            .collect::<Vec<_>>();
        tails.pump(&store, &now, !args.no_log_prefix);
        if now.iter().all(|c| !remove::is_live(c)) {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
