//! A container's cgroups from outside the runtime: killing what a dead shim left in them, and
//! getting the kernel's slow part of a cgroup migration out of the way early.
//!
//! Putting a process into a cgroup (writing its PID to `cgroup.procs`, as the runtime does for
//! every new container) takes a global lock, `cgroup_threadgroup_rwsem`. Unless the host
//! mounts its cgroups with `favordynmods`, taking it for writing first waits for an RCU grace
//! period: 6-15 ms on this machine, more than everything else a container start does. Once
//! taken, the lock stays cheap for a few tens of milliseconds. So a launch starts one harmless
//! migration at once (this process into the cgroup it is already in), and the container's own
//! migrations, a few milliseconds later, find the lock warm. Nothing changes hands: moving a
//! process to its own cgroup is a no-op, and a host that refuses the write loses nothing but
//! the head start.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The cgroup path of container `id` in every hierarchy, as the runtime spec names it: under
/// `parent` (`cgroup_parent`, from the root of each hierarchy as Docker's cgroupfs driver
/// takes it), else under `/berth`.
pub fn cgroups_path(parent: Option<&str>, id: &str) -> String {
    let parent = parent.map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()).unwrap_or("berth");
    format!("/{parent}/{id}")
}

/// The mount points of the cgroup hierarchies (v1 and v2) in a `/proc/self/mountinfo`.
fn hierarchies_in(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (mount, fs) = line.split_once(" - ")?;
            let point = mount.split(' ').nth(4)?;
            matches!(fs.split(' ').next()?, "cgroup" | "cgroup2").then(|| PathBuf::from(point))
        })
        .collect()
}

/// The host's cgroup hierarchies, read once per process: with hundreds of containers, each
/// with its mounts, the mount table is long to read.
fn hierarchies() -> &'static [PathBuf] {
    static HIERARCHIES: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    HIERARCHIES.get_or_init(|| hierarchies_in(&std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default()))
}

/// The directories of a container's cgroup (its `cgroups_path`) that exist, one per hierarchy.
pub fn container_cgroups(cgroup: &str) -> Vec<PathBuf> {
    let inside = cgroup.trim_start_matches('/');
    hierarchies().iter().map(|h| h.join(inside)).filter(|d| d.is_dir()).collect()
}

/// Kills every process left in a container's cgroups (its `cgroups_path`) and waits (up to 5 s) until they are
/// gone; returns how many it found. After its shim was killed, the container's processes keep
/// running, re-parented to PID 1 and still writing to their volumes: a start must not put a
/// second set beside them. Frozen processes take no signal, so the cgroup is thawed first.
pub fn kill_leftovers(cgroup: &str) -> usize {
    let dirs = container_cgroups(cgroup);
    let mut seen = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    for dir in &dirs {
        thaw(dir);
    }
    loop {
        let pids: Vec<i32> = dirs.iter().flat_map(|d| procs(d)).filter(|p| super::store::process_alive(*p)).collect();
        if pids.is_empty() || Instant::now() >= deadline {
            if !pids.is_empty() {
                tracing::warn!("processes {pids:?} of cgroup {cgroup} survived SIGKILL");
            }
            return seen.len();
        }
        for pid in pids {
            seen.insert(pid);
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn procs(dir: &Path) -> Vec<i32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Thaws a frozen cgroup: `freezer.state` on v1, `cgroup.freeze` on v2.
fn thaw(dir: &Path) {
    if dir.join("freezer.state").exists() {
        let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
    }
    if dir.join("cgroup.freeze").exists() {
        let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
    }
}

/// `cgroup.procs` of this process's cgroup in the first cgroup hierarchy mounted, if any
/// (found once per process).
fn own_procs_file() -> Option<&'static Path> {
    static FILE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FILE.get_or_init(|| {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let membership = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        own_procs_file_in(&mountinfo, &membership)
    })
    .as_deref()
}

/// The pure part of [`own_procs_file`]: from `/proc/self/mountinfo` and `/proc/self/cgroup`.
fn own_procs_file_in(mountinfo: &str, membership: &str) -> Option<PathBuf> {
    for line in mountinfo.lines() {
        let Some((mount, fs)) = line.split_once(" - ") else { continue };
        let mount: Vec<&str> = mount.split(' ').collect();
        let fs: Vec<&str> = fs.split(' ').collect();
        let (Some(root), Some(point), Some(kind)) = (mount.get(3), mount.get(4), fs.first()) else { continue };
        let options: Vec<&str> = fs.get(2).map_or(Vec::new(), |o| o.split(',').collect());
        let wanted = match *kind {
            "cgroup2" => None,
            "cgroup" => Some(&options),
            _ => continue,
        };
        // The line of /proc/self/cgroup for this hierarchy: `0::PATH` for cgroup2, the
        // hierarchy's controllers (or `name=...`) for cgroup v1.
        let path = membership.lines().find_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            let matches = match wanted {
                None => controllers.is_empty(),
                Some(options) => !controllers.is_empty() && controllers.split(',').all(|c| options.contains(&c)),
            };
            matches.then_some(path)
        });
        let Some(path) = path else { continue };
        let inside = path.strip_prefix(root).unwrap_or(path).trim_start_matches('/');
        let mut file = PathBuf::from(point);
        if !inside.is_empty() {
            file.push(inside);
        }
        return Some(file.join("cgroup.procs"));
    }
    None
}

/// Starts the slow part of a cgroup migration on a thread of its own and returns at once.
/// Not for the shim, which has no threads: it uses [`prime_migration_now`].
pub fn prime_migration() {
    let _ = std::thread::Builder::new().name("cgroup-prime".into()).spawn(prime_migration_now);
}

/// As [`prime_migration`], waiting for it (a few milliseconds when the lock is cold).
pub fn prime_migration_now() {
    if let Some(file) = own_procs_file() {
        let _ = std::fs::write(file, std::process::id().to_string());
    }
}

/// The real-time CPU budget a container asks for: `runtime` µs in each `period` µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Realtime {
    pub runtime: u64,
    pub period: u64,
}

impl Realtime {
    /// The runtime per second, as the kernel compares budgets of different periods.
    fn per_second(self) -> u64 {
        self.runtime.saturating_mul(1_000_000) / self.period.max(1)
    }
}

/// The budgets (µs per second) each cgroup on the way to a new container's must have, from
/// the one below the root down to its parent: `others[i]` is what the other children of that
/// level hold already. Refused when the root's `available` cannot cover it.
fn realtime_budgets(others: &[u64], wanted: Realtime, available: u64) -> Result<Vec<u64>, String> {
    let mut needs = vec![0; others.len()];
    let mut below = wanted.per_second();
    for (i, other) in others.iter().enumerate().rev() {
        below = below.saturating_add(*other);
        needs[i] = below;
    }
    let total = needs.first().copied().unwrap_or(below);
    if total > available {
        return Err(format!(
            "cpu_rt_runtime: the host's real-time budget is {available} µs a second, and {total} would be needed"
        ));
    }
    Ok(needs)
}

/// The cgroup v1 `cpu` hierarchy, if this host has real-time group scheduling there.
pub fn realtime_hierarchy() -> Option<&'static Path> {
    hierarchies().iter().map(PathBuf::as_path).find(|h| h.join("cpu.rt_runtime_us").is_file())
}

/// Gives the cgroups above a container's (`cgroup`, its `cgroups_path`) the real-time budget
/// it asks for, as Docker asks the daemon's `--cpu-rt-runtime` of its parent: a new cgroup has
/// none, and a child gets no more than its parent has. Budgets only grow.
pub fn reserve_realtime(cgroup: &str, wanted: Realtime) -> Result<(), String> {
    let hierarchy = realtime_hierarchy()
        .ok_or("cpu_rt_runtime: this host has no real-time group scheduling (cgroup v1's cpu.rt_runtime_us)")?;
    let read = |dir: &Path, file: &str| -> u64 {
        std::fs::read_to_string(dir.join(file)).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0)
    };
    let budget =
        |dir: &Path| Realtime { runtime: read(dir, "cpu.rt_runtime_us"), period: read(dir, "cpu.rt_period_us") };
    let parts: Vec<&str> = cgroup.trim_matches('/').split('/').collect();
    let (levels, leaf) = parts.split_at(parts.len().saturating_sub(1));
    let mut dirs = Vec::new();
    let mut others = Vec::new();
    let mut dir = hierarchy.to_path_buf();
    for (i, level) in levels.iter().enumerate() {
        dir.push(level);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot make the cgroup {}: {e}", dir.display()))?;
        let next = levels.get(i + 1).or(leaf.first()).copied().unwrap_or_default();
        let children = std::fs::read_dir(&dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let held = children
            .flatten()
            .filter(|c| c.path().is_dir() && c.file_name() != next)
            .map(|c| budget(&c.path()).per_second())
            .sum();
        others.push(held);
        dirs.push(dir.clone());
    }
    let root = budget(hierarchy);
    let needs = realtime_budgets(&others, wanted, root.per_second())?;
    for (dir, need) in dirs.iter().zip(needs) {
        let current = budget(dir);
        if current.per_second() < need {
            let runtime = need.saturating_mul(current.period.max(1)) / 1_000_000;
            std::fs::write(dir.join("cpu.rt_runtime_us"), runtime.to_string())
                .map_err(|e| format!("cannot give {} a real-time budget of {runtime} µs: {e}", dir.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
30 25 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw
32 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
33 30 0:29 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
";

    #[test]
    fn the_first_hierarchy_with_this_process_in_it() {
        let membership = "4:memory:/user.slice\n3:cpu,cpuacct:/user.slice\n0::/user.slice/session-1.scope\n";
        assert_eq!(
            own_procs_file_in(HYBRID, membership),
            Some(PathBuf::from("/sys/fs/cgroup/unified/user.slice/session-1.scope/cgroup.procs"))
        );
        // Without the unified line, the first v1 hierarchy whose controllers match.
        let v1_only = "4:memory:/\n3:cpu,cpuacct:/a\n";
        assert_eq!(
            own_procs_file_in(HYBRID, v1_only),
            Some(PathBuf::from("/sys/fs/cgroup/cpu,cpuacct/a/cgroup.procs"))
        );
    }

    #[test]
    fn real_time_budgets_add_up_to_the_root() {
        let wanted = Realtime { runtime: 10_000, period: 1_000_000 };
        assert_eq!(realtime_budgets(&[0], wanted, 950_000), Ok(vec![10_000]));
        // Two levels (`cgroup_parent: /jobs/batch`), with siblings holding some already.
        assert_eq!(realtime_budgets(&[50_000, 20_000], wanted, 950_000), Ok(vec![80_000, 30_000]));
        // A shorter period asks more of each second.
        let fast = Realtime { runtime: 10_000, period: 100_000 };
        assert_eq!(realtime_budgets(&[0], fast, 950_000), Ok(vec![100_000]));
        let e = realtime_budgets(&[945_000], wanted, 950_000).expect_err("over the root's");
        assert!(e.contains("950000") && e.contains("955000"), "{e}");
    }

    #[test]
    fn every_hierarchy_v1_and_v2() {
        assert_eq!(
            hierarchies_in(HYBRID),
            ["/sys/fs/cgroup/unified", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory"].map(PathBuf::from)
        );
        assert_eq!(cgroups_path(None, "abc"), "/berth/abc");
        assert_eq!(cgroups_path(Some("/jobs/"), "abc"), "/jobs/abc");
        assert_eq!(cgroups_path(Some("batch.slice"), "abc"), "/batch.slice/abc");
    }

    #[test]
    fn a_namespaced_root_is_taken_off_the_path() {
        let mountinfo = "40 30 0:29 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            own_procs_file_in(mountinfo, "0::/docker/abc/inner\n"),
            Some(PathBuf::from("/sys/fs/cgroup/inner/cgroup.procs"))
        );
        assert_eq!(
            own_procs_file_in(mountinfo, "0::/docker/abc\n"),
            Some(PathBuf::from("/sys/fs/cgroup/cgroup.procs"))
        );
        assert_eq!(own_procs_file_in("22 27 0:21 / /proc rw - proc proc rw\n", "0::/\n"), None);
    }
}
