//! The command line itself: the shells' completion scripts, the filters scripts use, and
//! `cp`'s streams and links.

use std::path::Path;
use std::process::Command;

use crate::support::{BERTH, stderr};

#[test]
fn completions_load_in_bash_and_complete_commands() {
    // What the issue asks a user to run, then a completion of `berth ren` as bash makes it.
    let script = format!(
        "source <({BERTH} completion bash) && complete -p berth && \
         COMP_WORDS=(berth ren); COMP_CWORD=1; COMP_LINE='berth ren'; COMP_POINT=9; \
         _berth berth ren berth; echo \"${{COMPREPLY[@]}}\""
    );
    let out = Command::new("bash").args(["-c", &script]).output().expect("bash runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(text, "complete -o bashdefault -o default -o nosort -F _berth berth\nrename\n");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(BERTH).args(["completion", shell]).output().expect("berth runs");
        assert!(out.status.success() && out.stdout.len() > 1000, "{shell}: {}", stderr(&out));
    }
    let out = Command::new(BERTH).args(["completion", "tcsh"]).output().expect("berth runs");
    assert!(!out.status.success() && stderr(&out).contains("tcsh"), "{}", stderr(&out));
}

#[test]
fn ps_filters_as_docker_reads_them() {
    let state = crate::containers::state_with_busybox();
    let image = crate::containers::IMAGE;
    state.ok(&["run", "-d", "--name", "front", "-l", "tier=front", "--expose", "8080", image, "sleep", "600"]);
    let _ = state.berth(&["run", "--name", "failed", "-l", "tier=back", image, "sh", "-c", "exit 3"]);
    let names = |filters: &[&str]| -> Vec<String> {
        let mut args = vec!["ps", "--format", "json"];
        for f in filters {
            args.extend(["--filter", f]);
        }
        let out = state.ok(&args);
        out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["Names"].to_string()).collect()
    };
    assert_eq!(names(&["label=tier=front"]), ["\"front\""]);
    assert_eq!(names(&["status=exited"]), ["\"failed\""], "a status filter shows stopped containers");
    assert_eq!(names(&["status=exited", "status=running"]).len(), 2, "values of a key are alternatives");
    assert_eq!(names(&["label=tier", "status=running"]), ["\"front\""], "keys all match");
    assert_eq!(names(&["name=^/front$"]), ["\"front\""]);
    assert_eq!(names(&["expose=8080"]), ["\"front\""]);
    assert_eq!(names(&["publish=8080"]), Vec::<String>::new(), "exposed, not published");
    assert_eq!(names(&["ancestor=busybox:none"]), Vec::<String>::new());
    let all = state.ok(&["ps", "-a", "-q", "--filter", "exited=3"]);
    assert_eq!(all.lines().count(), 1, "{all}");
    let out = state.berth(&["ps", "--filter", "colour=red"]);
    assert!(!out.status.success() && stderr(&out).contains("invalid filter \"colour\""), "{}", stderr(&out));
    state.ok(&["rm", "-f", "front", "failed"]);
}

#[test]
fn cp_streams_tar_keeps_links_and_copies_the_etc_files_of_a_stopped_container() {
    let state = crate::containers::state_with_busybox();
    let image = crate::containers::IMAGE;
    state.ok(&["run", "-d", "--name", "files", "--hostname", "filebox", image, "sleep", "600"]);
    state.ok(&["exec", "files", "sh", "-c", "mkdir /d && echo one > /d/f && ln -s /d/f /d/link"]);
    let dir = tempfile::tempdir().expect("tmp");
    // A link is copied as a link, its target with -L.
    state.ok(&["cp", "files:/d/link", dir.path().to_str().expect("utf-8")]);
    assert_eq!(std::fs::read_link(dir.path().join("link")).expect("a link"), Path::new("/d/f"));
    state.ok(&["cp", "-L", "files:/d/link", dir.path().join("followed").to_str().expect("utf-8")]);
    assert_eq!(std::fs::read_to_string(dir.path().join("followed")).expect("a file"), "one\n");
    // `-` as the host side is a tar stream, out and in.
    let out = state.berth(&["cp", "files:/d", "-"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let names: Vec<String> = tar::Archive::new(&out.stdout[..])
        .entries()
        .expect("a tar stream")
        .map(|e| e.expect("entry").path().expect("path").to_string_lossy().into_owned())
        .collect();
    assert!(names.contains(&"d/f".to_string()) && names.contains(&"d/link".to_string()), "{names:?}");
    let into = state.berth_with_bytes(&["cp", "-", "files:/tmp"], &out.stdout);
    assert!(into.status.success(), "{}", stderr(&into));
    assert_eq!(state.ok(&["exec", "files", "cat", "/tmp/d/f"]), "one\n");
    let refused = state.berth_with_bytes(&["cp", "-", "files:/nowhere"], &out.stdout);
    assert!(stderr(&refused).contains("must be a directory"), "{}", stderr(&refused));
    // A stopped container's /etc/hosts and /etc/hostname are the files it had, not placeholders.
    state.ok(&["stop", "-t", "0", "files"]);
    let host = dir.path().join("hostname");
    state.ok(&["cp", "files:/etc/hostname", host.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read_to_string(&host).expect("read"), "filebox\n");
    let hosts = state.berth(&["cp", "files:/etc/hosts", "-"]);
    assert!(String::from_utf8_lossy(&hosts.stdout).contains("localhost"), "{}", stderr(&hosts));
    state.ok(&["rm", "files"]);
}
