//! Checks on the bound project. [`check_schema`] holds the rules of the specification itself
//! (allowed values, absolute targets) and always runs; [`check_references`] holds the
//! consistency rules that `--no-consistency` turns off (references between services and
//! resources, image or build, cycles).

use crate::diag::{Diagnostics, Pos, join_index, join_key};
use crate::graph::Graph;
use crate::model::{Project, Service};
use crate::node::Node;

/// The position of the deepest node along `path` in the merged tree, for messages about the
/// typed model.
fn pos_at(model: &Node, path: &[&str]) -> Pos {
    let mut node = model;
    for key in path {
        let next = match (node.as_seq(), key.parse::<usize>()) {
            (Some(items), Ok(i)) => items.get(i),
            _ => node.get(key),
        };
        match next {
            Some(next) => node = next,
            None => break,
        }
    }
    node.pos.clone()
}

struct Checker<'a> {
    model: &'a Node,
    diags: &'a mut Diagnostics,
}

impl Checker<'_> {
    fn error(&mut self, path: &[&str], message: impl Into<String>) {
        let pos = pos_at(self.model, path);
        let mut shown = String::new();
        for segment in path {
            match segment.parse::<usize>() {
                Ok(i) if !shown.is_empty() => shown = join_index(&shown, i),
                _ => shown = join_key(&shown, segment),
            }
        }
        self.diags.push(&pos, shown, message);
    }

    fn one_of(&mut self, path: &[&str], value: Option<&str>, allowed: &[&str]) {
        if let Some(v) = value {
            if !allowed.contains(&v) {
                let list = allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ");
                self.error(path, format!("value {v:?} must be one of {list}"));
            }
        }
    }
}

/// Is `s` a restart policy: `no`, `always`, `unless-stopped`, `on-failure[:N]`?
pub fn is_restart_policy(s: &str) -> bool {
    match s.split_once(':') {
        Some(("on-failure", n)) => n.parse::<u32>().is_ok(),
        None => matches!(s, "no" | "always" | "unless-stopped" | "on-failure"),
        _ => false,
    }
}

fn valid_resource_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

pub fn check_schema(project: &Project, model: &Node, diags: &mut Diagnostics) {
    let mut c = Checker { model, diags };
    for (name, s) in project.services.iter().chain(&project.disabled_services) {
        service_schema(&mut c, name, s);
        service_lists_schema(&mut c, name, s);
    }
    for (key, v) in &project.volumes {
        if let Some(name) = &v.name {
            if !valid_resource_name(name) {
                c.error(&["volumes", key], format!("invalid volume name {name:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit"));
            }
        }
    }
    for (key, n) in &project.networks {
        if let Some(name) = &n.name {
            if !valid_resource_name(name) {
                c.error(&["networks", key], format!("invalid network name {name:?}: use letters, digits, '_', '.' and '-', starting with a letter or digit"));
            }
        }
    }
}

/// A service's single-valued attributes: its name, restart, cgroup, pull policy, dependency
/// conditions, container name and platform.
fn service_schema(c: &mut Checker<'_>, name: &str, s: &Service) {
    let n = name;
    if !name.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-')) {
        c.error(&["services", n], format!("service name {name:?} may only hold letters, digits, '.', '_' and '-'"));
    }
    if let Some(r) = &s.restart {
        if !is_restart_policy(r) {
            c.error(
                &["services", n, "restart"],
                format!("invalid restart policy {r:?}: use no, always, on-failure[:max-retries] or unless-stopped"),
            );
        }
    }
    c.one_of(&["services", n, "cgroup"], s.cgroup.as_deref(), &["host", "private"]);
    if let Some(p) = s.pull_policy.as_deref() {
        let every = p.strip_prefix("every_").is_some_and(|d| crate::model::types::Duration::parse(d).is_ok());
        if !every {
            c.one_of(
                &["services", n, "pull_policy"],
                Some(p),
                &["always", "never", "missing", "build", "if_not_present", "daily", "weekly", "refresh"],
            );
        }
    }
    if let Some(container_name) = &s.container_name {
        // The specification's pattern, [a-zA-Z0-9][a-zA-Z0-9_.-]+, takes two characters at least.
        if !valid_resource_name(container_name) || container_name.len() < 2 {
            c.error(
                &["services", n, "container_name"],
                format!(
                    "invalid container name {container_name:?}: use two or more letters, digits, '_', '.' and '-', starting with a letter or digit"
                ),
            );
        }
    }
    let build_platforms = s.build.as_ref().map(|b| b.platforms.as_slice()).unwrap_or_default();
    if let Some(platform) =
        s.platform.as_deref().filter(|p| !build_platforms.is_empty() && !build_platforms.iter().any(|b| b == p))
    {
        c.error(
            &["services", n, "platform"],
            format!(
                "platform {platform:?} is not one of build.platforms ({}); build.platforms must include it",
                build_platforms.join(", ")
            ),
        );
    }
}

/// A service's lists and sections: volumes, ports, healthcheck, deploy mode, watch rules.
fn service_lists_schema(c: &mut Checker<'_>, n: &str, s: &Service) {
    for (i, v) in s.volumes.iter().enumerate() {
        let idx = i.to_string();
        let path = ["services", n, "volumes", &idx];
        c.one_of(&path, Some(&v.kind), &["bind", "volume", "tmpfs", "npipe", "cluster", "image"]);
        if !v.target.starts_with('/') && v.kind != "npipe" {
            c.error(&path, format!("volume target {:?} must be an absolute path", v.target));
        }
        if v.kind == "bind" && v.source.as_deref().is_none_or(str::is_empty) {
            c.error(&path, "a bind mount needs a source");
        }
        if v.kind == "tmpfs" && v.source.is_some() {
            c.error(&path, "a tmpfs mount takes no source");
        }
        if let Some(p) = v.bind.as_ref().and_then(|b| b.propagation.as_deref()) {
            c.one_of(&path, Some(p), &["shared", "slave", "private", "rshared", "rslave", "rprivate"]);
        }
    }
    for (i, p) in s.ports.iter().enumerate() {
        let idx = i.to_string();
        let path = ["services", n, "ports", &idx];
        c.one_of(&path, p.protocol.as_deref(), &["tcp", "udp", "sctp"]);
        c.one_of(&path, p.mode.as_deref(), &["ingress", "host"]);
        if p.target == 0 {
            c.error(&path, "the container port must be between 1 and 65535");
        }
        if let Some(published) = &p.published {
            if let Err(e) = crate::ports::parse_range(published, published) {
                c.error(&path, e);
            }
        }
    }
    if let Some(h) = &s.healthcheck {
        if let Some(first) = h.test.first() {
            c.one_of(&["services", n, "healthcheck", "test"], Some(first), &["CMD", "CMD-SHELL", "NONE"]);
        }
    }
    if let Some(d) = &s.deploy {
        c.one_of(
            &["services", n, "deploy", "mode"],
            d.mode.as_deref(),
            &["replicated", "global", "replicated-job", "global-job"],
        );
    }
    for (i, w) in s.develop.iter().flat_map(|d| &d.watch).enumerate() {
        let idx = i.to_string();
        c.one_of(
            &["services", n, "develop", "watch", &idx, "action"],
            Some(&w.action),
            &["rebuild", "sync", "sync+restart", "restart", "sync+exec"],
        );
    }
}

pub fn check_references(project: &Project, model: &Node, diags: &mut Diagnostics) {
    let mut c = Checker { model, diags };
    for (name, s) in &project.services {
        let n = name.as_str();
        if s.image.is_none() && s.build.is_none() && s.provider.is_none() {
            c.error(&["services", n], format!("service {name:?} has neither an image nor a build context specified"));
        }
        if s.network_mode.is_some() && !s.networks.is_empty() {
            c.error(
                &["services", n, "network_mode"],
                format!("service {name:?} declares mutually exclusive `network_mode` and `networks`"),
            );
        }
        let replicas = s.scale.or(s.deploy.as_ref().and_then(|d| d.replicas)).unwrap_or(1);
        if s.container_name.is_some() && replicas > 1 {
            c.error(
                &["services", n, "container_name"],
                format!("service {name:?} sets container_name, so it cannot run {replicas} replicas"),
            );
        }
        for net in s.networks.keys() {
            if !project.networks.contains_key(net) {
                c.error(
                    &["services", n, "networks", net],
                    format!("service {name:?} refers to undefined network {net:?}"),
                );
            }
        }
        for (i, v) in s.volumes.iter().enumerate() {
            if let (true, Some(source)) = (v.kind == "volume", &v.source) {
                if !project.volumes.contains_key(source) {
                    let idx = i.to_string();
                    c.error(
                        &["services", n, "volumes", &idx],
                        format!("service {name:?} refers to undefined volume {source:?}"),
                    );
                }
            }
        }
        let build_secrets = s.build.iter().flat_map(|b| &b.secrets);
        for (kind, at, refs, defined) in [
            ("secret", vec!["secrets"], s.secrets.iter().collect::<Vec<_>>(), &project.secrets),
            ("secret", vec!["build", "secrets"], build_secrets.collect(), &project.secrets),
            ("config", vec!["configs"], s.configs.iter().collect(), &project.configs),
        ] {
            for (i, r) in refs.into_iter().enumerate() {
                if !defined.contains_key(&r.source) {
                    // The error points at the list item that names it.
                    let idx = i.to_string();
                    let mut path = vec!["services", n];
                    path.extend(&at);
                    path.push(&idx);
                    c.error(&path, format!("service {name:?} refers to undefined {kind} {:?}", r.source));
                }
            }
        }
        for (dep, d) in &s.depends_on {
            if !project.services.contains_key(dep) && d.required {
                let why = match project.disabled_services.get(dep) {
                    Some(disabled) => format!(", which is only in profile(s) {}", disabled.profiles.join(", ")),
                    None => String::new(),
                };
                c.error(
                    &["services", n, "depends_on", dep],
                    format!("service {name:?} depends on undefined service {dep:?}{why}"),
                );
            }
        }
    }
    // Container names are unique on a host; two services cannot both take one.
    let mut named: std::collections::BTreeMap<&str, &str> = std::collections::BTreeMap::new();
    for (name, s) in &project.services {
        let Some(container_name) = s.container_name.as_deref() else { continue };
        if let Some(other) = named.insert(container_name, name) {
            c.error(
                &["services", name, "container_name"],
                format!("container name {container_name:?} is already used by service {other:?}"),
            );
        }
    }
    if let Err(cycle) = Graph::new(project).levels() {
        let first = cycle.0.first().cloned().unwrap_or_default();
        c.error(&["services", &first, "depends_on"], cycle.to_string());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::PathBuf;

    /// The errors of loading `text` as `-f -`, as one string.
    fn errors(text: &str) -> String {
        let mut opts = crate::loader::Options::new(PathBuf::from("/nonexistent"), HashMap::new());
        opts.files = vec![PathBuf::from("-")];
        opts.project_name = Some("p".into());
        opts.stdin = Some(text.to_string());
        match crate::loader::load(&opts) {
            Ok(_) => String::new(),
            Err(d) => d.to_string(),
        }
    }

    #[test]
    fn container_names_are_unique_and_two_characters_long() {
        let dup = errors("services:\n  a: {image: x, container_name: test}\n  b: {image: x, container_name: test}\n");
        assert!(dup.contains("container name \"test\" is already used by service \"a\""), "{dup}");
        let short = errors("services:\n  a: {image: x, container_name: t}\n");
        assert!(short.contains("services.a.container_name") && short.contains("two or more"), "{short}");
        assert_eq!(errors("services:\n  a: {image: x, container_name: tt}\n"), "");
    }

    #[test]
    fn the_platform_must_be_one_the_build_makes() {
        let text = "services:\n  a:\n    image: x\n    platform: linux/riscv64\n    build: {context: ., platforms: [linux/amd64]}\n";
        assert!(errors(text).contains("services.a.platform"), "{}", errors(text));
        assert_eq!(errors(&text.replace("riscv64", "amd64")), "");
    }

    #[test]
    fn an_undefined_secret_is_pointed_at_in_its_list() {
        let e = errors("services:\n  a:\n    image: x\n    secrets: [s]\nsecrets:\n  t: {file: ./t}\n");
        assert!(e.contains("services.a.secrets[0]") && e.contains("undefined secret \"s\""), "{e}");
    }

    #[test]
    fn a_provider_needs_no_image() {
        assert_eq!(errors("services:\n  db:\n    provider: {type: p, options: {size: 1}}\n"), "");
    }
}
