//! What `up` checks before it changes anything: the services' definitions against each other
//! (two asking for one host port) and against the host (a port another program holds).

use berth_compose::Project;
use berth_network::ports::{self, PortBinding};

use super::*;
use crate::container::store::Container;
use crate::store::Store;

/// Checks what can be checked before anything is pulled or created: every attribute the
/// selected services set (`support`: it runs, or it is refused by name, or it warns), their
/// mounts and published ports, and the definitions of the volumes they use. A mistake in the
/// file names the service or volume it is in, and leaves nothing half made.
pub fn check(store: &Store, project: &Project, services: &[String]) -> Result<()> {
    for name in services {
        for warning in super::support::check(&project.services[name]).map_err(|e| service_error(name, e))? {
            tracing::warn!("service {name}: {warning}");
        }
        // Seccomp profile files, read where they are (relative to the project).
        for option in &project.services[name].security_opt {
            crate::container::seccomp::inline(option, &project.working_dir).map_err(|e| service_error(name, e))?;
        }
    }
    let published = check_definitions(project, services)?;
    check_host_ports(store, project, &published)
}

/// The part of [`check`] that needs only the project: mounts, ports (two services publishing
/// one host port are refused, naming both) and volume definitions. Returns what each service
/// publishes.
pub(super) fn check_definitions<'a>(project: &Project, services: &'a [String]) -> Result<Vec<(&'a str, PortBinding)>> {
    let mut published: Vec<(&str, PortBinding)> = Vec::new();
    for name in services {
        for b in port_bindings(name, &project.services[name])? {
            if let Some((other, _)) = published.iter().find(|(_, p)| ports::overlaps(p, &b)) {
                return Err(ProjectError::Conflict(format!(
                    "services {other} and {name} both publish host port {}/{}{}",
                    b.host_port,
                    b.protocol,
                    b.host_ip.map_or(String::new(), |ip| format!(" on {ip}"))
                )));
            }
            published.push((name, b));
        }
    }
    for name in services {
        let service = &project.services[name];
        super::files::files_of(project, name, service)?;
        for m in mounts_of(project, name, service)? {
            berth_volumes::mount::check(&m).map_err(|e| service_error(name, e))?;
        }
        for key in service.volumes.iter().filter(|v| v.kind == "volume").filter_map(|v| v.source.as_ref()) {
            let Some(definition) = project.volumes.get(key).filter(|v| !v.external) else { continue };
            let volume = volume_name(project, key).unwrap_or_default();
            let driver = definition.driver.as_deref().unwrap_or("local");
            berth_volumes::store::check_options(&volume, driver, &definition.driver_opts)
                .map_err(|e| ProjectError::Volume { volume: key.clone(), message: e.to_string() })?;
        }
    }
    Ok(published)
}

/// Checks, before anything is created, that the fixed host ports services publish are free:
/// not published by a running container other than the service's own (which `up` keeps or
/// replaces), and not held by a program on the host.
fn check_host_ports(store: &Store, project: &Project, published: &[(&str, PortBinding)]) -> Result<()> {
    let fixed: Vec<&(&str, PortBinding)> = published.iter().filter(|(_, b)| b.host_port != 0).collect();
    if fixed.is_empty() {
        return Ok(());
    }
    let live: Vec<Container> =
        store.list_containers().map_err(other)?.into_iter().filter(crate::container::remove::is_live).collect();
    for (name, b) in fixed {
        let owner = live.iter().find(|c| c.config.network.ports.iter().any(|p| ports::overlaps(p, b)));
        match owner {
            Some(c) if project_of(c) == project.name && service_of(c) == *name => continue,
            Some(c) => {
                return Err(service_error(
                    name,
                    format!(
                        "cannot publish port {}/{}: container {} already publishes it",
                        b.host_port, b.protocol, c.config.name
                    ),
                ));
            }
            None => ports::check_free(b).map_err(|e| service_error(name, e))?,
        }
    }
    Ok(())
}
