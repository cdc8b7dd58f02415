//! The storage, network and Service side of `kube generate`, and the small translations.

use base64::Engine;
use berth_compose::model::Service;
use serde_json::{Value, json};

use super::{Generator, Workload, dns_name, named_volumes, network_label};

/// Whether a Compose label can be a Kubernetes label as it is (a qualified name and a value
/// of at most 63 characters of the allowed kinds).
pub fn valid_label(key: &str, value: &str) -> bool {
    let part = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && s.starts_with(|c: char| c.is_ascii_alphanumeric())
            && s.ends_with(|c: char| c.is_ascii_alphanumeric())
    };
    let name_ok = match key.split_once('/') {
        Some((prefix, name)) => {
            prefix.len() <= 253 && prefix.split('.').all(|l| part(l, 63) && !l.contains('_')) && part(name, 63)
        }
        None => part(key, 63),
    };
    name_ok && (value.is_empty() || part(value, 63))
}

/// The container's ports: the targets of `ports` and the `expose`d ones.
pub fn container_ports(s: &Service) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let mut add = |port: u16, protocol: &str| {
        let protocol = protocol.to_uppercase();
        if port > 0 && seen.insert((port, protocol.clone())) {
            out.push(json!({"containerPort": port, "protocol": protocol}));
        }
    };
    for p in &s.ports {
        add(p.target, p.protocol.as_deref().unwrap_or("tcp"));
    }
    for e in &s.expose {
        let (ports, protocol) = e.split_once('/').unwrap_or((e, "tcp"));
        let (a, b) = ports.split_once('-').unwrap_or((ports, ports));
        if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
            for port in a..=b.min(a.saturating_add(100)) {
                add(port, protocol);
            }
        }
    }
    out
}

/// `deploy.resources` (or `cpus`, `mem_limit`, `mem_reservation`) as limits and requests.
pub fn resources(s: &Service) -> Option<Value> {
    let r = s.deploy.as_ref().and_then(|d| d.resources.as_ref());
    let quantity = |cpus: Option<f64>, memory: Option<u64>| {
        let mut m = serde_json::Map::new();
        if let Some(c) = cpus.filter(|c| *c > 0.0) {
            m.insert("cpu".into(), json!(format!("{}m", (c * 1000.0).round() as u64)));
        }
        if let Some(b) = memory.filter(|b| *b > 0) {
            m.insert("memory".into(), json!(b.to_string()));
        }
        (!m.is_empty()).then_some(Value::Object(m))
    };
    let limits = r.and_then(|r| r.limits.as_ref());
    let reservations = r.and_then(|r| r.reservations.as_ref());
    let limits = quantity(
        limits.and_then(|l| l.cpus).or(s.cpus),
        limits.and_then(|l| l.memory.as_ref().map(|m| m.0)).or(s.mem_limit.as_ref().map(|m| m.0)),
    );
    let requests = quantity(
        reservations.and_then(|l| l.cpus),
        reservations.and_then(|l| l.memory.as_ref().map(|m| m.0)).or(s.mem_reservation.as_ref().map(|m| m.0)),
    );
    let mut out = serde_json::Map::new();
    if let Some(l) = limits {
        out.insert("limits".into(), l);
    }
    if let Some(r) = requests {
        out.insert("requests".into(), r);
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

/// The service attributes `kube generate` carries (or warns about itself); any other one set
/// is named in a warning, never dropped without a word.
const CARRIED: &[&str] = &[
    "annotations",
    "build",
    "cap_add",
    "cap_drop",
    "command",
    "configs",
    "cpus",
    "depends_on",
    "deploy",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "entrypoint",
    "environment",
    "env_file",
    "expose",
    "extra_hosts",
    "group_add",
    "healthcheck",
    "hostname",
    "image",
    "ipc",
    "labels",
    "label_file",
    "mem_limit",
    "mem_reservation",
    "network_mode",
    "networks",
    "pid",
    "ports",
    "privileged",
    "profiles",
    "pull_policy",
    "read_only",
    "restart",
    "scale",
    "secrets",
    "stdin_open",
    "stop_grace_period",
    "sysctls",
    "tmpfs",
    "tty",
    "user",
    "volumes",
    "working_dir",
    "extends",
];
/// Of `deploy`, the parts a pod has.
const CARRIED_DEPLOY: &[&str] = &["replicas", "resources", "mode"];

impl Generator<'_> {
    /// Warns once per attribute the service sets that the objects do not carry.
    pub(super) fn left_out(&mut self, name: &str, s: &Service) {
        let Ok(Value::Object(set)) = serde_json::to_value(s) else { return };
        for key in set.keys().filter(|k| !k.starts_with("x-") && *k != "__extensions") {
            if !CARRIED.contains(&key.as_str()) {
                self.warn(name, format!("{key} has no counterpart in a Kubernetes pod here; left out"));
            }
        }
        if let Some(Value::Object(deploy)) = set.get("deploy") {
            for key in deploy.keys().filter(|k| !CARRIED_DEPLOY.contains(&k.as_str())) {
                self.warn(name, format!("deploy.{key} has no counterpart in a Kubernetes pod here; left out"));
            }
        }
    }

    /// `hostname`, `extra_hosts`, `dns*`, `pull_policy` and `ipc: host`, on the pod and its
    /// container.
    pub(super) fn host_details(&mut self, name: &str, s: &Service, pod: &mut Value) {
        if let Some(h) = &s.hostname {
            pod["hostname"] = json!(dns_name(h));
        }
        let mut aliases: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
        for entry in &s.extra_hosts {
            let (host, ip) = entry.split_once('=').or_else(|| entry.split_once(':')).unwrap_or((entry, ""));
            if ip.parse::<std::net::IpAddr>().is_ok() {
                aliases.entry(ip.to_string()).or_default().push(host.to_string());
            } else {
                self.warn(
                    name,
                    format!(
                        "extra_hosts {entry:?}: {ip:?} is not an address (host-gateway has none in a cluster); left out"
                    ),
                );
            }
        }
        if !aliases.is_empty() {
            let list: Vec<Value> = aliases.iter().map(|(ip, hosts)| json!({"ip": ip, "hostnames": hosts})).collect();
            pod["hostAliases"] = json!(list);
        }
        if !s.dns.is_empty() || !s.dns_search.is_empty() || !s.dns_opt.is_empty() {
            let mut config = json!({});
            if !s.dns.is_empty() {
                config["nameservers"] = json!(s.dns);
                // The cluster's own resolver is replaced only when servers are given.
                pod["dnsPolicy"] = json!("None");
            }
            if !s.dns_search.is_empty() {
                config["searches"] = json!(s.dns_search);
            }
            if !s.dns_opt.is_empty() {
                let options: Vec<Value> = s
                    .dns_opt
                    .iter()
                    .map(|o| match o.split_once(':') {
                        Some((n, v)) => json!({"name": n, "value": v}),
                        None => json!({"name": o}),
                    })
                    .collect();
                config["options"] = json!(options);
            }
            pod["dnsConfig"] = config;
        }
        if let Some(policy) = s.pull_policy.as_deref() {
            let k8s = match policy {
                "always" | "daily" | "weekly" => "Always",
                "never" => "Never",
                _ => "IfNotPresent",
            };
            if policy == "build" {
                self.warn(
                    name,
                    "pull_policy: build: the cluster pulls what berth would build; build and push it first",
                );
            }
            pod["containers"][0]["imagePullPolicy"] = json!(k8s);
        }
        match s.ipc.as_deref() {
            Some("host") => pod["hostIPC"] = json!(true),
            Some("private") | Some("shareable") | None => {}
            Some(other) => {
                self.warn(name, format!("ipc {other}: a pod shares IPC only among its own containers; left out"))
            }
        }
    }

    /// The pod's volumes and the container's mounts: claims for named volumes, `emptyDir` for
    /// anonymous ones and tmpfs (in memory), hostPath for binds with `--hostpath`, Secrets and
    /// ConfigMaps for secrets and configs.
    pub(super) fn volumes(&mut self, name: &str, s: &Service) -> (Vec<Value>, Vec<Value>) {
        let (mut volumes, mut mounts) = (Vec::new(), Vec::new());
        for (i, v) in s.volumes.iter().enumerate() {
            let vol_name = match (v.kind.as_str(), &v.source) {
                ("volume", Some(source)) => {
                    let claim = dns_name(source);
                    volumes.push(json!({"name": claim, "persistentVolumeClaim": {"claimName": claim}}));
                    claim
                }
                ("volume", None) | ("tmpfs", _) => {
                    let vol = format!("scratch-{i}");
                    let mut dir = json!({});
                    if v.kind == "tmpfs" {
                        dir["medium"] = json!("Memory");
                        if let Some(size) = v.tmpfs.as_ref().and_then(|t| t.size.as_ref()) {
                            dir["sizeLimit"] = json!(size.0.to_string());
                        }
                    }
                    volumes.push(json!({"name": vol, "emptyDir": dir}));
                    vol
                }
                ("bind", Some(source)) if self.opts.hostpath => {
                    let vol = format!("host-{i}");
                    volumes.push(json!({"name": vol, "hostPath": {"path": source}}));
                    vol
                }
                ("bind", source) => {
                    self.binds.push(format!("{name}: {} -> {}", source.as_deref().unwrap_or("?"), v.target));
                    continue;
                }
                (other, _) => {
                    self.warn(name, format!("a volume of type {other} at {} is left out", v.target));
                    continue;
                }
            };
            let mut mount = json!({"name": vol_name, "mountPath": v.target});
            if v.read_only {
                mount["readOnly"] = json!(true);
            }
            mounts.push(mount);
        }
        for (i, t) in s.tmpfs.iter().enumerate() {
            let path = t.split(':').next().unwrap_or(t);
            let vol = format!("tmpfs-{i}");
            volumes.push(json!({"name": vol, "emptyDir": {"medium": "Memory"}}));
            mounts.push(json!({"name": vol, "mountPath": path}));
        }
        for (kind, refs) in [("secret", &s.secrets), ("config", &s.configs)] {
            for r in refs {
                let object = dns_name(&format!("{}-{kind}-{}", self.project.name, r.source));
                self.file_object(kind, &r.source, &object);
                let target = match &r.target {
                    Some(t) if t.starts_with('/') => t.clone(),
                    Some(t) if kind == "secret" => format!("/run/secrets/{t}"),
                    Some(t) => format!("/{t}"),
                    None if kind == "secret" => format!("/run/secrets/{}", r.source),
                    None => format!("/{}", r.source),
                };
                let vol = dns_name(&format!("{kind}-{}", r.source));
                let mode = r.mode.map_or(0o444, |m| m.0);
                let source = match kind {
                    "secret" => json!({"secret": {"secretName": object, "defaultMode": mode}}),
                    _ => json!({"configMap": {"name": object, "defaultMode": mode}}),
                };
                let mut volume = json!({"name": vol});
                volume.as_object_mut().expect("an object").extend(source.as_object().cloned().unwrap_or_default());
                if !volumes.iter().any(|v| v["name"] == json!(vol)) {
                    volumes.push(volume);
                }
                mounts.push(json!({"name": vol, "mountPath": target, "subPath": "content", "readOnly": true}));
                if r.uid.is_some() || r.gid.is_some() {
                    self.warn(
                        name,
                        format!("{kind} {}: uid and gid are the pod's fsGroup's in Kubernetes; left out", r.source),
                    );
                }
            }
        }
        (volumes, mounts)
    }

    /// A Secret or ConfigMap for a project's secret or config (once each), its content under
    /// the key `content`.
    fn file_object(&mut self, kind: &str, source: &str, object: &str) {
        let already = self.objects.iter().any(|o| {
            o["metadata"]["name"] == json!(object) && (o["kind"] == json!("Secret") || o["kind"] == json!("ConfigMap"))
        });
        if already {
            return;
        }
        let objects = if kind == "secret" { &self.project.secrets } else { &self.project.configs };
        let Some(def) = objects.get(source) else { return };
        if def.external {
            self.warnings.push(format!("{kind} {source} is external: the cluster must have {object}"));
            return;
        }
        let content = match (&def.file, &def.environment, &def.content) {
            (Some(path), _, _) => std::fs::read(path).unwrap_or_else(|e| {
                self.warnings.push(format!("{kind} {source}: cannot read {path}: {e}; left empty"));
                Vec::new()
            }),
            (None, Some(var), _) => self.project.environment.get(var).cloned().unwrap_or_default().into_bytes(),
            (None, None, Some(text)) => text.clone().into_bytes(),
            _ => Vec::new(),
        };
        let meta = self.metadata(object, None);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&content);
        let o = match (kind, String::from_utf8(content)) {
            ("secret", _) => {
                json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque", "data": {"content": encoded}})
            }
            (_, Ok(text)) => {
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"content": text}})
            }
            (_, Err(_)) => {
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "binaryData": {"content": encoded}})
            }
        };
        self.objects.push(o);
    }

    fn size_of(&self, volume: &str) -> String {
        let ext = self.project.volumes.get(volume).and_then(|v| v.extensions.get("x-kube-size"));
        match ext {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => self.opts.volume_size.clone().unwrap_or_else(|| "1Gi".into()),
        }
    }

    /// A StatefulSet's claims: one per replica for each named volume.
    pub(super) fn claim_templates(&self, s: &Service) -> Vec<Value> {
        named_volumes(s)
            .map(|source| {
                json!({"metadata": {"name": dns_name(source)},
                       "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": self.size_of(source)}}}})
            })
            .collect()
    }

    /// A claim per named volume the chosen workloads mount (a StatefulSet has its own).
    pub(super) fn claims(&mut self, chosen: &[&String]) {
        let mut wanted = std::collections::BTreeSet::new();
        for name in chosen {
            let s = &self.project.services[*name];
            if self.workload_of(name, s) != Workload::StatefulSet {
                wanted.extend(named_volumes(s).map(str::to_string));
            }
        }
        for volume in wanted {
            if self.project.volumes.get(&volume).is_some_and(|v| v.external) {
                self.warnings.push(format!(
                    "volume {volume} is external: the cluster must have the claim {}",
                    dns_name(&volume)
                ));
                continue;
            }
            let meta = self.metadata(&volume, None);
            self.objects.push(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": self.size_of(&volume)}}}}));
        }
    }

    /// A Service for a service with ports (published ones of `--service-type`), or a headless
    /// one for a service others wait on by name.
    pub(super) fn k8s_service(&mut self, name: &str, s: &Service, stateful: bool) {
        let published: Vec<Value> = s
            .ports
            .iter()
            .filter(|p| p.published.is_some())
            .map(|p| {
                let protocol = p.protocol.as_deref().unwrap_or("tcp").to_uppercase();
                let port: u16 = p.published.as_deref().and_then(|x| x.split('-').next()?.parse().ok()).unwrap_or(p.target);
                json!({"name": dns_name(&format!("{port}-{protocol}")), "port": port, "targetPort": p.target, "protocol": protocol})
            })
            .collect();
        let inside: Vec<Value> = container_ports(s)
            .into_iter()
            .map(|p| {
                let (port, protocol) = (p["containerPort"].clone(), p["protocol"].as_str().unwrap_or("TCP").to_string());
                json!({"name": dns_name(&format!("{port}-{protocol}")), "port": port, "targetPort": port, "protocol": protocol})
            })
            .collect();
        let (ports, kind) = match (published.is_empty(), self.opts.service_type.as_deref()) {
            (false, Some(kind)) => (published, kind.to_string()),
            (false, None) => (published, "ClusterIP".to_string()),
            (true, _) => (inside, "ClusterIP".to_string()),
        };
        if ports.is_empty() && !self.awaited.contains(name) && !stateful {
            return;
        }
        let mut spec = json!({"selector": self.selector(name)});
        if ports.is_empty() || stateful {
            spec["clusterIP"] = json!("None");
        } else {
            spec["type"] = json!(kind);
        }
        if !ports.is_empty() {
            spec["ports"] = json!(ports);
        }
        let mut meta = self.metadata(name, Some(name));
        // Where Compose published the ports on the host, for `kube play` to publish them again.
        let on_host: Vec<String> = s
            .ports
            .iter()
            .filter_map(|p| {
                let published = p.published.as_deref()?;
                let ip = p.host_ip.as_deref().map(|ip| format!("{ip}:")).unwrap_or_default();
                Some(format!("{ip}{published}:{}/{}", p.target, p.protocol.as_deref().unwrap_or("tcp")))
            })
            .collect();
        if !on_host.is_empty() {
            meta["annotations"] = json!({"berth.dev/published": on_host.join(",")});
        }
        self.objects.push(json!({"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec}));
        if s.ports.iter().any(|p| p.published.is_some()) {
            let from_anywhere: Vec<Value> = s
                .ports
                .iter()
                .map(|p| json!({"port": p.target, "protocol": p.protocol.as_deref().unwrap_or("tcp").to_uppercase()}))
                .collect();
            let meta = self.metadata(&format!("{}-{name}-published", self.project.name), None);
            self.objects.push(json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta,
                "spec": {"podSelector": {"matchLabels": self.selector(name)}, "policyTypes": ["Ingress"],
                         "ingress": [{"ports": from_anywhere}]}}));
        }
    }

    /// A NetworkPolicy per Compose network: its pods take traffic from pods on the same
    /// network only; `internal: true` also keeps them from sending anywhere else (DNS aside).
    pub(super) fn networks(&mut self, chosen: &[&String]) {
        let mut used = std::collections::BTreeSet::new();
        for name in chosen {
            used.extend(self.networks_of(&self.project.services[*name]));
        }
        for network in used {
            let label = network_label(&network);
            let peers = json!([{"podSelector": {"matchLabels": {label.clone(): "true"}}}]);
            let internal = self.project.networks.get(&network).is_some_and(|n| n.internal);
            let mut spec = json!({"podSelector": {"matchLabels": {label.clone(): "true"}},
                                  "policyTypes": ["Ingress"], "ingress": [{"from": peers}]});
            if internal {
                spec["policyTypes"] = json!(["Ingress", "Egress"]);
                spec["egress"] = json!([
                    {"to": peers},
                    {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                     "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
                ]);
            }
            let meta = self.metadata(&format!("{}-{network}", self.project.name), None);
            self.objects.push(
                json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": meta, "spec": spec}),
            );
        }
    }
}
