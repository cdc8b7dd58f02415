//! The container options that are checked as text before anything is created: `security_opt`
//! entries and kernel parameters (`sysctls`), with Docker's rules for which a container may set.

/// One `security_opt` entry (`--security-opt`), in Docker's spellings (`key=value` or
/// `key:value`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecurityOpt {
    /// `no-new-privileges[:true|false]`.
    NoNewPrivileges(bool),
    /// `seccomp=unconfined`: no system call filter.
    SeccompUnconfined,
    /// `systempaths=unconfined`: /proc and /sys without masked or read-only paths.
    SystemPathsUnconfined,
    /// `label=...` or `apparmor=...`: a confinement this host does not have.
    NoEffect(String),
}

impl SecurityOpt {
    pub fn parse(text: &str) -> Result<SecurityOpt, String> {
        let (key, value) = match text.split_once(['=', ':']) {
            Some((k, v)) => (k, Some(v)),
            None => (text, None),
        };
        let bad = |why: &str| Err(format!("invalid security option {text:?}: {why}"));
        match (key, value) {
            ("no-new-privileges", None | Some("true")) => Ok(SecurityOpt::NoNewPrivileges(true)),
            ("no-new-privileges", Some("false")) => Ok(SecurityOpt::NoNewPrivileges(false)),
            ("no-new-privileges", _) => bad("use no-new-privileges, no-new-privileges:true or :false"),
            ("seccomp", Some("unconfined")) => Ok(SecurityOpt::SeccompUnconfined),
            ("seccomp", Some(_)) => bad("berth reads no seccomp profile files yet; use seccomp=unconfined or none"),
            ("systempaths", Some("unconfined")) => Ok(SecurityOpt::SystemPathsUnconfined),
            ("label" | "apparmor", Some(_)) => Ok(SecurityOpt::NoEffect(key.to_string())),
            _ => bad("use no-new-privileges, seccomp=unconfined, systempaths=unconfined, label=... or apparmor=..."),
        }
    }

    /// What to tell the user once: an option accepted without effect here.
    pub fn warning(&self) -> Option<String> {
        match self {
            SecurityOpt::NoEffect(key) if key == "label" => {
                Some("security_opt label: this host has no SELinux; the option has no effect".into())
            }
            SecurityOpt::NoEffect(_) => {
                Some("security_opt apparmor: this host has no AppArmor; the option has no effect".into())
            }
            _ => None,
        }
    }
}

/// Kernel parameters a container may set: those of the namespaces it has of its own, as
/// Docker allows (`net.*` with a network namespace of its own, IPC's with its own IPC).
pub fn check_sysctl(key: &str, own_network: bool, own_ipc: bool) -> Result<(), String> {
    const IPC: [&str; 6] =
        ["kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax"];
    let ipc = IPC.contains(&key)
        || key == "kernel.shmmni"
        || key == "kernel.shm_rmid_forced"
        || key.starts_with("fs.mqueue.");
    if ipc {
        return if own_ipc {
            Ok(())
        } else {
            Err(format!("sysctl {key:?} is not allowed with the host's IPC namespace"))
        };
    }
    if key.starts_with("net.") {
        return if own_network {
            Ok(())
        } else {
            Err(format!("sysctl {key:?} is not allowed with the host's network namespace"))
        };
    }
    Err(format!(
        "sysctl {key:?} is not namespaced: a container may set only net.*, kernel.msg*, kernel.sem, kernel.shm* and fs.mqueue.*"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_options_in_dockers_spellings() {
        assert_eq!(SecurityOpt::parse("no-new-privileges"), Ok(SecurityOpt::NoNewPrivileges(true)));
        assert_eq!(SecurityOpt::parse("no-new-privileges:true"), Ok(SecurityOpt::NoNewPrivileges(true)));
        assert_eq!(SecurityOpt::parse("no-new-privileges=false"), Ok(SecurityOpt::NoNewPrivileges(false)));
        assert_eq!(SecurityOpt::parse("seccomp=unconfined"), Ok(SecurityOpt::SeccompUnconfined));
        assert_eq!(SecurityOpt::parse("seccomp:unconfined"), Ok(SecurityOpt::SeccompUnconfined));
        assert_eq!(SecurityOpt::parse("systempaths=unconfined"), Ok(SecurityOpt::SystemPathsUnconfined));
        assert!(SecurityOpt::parse("label=disable").expect("accepted").warning().is_some());
        assert!(SecurityOpt::parse("seccomp=/etc/profile.json").expect_err("refused").contains("profile files"));
        assert!(SecurityOpt::parse("no-new-privileges:maybe").is_err());
        assert!(SecurityOpt::parse("nonsense").is_err());
    }

    #[test]
    fn only_namespaced_sysctls() {
        assert_eq!(check_sysctl("net.ipv4.ip_unprivileged_port_start", true, true), Ok(()));
        assert!(check_sysctl("net.ipv4.ip_forward", false, true).is_err(), "network_mode: host");
        assert_eq!(check_sysctl("kernel.shmmax", true, true), Ok(()));
        assert_eq!(check_sysctl("fs.mqueue.msg_max", true, true), Ok(()));
        assert!(check_sysctl("kernel.sem", true, false).is_err(), "ipc: host");
        assert!(check_sysctl("kernel.pid_max", true, true).is_err());
        assert!(check_sysctl("vm.swappiness", true, true).is_err());
    }
}
