//! `kube play`: Kubernetes manifests run on this host, as a Compose project named after their
//! namespace. The objects become a Compose file (workloads as services, claims as volumes,
//! Secrets and ConfigMaps as secrets and configs, probes as healthchecks, the init containers
//! `kube generate` writes as `depends_on` conditions, other init containers as one-shot
//! services run first, `berth.dev/network-*` pod labels as networks), which the loader then
//! checks as any other, and `up` brings up.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// The Compose file the manifests describe, and the namespace that names the project.
pub fn compose_of(documents: &[Value]) -> Result<(String, Value), String> {
    let objects: Vec<&Value> = documents.iter().filter(|d| d.is_object()).collect();
    let namespace = objects.iter().find_map(|o| o["metadata"]["namespace"].as_str()).unwrap_or("default").to_string();
    let mut services = serde_json::Map::new();
    let (mut volumes, mut networks) = (serde_json::Map::new(), serde_json::Map::new());
    let (mut secrets, mut configs) = (serde_json::Map::new(), serde_json::Map::new());
    // Published ports come from the Services that select a workload's pods.
    let mut published: Vec<(BTreeMap<String, String>, Vec<String>)> = Vec::new();
    for o in &objects {
        match o["kind"].as_str().unwrap_or("") {
            "Service" => {
                let selector: BTreeMap<String, String> =
                    serde_json::from_value(o["spec"]["selector"].clone()).unwrap_or_default();
                let mut ports: Vec<String> = o["metadata"]["annotations"]["berth.dev/published"]
                    .as_str()
                    .map(|a| a.split(',').map(str::to_string).collect())
                    .unwrap_or_default();
                if ports.is_empty() && matches!(o["spec"]["type"].as_str(), Some("NodePort" | "LoadBalancer")) {
                    for p in o["spec"]["ports"].as_array().into_iter().flatten() {
                        let protocol = p["protocol"].as_str().unwrap_or("TCP").to_lowercase();
                        let host = p["nodePort"].as_u64().or(p["port"].as_u64()).unwrap_or(0);
                        let target = p["targetPort"].as_u64().or(p["port"].as_u64()).unwrap_or(0);
                        ports.push(format!("{host}:{target}/{protocol}"));
                    }
                }
                published.push((selector, ports));
            }
            "PersistentVolumeClaim" => {
                volumes.insert(name(o)?, json!({}));
            }
            "Secret" => {
                secrets.insert(name(o)?, json!({"content": file_content(o, true)?}));
            }
            "ConfigMap" => {
                configs.insert(name(o)?, json!({"content": file_content(o, false)?}));
            }
            // Networks come from the pods' labels; the policies only say what they allow.
            "NetworkPolicy" | "ServiceAccount" | "Role" | "RoleBinding" | "Namespace" => {}
            "Deployment" | "StatefulSet" | "Job" | "Pod" => {}
            other => {
                return Err(format!(
                    "{other} {}: kube play runs Deployment, StatefulSet, Job, Pod, Service, PersistentVolumeClaim, ConfigMap, Secret and NetworkPolicy objects",
                    name(o)?
                ));
            }
        }
    }
    let policies = policy_networks(&objects)?;
    for o in &objects {
        let kind = o["kind"].as_str().unwrap_or("");
        if !matches!(kind, "Deployment" | "StatefulSet" | "Job" | "Pod") {
            continue;
        }
        let (template, replicas) = match kind {
            "Pod" => (json!({"metadata": o["metadata"], "spec": o["spec"]}), 1),
            _ => (o["spec"]["template"].clone(), o["spec"]["replicas"].as_u64().unwrap_or(1)),
        };
        let labels: BTreeMap<String, String> =
            serde_json::from_value(template["metadata"]["labels"].clone()).unwrap_or_default();
        let ports: Vec<String> = published
            .iter()
            .filter(|(selector, _)| !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v)))
            .flat_map(|(_, p)| p.clone())
            .collect();
        let mut on: Vec<String> =
            labels.keys().filter_map(|k| k.strip_prefix("berth.dev/network-")).map(str::to_string).collect();
        for (network, selectors) in &policies {
            if selectors.iter().any(|sel| sel.iter().all(|(k, v)| labels.get(k) == Some(v))) && !on.contains(network) {
                on.push(network.clone());
            }
        }
        for n in &on {
            networks.entry(n.clone()).or_insert_with(|| json!({}));
        }
        let workload = Workload { name: name(o)?, kind, pod: &template["spec"], replicas, ports, networks: on };
        workload.services(&objects, &mut services, &mut volumes)?;
    }
    let mut file = json!({"name": namespace, "services": services});
    for (key, map) in [("volumes", volumes), ("networks", networks), ("secrets", secrets), ("configs", configs)] {
        if !map.is_empty() {
            file[key] = Value::Object(map);
        }
    }
    if services_empty(&file) {
        return Err("the manifests have no workload (Deployment, StatefulSet, Job or Pod)".into());
    }
    Ok((namespace, file))
}

/// A label selector's `matchLabels`.
type Labels = BTreeMap<String, String>;

/// Hand-written NetworkPolicies as networks: the pods a policy selects and the pods it takes
/// traffic from share a network named after it. (`kube generate`'s own policies select by
/// the `berth.dev/network-*` labels, which say the networks already.)
fn policy_networks(objects: &[&Value]) -> Result<Vec<(String, Vec<Labels>)>, String> {
    let mut out = Vec::new();
    for o in objects.iter().filter(|o| o["kind"] == json!("NetworkPolicy")) {
        let labels = |v: &Value| -> Labels { serde_json::from_value(v.clone()).unwrap_or_default() };
        let selected = labels(&o["spec"]["podSelector"]["matchLabels"]);
        if selected.keys().any(|k| k.starts_with("berth.dev/network-")) {
            continue;
        }
        let mut selectors = vec![selected];
        for rule in o["spec"]["ingress"].as_array().into_iter().flatten() {
            for peer in rule["from"].as_array().into_iter().flatten() {
                if peer["podSelector"].is_object() {
                    selectors.push(labels(&peer["podSelector"]["matchLabels"]));
                }
            }
        }
        out.push((name(o)?, selectors));
    }
    Ok(out)
}

fn services_empty(file: &Value) -> bool {
    file["services"].as_object().is_none_or(|s| s.is_empty())
}

fn name(o: &Value) -> Result<String, String> {
    o["metadata"]["name"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("a {} without metadata.name", o["kind"].as_str().unwrap_or("object")))
}

/// A Secret's or ConfigMap's content: its one key (`content` as `kube generate` writes).
fn file_content(o: &Value, secret: bool) -> Result<String, String> {
    use base64::Engine;
    let n = name(o)?;
    if let Some((_, v)) = o["stringData"].as_object().and_then(|m| m.iter().next()) {
        return Ok(v.as_str().unwrap_or_default().to_string());
    }
    let (field, encoded) = match secret {
        true => ("data", true),
        false if o["binaryData"].is_object() => ("binaryData", true),
        false => ("data", false),
    };
    let entries = o[field].as_object().cloned().unwrap_or_default();
    if entries.len() > 1 {
        return Err(format!("{n}: kube play takes Secrets and ConfigMaps of one key (one file each)"));
    }
    let value = entries.values().next().and_then(Value::as_str).unwrap_or_default();
    match encoded {
        true => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(value)
                .map_err(|e| format!("{n}: {field} is not base64: {e}"))?;
            String::from_utf8(bytes).map_err(|_| format!("{n}: the content is not text"))
        }
        false => Ok(value.to_string()),
    }
}

/// A workload's pod, to become services.
struct Workload<'a> {
    name: String,
    kind: &'a str,
    pod: &'a Value,
    replicas: u64,
    ports: Vec<String>,
    networks: Vec<String>,
}

impl Workload<'_> {
    fn services(
        &self,
        objects: &[&Value],
        services: &mut serde_json::Map<String, Value>,
        volumes: &mut serde_json::Map<String, Value>,
    ) -> Result<(), String> {
        let containers = self.pod["containers"].as_array().cloned().unwrap_or_default();
        if containers.is_empty() {
            return Err(format!("{} {}: a pod without containers", self.kind, self.name));
        }
        let mut depends_on = serde_json::Map::new();
        for (i, init) in self.pod["initContainers"].as_array().into_iter().flatten().enumerate() {
            let init_name = init["name"].as_str().unwrap_or("");
            match init_name.strip_prefix("wait-for-") {
                // `kube generate`'s waits: the condition itself.
                Some(dep) => {
                    let waits_for_job = init["command"].as_array().is_some_and(|c| c.iter().any(|w| w == "kubectl"));
                    let condition = match waits_for_job {
                        true => "service_completed_successfully",
                        false if probed(objects, dep) => "service_healthy",
                        false => "service_started",
                    };
                    depends_on.insert(dep.to_string(), json!({"condition": condition}));
                }
                // Another init container: a one-shot service the workload waits for.
                None => {
                    let service = format!("{}-init-{i}", self.name);
                    let mut s = self.container(init, volumes)?;
                    s["restart"] = json!("no");
                    services.insert(service.clone(), s);
                    depends_on.insert(service, json!({"condition": "service_completed_successfully"}));
                }
            }
        }
        for (i, c) in containers.iter().enumerate() {
            let service =
                if i == 0 { self.name.clone() } else { format!("{}-{}", self.name, c["name"].as_str().unwrap_or("")) };
            let mut s = self.container(c, volumes)?;
            s["restart"] = json!(if self.kind == "Job" { "no" } else { "always" });
            if self.replicas != 1 {
                s["scale"] = json!(self.replicas);
            }
            if i == 0 && !self.ports.is_empty() {
                s["ports"] = json!(self.ports);
            }
            if !self.networks.is_empty() {
                s["networks"] = json!(self.networks);
            }
            if !depends_on.is_empty() {
                s["depends_on"] = Value::Object(depends_on.clone());
            }
            if let Some(grace) = self.pod["terminationGracePeriodSeconds"].as_u64() {
                s["stop_grace_period"] = json!(format!("{grace}s"));
            }
            if self.pod["hostNetwork"] == json!(true) {
                s["network_mode"] = json!("host");
                s.as_object_mut().map(|m| m.remove("networks"));
            }
            if self.pod["hostPID"] == json!(true) {
                s["pid"] = json!("host");
            }
            let security = &self.pod["securityContext"];
            if let Some(groups) = security["supplementalGroups"].as_array() {
                s["group_add"] = json!(groups.iter().map(|g| g.to_string()).collect::<Vec<_>>());
            }
            if let Some(sysctls) = security["sysctls"].as_array() {
                let map: BTreeMap<String, String> = sysctls
                    .iter()
                    .filter_map(|x| Some((x["name"].as_str()?.to_string(), x["value"].as_str()?.to_string())))
                    .collect();
                s["sysctls"] = json!(map);
            }
            services.insert(service, s);
        }
        Ok(())
    }

    /// One container as a Compose service.
    fn container(&self, c: &Value, volumes: &mut serde_json::Map<String, Value>) -> Result<Value, String> {
        let image =
            c["image"].as_str().ok_or_else(|| format!("{} {}: a container without an image", self.kind, self.name))?;
        let mut s = json!({"image": image});
        for (from, to) in [("command", "entrypoint"), ("args", "command"), ("workingDir", "working_dir")] {
            if !c[from].is_null() {
                s[to] = c[from].clone();
            }
        }
        let env: BTreeMap<String, String> = c["env"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| Some((e["name"].as_str()?.to_string(), e["value"].as_str().unwrap_or("").to_string())))
            .collect();
        if !env.is_empty() {
            s["environment"] = json!(env);
        }
        let expose: Vec<String> = c["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| {
                Some(format!(
                    "{}/{}",
                    p["containerPort"].as_u64()?,
                    p["protocol"].as_str().unwrap_or("TCP").to_lowercase()
                ))
            })
            .collect();
        if !expose.is_empty() {
            s["expose"] = json!(expose);
        }
        for (flag, to) in [("tty", "tty"), ("stdin", "stdin_open")] {
            if c[flag] == json!(true) {
                s[to] = json!(true);
            }
        }
        let security = &c["securityContext"];
        for (from, to) in [("privileged", "privileged"), ("readOnlyRootFilesystem", "read_only")] {
            if security[from] == json!(true) {
                s[to] = json!(true);
            }
        }
        for (from, to) in [("add", "cap_add"), ("drop", "cap_drop")] {
            if let Some(caps) = security["capabilities"][from].as_array() {
                s[to] = json!(caps);
            }
        }
        if let Some(uid) = security["runAsUser"].as_u64() {
            s["user"] = json!(match security["runAsGroup"].as_u64() {
                Some(gid) => format!("{uid}:{gid}"),
                None => uid.to_string(),
            });
        }
        let limits = &c["resources"]["limits"];
        if let Some(memory) = limits["memory"].as_str() {
            s["mem_limit"] = json!(memory.trim_end_matches('i').to_lowercase());
        }
        if let Some(cpu) = limits["cpu"].as_str() {
            let cpus = match cpu.strip_suffix('m') {
                Some(milli) => milli.parse::<f64>().map(|m| m / 1000.0).unwrap_or(0.0),
                None => cpu.parse().unwrap_or(0.0),
            };
            s["cpus"] = json!(cpus);
        }
        if let Some(probe) = c["readinessProbe"].as_object().or(c["livenessProbe"].as_object()) {
            if let Some(command) = probe.get("exec").and_then(|e| e["command"].as_array()) {
                let mut test = vec![json!("CMD")];
                test.extend(command.iter().cloned());
                let mut h = json!({"test": test});
                for (from, to) in [("periodSeconds", "interval"), ("timeoutSeconds", "timeout")] {
                    if let Some(n) = probe.get(from).and_then(Value::as_u64) {
                        h[to] = json!(format!("{n}s"));
                    }
                }
                if let Some(n) = probe.get("failureThreshold").and_then(Value::as_u64) {
                    h["retries"] = json!(n);
                }
                s["healthcheck"] = h;
            }
        }
        let mounts = self.mounts(c, volumes)?;
        for (key, list) in mounts {
            if !list.is_empty() {
                s[key] = json!(list);
            }
        }
        Ok(s)
    }

    /// A container's mounts by the pod's volumes: claims as named volumes, `emptyDir` as an
    /// anonymous volume (tmpfs in memory), hostPath as binds, Secrets and ConfigMaps as files.
    fn mounts(
        &self,
        c: &Value,
        volumes: &mut serde_json::Map<String, Value>,
    ) -> Result<Vec<(&'static str, Vec<Value>)>, String> {
        let (mut mounts, mut secrets, mut configs) = (Vec::new(), Vec::new(), Vec::new());
        let pod_volumes = self.pod["volumes"].as_array().cloned().unwrap_or_default();
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            let (vol, target) = (m["name"].as_str().unwrap_or(""), m["mountPath"].as_str().unwrap_or(""));
            let Some(v) = pod_volumes.iter().find(|v| v["name"] == json!(vol)) else {
                return Err(format!("{} {}: the mount {vol} names no volume of the pod", self.kind, self.name));
            };
            let read_only = m["readOnly"] == json!(true);
            if let Some(claim) = v["persistentVolumeClaim"]["claimName"].as_str() {
                volumes.entry(claim.to_string()).or_insert_with(|| json!({}));
                mounts.push(json!({"type": "volume", "source": claim, "target": target, "read_only": read_only}));
            } else if v["emptyDir"].is_object() {
                let kind = if v["emptyDir"]["medium"] == json!("Memory") { "tmpfs" } else { "volume" };
                mounts.push(json!({"type": kind, "target": target}));
            } else if let Some(path) = v["hostPath"]["path"].as_str() {
                mounts.push(json!({"type": "bind", "source": path, "target": target, "read_only": read_only}));
            } else if let Some(secret) = v["secret"]["secretName"].as_str() {
                secrets.push(json!({"source": secret, "target": target}));
            } else if let Some(config) = v["configMap"]["name"].as_str() {
                configs.push(json!({"source": config, "target": target}));
            } else {
                return Err(format!("{} {}: volume {vol} is of a kind kube play does not run", self.kind, self.name));
            }
        }
        Ok(vec![("volumes", mounts), ("secrets", secrets), ("configs", configs)])
    }
}

/// Whether the workload named `name` has a probe (a dependency on it waits for health).
fn probed(objects: &[&Value], name: &str) -> bool {
    objects.iter().filter(|o| o["metadata"]["name"] == json!(name)).any(|o| {
        let spec = if o["kind"] == json!("Pod") { &o["spec"] } else { &o["spec"]["template"]["spec"] };
        spec["containers"].as_array().into_iter().flatten().any(|c| c["readinessProbe"].is_object())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_manifests_become_the_project_again() {
        let yaml = r#"
name: shop
services:
  seed: {image: busybox, command: [sh, -c, "echo hi > /www/index.html"], volumes: ["site:/www"]}
  web:
    image: busybox
    command: [httpd, -f, -p, "8080"]
    ports: ["127.0.0.1:8080:8080"]
    volumes: ["site:/www"]
    healthcheck: {test: [CMD, "true"], interval: 2s}
    depends_on: {seed: {condition: service_completed_successfully}}
  worker:
    image: busybox
    depends_on: {web: {condition: service_healthy}}
volumes: {site: {}}
"#;
        let mut options = berth_compose::Options::new(std::env::temp_dir(), Default::default());
        options.files = vec!["-".into()];
        options.stdin = Some(yaml.to_string());
        let project = berth_compose::load(&options).expect("loads").project;
        let g = super::super::generate::generate(&project, &[], &Default::default()).expect("generates");
        let (namespace, file) = compose_of(&g.objects).expect("plays");
        assert_eq!(namespace, "default");
        let s = &file["services"];
        assert_eq!(s["web"]["ports"], json!(["127.0.0.1:8080:8080/tcp"]));
        assert_eq!(s["web"]["depends_on"]["seed"]["condition"], "service_completed_successfully");
        assert_eq!(s["worker"]["depends_on"]["web"]["condition"], "service_healthy");
        assert_eq!(s["web"]["healthcheck"]["test"], json!(["CMD", "true"]));
        assert_eq!(s["seed"]["restart"], "no");
        assert_eq!(s["web"]["volumes"][0]["source"], "site");
        assert!(file["volumes"]["site"].is_object());
    }

    #[test]
    fn hand_written_objects_run_too() {
        let pod = |name: &str, tier: &str| {
            json!({"kind": "Deployment", "metadata": {"name": name, "namespace": "shop"}, "spec": {"replicas": 2,
                "template": {"metadata": {"labels": {"tier": tier}}, "spec": {
                    "initContainers": [{"name": "migrate", "image": "app:1", "command": ["migrate"]}],
                    "containers": [{"name": name, "image": "app:1", "args": ["serve"], "env": [{"name": "A", "value": "1"}],
                                    "ports": [{"containerPort": 80}]}]}}}})
        };
        let docs = vec![
            pod("api", "back"),
            pod("front", "front"),
            json!({"kind": "Service", "metadata": {"name": "front"}, "spec": {"type": "NodePort", "selector": {"tier": "front"},
                   "ports": [{"port": 80, "nodePort": 30080}]}}),
            json!({"kind": "NetworkPolicy", "metadata": {"name": "api-from-front"}, "spec": {"podSelector": {"matchLabels": {"tier": "back"}},
                   "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "front"}}}]}]}}),
            json!({"kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"app.conf": "x=1"}}),
        ];
        let (namespace, file) = compose_of(&docs).expect("plays");
        assert_eq!(namespace, "shop");
        let s = &file["services"];
        assert_eq!(s["front"]["ports"], json!(["30080:80/tcp"]));
        assert_eq!(s["api"]["scale"], 2);
        assert_eq!(s["api"]["depends_on"]["api-init-0"]["condition"], "service_completed_successfully");
        assert_eq!(s["api-init-0"]["restart"], "no");
        assert_eq!(s["api"]["networks"], json!(["api-from-front"]));
        assert_eq!(s["front"]["networks"], json!(["api-from-front"]));
        assert_eq!(file["configs"]["settings"]["content"], "x=1");
    }

    #[test]
    fn other_objects_are_refused_by_kind() {
        let docs = vec![json!({"kind": "Ingress", "metadata": {"name": "front"}})];
        let err = compose_of(&docs).expect_err("refused");
        assert!(err.contains("Ingress front"), "{err}");
    }
}
