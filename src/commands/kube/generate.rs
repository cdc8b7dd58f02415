//! From a loaded project to Kubernetes objects: a workload per service (Deployment, a
//! StatefulSet for a replicated service with a named volume, a Job for a one-shot service
//! others wait on), its pod from the service's attributes, `depends_on` as init containers
//! that wait, Services for ports, NetworkPolicies for Compose networks, claims for named
//! volumes, Secrets and ConfigMaps. What Kubernetes cannot express is refused or warned about,
//! one line each.

use std::collections::{BTreeMap, BTreeSet};

use berth_compose::Project;
use berth_compose::model::{Condition, Service};
use serde_json::{Value, json};

/// `kube generate`'s flags.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub namespace: Option<String>,
    /// Put before the names of images berth builds (`registry.lan/`).
    pub image_prefix: Option<String>,
    /// The type of the Services of published ports: ClusterIP (default), NodePort, LoadBalancer.
    pub service_type: Option<String>,
    /// Bind mounts as hostPath volumes instead of a refusal.
    pub hostpath: bool,
    /// A claim's size when the volume has no `x-kube-size`.
    pub volume_size: Option<String>,
}

/// The objects, and the warnings about what was changed or left out on the way.
pub struct Generated {
    pub objects: Vec<Value>,
    pub warnings: Vec<String>,
}

/// The label every object of the project carries, and the pods' selector labels.
const NAME: &str = "app.kubernetes.io/name";
const PART_OF: &str = "app.kubernetes.io/part-of";
const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The image of the init containers that wait for a Service to answer.
const WAIT_IMAGE: &str = "busybox:1.36";
/// The image of the init containers that wait for a Job to complete.
const KUBECTL_IMAGE: &str = "bitnami/kubectl:1.30";

/// A name as Kubernetes takes it (DNS-1123: lower case, digits and `-`, at most 63).
pub fn dns_name(name: &str) -> String {
    let mut out: String =
        name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' }).collect();
    out.truncate(63);
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "x".into() } else { out }
}

/// A network's label on the pods that are on it.
fn network_label(network: &str) -> String {
    format!("berth.dev/network-{}", dns_name(network))
}

/// The kind of object a service's pods run under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Workload {
    Job,
    StatefulSet,
    Deployment,
}

/// How many pods a service runs (`deploy.replicas`, `scale`, else one).
fn replicas(s: &Service) -> u64 {
    s.deploy.as_ref().and_then(|d| d.replicas).or(s.scale).unwrap_or(1)
}

/// The named volumes a service mounts.
fn named_volumes(s: &Service) -> impl Iterator<Item = &str> {
    s.volumes.iter().filter(|v| v.kind == "volume").filter_map(|v| v.source.as_deref())
}

struct Generator<'a> {
    project: &'a Project,
    opts: &'a Options,
    objects: Vec<Value>,
    warnings: Vec<String>,
    /// Bind mounts found without `--hostpath`: refused together.
    binds: Vec<String>,
    /// Services something waits on to answer (they get a Service even without ports).
    awaited: BTreeSet<String>,
    /// Services something waits on to complete (Jobs).
    jobs: BTreeSet<String>,
}

pub fn generate(project: &Project, services: &[String], opts: &Options) -> Result<Generated, String> {
    let mut g = Generator {
        project,
        opts,
        objects: Vec::new(),
        warnings: Vec::new(),
        binds: Vec::new(),
        awaited: BTreeSet::new(),
        jobs: BTreeSet::new(),
    };
    let chosen: Vec<&String> = match services.is_empty() {
        true => project.services.keys().collect(),
        false => {
            for s in services {
                if !project.services.contains_key(s) {
                    return Err(format!("no such service: {s}"));
                }
            }
            project.services.keys().filter(|s| services.contains(s)).collect()
        }
    };
    for s in project.services.values() {
        for (dep, d) in &s.depends_on {
            match d.condition {
                Condition::ServiceCompletedSuccessfully => g.jobs.insert(dep.clone()),
                _ => g.awaited.insert(dep.clone()),
            };
        }
    }
    for name in &chosen {
        g.service(name, &project.services[*name]);
    }
    if !g.binds.is_empty() {
        return Err(format!(
            "bind mounts cannot be carried to a cluster: {}; give --hostpath to make them hostPath volumes of the node",
            g.binds.join(", ")
        ));
    }
    g.networks(&chosen);
    g.claims(&chosen);
    if chosen.iter().any(|s| {
        project.services[*s].depends_on.values().any(|d| d.condition == Condition::ServiceCompletedSuccessfully)
    }) {
        g.waiter_account();
    }
    Ok(Generated { objects: g.objects, warnings: g.warnings })
}

impl Generator<'_> {
    fn metadata(&self, name: &str, service: Option<&str>) -> Value {
        let mut labels = BTreeMap::from([
            (PART_OF.to_string(), dns_name(&self.project.name)),
            (MANAGED_BY.to_string(), "berth".to_string()),
        ]);
        if let Some(s) = service {
            labels.insert(NAME.to_string(), dns_name(s));
        }
        let mut meta = json!({"name": dns_name(name), "labels": labels});
        if let Some(ns) = &self.opts.namespace {
            meta["namespace"] = json!(ns);
        }
        meta
    }

    fn selector(&self, service: &str) -> Value {
        json!({NAME: dns_name(service), PART_OF: dns_name(&self.project.name)})
    }

    fn warn(&mut self, service: &str, what: impl std::fmt::Display) {
        self.warnings.push(format!("service {service}: {what}"));
    }

    /// The workload a service becomes: a Job when others wait for it to complete, a
    /// StatefulSet when it is replicated and keeps data in named volumes, else a Deployment.
    fn workload_of(&self, name: &str, s: &Service) -> Workload {
        match (self.jobs.contains(name), replicas(s) > 1 && named_volumes(s).next().is_some()) {
            (true, _) => Workload::Job,
            (false, true) => Workload::StatefulSet,
            (false, false) => Workload::Deployment,
        }
    }

    fn service(&mut self, name: &str, s: &Service) {
        let replicas = replicas(s);
        let pod = self.pod(name, s);
        let workload = self.workload_of(name, s);
        if workload == Workload::Job && !matches!(s.restart.as_deref(), None | Some("no")) {
            self.warn(name, "others wait for it to complete, but its restart policy restarts it: it becomes a Job");
        }
        let mut template = json!({"metadata": {"labels": self.pod_labels(name, s)}, "spec": pod});
        if let Some(annotations) = self.annotations(s) {
            template["metadata"]["annotations"] = annotations;
        }
        let object = match workload {
            Workload::Job => {
                template["spec"]["restartPolicy"] = json!("Never");
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": self.metadata(name, Some(name)),
                       "spec": {"backoffLimit": 0, "template": template}})
            }
            Workload::StatefulSet => {
                // The claims are the StatefulSet's own, one per replica, not the pod's volumes.
                let claims: Vec<String> = named_volumes(s).map(dns_name).collect();
                if let Some(list) = template["spec"]["volumes"].as_array_mut() {
                    list.retain(|vol| !claims.iter().any(|c| vol["name"] == json!(c)));
                }
                json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": self.metadata(name, Some(name)),
                       "spec": {"replicas": replicas, "serviceName": dns_name(name),
                                "selector": {"matchLabels": self.selector(name)}, "template": template,
                                "volumeClaimTemplates": self.claim_templates(s)}})
            }
            Workload::Deployment => {
                json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": self.metadata(name, Some(name)),
                       "spec": {"replicas": replicas, "selector": {"matchLabels": self.selector(name)}, "template": template}})
            }
        };
        self.objects.push(object);
        self.k8s_service(name, s, workload == Workload::StatefulSet);
    }

    /// The pod's labels: the selector, the networks it is on, and the service's labels that
    /// are valid label values (the others become annotations).
    fn pod_labels(&self, name: &str, s: &Service) -> Value {
        let mut labels: BTreeMap<String, String> = BTreeMap::new();
        labels.insert(NAME.into(), dns_name(name));
        labels.insert(PART_OF.into(), dns_name(&self.project.name));
        for network in self.networks_of(s) {
            labels.insert(network_label(&network), "true".into());
        }
        for (k, v) in &s.labels {
            if valid_label(k, v) {
                labels.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        json!(labels)
    }

    fn annotations(&self, s: &Service) -> Option<Value> {
        let mut out: BTreeMap<String, String> = s.annotations.clone();
        for (k, v) in &s.labels {
            if !valid_label(k, v) {
                out.insert(k.clone(), v.clone());
            }
        }
        (!out.is_empty()).then(|| json!(out))
    }

    /// The Compose networks a service is on (`default` when it names none).
    fn networks_of(&self, s: &Service) -> Vec<String> {
        if s.network_mode.is_some() {
            return Vec::new();
        }
        match s.networks.is_empty() {
            true => vec!["default".to_string()],
            false => s.networks.keys().cloned().collect(),
        }
    }

    fn image(&self, name: &str, s: &Service) -> String {
        match (&s.image, &s.build) {
            (Some(image), None) => image.clone(),
            (Some(image), Some(_)) => format!("{}{image}", self.opts.image_prefix.as_deref().unwrap_or("")),
            (None, _) => format!("{}{}-{name}", self.opts.image_prefix.as_deref().unwrap_or(""), self.project.name),
        }
    }

    fn pod(&mut self, name: &str, s: &Service) -> Value {
        let mut container = json!({"name": dns_name(name), "image": self.image(name, s)});
        if let Some(e) = s.entrypoint.as_ref().filter(|e| !e.is_empty()) {
            container["command"] = json!(e);
        }
        if let Some(c) = s.command.as_ref().filter(|c| !c.is_empty()) {
            container["args"] = json!(c);
        }
        if let Some(w) = &s.working_dir {
            container["workingDir"] = json!(w);
        }
        let env: Vec<Value> =
            s.environment.iter().filter_map(|(k, v)| Some(json!({"name": k, "value": v.as_ref()?}))).collect();
        if !env.is_empty() {
            container["env"] = json!(env);
        }
        let ports = container_ports(s);
        if !ports.is_empty() {
            container["ports"] = json!(ports);
        }
        if s.tty {
            container["tty"] = json!(true);
        }
        if s.stdin_open {
            container["stdin"] = json!(true);
        }
        if let Some(security) = self.container_security(name, s) {
            container["securityContext"] = security;
        }
        if let Some(resources) = resources(s) {
            container["resources"] = resources;
        }
        self.probes(s, &mut container);
        let mut pod = json!({});
        let (volumes, mounts) = self.volumes(name, s);
        if !mounts.is_empty() {
            container["volumeMounts"] = json!(mounts);
        }
        if !volumes.is_empty() {
            pod["volumes"] = json!(volumes);
        }
        let init = self.waits(name, s);
        if !init.is_empty() {
            pod["initContainers"] = json!(init);
        }
        if s.depends_on.values().any(|d| d.condition == Condition::ServiceCompletedSuccessfully) {
            pod["serviceAccountName"] = json!(self.waiter_name());
        }
        pod["containers"] = json!([container]);
        if let Some(grace) = &s.stop_grace_period {
            pod["terminationGracePeriodSeconds"] = json!(grace.0.as_secs());
        }
        self.pod_security(name, s, &mut pod);
        self.host_modes(name, s, &mut pod);
        self.host_details(name, s, &mut pod);
        self.left_out(name, s);
        pod
    }

    fn container_security(&mut self, name: &str, s: &Service) -> Option<Value> {
        let mut sc = serde_json::Map::new();
        if s.privileged {
            sc.insert("privileged".into(), json!(true));
        }
        if s.read_only {
            sc.insert("readOnlyRootFilesystem".into(), json!(true));
        }
        let caps = |list: &[String]| -> Vec<String> {
            list.iter().map(|c| c.trim_start_matches("CAP_").to_uppercase()).collect()
        };
        let mut capabilities = serde_json::Map::new();
        if !s.cap_add.is_empty() {
            capabilities.insert("add".into(), json!(caps(&s.cap_add)));
        }
        if !s.cap_drop.is_empty() {
            capabilities.insert("drop".into(), json!(caps(&s.cap_drop)));
        }
        if !capabilities.is_empty() {
            sc.insert("capabilities".into(), Value::Object(capabilities));
        }
        if let Some(user) = &s.user {
            let (u, g) = user.split_once(':').map_or((user.as_str(), None), |(u, g)| (u, Some(g)));
            match u.parse::<i64>() {
                Ok(uid) => {
                    sc.insert("runAsUser".into(), json!(uid));
                }
                Err(_) => {
                    self.warn(name, format!("user {u:?} is a name: Kubernetes runs as a number, left to the image"))
                }
            }
            match g.map(str::parse::<i64>) {
                Some(Ok(gid)) => {
                    sc.insert("runAsGroup".into(), json!(gid));
                }
                Some(Err(_)) => self.warn(name, format!("group {:?} is a name: left to the image", g.unwrap_or(""))),
                None => {}
            }
        }
        (!sc.is_empty()).then_some(Value::Object(sc))
    }

    fn pod_security(&mut self, name: &str, s: &Service, pod: &mut Value) {
        let mut sc = serde_json::Map::new();
        let mut groups = Vec::new();
        for g in &s.group_add {
            match g.parse::<i64>() {
                Ok(n) => groups.push(n),
                Err(_) => self.warn(name, format!("group_add {g:?} is a name: Kubernetes takes numbers, left out")),
            }
        }
        if !groups.is_empty() {
            sc.insert("supplementalGroups".into(), json!(groups));
        }
        let sysctls: Vec<Value> = s.sysctls.iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
        if !sysctls.is_empty() {
            sc.insert("sysctls".into(), json!(sysctls));
        }
        if !sc.is_empty() {
            pod["securityContext"] = Value::Object(sc);
        }
    }

    /// `network_mode`, `pid`, `ipc` and devices: what a pod can say of them.
    fn host_modes(&mut self, name: &str, s: &Service, pod: &mut Value) {
        match s.network_mode.as_deref() {
            Some("host") => {
                pod["hostNetwork"] = json!(true);
                if !s.ports.is_empty() {
                    self.warn(name, "network_mode: host with ports: the ports are the node's, published as they are");
                }
            }
            Some("none") | Some("bridge") | None => {}
            Some(other) => self.warn(
                name,
                format!("network_mode {other}: a pod shares its network only with its own containers; left out"),
            ),
        }
        match s.pid.as_deref() {
            Some("host") => {
                pod["hostPID"] = json!(true);
                self.warn(name, "pid: host sees every process of the node (hostPID)");
            }
            Some(other) => {
                self.warn(name, format!("pid {other}: pods do not share process namespaces with others; left out"))
            }
            None => {}
        }
        if !s.devices.is_empty() {
            self.warn(name, "devices cannot be given to a pod without a device plugin; left out");
        }
    }

    fn probes(&self, s: &Service, container: &mut Value) {
        let Some(h) = s.healthcheck.as_ref().filter(|h| !h.disable) else { return };
        let command: Vec<String> = match h.test.first().map(String::as_str) {
            Some("CMD") => h.test[1..].to_vec(),
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), h.test[1..].join(" ")],
            _ => return,
        };
        let secs = |d: &Option<berth_compose::model::types::Duration>, default: u64| {
            d.as_ref().map_or(default, |d| d.0.as_secs().max(1))
        };
        let period = secs(&h.interval, 30);
        let probe = json!({"exec": {"command": command}, "periodSeconds": period,
                           "timeoutSeconds": secs(&h.timeout, 30), "failureThreshold": h.retries.unwrap_or(3).max(1)});
        container["readinessProbe"] = probe.clone();
        container["livenessProbe"] = probe.clone();
        if let Some(start) = &h.start_period {
            let every = secs(&h.start_interval, 5).min(period);
            let mut startup = probe;
            startup["periodSeconds"] = json!(every);
            startup["failureThreshold"] = json!(start.0.as_secs().div_ceil(every).max(1) + h.retries.unwrap_or(3));
            container["startupProbe"] = startup;
        }
    }

    /// Init containers that wait for what the service depends on.
    fn waits(&mut self, name: &str, s: &Service) -> Vec<Value> {
        let mut out = Vec::new();
        for (dep, d) in &s.depends_on {
            if !self.project.services.contains_key(dep) {
                continue;
            }
            let container = match d.condition {
                Condition::ServiceCompletedSuccessfully => json!({
                    "name": dns_name(&format!("wait-for-{dep}")), "image": KUBECTL_IMAGE,
                    "command": ["kubectl", "wait", "--for=condition=complete", format!("job/{}", dns_name(dep)), "--timeout=-1s"],
                }),
                // A Service answers by name only for pods that are ready (their readiness probe
                // is the healthcheck): the name resolving is the condition.
                _ => json!({
                    "name": dns_name(&format!("wait-for-{dep}")), "image": WAIT_IMAGE,
                    "command": ["sh", "-c", format!("until nslookup {0} >/dev/null 2>&1; do echo waiting for {0}; sleep 2; done", dns_name(dep))],
                }),
            };
            if !d.required {
                self.warn(name, format!("the optional dependency on {dep} is waited for like a required one"));
            }
            out.push(container);
        }
        out
    }

    fn waiter_name(&self) -> String {
        dns_name(&format!("{}-waiter", self.project.name))
    }

    /// The account the init containers that wait for Jobs run as, allowed to read Jobs.
    fn waiter_account(&mut self) {
        let name = self.waiter_name();
        let meta = self.metadata(&name, None);
        self.objects.push(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}));
        self.objects.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta,
            "rules": [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["get", "list", "watch"]}]}));
        let mut subject = json!({"kind": "ServiceAccount", "name": name});
        if let Some(ns) = &self.opts.namespace {
            subject["namespace"] = json!(ns);
        }
        self.objects.push(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name}, "subjects": [subject]}));
    }
}

mod parts;
use parts::{container_ports, resources, valid_label};

#[cfg(test)]
mod tests;
