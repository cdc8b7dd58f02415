//! `stats`: the containers' CPU, memory, network, block I/O and processes, as `docker stats`
//! shows them: a table redrawn every second on a terminal (one table after another when the
//! output is not one), or a single reading with `--no-stream`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use berth_engine::container::remove;
use berth_engine::container::stats::{self, Sample};
use berth_engine::container::store::Container;
use berth_engine::store::Store;

use crate::cli::StatsArgs;
use crate::commands::scope::Scope;
use crate::engine;
use crate::format::{Columns, Format};

/// `stats CONTAINER...` (stopped ones too), or the running containers (all with `-a`).
pub fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let all = args.all || !args.containers.is_empty();
    show(&store, &args, all, |store| match args.containers.is_empty() {
        true => Ok(store.list_containers()?),
        false => args.containers.iter().map(|n| Ok(store.find_container(n)?)).collect(),
    })
}

/// `stats [SERVICE...]` in a project: the services' running containers (all with `-a`).
pub fn project_stats(scope: &Scope, args: StatsArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    show(&store, &args, args.all, |_| Ok(scope.containers(&args.containers)?.3))
}

/// Samples the containers `list` gives (those not running too, with `all`) once a second
/// and prints them.
fn show(
    store: &Store,
    args: &StatsArgs,
    all: bool,
    list: impl Fn(&Store) -> anyhow::Result<Vec<Container>>,
) -> anyhow::Result<ExitCode> {
    let format = Format::parse(args.format.as_deref(), &STATS)?;
    let list = |store: &Store| -> anyhow::Result<Vec<Container>> {
        Ok(list(store)?.into_iter().filter(|c| all || remove::is_live(c)).collect())
    };
    let terminal = std::io::stdout().is_terminal() && matches!(format, Format::Table(_));
    let mut last: Vec<(String, Sample, Instant)> = Vec::new();
    let mut first = true;
    loop {
        let cs = list(store)?;
        if first {
            // The CPU share needs two readings: the first is a second before the one shown.
            last = cs.iter().map(|c| (c.config.id.clone(), stats::sample(c).0, Instant::now())).collect();
            std::thread::sleep(Duration::from_secs(1));
            first = false;
        }
        let mut rows = Vec::new();
        let mut now = Vec::new();
        for c in &cs {
            let (sample, at) = stats::sample(c);
            let cpu = match last.iter().find(|(id, ..)| *id == c.config.id) {
                Some((_, before, then)) => stats::cpu_percent((before, *then), (&sample, at)),
                None => 0.0,
            };
            rows.push(Row::of(c, &sample, cpu, args.no_trunc).json());
            now.push((c.config.id.clone(), sample, at));
        }
        last = now;
        let text = format.render(&rows, &STATS)?;
        let mut out = std::io::stdout().lock();
        if terminal {
            write!(out, "\x1b[2J\x1b[H")?;
        }
        write!(out, "{text}")?;
        out.flush()?;
        if args.no_stream {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// `stats`'s columns, as Docker names them.
const STATS: Columns = Columns {
    default: "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
    headers: &[
        ("ID", "CONTAINER ID"),
        ("Container", "CONTAINER"),
        ("Name", "NAME"),
        ("CPUPerc", "CPU %"),
        ("MemUsage", "MEM USAGE / LIMIT"),
        ("MemPerc", "MEM %"),
        ("NetIO", "NET I/O"),
        ("BlockIO", "BLOCK I/O"),
        ("PIDs", "PIDS"),
    ],
};

/// One container's line, in Docker's words and units.
struct Row {
    id: String,
    name: String,
    cpu: String,
    mem_usage: String,
    mem_percent: String,
    net: String,
    block: String,
    pids: String,
}

impl Row {
    fn of(c: &Container, s: &Sample, cpu: f64, no_trunc: bool) -> Row {
        let id = if no_trunc { c.config.id.clone() } else { c.config.id[..12].to_string() };
        let mem_percent = if s.memory_limit == 0 { 0.0 } else { s.memory as f64 / s.memory_limit as f64 * 100.0 };
        Row {
            id,
            name: c.config.name.clone(),
            cpu: format!("{cpu:.2}%"),
            mem_usage: format!("{} / {}", binary_size(s.memory), binary_size(s.memory_limit)),
            mem_percent: format!("{mem_percent:.2}%"),
            net: format!("{} / {}", decimal_size(s.net_rx), decimal_size(s.net_tx)),
            block: format!("{} / {}", decimal_size(s.block_read), decimal_size(s.block_write)),
            pids: s.pids.to_string(),
        }
    }

    /// As `docker stats --format json` prints a line.
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "BlockIO": self.block, "CPUPerc": self.cpu, "Container": self.id, "ID": self.id,
            "MemPerc": self.mem_percent, "MemUsage": self.mem_usage, "Name": self.name,
            "NetIO": self.net, "PIDs": self.pids,
        })
    }
}

/// `value` with `digits` significant digits, as Go's `%.Ng` prints numbers below 10^N.
fn significant(value: f64, digits: i32) -> String {
    let before = if value < 1.0 { 1 } else { value.log10().floor() as i32 + 1 };
    let decimals = (digits - before).max(0) as usize;
    let text = format!("{value:.decimals$}");
    match text.contains('.') {
        true => text.trim_end_matches('0').trim_end_matches('.').to_string(),
        false => text,
    }
}

/// Docker's `BytesSize`: binary units, four significant digits (`1.5MiB`).
fn binary_size(bytes: u64) -> String {
    scaled(bytes, 1024.0, &["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4)
}

/// Docker's `HumanSizeWithPrecision(n, 3)`: decimal units, three significant digits (`1.23kB`).
fn decimal_size(bytes: u64) -> String {
    scaled(bytes, 1000.0, &["B", "kB", "MB", "GB", "TB", "PB"], 3)
}

fn scaled(bytes: u64, base: f64, units: &[&str], digits: i32) -> String {
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= base && unit + 1 < units.len() {
        value /= base;
        unit += 1;
    }
    format!("{}{}", significant(value, digits), units[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_as_docker_prints_them() {
        assert_eq!(binary_size(0), "0B");
        assert_eq!(binary_size(1536 * 1024), "1.5MiB");
        assert_eq!(binary_size(256 << 20), "256MiB");
        assert_eq!(binary_size(25_170_000_000), "23.44GiB");
        assert_eq!(decimal_size(0), "0B");
        assert_eq!(decimal_size(999), "999B");
        assert_eq!(decimal_size(1234), "1.23kB");
        assert_eq!(decimal_size(123_456_789), "123MB");
        assert_eq!(significant(0.5, 3), "0.5");
    }
}
