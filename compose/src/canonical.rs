//! Short syntax to long syntax, on the untyped tree, per file and before merging.
//!
//! Merging `-f` files, `extends` and `include` compare entries by key (a volume by its target, a
//! dependency by its service), which only works when both sides use the same syntax. So every
//! attribute with a short form is rewritten here into its long form; later phases and the typed
//! model see only the long form. Each rule is one arm of [`service_attribute`], keyed by name.

use crate::diag::{Diagnostics, Pos, join_index, join_key};
use crate::node::Map;
use crate::node::{Node, Scalar, Value};
use crate::ports;
use crate::shell;

/// Rewrites a whole Compose document in place.
pub fn canonical(root: &mut Node, diags: &mut Diagnostics, warnings: &mut Vec<String>) {
    let Some(top) = root.as_map_mut() else { return };
    if let Some(services) = top.get_mut("services").and_then(Node::as_map_mut) {
        for (name, service) in services.iter_mut() {
            let path = join_key("services", name);
            if let Some(attrs) = service.as_map_mut() {
                for (key, value) in attrs.iter_mut() {
                    service_attribute(key, value, &join_key(&path, key), diags);
                }
            }
        }
    }
    for kind in ["networks", "volumes", "secrets", "configs"] {
        if let Some(resources) = top.get_mut(kind).and_then(Node::as_map_mut) {
            for (name, resource) in resources.iter_mut() {
                let path = join_key(&join_key(kind, name), "");
                resource_attributes(resource, path.trim_end_matches('.'), diags, warnings);
            }
        }
    }
}

fn service_attribute(key: &str, value: &mut Node, path: &str, diags: &mut Diagnostics) {
    if value.is_null() && value.tag.is_some() {
        return; // `!reset` with no value: nothing to rewrite.
    }
    match key {
        "build" => {
            if value.as_text().is_some() {
                let pos = value.pos.clone();
                *value = single_entry_map("context", std::mem::replace(value, Node::null(pos.clone())), pos);
            }
            if let Some(build) = value.as_map_mut() {
                for k in ["args", "labels"] {
                    if let Some(v) = build.get_mut(k) {
                        list_to_map(v, k == "labels");
                    }
                }
                for k in ["cache_from", "cache_to", "tags", "platforms", "ssh", "extra_hosts"] {
                    if let Some(v) = build.get_mut(k) {
                        if k == "extra_hosts" {
                            extra_hosts(v, path, diags);
                        } else {
                            string_to_list(v);
                        }
                    }
                }
                if let Some(secrets) = build.get_mut("secrets") {
                    short_names_to_source(secrets);
                }
            }
        }
        "command" | "entrypoint" => shell_words(value, path, diags),
        "healthcheck" => {
            if let Some(test) = value.get_mut("test") {
                if let Some(text) = test.as_str().map(str::to_string) {
                    let pos = test.pos.clone();
                    *test =
                        Node::seq(vec![Node::string("CMD-SHELL", pos.clone()), Node::string(text, pos.clone())], pos);
                }
            }
        }
        "depends_on" => {
            if let Some(items) = value.as_seq() {
                let mut map = Map::new();
                for item in items {
                    if let Some(name) = item.as_text() {
                        let mut dep = Map::new();
                        dep.insert("condition".to_string(), Node::string("service_started", item.pos.clone()));
                        dep.insert("required".to_string(), Node::plain("true", item.pos.clone()));
                        map.insert(name.to_string(), Node::map(dep, item.pos.clone()));
                    }
                }
                value.value = Value::Map(map);
            }
        }
        "environment" => list_to_map(value, false),
        "labels" | "annotations" => list_to_map(value, true),
        "sysctls" => {
            list_to_map(value, false);
            stringify_map_values(value);
        }
        "env_file" => {
            string_to_list(value);
            for item in value.as_seq_mut().into_iter().flatten() {
                if item.as_text().is_some() {
                    let pos = item.pos.clone();
                    let path_node = std::mem::replace(item, Node::null(pos.clone()));
                    let mut entry = Map::new();
                    entry.insert("path".to_string(), path_node);
                    entry.insert("required".to_string(), Node::plain("true", pos.clone()));
                    *item = Node::map(entry, pos);
                }
            }
        }
        "extra_hosts" => extra_hosts(value, path, diags),
        "ports" => port_list(value, path, diags),
        "volumes" => volume_list(value, path, diags),
        "secrets" | "configs" => short_names_to_source(value),
        "networks" => {
            if let Some(items) = value.as_seq() {
                let map = items
                    .iter()
                    .filter_map(|i| i.as_text().map(|t| (t.to_string(), Node::null(i.pos.clone()))))
                    .collect();
                value.value = Value::Map(map);
            }
        }
        "devices" => {
            for item in value.as_seq_mut().into_iter().flatten() {
                if let Some(text) = item.as_text().map(str::to_string) {
                    let pos = item.pos.clone();
                    let parts: Vec<&str> = text.split(':').collect();
                    let mut entry = Map::new();
                    entry.insert("source".to_string(), Node::string(parts[0], pos.clone()));
                    entry.insert("target".to_string(), Node::string(*parts.get(1).unwrap_or(&parts[0]), pos.clone()));
                    entry.insert("permissions".to_string(), Node::string(*parts.get(2).unwrap_or(&"rwm"), pos.clone()));
                    *item = Node::map(entry, pos);
                }
            }
        }
        "dns" | "dns_search" | "dns_opt" | "tmpfs" | "label_file" | "profiles" => string_to_list(value),
        "expose" => {
            for item in value.as_seq_mut().into_iter().flatten() {
                stringify(item);
            }
        }
        "logging" => {
            if let Some(options) = value.get_mut("options") {
                stringify_map_values(options);
            }
        }
        "deploy" => {
            if let Some(labels) = value.get_mut("labels") {
                list_to_map(labels, true);
            }
        }
        // A provider's options are lists of strings; a single value is a list of one.
        "provider" => {
            let options = value.get_mut("options").and_then(Node::as_map_mut);
            for option in options.into_iter().flat_map(|m| m.values_mut()) {
                string_to_list(option);
                if option.scalar().is_some_and(|s| !matches!(s, Scalar::Null)) {
                    let item = option.clone();
                    option.value = Value::Seq(vec![item]);
                }
                option.as_seq_mut().into_iter().flatten().for_each(stringify);
            }
        }
        // Hook commands written as a string are split as a shell would, like `command`.
        "post_start" | "pre_stop" => {
            for (i, hook) in value.as_seq_mut().into_iter().flatten().enumerate() {
                if let Some(command) = hook.get_mut("command") {
                    shell_words(command, &join_key(&join_index(path, i), "command"), diags);
                }
            }
        }
        "develop" => {
            let watch = value.get_mut("watch").and_then(Node::as_seq_mut);
            for (i, rule) in watch.into_iter().flatten().enumerate() {
                let rule_path = join_index(&join_key(path, "watch"), i);
                for key in ["ignore", "include"] {
                    if let Some(patterns) = rule.get_mut(key) {
                        string_to_list(patterns);
                    }
                }
                if let Some(command) = rule.get_mut("exec").and_then(|e| e.get_mut("command")) {
                    shell_words(command, &join_key(&join_key(&rule_path, "exec"), "command"), diags);
                }
            }
        }
        _ => {}
    }
}

fn resource_attributes(resource: &mut Node, path: &str, diags: &mut Diagnostics, warnings: &mut Vec<String>) {
    let Some(attrs) = resource.as_map_mut() else { return };
    if let Some(labels) = attrs.get_mut("labels") {
        list_to_map(labels, true);
    }
    if let Some(opts) = attrs.get_mut("driver_opts") {
        stringify_map_values(opts);
    }
    // `external: {name: x}` is the deprecated spelling of `name: x` + `external: true`.
    let external_name = attrs.get("external").and_then(|e| e.get("name")).cloned();
    if let Some(name) = external_name {
        let pos = attrs.get("external").map(|e| e.pos.clone()).unwrap_or_default();
        warnings.push(format!("{path}: external.name is deprecated; set name and external: true"));
        if attrs.get("name").is_some_and(|n| n.as_text() != name.as_text()) {
            diags.push(&pos, path, "external.name and name disagree; set only name");
        }
        attrs.insert("name".to_string(), name);
        attrs.insert("external".to_string(), Node::plain("true", pos));
    }
}

fn single_entry_map(key: &str, value: Node, pos: Pos) -> Node {
    let mut map = Map::new();
    map.insert(key.to_string(), value);
    Node::map(map, pos)
}

/// `KEY=VALUE` lists become mappings. A bare `KEY` maps to null (environment: to be resolved
/// from the environment later) or to "" (labels). Scalar values become strings.
fn list_to_map(value: &mut Node, null_is_empty: bool) {
    if let Some(items) = value.as_seq() {
        let mut map = Map::new();
        for item in items {
            let Some(text) = item.as_text() else { continue };
            let entry = match text.split_once('=') {
                Some((k, v)) => (k.to_string(), Node::string(v, item.pos.clone())),
                None if null_is_empty => (text.to_string(), Node::string("", item.pos.clone())),
                None => (text.to_string(), Node::null(item.pos.clone())),
            };
            map.insert(entry.0, entry.1);
        }
        value.value = Value::Map(map);
    }
    if let Some(map) = value.as_map_mut() {
        for v in map.values_mut() {
            if v.is_null() && null_is_empty && v.tag.is_none() {
                *v = Node::string("", v.pos.clone());
            } else {
                stringify(v);
            }
        }
    }
}

fn stringify_map_values(value: &mut Node) {
    if let Some(map) = value.as_map_mut() {
        map.values_mut().for_each(stringify);
    }
}

/// Numbers and booleans written where the specification takes strings become those strings.
fn stringify(node: &mut Node) {
    if let Value::Scalar { plain, .. } = &mut node.value {
        *plain = false;
    }
}

fn string_to_list(value: &mut Node) {
    if value.as_text().is_some() {
        let item = value.clone();
        value.value = Value::Seq(vec![item]);
    }
}

fn short_names_to_source(value: &mut Node) {
    for item in value.as_seq_mut().into_iter().flatten() {
        if item.as_text().is_some() {
            let pos = item.pos.clone();
            *item = single_entry_map("source", item.clone(), pos);
        }
    }
}

fn shell_words(value: &mut Node, path: &str, diags: &mut Diagnostics) {
    let Some(text) = value.as_str().map(str::to_string) else {
        if let Some(items) = value.as_seq_mut() {
            items.iter_mut().for_each(stringify);
        }
        return;
    };
    match shell::split(&text) {
        Ok(words) => {
            let pos = value.pos.clone();
            value.value = Value::Seq(words.into_iter().map(|w| Node::string(w, pos.clone())).collect());
        }
        Err(e) => diags.push(&value.pos, path, e.to_string()),
    }
}

/// `host:ip` and `host=ip` strings, or a `host: ip` mapping, all become `host=ip` strings.
fn extra_hosts(value: &mut Node, path: &str, diags: &mut Diagnostics) {
    let mut out = Vec::new();
    match &value.value {
        Value::Map(map) => {
            for (host, ips) in map {
                let list = match &ips.value {
                    Value::Seq(items) => items.iter().filter_map(|i| i.as_text()).map(str::to_string).collect(),
                    _ => ips.as_text().map(|t| vec![t.to_string()]).unwrap_or_default(),
                };
                for ip in list {
                    out.push(Node::string(format!("{host}={ip}"), ips.pos.clone()));
                }
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let Some(text) = item.as_text() else { continue };
                let entry = if text.contains('=') {
                    text.to_string()
                } else if let Some((host, ip)) = text.split_once(':') {
                    format!("{host}={}", ip.trim_start_matches('[').trim_end_matches(']'))
                } else {
                    diags.push(
                        &item.pos,
                        join_index(path, i),
                        format!("invalid extra host {text:?}: expected HOST=IP"),
                    );
                    continue;
                };
                out.push(Node::string(entry, item.pos.clone()));
            }
        }
        _ => return,
    }
    value.value = Value::Seq(out);
}

fn port_list(value: &mut Node, path: &str, diags: &mut Diagnostics) {
    let Some(items) = value.as_seq() else { return };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let spec = match item.scalar() {
            Some(Scalar::Str(s)) => s.to_string(),
            Some(Scalar::Int(n)) => n.to_string(),
            _ => {
                out.push(item.clone());
                continue;
            }
        };
        match ports::parse_short(&spec) {
            Ok(entries) => out.extend(entries.into_iter().map(|p| {
                let pos = item.pos.clone();
                let mut m = Map::new();
                m.insert("mode".to_string(), Node::string("ingress", pos.clone()));
                if let Some(ip) = p.host_ip {
                    m.insert("host_ip".to_string(), Node::string(ip, pos.clone()));
                }
                m.insert("target".to_string(), Node::plain(p.target.to_string(), pos.clone()));
                if let Some(published) = p.published {
                    m.insert("published".to_string(), Node::string(published, pos.clone()));
                }
                m.insert("protocol".to_string(), Node::string(p.protocol, pos.clone()));
                Node::map(m, pos)
            })),
            Err(e) => diags.push(&item.pos, join_index(path, i), e),
        }
    }
    value.value = Value::Seq(out);
}

const PROPAGATIONS: [&str; 6] = ["shared", "slave", "private", "rshared", "rslave", "rprivate"];

fn volume_list(value: &mut Node, path: &str, diags: &mut Diagnostics) {
    for (i, item) in value.as_seq_mut().into_iter().flatten().enumerate() {
        let Some(spec) = item.as_text().map(str::to_string) else { continue };
        match parse_volume(&spec, &item.pos) {
            Ok(node) => *item = node,
            Err(e) => {
                diags.push(&item.pos, join_index(path, i), e);
                // One mistake, one error: the entry becomes a well-formed placeholder that no
                // later phase reports again in other words (the load fails on this error).
                let mut placeholder = Map::new();
                placeholder.insert("type".to_string(), Node::string("volume", item.pos.clone()));
                placeholder.insert("target".to_string(), Node::string("/", item.pos.clone()));
                *item = Node::map(placeholder, item.pos.clone());
            }
        }
    }
}

/// Modes of the short syntax that only tune file sharing on Docker Desktop for macOS; Docker
/// Compose accepts them and they mean nothing on Linux.
const CONSISTENCY: [&str; 3] = ["cached", "delegated", "consistent"];

/// Parses `[SOURCE:]TARGET[:MODE]` into the long syntax.
fn parse_volume(spec: &str, pos: &Pos) -> Result<Node, String> {
    let s = |t: &str| Node::string(t, pos.clone());
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [src, t] => (Some(*src), *t, None),
        [src, t, m] => (Some(*src), *t, Some(*m)),
        _ => return Err(format!("invalid volume {spec:?}: expected [SOURCE:]TARGET[:MODE] (too many colons)")),
    };
    if parts.iter().any(|p| p.is_empty()) {
        let what = if source == Some("") { "the source (a variable that is not set?)" } else { "a part" };
        return Err(format!("invalid volume {spec:?}: {what} is empty between colons"));
    }
    let is_path = |p: &str| p.starts_with('.') || p.starts_with('/') || p.starts_with('~');
    let mut m = Map::new();
    let kind = match source {
        Some(src) if is_path(src) => "bind",
        _ => "volume",
    };
    m.insert("type".to_string(), s(kind));
    if let Some(src) = source.filter(|s| !s.is_empty()) {
        m.insert("source".to_string(), s(src));
    }
    m.insert("target".to_string(), s(&clean_path(target)));
    let mut bind = Map::new();
    let mut volume = Map::new();
    for option in mode.into_iter().flat_map(|m| m.split(',')) {
        match option {
            "ro" => {
                m.insert("read_only".to_string(), Node::plain("true", pos.clone()));
            }
            "rw" => {}
            // SELinux relabelling: kept for binds and volumes alike, as Docker Compose keeps it.
            "z" | "Z" => {
                bind.insert("selinux".to_string(), s(option));
            }
            c if CONSISTENCY.contains(&c) => {}
            "nocopy" if kind == "volume" => {
                volume.insert("nocopy".to_string(), Node::plain("true", pos.clone()));
            }
            p if PROPAGATIONS.contains(&p) && kind == "bind" => {
                bind.insert("propagation".to_string(), s(p));
            }
            other => return Err(format!("invalid volume {spec:?}: unknown mode {other:?}")),
        }
    }
    if kind == "bind" {
        bind.insert("create_host_path".to_string(), Node::plain("true", pos.clone()));
        m.insert("bind".to_string(), Node::map(bind, pos.clone()));
    } else {
        if !bind.is_empty() {
            m.insert("bind".to_string(), Node::map(bind, pos.clone()));
        }
        m.insert("volume".to_string(), Node::map(volume, pos.clone()));
    }
    Ok(Node::map(m, pos.clone()))
}

/// A path cleaned as Go's `path.Clean` cleans it: no trailing or doubled slash, no `.`, and
/// `..` taken off lexically. Docker Compose cleans short-syntax mount targets so.
fn clean_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Test helper: a document parsed and rewritten, which must have no mistakes.
#[cfg(test)]
pub(crate) fn parse_canonical(text: &str) -> Node {
    let mut d = Diagnostics::default();
    let mut root = crate::yaml::parse(text, None, &mut d).expect("yaml");
    canonical(&mut root, &mut d, &mut Vec::new());
    assert!(d.is_empty(), "{d}");
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> Node {
        let root = parse_canonical(text);
        root.get("services").and_then(|s| s.get("s")).cloned().expect("service s")
    }

    #[test]
    fn short_forms_become_long_forms() {
        let s = canon(
            "services:\n  s:\n    build: .\n    command: echo hi\n    depends_on: [db]\n    environment: [A=1, B]\n    \
             volumes: ['./data:/data:ro', 'v:/v', '/anon']\n    networks: [front]\n    extra_hosts: ['h:1.2.3.4']\n",
        );
        assert_eq!(s.get("build").and_then(|b| b.get_str("context")), Some("."));
        assert_eq!(s.get("command").and_then(Node::as_seq).map(Vec::len), Some(2));
        assert_eq!(
            s.get("depends_on").and_then(|d| d.get("db")).and_then(|d| d.get_str("condition")),
            Some("service_started")
        );
        assert!(s.get("environment").and_then(|e| e.get("B")).is_some_and(Node::is_null));
        let vols = s.get("volumes").and_then(Node::as_seq).expect("volumes");
        assert_eq!(vols[0].get_str("type"), Some("bind"));
        assert_eq!(vols[0].get_str("read_only"), Some("true"));
        assert_eq!(vols[1].get_str("source"), Some("v"));
        assert_eq!(vols[2].get_str("source"), None);
        assert!(s.get("networks").and_then(|n| n.get("front")).is_some());
        assert_eq!(s.get("extra_hosts").and_then(Node::as_seq).and_then(|h| h[0].as_text()), Some("h=1.2.3.4"));
    }

    #[test]
    fn volume_modes_real_files_use() {
        let s = canon("services:\n  s:\n    volumes: ['data:/data:Z', './src:/src/:cached', '/etc/x/:/etc/x/:ro,z']\n");
        let vols = s.get("volumes").and_then(Node::as_seq).expect("volumes");
        // SELinux labels are kept for volumes too; `cached` means nothing on Linux.
        assert_eq!(vols[0].get("bind").and_then(|b| b.get_str("selinux")), Some("Z"));
        assert_eq!(vols[0].get_str("type"), Some("volume"));
        assert_eq!(vols[1].get_str("target"), Some("/src"));
        assert!(vols[1].get("bind").is_some_and(|b| b.get("selinux").is_none()));
        assert_eq!((vols[2].get_str("source"), vols[2].get_str("target")), (Some("/etc/x/"), Some("/etc/x")));
    }

    #[test]
    fn one_bad_volume_one_error() {
        for (spec, words) in
            [("data:/x:bogus", "unknown mode \"bogus\""), (":/x", "the source"), ("a:b:c:d", "too many colons")]
        {
            let mut d = Diagnostics::default();
            let mut root =
                crate::yaml::parse(&format!("services:\n  a:\n    volumes: ['{spec}']\n"), None, &mut d).expect("yaml");
            canonical(&mut root, &mut d, &mut Vec::new());
            assert_eq!(d.len(), 1, "{d}");
            assert!(d.to_string().contains(words), "{d}");
        }
    }

    #[test]
    fn hook_and_watch_strings() {
        let a = canon(
            "services:\n  s:\n    post_start: [{command: \"sh -c 'echo hi'\"}]\n    develop:\n      watch: [{path: ., action: sync+exec, include: 'A.*', exec: {command: echo ok}}]\n",
        );
        let hook = &a.get("post_start").and_then(Node::as_seq).expect("hooks")[0];
        let words: Vec<&str> =
            hook.get("command").and_then(Node::as_seq).expect("list").iter().filter_map(Node::as_text).collect();
        assert_eq!(words, ["sh", "-c", "echo hi"]);
        let rule = &a.get("develop").and_then(|d| d.get("watch")).and_then(Node::as_seq).expect("rules")[0];
        assert_eq!(rule.get("include").and_then(Node::as_seq).map(Vec::len), Some(1));
        assert_eq!(rule.get("exec").and_then(|e| e.get("command")).and_then(Node::as_seq).map(Vec::len), Some(2));
    }

    #[test]
    fn paths_are_cleaned_as_go_cleans_them() {
        for (raw, clean) in [("/a/b/", "/a/b"), ("/a//b/./c/..", "/a/b"), ("/", "/"), ("/..", "/"), ("a/../..", "..")] {
            assert_eq!(clean_path(raw), clean, "{raw}");
        }
    }
}
