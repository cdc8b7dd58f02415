//! Relative paths to absolute ones, per file, before merging.
//!
//! A path in a Compose file is relative to the file's working directory: the project directory
//! for the files given with `-f`, the file's own directory for a file pulled in by `extends`,
//! and the include's `project_directory` for included files. Resolving before merging keeps each
//! path tied to the file that wrote it. The attributes holding paths are listed here, by name.

use std::path::{Component, Path, PathBuf};

use crate::node::{Node, Value};

/// Resolves every path attribute of a document against `base`; `~` becomes `home`.
pub fn resolve(root: &mut Node, base: &Path, home: Option<&str>) {
    let Some(top) = root.as_map_mut() else { return };
    if let Some(services) = top.get_mut("services").and_then(Node::as_map_mut) {
        for service in services.values_mut() {
            resolve_service(service, base, home);
        }
    }
    // A local volume bound to a host directory names it in `device`, relative to the file.
    for volume in top.get_mut("volumes").and_then(Node::as_map_mut).into_iter().flat_map(|m| m.values_mut()) {
        let local = volume.get_str("driver").is_none_or(|d| d == "local");
        let Some(opts) = volume.get_mut("driver_opts").filter(|_| local) else { continue };
        let bound = opts.get_str("o").is_some_and(|o| o.split(',').any(|o| o == "bind"));
        if let Some(device) = opts.get_mut("device").filter(|_| bound) {
            resolve_node(device, base, home);
        }
    }
    for kind in ["secrets", "configs"] {
        for resource in top.get_mut(kind).and_then(Node::as_map_mut).into_iter().flat_map(|m| m.values_mut()) {
            if let Some(file) = resource.get_mut("file") {
                resolve_node(file, base, home);
            }
        }
    }
}

fn resolve_service(service: &mut Node, base: &Path, home: Option<&str>) {
    if let Some(build) = service.get_mut("build") {
        match build.get_mut("context") {
            Some(context) if !is_remote(context.as_text().unwrap_or_default()) => resolve_node(context, base, home),
            Some(_) => {}
            None => {
                if let Some(map) = build.as_map_mut() {
                    map.insert("context".into(), Node::string(path_text(base), Default::default()));
                }
            }
        }
        for ctx in
            build.get_mut("additional_contexts").and_then(Node::as_map_mut).into_iter().flat_map(|m| m.values_mut())
        {
            if !is_remote(ctx.as_text().unwrap_or_default()) {
                resolve_node(ctx, base, home);
            }
        }
    }
    for entry in seq_mut(service, "env_file") {
        if let Some(path) = entry.get_mut("path") {
            resolve_node(path, base, home);
        }
    }
    for entry in seq_mut(service, "label_file") {
        resolve_node(entry, base, home);
    }
    for volume in seq_mut(service, "volumes") {
        if volume.get_str("type") == Some("bind") {
            // An absolute source is kept as written, as Docker Compose keeps it.
            if let Some(source) = volume.get_mut("source").filter(|s| !s.as_text().is_some_and(|t| t.starts_with('/')))
            {
                resolve_node(source, base, home);
            }
        }
    }
    if let Some(develop) = service.get_mut("develop") {
        for rule in seq_mut(develop, "watch") {
            if let Some(path) = rule.get_mut("path") {
                resolve_node(path, base, home);
            }
        }
    }
}

fn seq_mut<'a>(node: &'a mut Node, key: &str) -> impl Iterator<Item = &'a mut Node> {
    node.get_mut(key).and_then(Node::as_seq_mut).into_iter().flatten()
}

/// Build contexts may be URLs or references to images and other services.
fn is_remote(context: &str) -> bool {
    context.contains("://") || context.starts_with("git@") || context.starts_with("service:")
}

fn resolve_node(node: &mut Node, base: &Path, home: Option<&str>) {
    if let Value::Scalar { text, plain } = &mut node.value {
        *text = path_text(&absolute(text, base, home));
        *plain = false;
    }
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Joins `path` onto `base` (after `~` expansion) and removes `.` and `..` lexically, as Go's
/// `filepath.Join` does; symlinks are not followed, so the result names what the user wrote.
pub fn absolute(path: &str, base: &Path, home: Option<&str>) -> PathBuf {
    let expanded = match (path.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => format!("{home}{rest}"),
        _ => path.to_string(),
    };
    let joined = base.join(expanded);
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_and_cleans() {
        let base = Path::new("/p/q");
        assert_eq!(absolute(".", base, None), PathBuf::from("/p/q"));
        assert_eq!(absolute("./a/../b", base, None), PathBuf::from("/p/q/b"));
        assert_eq!(absolute("../x", base, None), PathBuf::from("/p/x"));
        assert_eq!(absolute("/abs", base, None), PathBuf::from("/abs"));
        assert_eq!(absolute("~/c", base, Some("/home/u")), PathBuf::from("/home/u/c"));
    }

    #[test]
    fn bind_sources_and_local_bind_devices() {
        let mut root = crate::canonical::parse_canonical(
            "services:\n  s:\n    volumes: ['/etc/x/:/x', './app/:/app']\nvolumes:\n  d:\n    driver: local\n    driver_opts: {type: none, o: bind, device: ./data}\n  n:\n    driver_opts: {device: ./kept}\n",
        );
        resolve(&mut root, Path::new("/p"), None);
        let vols = root.get("services").and_then(|s| s.get("s")).and_then(|s| s.get("volumes")).and_then(Node::as_seq);
        let sources: Vec<&str> = vols.expect("volumes").iter().filter_map(|v| v.get_str("source")).collect();
        // An absolute source as written; a relative one joined and cleaned.
        assert_eq!(sources, ["/etc/x/", "/p/app"]);
        let device = |v: &str| {
            root.get("volumes")
                .and_then(|t| t.get(v))
                .and_then(|v| v.get("driver_opts"))
                .and_then(|o| o.get_str("device"))
                .map(str::to_string)
        };
        assert_eq!(device("d").as_deref(), Some("/p/data"));
        assert_eq!(device("n").as_deref(), Some("./kept"), "only a bind device is a path");
    }
}
