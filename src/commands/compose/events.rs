//! `events` of a project: its containers' state changes as they happen.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use berth_engine::container::Status;
use berth_engine::container::store::Container;
use berth_engine::project;

use crate::commands::filter::{self, KeyFilters};
use crate::commands::scope::Scope;
use crate::engine;

/// `events [SERVICE...]`: the project's containers' state changes as they happen, one line
/// each (`--json`: one object each), until interrupted. Changes are seen by reading the
/// containers' states every 100 ms.
pub fn events(
    scope: &Scope,
    services: &[String],
    json: bool,
    filter: &[String],
    format: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let filters = KeyFilters::parse(filter, &["container", "event", "image", "label", "service", "type"])?;
    let template = format.filter(|t| *t != "json").map(crate::format::ObjectTemplate::parse).transpose()?;
    let json = json || format == Some("json");
    let (name, _) = scope.name()?;
    let store = engine::store()?;
    let read = || -> anyhow::Result<BTreeMap<String, Seen>> {
        Ok(project::containers(&store, &name, true)?
            .into_iter()
            .filter(|c| services.is_empty() || services.iter().any(|s| s == project::service_of(c)))
            .map(|c| (c.config.id.clone(), (c.state.status, c.state.health.as_ref().map(|h| h.status), c)))
            .collect())
    };
    let emit = |c: &Container, action: &str| {
        if !wanted(&filters, c, action) {
            return;
        }
        let time = berth_engine::time::now_nanos();
        let attributes = serde_json::json!({ "image": c.config.image, "name": c.config.name });
        if let Some(template) = &template {
            match template.render(&engine_event(c, action)) {
                Ok(line) => println!("{line}"),
                Err(e) => crate::output::print_error(&e),
            }
        } else if json {
            let event = serde_json::json!({
                "time": time, "type": "container", "action": action, "id": c.config.id,
                "service": project::service_of(c), "attributes": attributes,
            });
            println!("{event}");
        } else {
            println!("{time} container {action} {} (image={}, name={})", c.config.id, c.config.image, c.config.name);
        }
        let _ = std::io::Write::flush(&mut std::io::stdout());
    };
    let mut seen = read()?;
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = read()?;
        for (c, action) in changes(&seen, &now) {
            emit(c, &action);
        }
        seen = now;
    }
}

/// Whether the event `action` of `c` passes `--filter`s of events.
pub(crate) fn wanted(filters: &KeyFilters, c: &Container, action: &str) -> bool {
    filters.matches(|key, value| match key {
        "container" => c.config.name == value || c.config.id.starts_with(value),
        "event" => action == value || action.split(':').next() == Some(value),
        "image" => c.config.image == value,
        "label" => filter::label(&c.config.labels, value),
        "service" => project::service_of(c) == value,
        "type" => value == "container",
        _ => false,
    })
}

/// A container's state as last seen, for [`changes`].
pub(crate) type Seen = (Status, Option<berth_engine::container::HealthStatus>, Container);

/// The events between two looks at the containers (by ID): created, started, paused,
/// restarting, died, health changes, destroyed, as Docker names them.
pub(crate) fn changes<'a>(
    seen: &'a BTreeMap<String, Seen>,
    now: &'a BTreeMap<String, Seen>,
) -> Vec<(&'a Container, String)> {
    let mut out = Vec::new();
    for (id, (status, health, c)) in now {
        let before = seen.get(id);
        if before.is_none() {
            out.push((c, "create".to_string()));
        }
        let was = before.map(|b| b.0);
        if was != Some(*status) {
            let action = match status {
                Status::Running if was == Some(Status::Paused) => Some("unpause"),
                Status::Running => Some("start"),
                Status::Paused => Some("pause"),
                // Its shim restarts it after a back-off: the exit is what happened, as Docker
                // tells a restart by policy (die, then start).
                Status::Restarting if before.is_some() => Some("die"),
                Status::Exited | Status::Dead if before.is_some() && was != Some(Status::Restarting) => Some("die"),
                _ => None,
            };
            out.extend(action.map(|a| (c, a.to_string())));
        }
        if let Some(h) = health.filter(|h| before.and_then(|b| b.1) != Some(*h)) {
            out.push((c, format!("health_status: {h}")));
        }
    }
    for (id, (status, _, c)) in seen {
        if !now.contains_key(id) {
            // Stopped and removed between two looks: it died first.
            if matches!(status, Status::Running | Status::Paused | Status::Restarting) {
                out.push((c, "die".to_string()));
            }
            out.push((c, "destroy".to_string()));
        }
    }
    out
}

/// An event as Docker's engine describes it (`docker events --format` templates read these
/// fields: `{{.Action}}`, `{{.Actor.Attributes.name}}`...), with the service.
pub(crate) fn engine_event(c: &Container, action: &str) -> serde_json::Value {
    engine_event_at(c, action, now_nanos())
}

/// Nanoseconds since the epoch, now.
pub(crate) fn now_nanos() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

/// [`engine_event`] of something that happened at `nanos` since the epoch.
pub(crate) fn engine_event_at(c: &Container, action: &str, nanos: u128) -> serde_json::Value {
    let mut attributes: serde_json::Map<String, serde_json::Value> =
        c.config.labels.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
    attributes.insert("image".into(), c.config.image.clone().into());
    attributes.insert("name".into(), c.config.name.clone().into());
    serde_json::json!({
        "status": action, "id": c.config.id, "from": c.config.image, "Type": "container", "Action": action,
        "Actor": {"ID": c.config.id, "Attributes": attributes}, "scope": "local",
        "time": (nanos / 1_000_000_000) as u64, "timeNano": nanos as u64, "Service": project::service_of(c),
    })
}
