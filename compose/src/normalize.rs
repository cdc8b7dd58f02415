//! Normalisation, after merging: the environment resolved into each service, defaults filled
//! in, implicit dependencies made explicit, resources named `<project>_<name>` and the unused
//! ones left out. The result is what `berth config` prints and what the engine runs.

use crate::node::Map;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diag::{Diagnostics, Pos, join_key};
use crate::dotenv;
use crate::env::Environment;
use crate::interpolate::Lookup;
use crate::node::{Node, Value};

/// Reads `env_file` and `label_file` into `environment` and `labels` (the attribute wins over
/// the files, later files over earlier ones), and fills bare `environment` names and build
/// args from `env` (bare names only when `fill_names`).
pub fn resolve_environment(model: &mut Node, env: &Environment, fill_names: bool, diags: &mut Diagnostics) {
    let Some(services) = model.get_mut("services").and_then(Node::as_map_mut) else { return };
    for (name, service) in services.iter_mut() {
        let path = join_key("services", name);
        let Some(attrs) = service.as_map_mut() else { continue };
        let mut environment: Map = Map::new();
        if let Some(files) = attrs.shift_remove("env_file") {
            for entry in files.as_seq().into_iter().flatten() {
                let Some(file) = entry.get_str("path") else { continue };
                let required = entry.get("required").and_then(|r| r.as_text()) != Some("false");
                let format = match entry.get_str("format") {
                    Some("raw") => dotenv::Format::Raw,
                    _ => dotenv::Format::Standard,
                };
                for (k, v) in
                    read_pairs(Path::new(file), required, format, env, &entry.pos, &join_key(&path, "env_file"), diags)
                {
                    environment.insert(k, Node::string(v, entry.pos.clone()));
                }
            }
        }
        if let Some(Value::Map(own)) = attrs.get("environment").map(|e| &e.value) {
            for (k, v) in own {
                environment.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in environment.iter_mut().filter(|_| fill_names) {
            if v.is_null() {
                if let Some(found) = env.lookup(k) {
                    *v = Node::string(found, v.pos.clone());
                }
            }
        }
        if !environment.is_empty() {
            let pos = attrs.get("environment").map(|e| e.pos.clone()).unwrap_or_default();
            attrs.insert("environment".into(), Node::map(environment, pos));
        } else {
            attrs.shift_remove("environment");
        }

        if let Some(files) = attrs.shift_remove("label_file") {
            let mut labels: Map = Map::new();
            for entry in files.as_seq().into_iter().flatten() {
                let Some(file) = entry.as_text() else { continue };
                for (k, v) in read_pairs(
                    Path::new(file),
                    true,
                    dotenv::Format::Standard,
                    env,
                    &entry.pos,
                    &join_key(&path, "label_file"),
                    diags,
                ) {
                    labels.insert(k, Node::string(v, entry.pos.clone()));
                }
            }
            if let Some(Value::Map(own)) = attrs.get("labels").map(|l| &l.value) {
                for (k, v) in own {
                    labels.insert(k.clone(), v.clone());
                }
            }
            attrs.insert("labels".into(), Node::map(labels, files.pos.clone()));
        }

        if let Some(args) = attrs.get_mut("build").and_then(|b| b.get_mut("args")).and_then(Node::as_map_mut) {
            args.retain(|k, v| {
                if !v.is_null() {
                    return true;
                }
                match env.lookup(k) {
                    Some(found) => {
                        *v = Node::string(found, v.pos.clone());
                        true
                    }
                    None => false,
                }
            });
        }
    }
}

fn read_pairs(
    file: &Path,
    required: bool,
    format: dotenv::Format,
    env: &Environment,
    pos: &Pos,
    path: &str,
    diags: &mut Diagnostics,
) -> Vec<(String, String)> {
    match std::fs::read_to_string(file) {
        Ok(text) => dotenv::parse(&text, format, env).unwrap_or_else(|e| {
            let at = Pos::new(Some(Arc::new(PathBuf::from(file))), e.line as u32, 1);
            diags.push(&at, "", format!("failed to read {}: {e}", file.display()));
            Vec::new()
        }),
        Err(_) if !required => Vec::new(),
        Err(e) => {
            diags.push(pos, path, format!("env file {} cannot be read: {e}", file.display()));
            Vec::new()
        }
    }
}

/// The attributes whose `service:NAME` form makes a dependency, and whether a restart of the
/// dependency restarts the dependent (it shares a namespace with it).
const NAMESPACE_ATTRIBUTES: [&str; 5] = ["network_mode", "ipc", "pid", "uts", "cgroup"];

/// Fills in defaults and names; `model` has been merged and profiles applied.
pub fn normalize(model: &mut Node, project: &str, _project_dir: &Path) {
    let Some(top) = model.as_map_mut() else { return };
    top.shift_remove("version");
    top.insert("name".into(), Node::string(project, Pos::default()));
    if top.get("services").is_none_or(Node::is_null) {
        top.insert("services".into(), Node::map(Map::new(), Pos::default()));
    }

    let mut used: [BTreeSet<String>; 4] = Default::default();
    let [nets, vols, secrets, configs] = &mut used;
    if let Some(services) = top.get_mut("services").and_then(Node::as_map_mut) {
        for service in services.values_mut() {
            if service.is_null() {
                *service = Node::map(Map::new(), service.pos.clone());
            }
            let Some(attrs) = service.as_map_mut() else { continue };
            if let Some(build) = attrs.get_mut("build").and_then(Node::as_map_mut) {
                if !build.contains_key("dockerfile") && !build.contains_key("dockerfile_inline") {
                    build.insert("dockerfile".into(), Node::string("Dockerfile", Pos::default()));
                }
                collect_sources(build.get("secrets"), secrets);
            }
            // A provider service is run by a plugin, not as a container: it joins no network.
            let provider = attrs.contains_key("provider");
            if !provider && !attrs.contains_key("network_mode") && !attrs.contains_key("networks") {
                let mut default = Map::new();
                default.insert("default".to_string(), Node::null(Pos::default()));
                attrs.insert("networks".into(), Node::map(default, Pos::default()));
            }
            if let Some(networks) = attrs.get("networks").and_then(Node::as_map) {
                nets.extend(networks.keys().cloned());
            }
            for volume in attrs.get("volumes").and_then(Node::as_seq).into_iter().flatten() {
                if volume.get_str("type") == Some("volume") {
                    if let Some(source) = volume.get_str("source") {
                        vols.insert(source.to_string());
                    }
                }
            }
            collect_sources(attrs.get("secrets"), secrets);
            collect_sources(attrs.get("configs"), configs);
            add_implicit_dependencies(attrs);
            sort_extra_hosts(attrs);
        }
    }

    for (section, used) in ["networks", "volumes", "secrets", "configs"].into_iter().zip(used) {
        let declared = top.shift_remove(section);
        let mut declared = match declared.map(|d| d.value) {
            Some(Value::Map(m)) => m,
            _ => Map::new(),
        };
        if section == "networks" && used.contains("default") && !declared.contains_key("default") {
            declared.insert("default".into(), Node::null(Pos::default()));
        }
        declared.retain(|k, _| used.contains(k));
        for (key, resource) in declared.iter_mut() {
            if resource.is_null() {
                *resource = Node::map(Map::new(), resource.pos.clone());
            }
            let Some(attrs) = resource.as_map_mut() else { continue };
            if !attrs.contains_key("name") {
                let external = attrs.get("external").and_then(Node::as_text) == Some("true");
                let name = if external { key.clone() } else { format!("{project}_{key}") };
                attrs.insert("name".into(), Node::string(name, Pos::default()));
            }
        }
        if !declared.is_empty() {
            top.insert(section.into(), Node::map(declared, Pos::default()));
        }
    }
}

/// Extra hosts are grouped by host name, as Docker Compose prints them; the addresses of one
/// host keep their order.
fn sort_extra_hosts(attrs: &mut Map) {
    if let Some(hosts) = attrs.get_mut("extra_hosts").and_then(Node::as_seq_mut) {
        hosts.sort_by(|a, b| {
            let host = |n: &Node| n.as_text().and_then(|t| t.split_once('=')).map(|(h, _)| h.to_string());
            host(a).cmp(&host(b))
        });
    }
}

fn collect_sources(refs: Option<&Node>, into: &mut BTreeSet<String>) {
    for r in refs.and_then(Node::as_seq).into_iter().flatten() {
        if let Some(source) = r.get_str("source") {
            into.insert(source.to_string());
        }
    }
}

/// `links`, `volumes_from` and `service:NAME` namespaces are dependencies too; an explicit
/// `depends_on` entry for the same service is kept as written.
fn add_implicit_dependencies(attrs: &mut Map) {
    let mut implicit: Vec<(String, bool)> = Vec::new();
    for attr in NAMESPACE_ATTRIBUTES {
        if let Some(target) = attrs.get(attr).and_then(Node::as_text).and_then(|t| t.strip_prefix("service:")) {
            implicit.push((target.to_string(), true));
        }
    }
    for link in attrs.get("links").and_then(Node::as_seq).into_iter().flatten() {
        if let Some(text) = link.as_text() {
            implicit.push((text.split(':').next().unwrap_or(text).to_string(), true));
        }
    }
    for from in attrs.get("volumes_from").and_then(Node::as_seq).into_iter().flatten() {
        if let Some(text) = from.as_text().filter(|t| !t.starts_with("container:")) {
            implicit.push((text.split(':').next().unwrap_or(text).to_string(), false));
        }
    }
    if implicit.is_empty() {
        return;
    }
    let deps = attrs.get_or_insert_with("depends_on", || Node::map(Map::new(), Pos::default()));
    if deps.is_null() {
        *deps = Node::map(Map::new(), Pos::default());
    }
    let Some(deps) = deps.as_map_mut() else { return };
    for (service, restart) in implicit {
        deps.get_or_insert_with(&service, || {
            let mut dep = Map::new();
            dep.insert("condition".into(), Node::string("service_started", Pos::default()));
            if restart {
                dep.insert("restart".into(), Node::plain("true", Pos::default()));
            }
            dep.insert("required".into(), Node::plain("true", Pos::default()));
            Node::map(dep, Pos::default())
        });
    }
}
