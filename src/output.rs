//! How berth talks to people: the project rendered as YAML or JSON, errors and warnings on
//! standard error (coloured only on a terminal), and exit codes.

use std::fmt;
use std::io::IsTerminal;

use anyhow::Context;
use berth_compose::{Diagnostics, Project};
use serde_json::{Map, Value};

/// Exit code for a project that does not load or a command that failed.
pub const EXIT_FAILURE: u8 = 1;
/// `run` and `create` when berth itself fails, as Docker's.
pub const EXIT_BERTH: u8 = 125;

/// The load failed; the diagnostics say why, one per line.
#[derive(Debug, Clone)]
pub struct LoadError(pub Diagnostics);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "the Compose project has {n} {}", if n == 1 { "error" } else { "errors" })
    }
}

impl std::error::Error for LoadError {}

fn paint(code: &str, text: &str) -> String {
    if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

pub fn warn(message: &str) {
    eprintln!("{} {message}", paint("33", "warning:"));
}

pub fn print_error(err: &anyhow::Error) {
    let label = paint("31", "error:");
    if let Some(LoadError(diags)) = err.downcast_ref::<LoadError>() {
        for d in &diags.0 {
            eprintln!("{label} {d}");
        }
        return;
    }
    eprintln!("{label} {err}");
    for cause in err.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

pub fn exit_code(_err: &anyhow::Error) -> u8 {
    EXIT_FAILURE
}

/// The project as a JSON tree shaped like `docker compose config`: `x-` extensions lifted into
/// their mapping and, unless interpolation was skipped, every `$` written `$$` so that the output
/// can be loaded again with the same meaning.
fn project_tree(project: &Project, escape: bool) -> anyhow::Result<Value> {
    let mut tree = serde_json::to_value(project).context("cannot render the project")?;
    shape(&mut tree, escape);
    Ok(tree)
}

fn shape(value: &mut Value, escape: bool) {
    match value {
        Value::String(s) if escape && s.contains('$') => *s = s.replace('$', "$$"),
        Value::Array(items) => items.iter_mut().for_each(|v| shape(v, escape)),
        Value::Object(map) => {
            if let Some(Value::Object(extensions)) = map.remove("__extensions") {
                map.extend(extensions);
            }
            if escape && map.keys().any(|k| k.contains('$')) {
                *map = std::mem::take(map).into_iter().map(|(k, v)| (k.replace('$', "$$"), v)).collect();
            }
            map.values_mut().for_each(|v| shape(v, escape));
        }
        _ => {}
    }
}

pub fn project_yaml(project: &Project, escape: bool) -> anyhow::Result<String> {
    let tree = project_tree(project, escape)?;
    let mut options = serde_saphyr::SerializerOptions::default();
    options.compact_list_indent = false;
    serde_saphyr::to_string_with_options(&tree, options).context("cannot render the project as YAML")
}

/// JSON as Docker Compose prints it, which also always has `command` and `entrypoint` on a
/// service, `placement` and `resources` in a `deploy` section, `exec` in a watch rule and `ipam`
/// on a network, null or empty when unset (Go's JSON encoder never leaves out a struct); scripts
/// reading it rely on that.
pub fn project_json(project: &Project, escape: bool) -> anyhow::Result<String> {
    let mut tree = project_tree(project, escape)?;
    let each = |tree: &mut Value, section: &str, f: &dyn Fn(&mut Map<String, Value>)| {
        if let Some(Value::Object(entries)) = tree.get_mut(section) {
            for entry in entries.values_mut() {
                if let Value::Object(m) = entry {
                    f(m);
                }
            }
        }
    };
    let empty = || Value::Object(Map::new());
    each(&mut tree, "services", &|s| {
        s.entry("command").or_insert(Value::Null);
        s.entry("entrypoint").or_insert(Value::Null);
        if let Some(Value::Object(deploy)) = s.get_mut("deploy") {
            deploy.entry("placement").or_insert_with(empty);
            deploy.entry("resources").or_insert_with(empty);
        }
        let watch = s.get_mut("develop").and_then(|d| d.get_mut("watch")).and_then(Value::as_array_mut);
        for rule in watch.into_iter().flatten().filter_map(Value::as_object_mut) {
            rule.entry("exec").or_insert_with(|| serde_json::json!({"command": null}));
        }
    });
    each(&mut tree, "networks", &|n| {
        n.entry("ipam").or_insert_with(empty);
    });
    let mut text = serde_json::to_string_pretty(&tree).context("cannot render the project as JSON")?;
    text.push('\n');
    Ok(text)
}

/// A table with aligned columns, as `docker images` prints them.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table { rows: vec![header.iter().map(|h| h.to_string()).collect()] }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

impl fmt::Display for Table {
    /// Aligned as Docker's tables are (see [`crate::format::tabwriter`]).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: Vec<String> = self.rows.iter().map(|r| r.join("\t")).collect();
        let aligned = crate::format::tabwriter(&text.join("\n"));
        let lines: Vec<&str> = aligned.lines().map(str::trim_end).collect();
        lines.iter().try_for_each(|l| writeln!(f, "{l}"))
    }
}

/// Sizes in decimal units, as Docker prints them: `4.26MB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{:.3}", value).trim_end_matches('0').trim_end_matches('.').to_string() + UNITS[unit]
    }
}

/// "3 days ago" from an RFC 3339 time; "N/A" when absent or unreadable.
pub fn since(rfc3339: Option<&str>) -> String {
    match rfc3339.and_then(parse_rfc3339) {
        Some(then) => format!("{} ago", human_duration(now_secs() - then)),
        None => "N/A".into(),
    }
}

/// The time since an RFC 3339 time in Docker's words, without "ago": `Up 5 seconds`.
pub fn up_for(rfc3339: Option<&str>) -> String {
    rfc3339.and_then(parse_rfc3339).map_or_else(|| "N/A".into(), |then| human_duration(now_secs() - then))
}

/// An RFC 3339 time as Docker's listings print it: `2024-05-01 09:30:00 +0000 UTC`.
pub fn docker_time(rfc3339: &str) -> String {
    match parse_rfc3339(rfc3339) {
        Some(secs) => berth_engine::time::rfc3339(secs).replace('T', " ").replace('Z', " +0000 UTC"),
        None => rfc3339.to_string(),
    }
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// Docker's `HumanDuration`.
fn human_duration(secs: i64) -> String {
    let secs = secs.max(0);
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match secs {
        0 => "Less than a second".into(),
        s if s < 60 => plural(s, "second"),
        s if s < 120 => "About a minute".into(),
        s if s < 3600 => plural(s / 60, "minute"),
        s if s < 2 * 3600 => "About an hour".into(),
        s if s < 48 * 3600 => plural(s / 3600, "hour"),
        s if s < 14 * 86_400 => plural(s / 86_400, "day"),
        s if s < 60 * 86_400 => plural(s / (7 * 86_400), "week"),
        s if s < 730 * 86_400 => plural(s / (30 * 86_400), "month"),
        s => plural(s / (365 * 86_400), "year"),
    }
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let num = |a: usize, b: usize| s.get(a..b)?.parse::<i64>().ok();
    let (y, mo, d, h, mi, se) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let tz = s.get(19..)?.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let offset = match tz {
        "Z" | "z" | "" => 0,
        t => {
            let sign = if t.starts_with('-') { -1 } else { 1 };
            let hh: i64 = t.get(1..3)?.parse().ok()?;
            let mm: i64 = t.get(4..6)?.parse().ok()?;
            sign * (hh * 3600 + mm * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times() {
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(4_261_000), "4.261MB");
        assert_eq!(human_size(1_500_000_000), "1.5GB");
        assert_eq!(parse_rfc3339("1970-01-02T00:00:00Z"), Some(86_400));
        assert_eq!(parse_rfc3339("2024-03-01T12:00:00.5+01:00"), Some(1_709_290_800));
        assert_eq!(since(None), "N/A");
    }

    #[test]
    fn docker_times() {
        assert_eq!(docker_time("2024-02-29T23:59:58.123456789Z"), "2024-02-29 23:59:58 +0000 UTC");
        assert_eq!(docker_time("1999-12-31T22:00:00-02:00"), "2000-01-01 00:00:00 +0000 UTC");
        assert_eq!(docker_time("soon"), "soon");
    }

    #[test]
    fn tables_align() {
        let mut t = Table::new(&["A", "LONG HEADER", "C"]);
        t.row(vec!["long value".into(), "x".into(), "y".into()]);
        assert_eq!(t.to_string(), "A            LONG HEADER   C\nlong value   x             y\n");
        let mut t = Table::new(&["ID", "N"]);
        t.row(vec!["1".into(), "x".into()]);
        assert_eq!(t.to_string(), "ID        N\n1         x\n", "a column is ten wide at least, as Docker's");
    }
}
