//! Seccomp profiles in Docker's format (`security_opt: [seccomp=profile.json]`), made the
//! runtime spec's filter as Docker makes it.
//!
//! As `docker run` and Docker Compose do, the file is read when the container is created and
//! its content kept in the option (`seccomp={...}`), so the container never depends on the file
//! again. A profile names its architectures directly or through `archMap` (this machine's
//! entry and its sub-architectures), and each rule may apply only with or without some
//! capabilities, on some architectures or from a kernel version (`includes`, `excludes`);
//! the spec gets the rules that apply to this container on this host.

use std::path::Path;

use serde::Deserialize;

/// A profile as Docker's `seccomp.Seccomp` reads it (the fields berth does not need to look
/// into are passed through as they are).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: String,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Vec<String>,
    #[serde(default)]
    arch_map: Vec<ArchMap>,
    #[serde(default)]
    flags: Vec<String>,
    #[serde(default)]
    listener_path: Option<String>,
    #[serde(default)]
    syscalls: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: String,
    #[serde(default)]
    sub_architectures: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    action: String,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Vec<serde_json::Value>,
    #[serde(default)]
    includes: Filter,
    #[serde(default)]
    excludes: Filter,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Filter {
    #[serde(default)]
    arches: Vec<String>,
    #[serde(default)]
    caps: Vec<String>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// What a rule is matched against: this machine's architecture (Docker's name, `amd64`),
/// the container's capabilities and the kernel's version.
pub struct Host<'a> {
    pub arch: &'a str,
    pub caps: &'a [String],
    pub kernel: (u32, u32),
}

impl Host<'_> {
    /// This machine's architecture in libseccomp's words, as `archMap` entries name it.
    fn seccomp_arch(&self) -> &'static str {
        match self.arch {
            "amd64" | "x86_64" => "SCMP_ARCH_X86_64",
            "arm64" | "aarch64" => "SCMP_ARCH_AARCH64",
            "386" | "x86" => "SCMP_ARCH_X86",
            "arm" => "SCMP_ARCH_ARM",
            "ppc64le" | "powerpc64" => "SCMP_ARCH_PPC64LE",
            "s390x" => "SCMP_ARCH_S390X",
            "riscv64" => "SCMP_ARCH_RISCV64",
            _ => "",
        }
    }

    fn applies(&self, rule: &Rule) -> bool {
        let has = |c: &String| {
            let c = c.to_ascii_uppercase();
            let c = if c.starts_with("CAP_") { c } else { format!("CAP_{c}") };
            self.caps.contains(&c)
        };
        let arch_in = |list: &[String]| list.iter().any(|a| a == self.arch || a == self.seccomp_arch());
        let (inc, exc) = (&rule.includes, &rule.excludes);
        let newer = |v: &Option<String>| v.as_deref().and_then(kernel_version).is_none_or(|min| self.kernel >= min);
        (inc.arches.is_empty() || arch_in(&inc.arches))
            && !arch_in(&exc.arches)
            && inc.caps.iter().all(has)
            && !exc.caps.iter().any(has)
            && newer(&inc.min_kernel)
            && (exc.min_kernel.is_none() || !newer(&exc.min_kernel))
    }
}

/// `major.minor` of a kernel release (`6.1.0-13-amd64`).
pub fn kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(['.', '-']);
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// Checks a profile's text, naming where it is wrong (line and column of `source`).
pub fn check(text: &str, source: &str) -> Result<(), String> {
    let profile: Profile = serde_json::from_str(text).map_err(|e| format!("seccomp profile {source}: {e}"))?;
    if !profile.architectures.is_empty() && !profile.arch_map.is_empty() {
        return Err(format!("seccomp profile {source}: use architectures or archMap, not both"));
    }
    let notify =
        profile.default_action == "SCMP_ACT_NOTIFY" || profile.syscalls.iter().any(|r| r.action == "SCMP_ACT_NOTIFY");
    if notify || profile.listener_path.is_some() {
        return Err(format!(
            "seccomp profile {source}: SCMP_ACT_NOTIFY needs a seccomp agent, which berth does not run"
        ));
    }
    if let Some(r) = profile.syscalls.iter().find(|r| r.name.is_some() && !r.names.is_empty()) {
        return Err(format!("seccomp profile {source}: a rule has both name and names ({:?})", r.name));
    }
    Ok(())
}

/// The runtime spec's `linux.seccomp` for a profile checked by [`check`].
pub fn filter(text: &str, host: &Host) -> Result<serde_json::Value, String> {
    let profile: Profile = serde_json::from_str(text).map_err(|e| format!("seccomp profile: {e}"))?;
    let native = host.seccomp_arch();
    let architectures: Vec<&str> = if profile.arch_map.is_empty() {
        profile.architectures.iter().map(String::as_str).collect()
    } else {
        profile
            .arch_map
            .iter()
            .filter(|m| m.architecture == native)
            .flat_map(|m| {
                std::iter::once(m.architecture.as_str()).chain(m.sub_architectures.iter().map(String::as_str))
            })
            .collect()
    };
    let syscalls: Vec<serde_json::Value> = profile
        .syscalls
        .iter()
        .filter(|r| host.applies(r))
        .map(|r| {
            let names: Vec<&str> = r.name.iter().chain(&r.names).map(String::as_str).collect();
            let mut rule = serde_json::json!({"names": names, "action": r.action});
            if let Some(errno) = r.errno_ret {
                rule["errnoRet"] = errno.into();
            }
            if !r.args.is_empty() {
                rule["args"] = r.args.clone().into();
            }
            rule
        })
        .collect();
    let mut out = serde_json::json!({
        "defaultAction": profile.default_action, "architectures": architectures, "syscalls": syscalls,
    });
    if let Some(errno) = profile.default_errno_ret {
        out["defaultErrnoRet"] = errno.into();
    }
    if !profile.flags.is_empty() {
        out["flags"] = profile.flags.into();
    }
    if let Some(path) = profile.listener_path {
        out["listenerPath"] = path.into();
    }
    Ok(out)
}

/// A `security_opt` entry with a profile file (`seccomp=PATH` or `seccomp:PATH`, relative to
/// `base`) made `seccomp=<its content>`, checked; other entries are returned as they are.
pub fn inline(option: &str, base: &Path) -> Result<String, String> {
    let Some(path) = option.strip_prefix("seccomp").and_then(|r| r.strip_prefix(['=', ':'])) else {
        return Ok(option.to_string());
    };
    if path == "unconfined" || path.trim_start().starts_with('{') {
        return Ok(option.to_string());
    }
    let file = base.join(path);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("security_opt seccomp: cannot read the profile {}: {e}", file.display()))?;
    check(&text, &file.display().to_string())?;
    let compact: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    Ok(format!("seccomp={compact}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROFILE: &str = r#"{
        "defaultAction": "SCMP_ACT_ALLOW",
        "defaultErrnoRet": 1,
        "archMap": [
            {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
            {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]}
        ],
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
            {"names": ["mount"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["reboot"], "action": "SCMP_ACT_ERRNO", "includes": {"caps": ["SYS_BOOT"]}},
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["arm64"]}},
            {"names": ["open_tree"], "action": "SCMP_ACT_ERRNO", "includes": {"minKernel": "9.0"}},
            {"name": "kill", "action": "SCMP_ACT_ERRNO",
             "args": [{"index": 1, "value": 9, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}
        ]
    }"#;

    fn names(filter: &serde_json::Value) -> Vec<String> {
        let rules = filter["syscalls"].as_array().expect("rules");
        rules.iter().map(|r| r["names"][0].as_str().expect("a name").to_string()).collect()
    }

    #[test]
    fn the_rules_that_apply_here_become_the_filter() {
        let caps = vec!["CAP_CHOWN".to_string()];
        let host = Host { arch: "amd64", caps: &caps, kernel: (6, 1) };
        let f = filter(PROFILE, &host).expect("a filter");
        assert_eq!(f["architectures"], serde_json::json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]));
        assert_eq!(f["defaultErrnoRet"], 1);
        assert_eq!(names(&f), ["mkdir", "mount", "kill"]);
        assert_eq!(f["syscalls"][0]["errnoRet"], 13);
        assert_eq!(f["syscalls"][2]["args"][0]["op"], "SCMP_CMP_EQ");

        let caps = vec!["CAP_SYS_ADMIN".to_string(), "CAP_SYS_BOOT".to_string()];
        let host = Host { arch: "arm64", caps: &caps, kernel: (9, 2) };
        let f = filter(PROFILE, &host).expect("a filter");
        assert_eq!(f["architectures"], serde_json::json!(["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]));
        assert_eq!(names(&f), ["mkdir", "reboot", "personality", "open_tree", "kill"]);
    }

    #[test]
    fn a_bad_profile_is_refused_saying_where() {
        let e = check("{\n  \"defaultAction\": 3\n}", "p.json").expect_err("refused");
        assert!(e.starts_with("seccomp profile p.json: ") && e.contains("line 2"), "{e}");
        let both = r#"{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x"], "archMap": [{"architecture": "x"}]}"#;
        assert!(check(both, "p").expect_err("refused").contains("not both"));
        let rule = r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"], "action": "x"}]}"#;
        assert!(check(rule, "p").expect_err("refused").contains("both name and names"));
        let notify =
            r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["b"], "action": "SCMP_ACT_NOTIFY"}]}"#;
        assert!(check(notify, "p").expect_err("refused").contains("seccomp agent"));
    }

    #[test]
    fn a_profile_file_is_read_into_the_option() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("p.json"), "{\"defaultAction\":\n \"SCMP_ACT_ALLOW\"}").expect("write");
        let got = inline("seccomp:p.json", dir.path()).expect("read");
        assert_eq!(got, r#"seccomp={"defaultAction":"SCMP_ACT_ALLOW"}"#);
        assert_eq!(inline("seccomp=unconfined", dir.path()), Ok("seccomp=unconfined".into()));
        assert_eq!(inline("no-new-privileges", dir.path()), Ok("no-new-privileges".into()));
        let e = inline("seccomp=missing.json", dir.path()).expect_err("refused");
        assert!(e.contains("missing.json"), "{e}");
        assert_eq!(kernel_version("6.1.0-13-amd64"), Some((6, 1)));
    }
}
