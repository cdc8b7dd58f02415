//! The shape of the source, checked: no import circle between files of any crate, and the
//! engine's modules import only from their own floor or the floors below (ARCHITECTURE.md,
//! "The engine's floors"). A module is a file; `a/mod.rs` is `a`. An import is any
//! `crate::x::y` or `super::x` path outside the file's tests; a child naming its parent's types
//! (`super::Type`) is how Rust modules are made and does not count.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The engine's floors, bottom up (kept in step with ARCHITECTURE.md).
const FLOORS: &[(u8, &[&str])] = &[
    (1, &["digest", "reference", "time", "labels", "fsutil", "process", "store", "image::content", "container::dir"]),
    (
        2,
        &[
            "image",
            "image::manifest",
            "image::unpack",
            "image::expansion",
            "image::snapshot",
            "image::ops",
            "image::local",
            "image::pull",
            "image::push",
            "image::archive",
            "image::import",
            "registry",
            "registry::auth",
            "registry::config",
            "registry::client",
            "registry::tls",
        ],
    ),
    (
        3,
        &[
            "container",
            "container::store",
            "container::control",
            "container::health",
            "container::restart",
            "container::boot",
            "container::logs",
            "container::logdriver",
            "container::user",
            "container::options",
            "container::seccomp",
            "container::rootfs",
            "container::joins",
            "container::executor",
            "container::cgroup",
            "container::stats",
            "container::attach",
        ],
    ),
    (
        4,
        &[
            "network",
            "network::endpoint",
            "network::dns",
            "network::etc",
            "volume",
            "container::copy",
            "container::copy_stream",
        ],
    ),
    (
        5,
        &[
            "container::create",
            "container::spec",
            "container::exec",
            "container::remove",
            "container::launch",
            "container::commit",
            "container::export",
            "container::update",
        ],
    ),
    (
        6,
        &[
            "container::shim",
            "container::shim::start",
            "container::shim::supervise",
            "container::shim::serve",
            "container::shim::mounts",
            "build",
            "usage",
            "build::dockerfile",
            "build::expand",
            "build::step",
            "build::run",
            "build::copy",
            "build::context",
            "project",
            "project::plan",
            "project::check",
            "project::support",
            "project::hooks",
            "project::files",
            "project::translate",
            "project::converge",
            "project::start",
            "project::down",
        ],
    ),
];

/// Every module of the crate whose sources are in `src`, with the modules it imports.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut files = Vec::new();
    collect(src, &mut files);
    let module = |path: &Path| -> String {
        let rel = path.strip_prefix(src).expect("inside").with_extension("");
        let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
        if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
            parts.pop();
        }
        parts.join("::")
    };
    let modules: BTreeSet<String> = files.iter().map(|f| module(f)).collect();
    let mut out = BTreeMap::new();
    for file in &files {
        let name = module(file);
        let text = std::fs::read_to_string(file).expect("read a source file");
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let parent = name.rsplit_once("::").map(|(p, _)| p.to_string()).unwrap_or_default();
        let mut deps = BTreeSet::new();
        for (prefix, base) in [("crate::", String::new()), ("super::", parent)] {
            for (at, _) in code.match_indices(prefix) {
                for path in paths_after(&code[at + prefix.len()..]) {
                    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
                    let found = (1..=parts.len()).rev().map(|k| {
                        let tail = parts[..k].join("::");
                        if base.is_empty() { tail } else { format!("{base}::{tail}") }
                    });
                    if let Some(dep) = found.into_iter().find(|m| modules.contains(m)) {
                        // A child naming its parent (or an ancestor) is not an import circle.
                        if dep != name && !name.starts_with(&format!("{dep}::")) {
                            deps.insert(dep);
                        }
                    }
                }
            }
        }
        out.insert(name, deps);
    }
    out
}

/// The module paths named at the start of `text` (what follows `crate::` or `super::`): one
/// path, or each path of a `{a::b, c::{d, e}}` group, prefixed.
fn paths_after(text: &str) -> Vec<String> {
    let is_path = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let head: String = text.chars().take_while(|c| is_path(*c)).collect();
    let rest = &text[head.len()..];
    if !rest.starts_with('{') {
        return vec![head];
    }
    // The group up to its matching brace, split at its top-level commas.
    let (mut depth, mut end) = (0, rest.len());
    for (i, c) in rest.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    end = i;
                    break;
                }
            }
            _ => {}
        }
    }
    let inner = &rest[1..end];
    let (mut items, mut depth, mut start) = (Vec::new(), 0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items.iter().flat_map(|item| paths_after(item.trim())).map(|p| format!("{head}{p}")).collect()
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a source directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The import circles of a graph, each as the modules on it.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // A module is on a circle when it can reach itself; group those that reach each other.
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = graph.get(from).into_iter().flatten().cloned().collect();
        while let Some(m) = todo.pop() {
            if seen.insert(m.clone()) {
                todo.extend(graph.get(&m).into_iter().flatten().cloned());
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = graph.keys().map(|m| (m, reach(m))).collect();
    let mut out: Vec<Vec<String>> = Vec::new();
    for (m, r) in &reaches {
        if !r.contains(*m) || out.iter().any(|c| c.contains(m)) {
            continue;
        }
        out.push(
            reaches.iter().filter(|(o, ro)| r.contains(**o) && ro.contains(*m)).map(|(o, _)| (*o).clone()).collect(),
        );
    }
    out
}

#[test]
fn no_crate_has_an_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for src in ["src", "engine/src", "compose/src", "network/src", "volumes/src"] {
        let found = circles(&imports(&root.join(src)));
        assert!(found.is_empty(), "import circles in {src}: {found:?}");
    }
}

#[test]
fn the_engine_imports_only_from_its_floor_and_below() {
    let graph = imports(&Path::new(env!("CARGO_MANIFEST_DIR")).join("engine/src"));
    let floor_of: BTreeMap<&str, u8> = FLOORS.iter().flat_map(|(f, ms)| ms.iter().map(move |m| (*m, *f))).collect();
    let mut wrong = Vec::new();
    for (module, deps) in graph.iter().filter(|(m, _)| !m.is_empty()) {
        let Some(own) = floor_of.get(module.as_str()) else {
            wrong.push(format!("{module} is on no floor: add it to FLOORS and ARCHITECTURE.md"));
            continue;
        };
        for dep in deps.iter().filter(|d| !d.is_empty()) {
            let theirs = floor_of.get(dep.as_str()).copied().unwrap_or(u8::MAX);
            if theirs > *own {
                wrong.push(format!("{module} (floor {own}) imports {dep} (floor {theirs})"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn grouped_imports_count() {
    assert_eq!(paths_after("{shim, store::{self, Container}};"), vec!["shim", "store::self", "store::Container"]);
    assert_eq!(paths_after("network::attach(x)"), vec!["network::attach"]);
}

#[test]
fn a_circle_is_found() {
    // The check itself: a graph with a circle of two and a module outside it.
    let graph: BTreeMap<String, BTreeSet<String>> = [
        ("a".to_string(), BTreeSet::from(["b".to_string()])),
        ("b".to_string(), BTreeSet::from(["a".to_string()])),
        ("c".to_string(), BTreeSet::from(["a".to_string()])),
    ]
    .into_iter()
    .collect();
    assert_eq!(circles(&graph), vec![vec!["a".to_string(), "b".to_string()]]);
}
