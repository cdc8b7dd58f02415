//! Resolving `user[:group]` against the image's /etc/passwd and /etc/group, read inside the
//! container's root without following links out of it (CVE-2018-15664).

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    pub additional_gids: Vec<u32>,
    pub home: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot use user {spec:?}: {reason}")]
pub struct UserError {
    pub spec: String,
    pub reason: String,
}

/// Reads a file of the container's root, resolving every link inside it.
fn read_in_root(root: &Path, path: &str) -> Option<String> {
    crate::fsutil::InRoot::open(root).and_then(|r| r.read_to_string(path, 4 << 20)).ok()
}

/// Resolves `spec` (`""` is root) in the root file system at `root`.
pub fn resolve(root: &Path, spec: Option<&str>) -> Result<User, UserError> {
    let spec = spec.unwrap_or("").trim();
    let err = |reason: String| UserError { spec: spec.to_string(), reason };
    let (user_part, group_part) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let passwd = read_in_root(root, "etc/passwd").unwrap_or_default();
    let group = read_in_root(root, "etc/group").unwrap_or_default();
    let entries: Vec<Vec<&str>> =
        passwd.lines().map(|l| l.split(':').collect()).filter(|f: &Vec<&str>| f.len() >= 7).collect();
    let mut user = User { home: "/".into(), ..User::default() };
    let mut name = None;
    if !user_part.is_empty() {
        let entry = match user_part.parse::<u32>() {
            Ok(uid) => {
                user.uid = uid;
                entries.iter().find(|f| f[2].parse() == Ok(uid))
            }
            Err(_) => Some(
                entries
                    .iter()
                    .find(|f| f[0] == user_part)
                    .ok_or_else(|| err("no such user in the image's /etc/passwd".into()))?,
            ),
        };
        if let Some(f) = entry {
            user.uid = f[2].parse().map_err(|_| err(format!("bad uid {:?} in /etc/passwd", f[2])))?;
            user.gid = f[3].parse().map_err(|_| err(format!("bad gid {:?} in /etc/passwd", f[3])))?;
            user.home = f[5].to_string();
            name = Some(f[0].to_string());
        }
    } else if let Some(f) = entries.iter().find(|f| f[2] == "0") {
        user.home = f[5].to_string();
        name = Some(f[0].to_string());
    }
    let groups: Vec<Vec<&str>> =
        group.lines().map(|l| l.split(':').collect()).filter(|f: &Vec<&str>| f.len() >= 4).collect();
    if let Some(g) = group_part.filter(|g| !g.is_empty()) {
        user.gid = match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => groups
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| err(format!("no group {g:?} in the image's /etc/group")))?,
        };
    }
    if let Some(name) = name {
        user.additional_gids = groups
            .iter()
            .filter(|f| f[3].split(',').any(|m| m == name))
            .filter_map(|f| f[2].parse().ok())
            .filter(|g| *g != user.gid)
            .collect();
    }
    Ok(user)
}

/// Adds `--group-add` groups (numbers, or names in the image's /etc/group) to `user`.
pub fn add_groups(root: &Path, user: &mut User, names: &[String]) -> Result<(), UserError> {
    if names.is_empty() {
        return Ok(());
    }
    let group = read_in_root(root, "etc/group").unwrap_or_default();
    for name in names {
        let gid = match name.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => group
                .lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.len() >= 3 && f[0] == name)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| UserError {
                    spec: name.clone(),
                    reason: "group_add: no such group in the image's /etc/group".into(),
                })?,
        };
        if gid != user.gid && !user.additional_gids.contains(&gid) {
            user.additional_gids.push(gid);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_groups() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(dir.path().join("etc")).expect("mkdir");
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
        )
        .expect("write");
        std::fs::write(dir.path().join("etc/group"), "root:x:0:\napp:x:1000:\nwheel:x:10:app\n").expect("write");
        let r = |s| resolve(dir.path(), Some(s));
        assert_eq!(r("").expect("root").uid, 0);
        let app = r("app").expect("app");
        assert_eq!(
            (app.uid, app.gid, app.additional_gids.clone(), app.home.as_str()),
            (1000, 1000, vec![10], "/home/app")
        );
        assert_eq!(r("1000:10").expect("numbers").gid, 10);
        assert_eq!(r("4242").expect("unknown uid").uid, 4242);
        assert_eq!(r("app:wheel").expect("group").gid, 10);
        assert!(r("nobody").is_err());
        assert!(r("app:nogroup").is_err());
        let mut app = r("app").expect("app");
        add_groups(dir.path(), &mut app, &["wheel".into(), "100".into(), "app".into(), "root".into()]).expect("groups");
        assert_eq!(app.additional_gids, vec![10, 100, 0], "known ones once, the primary group not again");
        assert!(add_groups(dir.path(), &mut app, &["nosuchgroup".into()]).is_err());
    }

    #[test]
    fn links_do_not_leave_the_root() {
        let dir = tempfile::tempdir().expect("tmp");
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).expect("mkdir");
        let outside = dir.path().join("etc");
        std::fs::create_dir(&outside).expect("mkdir");
        std::fs::write(outside.join("passwd"), "evil:x:0:0::/:/bin/sh\n").expect("write");
        // /etc in the image points at the host's directory: it must resolve inside the root.
        std::os::unix::fs::symlink(&outside, root.join("etc")).expect("symlink");
        assert!(resolve(&root, Some("evil")).is_err());
    }
}
