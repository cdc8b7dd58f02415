//! Container logs as the command line shows them: `logs` of containers and of a project's
//! services, and the followers `run` and `up` print through.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use berth_engine::container::store::Container;
use berth_engine::container::{logs, remove};
use berth_engine::project;
use berth_engine::store::Store;

use crate::cli::LogsArgs;
use crate::commands::scope::Scope;
use crate::engine;

/// Follows a container's log across rotations: the file being read is known by its inode, and
/// when `log.json` is a new file the rotated files that came after the old one are read first.
pub(crate) struct Follower {
    path: std::path::PathBuf,
    pub(crate) reader: BufReader<std::fs::File>,
    ino: u64,
    pending: String,
    pub(crate) show: Show,
}

fn inode(path: &std::path::Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| std::os::unix::fs::MetadataExt::ino(&m))
}

impl Follower {
    pub(crate) fn open(path: &std::path::Path, show: Show) -> anyhow::Result<Follower> {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let ino = std::os::unix::fs::MetadataExt::ino(&file.metadata()?);
        Ok(Follower { path: path.to_path_buf(), reader: BufReader::new(file), ino, pending: String::new(), show })
    }

    pub(crate) fn pump(&mut self) {
        print_new_entries(&mut self.reader, &mut self.pending, &self.show);
        let Some(now) = inode(&self.path) else { return };
        if now == self.ino {
            return;
        }
        let files = logs::files(&self.path);
        let rotated = &files[..files.len() - 1];
        // The files newer than the one just finished; all of them if it was already deleted.
        let start = rotated.iter().position(|f| inode(f) == Some(self.ino)).map_or(0, |i| i + 1);
        for f in &rotated[start..] {
            if let Ok(file) = std::fs::File::open(f) {
                self.pending.clear();
                print_new_entries(&mut BufReader::new(file), &mut self.pending, &self.show);
            }
        }
        if let Ok(file) = std::fs::File::open(&self.path) {
            self.ino = file.metadata().map_or(now, |m| std::os::unix::fs::MetadataExt::ino(&m));
            self.reader = BufReader::new(file);
            self.pending.clear();
            print_new_entries(&mut self.reader, &mut self.pending, &self.show);
        }
    }
}

/// Prints the complete lines added to the log since the last call.
/// How log entries are shown: with timestamps or not, and the time window (RFC 3339 with
/// nanoseconds, UTC, so that they compare as strings with the entries' times).
#[derive(Clone, Default)]
pub(crate) struct Show {
    pub(crate) timestamps: bool,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
    /// Put before every line (`name | ` for a project's logs).
    pub(crate) prefix: String,
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

fn print_new_entries<R: BufRead>(log: &mut R, pending: &mut String, show: &Show) {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    loop {
        match log.read_line(pending) {
            Ok(0) | Err(_) => break,
            Ok(_) if !pending.ends_with('\n') => break,
            Ok(_) => {
                if let Ok(entry) = serde_json::from_str::<logs::Entry>(pending) {
                    let shown = show.since.as_deref().is_none_or(|s| entry.time.as_str() >= s)
                        && show.until.as_deref().is_none_or(|u| entry.time.as_str() <= u);
                    if !shown {
                        pending.clear();
                        continue;
                    }
                    let stamp = if show.timestamps { format!("{} ", entry.time) } else { String::new() };
                    let prefix = format!("{}{stamp}", show.prefix);
                    let _ = match entry.stream.as_str() {
                        "stderr" => write!(err, "{prefix}{}", entry.log),
                        _ => write!(out, "{prefix}{}", entry.log),
                    };
                }
                pending.clear();
            }
        }
    }
    let _ = out.flush();
}

pub fn logs(args: LogsArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let [container] = args.targets.as_slice() else {
        anyhow::bail!("logs takes one container (or run it in a Compose project for its services)");
    };
    let c = store.find_container(container)?;
    let path = store.container_dir(&c.config.id).join("log.json");
    if !path.exists() {
        return Ok(ExitCode::SUCCESS);
    }
    // Rotated files first, oldest first; with --tail, only the last N lines of them all.
    let files = logs::files(&path);
    let mut skip = match args.tail {
        Some(n) => {
            let total: usize =
                files.iter().map(|f| std::fs::File::open(f).map_or(0, |f| BufReader::new(f).lines().count())).sum();
            total.saturating_sub(n)
        }
        None => 0,
    };
    let show = Show {
        timestamps: args.timestamps,
        since: args.since.as_deref().map(log_time).transpose()?,
        until: args.until.as_deref().map(log_time).transpose()?,
        prefix: String::new(),
    };
    let mut pending = String::new();
    for file in &files[..files.len() - 1] {
        let Ok(f) = std::fs::File::open(file) else { continue };
        let mut reader = BufReader::new(f);
        skip_lines(&mut reader, &mut skip)?;
        print_new_entries(&mut reader, &mut pending, &show);
    }
    let mut follower =
        Follower::open(&path, show).with_context(|| format!("cannot read the log of {}", c.config.name))?;
    skip_lines(&mut follower.reader, &mut skip)?;
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

pub(crate) fn skip_lines<R: BufRead>(reader: &mut R, skip: &mut usize) -> anyhow::Result<()> {
    let mut line = String::new();
    while *skip > 0 {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        *skip -= 1;
    }
    Ok(())
}

/// One log follower per container (across rotations and restarts), each line prefixed with
/// the container's name, padded to align.
#[derive(Default)]
pub(crate) struct Tails {
    followers: BTreeMap<String, Follower>,
    /// Lines to skip at the start of each log not opened yet (`--tail`).
    tail: Option<usize>,
    /// Timestamps and the time window; the prefix is set per container.
    show: Show,
}

impl Tails {
    /// Prints what the containers logged since the last call.
    pub(crate) fn pump(&mut self, store: &Store, cs: &[Container], prefix: bool) {
        let width = cs.iter().map(|c| c.config.name.len()).max().unwrap_or(0);
        for c in cs {
            let id = &c.config.id;
            if !self.followers.contains_key(id) {
                let path = store.container_dir(id).join("log.json");
                let Ok(mut follower) = Follower::open(&path, self.show.clone()) else { continue };
                if let Some(n) = self.tail {
                    let lines = std::fs::read_to_string(&path).map_or(0, |t| t.lines().count());
                    let _ = skip_lines(&mut follower.reader, &mut lines.saturating_sub(n));
                }
                self.followers.insert(id.clone(), follower);
            }
            if let Some(f) = self.followers.get_mut(id) {
                f.show.prefix = if prefix { format!("{:<width$} | ", c.config.name) } else { String::new() };
                f.pump();
            }
        }
    }
}

pub fn project_logs(scope: &Scope, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let (store, name, _, cs) = scope.containers(&args.targets)?;
    let show = Show {
        timestamps: args.timestamps,
        since: args.since.as_deref().map(crate::commands::logs::log_time).transpose()?,
        until: args.until.as_deref().map(crate::commands::logs::log_time).transpose()?,
        prefix: String::new(),
    };
    let mut tails = Tails { tail: args.tail, show, ..Tails::default() };
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
