//! How berth talks to people: the project rendered as YAML or JSON, errors and warnings on
//! standard error (coloured only on a terminal), and exit codes.

use std::fmt;
use std::io::IsTerminal;

use anyhow::Context;
use berth_compose::{Diagnostics, Project};
use serde_json::{Map, Value};

/// Exit code for a project that does not load or a command that failed.
pub const EXIT_FAILURE: u8 = 1;

/// The load failed; the diagnostics say why, one per line.
#[derive(Debug)]
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
/// service and `ipam` on a network, null or empty when unset; scripts reading it rely on that.
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
    each(&mut tree, "services", &|s| {
        s.entry("command").or_insert(Value::Null);
        s.entry("entrypoint").or_insert(Value::Null);
    });
    each(&mut tree, "networks", &|n| {
        if n.get("external") != Some(&Value::Bool(true)) {
            n.entry("ipam").or_insert_with(|| Value::Object(Map::new()));
        }
    });
    let mut text = serde_json::to_string_pretty(&tree).context("cannot render the project as JSON")?;
    text.push('\n');
    Ok(text)
}
