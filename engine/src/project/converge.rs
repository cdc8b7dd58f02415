//! `up`'s changes to the containers: the networks and volumes first, then the steps of
//! [`super::plan`], carried out in order, with the records they make kept in hand.

use std::collections::BTreeMap;

use berth_compose::{Graph, Project};
use berth_volumes::mount::MountKind;

use super::*;
use crate::container::create::{self};
use crate::container::store::Container;
use crate::labels;
use crate::network::{self, NetworkOptions};
use crate::store::Store;

/// Creates the networks and volumes the services use (external ones must exist).
pub fn ensure_resources(store: &Store, project: &Project, services: &[String], report: &dyn Report) -> Result<()> {
    let mut networks: Vec<&String> = Vec::new();
    let mut volumes: Vec<&String> = Vec::new();
    for name in services {
        let s = &project.services[name];
        if s.network_mode.is_none() {
            if s.networks.is_empty() && project.networks.contains_key("default") {
                networks.extend(project.networks.keys().filter(|k| *k == "default"));
            }
            networks.extend(s.networks.keys());
        }
        volumes.extend(s.volumes.iter().filter(|v| v.kind == "volume").filter_map(|v| v.source.as_ref()));
    }
    networks.sort();
    networks.dedup();
    volumes.sort();
    volumes.dedup();
    for key in networks {
        let Some(n) = project.networks.get(key) else { continue };
        let name = network_name(project, key);
        match network::find(store, &name) {
            Ok(_) => continue,
            Err(network::NetworkError::NotFound(_)) if n.external => {
                return Err(service_error(
                    key,
                    format!("external network {name} not found; create it with berth network create"),
                ));
            }
            Err(network::NetworkError::NotFound(_)) => {}
            Err(e) => return Err(other(e)),
        }
        let pool = n.ipam.as_ref().and_then(|i| i.config.first());
        let parse = |text: Option<&String>, what: &str| -> Result<Option<berth_network::ipam::Subnet>> {
            text.map(|t| t.parse().map_err(|e| service_error(key, format!("{what}: {e}")))).transpose()
        };
        let mut labels = n.labels.clone();
        labels.insert(labels::PROJECT.into(), project.name.clone());
        labels.insert(labels::NETWORK.into(), key.clone());
        let opts = NetworkOptions {
            name: name.clone(),
            driver: n.driver.clone(),
            subnet: parse(pool.and_then(|p| p.subnet.as_ref()), "subnet")?,
            gateway: match pool.and_then(|p| p.gateway.as_deref()) {
                Some(g) => Some(g.parse().map_err(|_| service_error(key, format!("invalid gateway {g:?}")))?),
                None => None,
            },
            ip_range: parse(pool.and_then(|p| p.ip_range.as_ref()), "ip_range")?,
            internal: n.internal,
            attachable: n.attachable,
            enable_ipv6: n.enable_ipv6.unwrap_or(false),
            labels,
            options: n.driver_opts.clone(),
        };
        network::create(store, opts).map_err(|e| failed(format!("cannot create network {key}"), e))?;
        report.event("Network", &name, "Created");
    }
    for key in volumes {
        let Some(v) = project.volumes.get(key) else { continue };
        let name = volume_name(project, key).unwrap_or_default();
        let vs = crate::volume::volumes(store);
        if vs.get(&name).map_err(other)?.is_some() {
            continue;
        }
        if v.external {
            return Err(ProjectError::Volume {
                volume: key.clone(),
                message: format!("external volume {name} not found; create it with berth volume create"),
            });
        }
        let mut labels = v.labels.clone();
        labels.insert(labels::PROJECT.into(), project.name.clone());
        labels.insert(labels::VOLUME.into(), key.clone());
        crate::volume::create(store, &name, v.driver.as_deref(), labels, v.driver_opts.clone())
            .map_err(|e| ProjectError::Volume { volume: key.clone(), message: e.to_string() })?;
        report.event("Volume", &name, "Created");
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct UpOptions {
    pub services: Vec<String>,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub no_deps: bool,
    pub remove_orphans: bool,
    pub scale: BTreeMap<String, u64>,
    /// Recreate anonymous volumes instead of keeping their data (`-V`).
    pub renew_anon_volumes: bool,
    /// Grace period for containers `up` stops (recreation, scaling down).
    pub timeout: Option<u64>,
}

/// Creates, recreates and removes containers until every selected service has its replicas
/// with the current configuration. Returns the services worked on, in start order.
pub fn converge(store: &Store, project: &Project, opts: &UpOptions, report: &dyn Report) -> Result<Vec<String>> {
    let services = selected(project, &opts.services, opts.no_deps)?;
    let known: Vec<String> = Graph::new(project).start_order()?;
    let order: Vec<String> = known.iter().filter(|s| services.contains(s)).cloned().collect();
    // Every image is found before anything changes.
    let mut images = BTreeMap::new();
    let mut desired = Vec::new();
    for name in &order {
        let service = &project.services[name];
        let image = image_of(project, name, service)
            .ok_or_else(|| service_error(name, "has neither an image nor a build section"))?;
        let (_, record) = store
            .find_image(&image)
            .map_err(|_| ProjectError::NoImage { service: name.clone(), image: image.clone() })?;
        desired.push(plan::Desired {
            service: name.clone(),
            hash: super::files::config_hash(project, name, service)?,
            image_id: record.id.to_string(),
            replicas: replicas(service, name, &opts.scale),
        });
        images.insert(name.clone(), (image, record));
    }
    let current = containers(store, &project.name, false)?;
    let observed: Vec<plan::Observed> = current.iter().map(observed).collect();
    let known: Vec<&str> = known.iter().map(String::as_str).collect();
    let plan_options = plan::PlanOptions {
        force_recreate: opts.force_recreate,
        no_recreate: opts.no_recreate,
        remove_orphans: opts.remove_orphans,
    };
    let steps = plan::plan(&desired, &known, &observed, plan_options);
    // Dependents with `restart: true` on a service being recreated go down first and start
    // again after it (Docker Compose's dependency restarts).
    let recreated: Vec<String> = steps
        .iter()
        .filter_map(|s| if let plan::Step::Recreate { service, .. } = s { Some(service.clone()) } else { None })
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let dependents = berth_compose::graph::restart_dependents(project, &recreated);
    let running: Vec<Container> = current
        .iter()
        .filter(|c| dependents.contains(service_of(c)) && crate::container::store::is_live(c))
        .cloned()
        .collect();
    super::stop_containers(store, Some(project), &running, opts.timeout, report)?;
    let order: Vec<String> =
        known.iter().map(|s| s.to_string()).filter(|s| services.contains(s) || dependents.contains(s)).collect();
    let (orphan_steps, steps): (Vec<_>, Vec<_>) =
        steps.into_iter().partition(|s| matches!(s, plan::Step::WarnOrphans(_) | plan::Step::RemoveOrphan { .. }));
    let mut by_service: BTreeMap<String, Vec<Container>> = BTreeMap::new();
    for c in current {
        by_service.entry(service_of(&c).to_string()).or_default().push(c);
    }
    let mut apply = Apply { store, project, opts, report, images, by_service, carried: BTreeMap::new() };
    for step in &orphan_steps {
        apply.step(step)?;
    }
    ensure_resources(store, project, &services, report)?;
    let outcome = steps.iter().try_for_each(|step| apply.step(step));
    // The DNS server learns the new names once, before anything starts (and after a failure
    // half-way, so that the containers made so far are known when they start later).
    crate::network::sync_dns(store).map_err(other)?;
    outcome.map(|()| order)
}

/// What the planner needs to know of a container.
fn observed(c: &Container) -> plan::Observed {
    plan::Observed {
        id: c.config.id.clone(),
        name: c.config.name.clone(),
        service: service_of(c).to_string(),
        number: number_of(c),
        hash: c.config.labels.get(labels::CONFIG_HASH).cloned(),
        image_id: c.config.image_id.to_string(),
        oneoff: c.config.labels.get(labels::ONEOFF).map(String::as_str) == Some("True"),
    }
}

/// Carries out the steps of a plan, keeping the records it makes in hand (`by_service`, which
/// `create_options` reads for `volumes_from` and `network_mode: service:`).
struct Apply<'a> {
    store: &'a Store,
    project: &'a Project,
    opts: &'a UpOptions,
    report: &'a dyn Report,
    images: BTreeMap<String, (String, crate::store::ImageRecord)>,
    by_service: BTreeMap<String, Vec<Container>>,
    /// Anonymous volumes of recreated containers, by service and replica number, then target:
    /// the replacement gets them back, as Docker Compose does (`-V` renews them instead).
    carried: BTreeMap<(String, u64), BTreeMap<String, String>>,
}

impl Apply<'_> {
    fn step(&mut self, step: &plan::Step) -> Result<()> {
        use plan::Step;
        match step {
            Step::WarnOrphans(names) => self.report.warn(&format!(
                "Found orphan containers ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
                names.join(", ")
            )),
            Step::RemoveOrphan { id } => {
                let c = self.take(id);
                remove_container(self.store, &c, self.opts.timeout.unwrap_or(10), self.report)?;
            }
            Step::ScaleDown { id, .. } => {
                let c = self.take(id);
                remove_container(self.store, &c, self.opts.timeout.unwrap_or(c.config.stop_timeout), self.report)?;
            }
            Step::Recreate { service, number, id, .. } => {
                let c = self.take(id);
                self.report.event("Container", &c.config.name, "Recreate");
                remove_container(self.store, &c, self.opts.timeout.unwrap_or(c.config.stop_timeout), self.report)?;
                if self.opts.renew_anon_volumes {
                    remove_anonymous_volumes(self.store, &c);
                } else {
                    self.carried.insert((service.clone(), *number), anonymous_volumes(self.store, &c));
                }
            }
            Step::Create { service: name, number } => {
                let service = &self.project.services[name];
                let (image, record) = &self.images[name];
                let mut options = create_options(self.project, name, service, *number, &self.by_service)?;
                if let Some(volumes) = self.carried.get(&(name.clone(), *number)) {
                    reuse_anonymous_volumes(&mut options.mounts, volumes);
                }
                let config =
                    create::create_record(self.store, image, record, options)
                        .map_err(|e| failed(format!("cannot create a container of service {name}"), e))?;
                self.report.event("Container", &config.name, "Created");
                let dir = self.store.container_dir(&config.id);
                let replicas = self.by_service.entry(name.clone()).or_default();
                replicas.push(Container { config, state: Default::default(), dir });
                replicas.sort_by_key(number_of);
            }
        }
        Ok(())
    }

    /// Takes container `id` out of the records in hand (it is about to go).
    fn take(&mut self, id: &str) -> Container {
        for list in self.by_service.values_mut() {
            if let Some(pos) = list.iter().position(|c| c.config.id == id) {
                return list.remove(pos);
            }
        }
        unreachable!("the plan names only containers it was given")
    }
}

/// A container's anonymous volumes: mount target to volume name.
fn anonymous_volumes(store: &Store, c: &Container) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for m in c.config.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
        let Some(name) = &m.source else { continue };
        let anonymous = crate::volume::volumes(store)
            .get(name)
            .ok()
            .flatten()
            .is_some_and(|v| v.labels.contains_key(crate::volume::ANONYMOUS));
        if anonymous {
            out.insert(m.target.trim_end_matches('/').to_string(), name.clone());
        }
    }
    out
}

pub fn remove_anonymous_volumes(store: &Store, c: &Container) {
    for name in anonymous_volumes(store, c).values() {
        let _ = crate::volume::remove(store, name);
    }
}

/// Gives the anonymous volume mounts of a replacement container the volumes its predecessor
/// had at the same targets.
fn reuse_anonymous_volumes(mounts: &mut [crate::volume::Mount], volumes: &BTreeMap<String, String>) {
    for m in mounts.iter_mut().filter(|m| m.kind == MountKind::Volume && m.source.is_none()) {
        if let Some(name) = volumes.get(m.target.trim_end_matches('/')) {
            m.source = Some(name.clone());
        }
    }
}

/// Stops and removes one container of the project. The DNS records are left to the caller,
/// who syncs them once (`network::sync_dns`) after removing many.
pub(super) fn remove_container(store: &Store, c: &Container, timeout: u64, report: &dyn Report) -> Result<()> {
    let c = store.load_container(&c.config.id).map_err(other)?;
    if crate::container::remove::is_live(&c) {
        report.event("Container", &c.config.name, "Stopping");
        if let Err(e) = super::hooks::run(store, &c, "pre_stop", &c.config.pre_stop) {
            report.warn(&e);
        }
        crate::container::remove::stop(store, &c, timeout).map_err(other)?;
        report.event("Container", &c.config.name, "Stopped");
    }
    report.event("Container", &c.config.name, "Removing");
    let stopped = store.load_container(&c.config.id).map_err(other)?;
    crate::container::remove::remove_record(store, &stopped, true).map_err(other)?;
    report.event("Container", &c.config.name, "Removed");
    Ok(())
}
