//! The shim's own mount namespace: the container's root is mounted where only the shim and
//! the container see it, never in the host's mount table.
//!
//! Every mount on the host costs every process that reads `/proc/self/mountinfo`, and
//! libcontainer reads it about fourteen times per container start (cgroup v1 looks a mount
//! point up once per controller). With the roots on the host, the 200th container of a
//! project started at twice the cost of the first. The shim unshares its mount namespace
//! (a slave of the host's, so mounts made on the host later still reach binds that ask for
//! `rslave`), and detaches the copies of the other containers' mounts under the state root,
//! keeping only its own container's directory and the directories it joins (the network
//! namespace of `network_mode: container:X`).
//!
//! What the shim does on the host's behalf (taking the namespace file down, removing the
//! container's directory) runs in the host's namespace again through [`PrivateMounts::in_host`].

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

/// The host's mount namespace and the shim's own, to step between them.
pub struct PrivateMounts {
    host: File,
    own: File,
}

impl PrivateMounts {
    /// Unshares this (single-threaded) process's mount namespace and detaches the mounts under
    /// `state_root` that are not in one of the `keep` directories.
    pub fn enter(state_root: &Path, keep: &[PathBuf]) -> io::Result<PrivateMounts> {
        let host = File::open("/proc/self/ns/mnt")?;
        nix::sched::unshare(CloneFlags::CLONE_NEWNS)?;
        let entered = (|| -> io::Result<File> {
            nix::mount::mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>)?;
            let table = std::fs::read_to_string("/proc/self/mountinfo")?;
            for target in others(&table, state_root, keep) {
                // A mount inside one detached before is gone with it: nothing to report.
                let _ = nix::mount::umount2(&target, MntFlags::MNT_DETACH);
            }
            File::open("/proc/self/ns/mnt")
        })();
        match entered {
            Ok(own) => Ok(PrivateMounts { host, own }),
            Err(e) => {
                let _ = nix::sched::setns(&host, CloneFlags::CLONE_NEWNS);
                Err(e)
            }
        }
    }

    /// Runs `f` in the host's mount namespace, then returns to the shim's.
    pub fn in_host<T>(&self, f: impl FnOnce() -> T) -> T {
        if let Err(e) = nix::sched::setns(&self.host, CloneFlags::CLONE_NEWNS) {
            tracing::warn!("cannot enter the host's mount namespace: {e}");
            return f();
        }
        let out = f();
        if let Err(e) = nix::sched::setns(&self.own, CloneFlags::CLONE_NEWNS) {
            tracing::warn!("cannot return to the shim's mount namespace: {e}");
        }
        out
    }
}

/// The mount points of a mount table (`/proc/self/mountinfo`) under `root` and outside every
/// `keep` directory, deepest first.
fn others(table: &str, root: &Path, keep: &[PathBuf]) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = table
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape(field)))
        .filter(|p| p.starts_with(root) && p != root && !keep.iter().any(|k| p.starts_with(k)))
        .collect();
    found.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    found.dedup();
    found
}

/// A path as the mount table writes it, with space, tab, newline and backslash as octal
/// escapes (`\040`).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match (bytes[i], octal) {
            (b'\\', Some(d)) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "\
22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw
80 27 0:40 / /var/lib/berth/containers/aaa/rootfs rw - overlay overlay rw,lowerdir=/x
81 27 0:4 net:[4026532] /var/lib/berth/containers/aaa/netns rw - nsfs nsfs rw
82 27 0:41 / /var/lib/berth/containers/bbb/rootfs rw - overlay overlay rw,lowerdir=/y
83 27 0:4 net:[4026533] /var/lib/berth/containers/bbb/netns rw - nsfs nsfs rw
84 27 0:42 / /var/lib/berth/containers/ccc/rootfs rw - overlay overlay rw,lowerdir=/z
85 27 0:43 / /var/lib/berth/build-root.1 ro - overlay overlay rw,lowerdir=/w
86 27 0:44 / /var/lib/berth\\040two/x rw - tmpfs tmpfs rw
87 27 0:45 / /var/lib/berthx/y rw - tmpfs tmpfs rw
";

    #[test]
    fn the_other_containers_mounts_are_detached_and_the_kept_ones_stay() {
        let root = Path::new("/var/lib/berth");
        let keep = [root.join("containers/aaa"), root.join("containers/ccc")];
        let got = others(TABLE, root, &keep);
        let want: Vec<PathBuf> =
            ["containers/bbb/rootfs", "containers/bbb/netns", "build-root.1"].iter().map(|p| root.join(p)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape("/var/lib/berth\\040two/x"), "/var/lib/berth two/x");
        assert_eq!(unescape("/a\\134b"), "/a\\b");
        assert_eq!(unescape("/plain\\04"), "/plain\\04");
        let table = "1 1 0:1 / /s\\040t/a rw - tmpfs tmpfs rw\n";
        assert_eq!(others(table, Path::new("/s t"), &[]), vec![PathBuf::from("/s t/a")]);
    }
}
