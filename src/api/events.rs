//! `GET /events`: containers' state changes as they happen (created, started, died, health,
//! destroyed...), in Docker's message shape, until the client goes or `until` passes. What
//! the service itself does is told at once through its bus, so a container that lives less
//! than one look (`run --rm true`) is not missed; the rest (the command line's doing, restarts
//! by a shim, health) is seen by looking at the containers every 100 ms. `since` replays the
//! service's own events it still keeps (the last 256); the looks' are told only as they come.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use berth_engine::container::RestartPolicy;
use berth_engine::container::store::Container;

use super::Service;
use super::http::{ApiError, Call, Reply, streamed};
use crate::commands::compose::events::{Seen, changes, engine_event, engine_event_at, now_nanos, wanted};
use crate::commands::filter::KeyFilters;

/// How many of its own events the service keeps for the streams still to read them (each
/// stream reads them every 100 ms at most).
const KEPT: usize = 256;

/// One of the service's own events: its number, the container and the action.
type Posted = (u64, Container, String);

/// When each kept event happened (nanoseconds since the epoch), by number.
type Times = VecDeque<(u64, u128)>;

/// The service's own events, numbered.
#[derive(Default)]
pub struct Bus {
    /// The last number given, and the events kept.
    events: Mutex<(u64, VecDeque<Posted>)>,
    times: Mutex<Times>,
    posted: Condvar,
}

impl Bus {
    /// Tells the streams that `action` happened to `c`.
    pub fn post(&self, c: &Container, action: &str) {
        let mut guard = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let (next, list) = &mut *guard;
        // A container goes once, whoever says so first (its `--rm` shim, or a removal).
        if action == "destroy" && list.iter().any(|(_, seen, a)| a == "destroy" && seen.config.id == c.config.id) {
            return;
        }
        *next += 1;
        list.push_back((*next, c.clone(), action.to_string()));
        let mut times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        times.push_back((*next, now_nanos()));
        while list.len() > KEPT {
            list.pop_front();
            times.pop_front();
        }
        self.posted.notify_all();
    }

    /// The kept events that happened at or after `since` (nanoseconds), with their times.
    fn since(&self, since: u128) -> Vec<(Posted, u128)> {
        let list = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let times = self.times.lock().unwrap_or_else(|e| e.into_inner());
        list.1.iter().zip(times.iter()).filter(|(_, (_, t))| *t >= since).map(|(p, (_, t))| (p.clone(), *t)).collect()
    }

    /// The last event's number.
    fn last(&self) -> u64 {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).0
    }

    /// The events after `after`, waiting up to `limit` for one.
    fn after(&self, after: u64, limit: Duration) -> Vec<Posted> {
        let guard = self.events.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) =
            self.posted.wait_timeout_while(guard, limit, |(next, _)| *next <= after).unwrap_or_else(|e| e.into_inner());
        guard.1.iter().filter(|(n, _, _)| *n > after).cloned().collect()
    }
}

pub fn events(service: &std::sync::Arc<Service>, call: &Call) -> Result<Reply, ApiError> {
    let filters = KeyFilters::parse(&call.filters()?, &["container", "event", "image", "label", "type"])
        .map_err(|e| ApiError::bad(e.to_string()))?;
    let until = call.query("until").filter(|u| !u.is_empty()).map(super::streams::docker_time).transpose()?;
    let since = call.query("since").filter(|s| !s.is_empty()).map(nanos_of).transpose()?;
    let store = crate::engine::store()?;
    // The records, which the shims keep: asking every shim ten times a second would cost more
    // than it tells.
    let read = move || -> BTreeMap<String, Seen> {
        store
            .list_containers()
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.config.id.clone(), (c.state.status, c.state.health.as_ref().map(|h| h.status), c)))
            .collect()
    };
    let service = service.clone();
    Ok(streamed("application/json", move |tx| {
        let mut seen = read();
        let mut read_up_to = service.events.last();
        let mut merged = Merge::default();
        // What the service did since `since` (and before `until`), as it happened.
        let until_nanos = until.as_deref().and_then(|u| nanos_of(u).ok());
        for ((n, c, action), at) in since.map(|s| service.events.since(s)).unwrap_or_default() {
            read_up_to = read_up_to.max(n);
            merged.told(&c, &action);
            if until_nanos.is_some_and(|u| at > u) {
                continue;
            }
            if wanted(&filters, &c, &action) && !tx.json(&engine_event_at(&c, &action, at)) {
                return;
            }
        }
        let mut held: Vec<(Container, String)> = Vec::new();
        while until.as_deref().is_none_or(|u| berth_engine::time::now_nanos().as_str() < u) && !tx.closed() {
            let mut out = Vec::new();
            for (n, c, action) in service.events.after(read_up_to, Duration::from_millis(100)) {
                read_up_to = n;
                merged.told(&c, &action);
                out.push((c, action));
            }
            // The last look's changes, now that the bus has told what it knew of them.
            for (c, action) in held.drain(..) {
                if merged.new_to_stream(&c, &action, service.exits.pending(&c.config.id)) {
                    out.push((c, action));
                }
            }
            for (c, action) in out {
                if wanted(&filters, &c, &action) && !tx.json(&engine_event(&c, &action)) {
                    return;
                }
            }
            let now = read();
            held = changes(&seen, &now).into_iter().map(|(c, a)| (c.clone(), a)).collect();
            seen = now;
        }
    }))
}

/// A time as Docker's clients send it (Unix seconds with a fraction, RFC 3339, a duration
/// back), in nanoseconds since the epoch.
fn nanos_of(value: &str) -> Result<u128, ApiError> {
    let text = super::streams::docker_time(value)?;
    let secs = crate::output::parse_rfc3339(&text).ok_or_else(|| ApiError::bad(format!("invalid time {value:?}")))?;
    let frac: String = text.split_once('.').map(|(_, f)| f.trim_end_matches('Z').to_string()).unwrap_or_default();
    let nanos: u128 = format!("{frac:0<9}").get(..9).and_then(|f| f.parse().ok()).unwrap_or(0);
    Ok(secs.max(0) as u128 * 1_000_000_000 + nanos)
}

/// Which of the looks' changes a stream still has to tell, given what the bus told it.
#[derive(Default)]
struct Merge {
    /// Containers the bus has told of.
    known: HashSet<String>,
    /// What the bus told, each kept until the look that sees it too.
    said: HashSet<(String, String)>,
}

impl Merge {
    fn told(&mut self, c: &Container, action: &str) {
        self.known.insert(c.config.id.clone());
        self.said.insert((c.config.id.clone(), action.to_string()));
    }

    /// `pending`: a watcher of the service will tell this container's exit (and, for a
    /// `--rm` one, its removal); it does for containers without a restart policy, whose
    /// shims end with them. A shim that restarts its container is the looks' to tell.
    fn new_to_stream(&mut self, c: &Container, action: &str, pending: bool) -> bool {
        let id = &c.config.id;
        if self.said.remove(&(id.clone(), action.to_string())) {
            return false;
        }
        let watched = pending && self.known.contains(id) && c.config.restart == RestartPolicy::No;
        !(watched && matches!(action, "die" | "destroy"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(id: &str) -> Container {
        let config = berth_engine::container::ContainerConfig { id: id.into(), name: id.into(), ..Default::default() };
        Container {
            config,
            state: Default::default(),
            dir: berth_engine::container::dir::ContainerDir::new("/nonexistent".into()),
        }
    }

    #[test]
    fn what_the_bus_told_is_not_told_again_by_the_looks() {
        let (mine, theirs) = (container("mine"), container("theirs"));
        let mut m = Merge::default();
        for action in ["create", "start"] {
            m.told(&mine, action);
        }
        // The look sees the same create and start: already told, once each.
        assert!(!m.new_to_stream(&mine, "create", false));
        assert!(!m.new_to_stream(&mine, "start", false));
        // A start the bus did not tell (a shim's restart) and health are the looks' to tell.
        assert!(m.new_to_stream(&mine, "start", false));
        assert!(m.new_to_stream(&mine, "health_status: healthy", false));
        // The exit is the watcher's while one waits for it; after, a removal by the command
        // line is the looks' to tell.
        assert!(!m.new_to_stream(&mine, "die", true));
        assert!(m.new_to_stream(&mine, "destroy", false));
        // A container with a restart policy: its shim's restarts and exits are the looks'.
        let mut always = container("always");
        always.config.restart = RestartPolicy::Always;
        m.told(&always, "start");
        assert!(m.new_to_stream(&always, "die", true));
        // A container the bus never told of is the looks' alone.
        for action in ["create", "start", "die", "destroy"] {
            assert!(m.new_to_stream(&theirs, action, true), "{action}");
        }
    }

    #[test]
    fn the_bus_keeps_the_last_events_and_tells_a_destroy_once() {
        let bus = Bus::default();
        let c = container("c");
        for _ in 0..(KEPT + 10) {
            bus.post(&c, "start");
        }
        bus.post(&c, "destroy");
        bus.post(&c, "destroy");
        let all = bus.after(0, Duration::ZERO);
        assert_eq!(all.len(), KEPT);
        assert_eq!(all.iter().filter(|(_, _, a)| a == "destroy").count(), 1);
        assert_eq!(bus.after(bus.last(), Duration::from_millis(1)).len(), 0);
    }
}
