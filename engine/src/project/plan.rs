//! What `up` changes, decided as data: [`plan`] compares the services as the file has them
//! with the containers there are, and returns the steps that make one match the other. It
//! reads nothing and changes nothing, so every rule is a unit test below; `converge` carries
//! the steps out.

use std::collections::BTreeMap;

/// One service as the file wants it, in start order.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub service: String,
    /// `com.docker.compose.config-hash` of its configuration now.
    pub hash: String,
    /// The image ID its image name resolves to now.
    pub image_id: String,
    pub replicas: u64,
}

/// One container of the project as it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u64,
    pub hash: Option<String>,
    pub image_id: String,
    /// A container of `run SERVICE`: never touched by `up`.
    pub oneoff: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PlanOptions {
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub remove_orphans: bool,
}

/// Why a container is replaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Why {
    Forced,
    ConfigChanged,
    ImageChanged,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Containers of services the file no longer has, left alone (`--remove-orphans` not given).
    WarnOrphans(Vec<String>),
    /// Stop and remove a container of a service the file no longer has.
    RemoveOrphan { id: String },
    /// Stop and remove a replica beyond the service's count (scaling down).
    ScaleDown { service: String, id: String },
    /// Stop and remove a replica whose configuration or image changed; its replacement (the
    /// [`Step::Create`] of the same number that follows) gets its anonymous volumes.
    Recreate { service: String, number: u64, id: String, why: Why },
    /// Create replica `number` of the service.
    Create { service: String, number: u64 },
}

/// The steps that take the project's containers (`observed`) to what the file asks:
/// `desired` are the services worked on, in start order, out of `known`, every service the
/// file has. Containers of services the file no longer has (orphans) come first; containers
/// of known services outside the selection are left alone. Then each service in order:
/// replicas beyond the count go, stale ones are replaced, missing numbers created.
pub fn plan(desired: &[Desired], known: &[&str], observed: &[Observed], opts: PlanOptions) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut by_service: BTreeMap<&str, Vec<&Observed>> = BTreeMap::new();
    for c in observed.iter().filter(|c| !c.oneoff) {
        by_service.entry(c.service.as_str()).or_default().push(c);
    }
    for list in by_service.values_mut() {
        list.sort_by_key(|c| c.number);
    }
    let orphans: Vec<&Observed> = by_service
        .iter()
        .filter(|(service, _)| !known.contains(service))
        .flat_map(|(_, cs)| cs.iter().copied())
        .collect();
    if !orphans.is_empty() {
        if opts.remove_orphans {
            steps.extend(orphans.iter().map(|c| Step::RemoveOrphan { id: c.id.clone() }));
        } else {
            steps.push(Step::WarnOrphans(orphans.iter().map(|c| c.name.clone()).collect()));
        }
    }
    for d in desired {
        let have = by_service.get(d.service.as_str()).cloned().unwrap_or_default();
        let mut kept: Vec<u64> = Vec::new();
        for c in &have {
            let why = if opts.force_recreate {
                Some(Why::Forced)
            } else if c.hash.as_deref() != Some(d.hash.as_str()) {
                Some(Why::ConfigChanged)
            } else if c.image_id != d.image_id {
                Some(Why::ImageChanged)
            } else {
                None
            };
            if c.number > d.replicas {
                steps.push(Step::ScaleDown { service: d.service.clone(), id: c.id.clone() });
            } else if let Some(why) = why.filter(|w| *w == Why::Forced || !opts.no_recreate) {
                steps.push(Step::Recreate { service: d.service.clone(), number: c.number, id: c.id.clone(), why });
            } else {
                kept.push(c.number);
            }
        }
        for number in (1..=d.replicas).filter(|n| !kept.contains(n)) {
            steps.push(Step::Create { service: d.service.clone(), number });
        }
    }
    steps
}

/// Whether `up` pulls a service's image, by its pull policy (`--pull` given as `policy`
/// overrides the service's unless it is `missing`, as Docker Compose's does): `missing` is
/// the image's absence; `pulled` is when the image here was last pulled, for `daily`,
/// `weekly` and `every_<duration>`; `now` in the same seconds. `never` without the image is
/// an error, as is a policy that is none of these.
pub fn should_pull(policy: &str, missing: bool, pulled: Option<u64>, now: u64) -> Result<bool, String> {
    let older_than = |secs: u64| missing || pulled.is_none_or(|at| now.saturating_sub(at) >= secs);
    match policy {
        // refresh: pull when the registry has a newer image; a pull of an image whose
        // manifest is unchanged fetches the manifest alone.
        "always" | "refresh" => Ok(true),
        "missing" | "if_not_present" => Ok(missing),
        // A service that has a build section is built instead; one without is pulled if missing.
        "build" => Ok(missing),
        "never" if missing => Err("its image is not here and the pull policy is never".into()),
        "never" => Ok(false),
        "daily" => Ok(older_than(24 * 3600)),
        "weekly" => Ok(older_than(7 * 24 * 3600)),
        other => match other.strip_prefix("every_").map(berth_compose::model::types::Duration::parse) {
            Some(Ok(d)) if !d.0.is_zero() => Ok(older_than(d.0.as_secs().max(1))),
            _ => Err(format!(
                "invalid pull policy {other:?}: use always, missing, never, build, refresh, daily, weekly or every_<duration>"
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies() {
        let day = 24 * 3600;
        let now = 100 * day;
        assert_eq!(should_pull("always", false, Some(now), now), Ok(true));
        assert_eq!(should_pull("refresh", false, Some(now), now), Ok(true));
        assert_eq!(should_pull("missing", false, None, now), Ok(false));
        assert_eq!(should_pull("if_not_present", true, None, now), Ok(true));
        assert_eq!(should_pull("never", false, None, now), Ok(false));
        assert!(should_pull("never", true, None, now).is_err());
        assert_eq!(should_pull("daily", false, Some(now - day + 60), now), Ok(false), "pulled within the day");
        assert_eq!(should_pull("daily", false, Some(now - day), now), Ok(true));
        assert_eq!(should_pull("daily", false, None, now), Ok(true), "never pulled here (imported, built)");
        assert_eq!(should_pull("weekly", false, Some(now - 6 * day), now), Ok(false));
        assert_eq!(should_pull("every_12h", false, Some(now - 13 * 3600), now), Ok(true));
        assert_eq!(should_pull("every_12h", false, Some(now - 11 * 3600), now), Ok(false));
        assert_eq!(should_pull("every_1h30m", true, Some(now), now), Ok(true), "a missing image is pulled");
        assert!(should_pull("every_", false, None, now).is_err());
        assert!(should_pull("hourly", false, None, now).expect_err("refused").contains("every_<duration>"));
    }

    fn want(service: &str, replicas: u64) -> Desired {
        Desired { service: service.into(), hash: format!("h-{service}"), image_id: "img".into(), replicas }
    }

    fn have(service: &str, number: u64) -> Observed {
        Observed {
            id: format!("{service}{number}"),
            name: format!("p-{service}-{number}"),
            service: service.into(),
            number,
            hash: Some(format!("h-{service}")),
            image_id: "img".into(),
            oneoff: false,
        }
    }

    /// Plans with every desired service known to the file, and `old` too (not an orphan).
    fn plan_all(desired: &[Desired], observed: &[Observed], opts: PlanOptions) -> Vec<Step> {
        let known: Vec<&str> = desired.iter().map(|d| d.service.as_str()).collect();
        plan(desired, &known, observed, opts)
    }

    fn create(service: &str, number: u64) -> Step {
        Step::Create { service: service.into(), number }
    }

    #[test]
    fn a_new_project_creates_every_replica_in_start_order() {
        let steps = plan_all(&[want("db", 1), want("web", 2)], &[], PlanOptions::default());
        assert_eq!(steps, vec![create("db", 1), create("web", 1), create("web", 2)]);
    }

    #[test]
    fn nothing_changed_is_nothing_to_do() {
        let steps = plan_all(
            &[want("db", 1), want("web", 2)],
            &[have("db", 1), have("web", 1), have("web", 2)],
            PlanOptions::default(),
        );
        assert_eq!(steps, vec![]);
    }

    #[test]
    fn a_changed_configuration_or_image_recreates() {
        let mut stale = have("web", 1);
        stale.hash = Some("old".into());
        let mut rebuilt = have("db", 1);
        rebuilt.image_id = "older".into();
        let steps = plan_all(&[want("db", 1), want("web", 1)], &[stale, rebuilt], PlanOptions::default());
        assert_eq!(
            steps,
            vec![
                Step::Recreate { service: "db".into(), number: 1, id: "db1".into(), why: Why::ImageChanged },
                create("db", 1),
                Step::Recreate { service: "web".into(), number: 1, id: "web1".into(), why: Why::ConfigChanged },
                create("web", 1),
            ]
        );
    }

    #[test]
    fn force_recreate_replaces_even_what_is_current() {
        let opts = PlanOptions { force_recreate: true, ..Default::default() };
        let steps = plan_all(&[want("web", 1)], &[have("web", 1)], opts);
        assert_eq!(
            steps,
            vec![
                Step::Recreate { service: "web".into(), number: 1, id: "web1".into(), why: Why::Forced },
                create("web", 1)
            ]
        );
    }

    #[test]
    fn no_recreate_keeps_a_stale_container() {
        let mut stale = have("web", 1);
        stale.hash = Some("old".into());
        let opts = PlanOptions { no_recreate: true, ..Default::default() };
        assert_eq!(plan_all(&[want("web", 1)], &[stale], opts), vec![]);
    }

    #[test]
    fn scaling_up_adds_the_missing_numbers_and_down_removes_the_highest() {
        let up = plan_all(&[want("web", 3)], &[have("web", 1)], PlanOptions::default());
        assert_eq!(up, vec![create("web", 2), create("web", 3)]);
        let down =
            plan_all(&[want("web", 1)], &[have("web", 1), have("web", 2), have("web", 3)], PlanOptions::default());
        assert_eq!(
            down,
            vec![
                Step::ScaleDown { service: "web".into(), id: "web2".into() },
                Step::ScaleDown { service: "web".into(), id: "web3".into() },
            ]
        );
        // A gap left by a removed replica is filled.
        let gap = plan_all(&[want("web", 2)], &[have("web", 2)], PlanOptions::default());
        assert_eq!(gap, vec![create("web", 1)]);
    }

    #[test]
    fn orphans_are_warned_about_or_removed_first() {
        let observed = [have("old", 1), have("web", 1)];
        let warned = plan_all(&[want("web", 1)], &observed, PlanOptions::default());
        assert_eq!(warned, vec![Step::WarnOrphans(vec!["p-old-1".into()])]);
        let opts = PlanOptions { remove_orphans: true, ..Default::default() };
        assert_eq!(plan_all(&[want("web", 1)], &observed, opts), vec![Step::RemoveOrphan { id: "old1".into() }]);
    }

    #[test]
    fn one_off_containers_are_left_alone() {
        let mut run = have("web", 0);
        run.oneoff = true;
        let mut gone = have("old", 0);
        gone.oneoff = true;
        let steps = plan_all(
            &[want("web", 1)],
            &[run, gone, have("web", 1)],
            PlanOptions { force_recreate: false, ..Default::default() },
        );
        assert_eq!(steps, vec![]);
    }

    #[test]
    fn a_selection_leaves_the_other_services_alone() {
        let mut stale_db = have("db", 1);
        stale_db.hash = Some("old".into());
        let observed = [stale_db, have("old", 1)];
        let opts = PlanOptions { remove_orphans: true, ..Default::default() };
        let steps = plan(&[want("web", 1)], &["db", "web"], &observed, opts);
        // db is stale but not selected: untouched, and not an orphan either.
        assert_eq!(steps, vec![Step::RemoveOrphan { id: "old1".into() }, create("web", 1)]);
    }
}
