//! Volumes as a user meets them: data shared between containers and kept across `down`/`up`,
//! recreation and the death of a shim or of the CLI; seeding from the image; read-only mounts,
//! tmpfs limits, file and directory binds, symbolic links on both sides of a bind; and the
//! inputs that must be refused before anything is created.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::containers::{IMAGE, code, state_with_busybox, wait_for};
use crate::images::State;
use crate::support::{stderr, stdout};

/// Where a named volume's data lives on the host.
fn mountpoint(state: &State, volume: &str) -> PathBuf {
    let v: serde_json::Value = serde_json::from_str(&state.ok(&["volume", "inspect", volume])).expect("json");
    PathBuf::from(v[0]["Mountpoint"].as_str().expect("Mountpoint"))
}

fn shim_pid(state: &State, container: &str) -> i32 {
    let id = state.ok(&["inspect", "-f", "{{.Id}}", container]).trim().to_string();
    let record = fs::read_to_string(state.root().join("containers").join(id).join("state.json")).expect("state");
    let v: serde_json::Value = serde_json::from_str(&record).expect("json");
    v["shim_pid"].as_i64().expect("a shim") as i32
}

#[test]
fn data_is_shared_and_outlives_its_containers() {
    let state = state_with_busybox();
    state.ok(&["run", "--rm", "-v", "shared:/data", IMAGE, "sh", "-c", "echo from one > /data/note"]);
    assert_eq!(state.ok(&["run", "--rm", "-v", "shared:/data", IMAGE, "cat", "/data/note"]), "from one\n");
    // Two running containers see each other's writes at once.
    state.ok(&["run", "-d", "--name", "reader", "-v", "shared:/data", IMAGE, "sleep", "600"]);
    state.ok(&["run", "--rm", "-v", "shared:/data", IMAGE, "sh", "-c", "echo live > /data/live"]);
    assert_eq!(state.ok(&["exec", "reader", "cat", "/data/live"]), "live\n");

    // A volume in use cannot be removed; once free, it can.
    let out = state.berth(&["volume", "rm", "shared"]);
    assert!(!out.status.success(), "a volume in use is kept");
    assert!(stderr(&out).contains("shared") && stderr(&out).contains("in use"), "{}", stderr(&out));
    assert!(mountpoint(&state, "shared").join("note").exists());
    state.ok(&["rm", "-f", "reader"]);
    state.ok(&["volume", "rm", "shared"]);
    assert_eq!(state.ok(&["volume", "ls", "-q"]), "");
}

#[test]
fn data_survives_a_killed_shim_and_a_killed_cli() {
    let state = state_with_busybox();
    // kill -9 of the shim while the container writes.
    state.ok(&[
        "run",
        "-d",
        "--name",
        "writer",
        "-v",
        "keep:/data",
        IMAGE,
        "sh",
        "-c",
        "echo before > /data/f; sync; sleep 600",
    ]);
    let data = mountpoint(&state, "keep");
    wait_for("the write", || data.join("f").exists());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(shim_pid(&state, "writer")), nix::sys::signal::SIGKILL)
        .expect("kill");
    // A later command notices the dead shim and cleans up after it; the data stays.
    wait_for("the dead shim to be noticed", || !state.ok(&["ps"]).contains("writer"));
    state.ok(&["rm", "-f", "writer"]);
    assert_eq!(state.ok(&["run", "--rm", "-v", "keep:/data", IMAGE, "cat", "/data/f"]), "before\n");

    // kill -9 of an attached `berth run`: the container and its volume live on.
    let mut cli = Command::new(crate::support::BERTH)
        .args(["run", "--name", "attached", "-v", "keep:/data", IMAGE, "sh", "-c", "echo during > /data/g; sleep 600"])
        .env("BERTH_ROOT", state.root())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("berth runs");
    wait_for("the second write", || data.join("g").exists() && state.ok(&["ps"]).contains("attached"));
    cli.kill().expect("kill -9");
    cli.wait().expect("reaped");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(state.ok(&["ps"]).contains("attached"), "the container outlives its CLI");
    state.ok(&["rm", "-f", "attached"]);
    assert_eq!(state.ok(&["run", "--rm", "-v", "keep:/data", IMAGE, "cat", "/data/f", "/data/g"]), "before\nduring\n");
}

#[test]
fn data_survives_down_up_and_recreation() {
    let state = state_with_busybox();
    state.ok(&["tag", IMAGE, "busybox:latest"]);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let write = |marker: &str| {
        let text = format!(
            "name: keep\nservices:\n  db:\n    image: busybox:latest\n    command: [\"sh\", \"-c\", \"echo $$MARK >> /data/log; exec sleep 600\"]\n    environment:\n      MARK: {marker}\n    volumes:\n      - dbdata:/data\n      - ./conf:/conf:ro\nvolumes:\n  dbdata: {{}}\n"
        );
        fs::write(&file, text).expect("write");
    };
    let f = file.to_str().expect("utf-8");
    let log = || state.ok(&["-f", f, "exec", "db", "cat", "/data/log"]);
    write("one");
    state.ok(&["-f", f, "up", "-d"]);
    // The short syntax creates a missing relative bind source in the project directory.
    assert!(dir.path().join("conf").is_dir(), "./conf was created");
    wait_for("the first line", || log() == "one\n");
    state.ok(&["-f", f, "down", "-t", "0"]);
    state.ok(&["-f", f, "up", "-d"]);
    wait_for("a second line", || log() == "one\none\n");
    // A changed environment recreates the container; the volume goes with it.
    write("two");
    let out = state.berth(&["-f", f, "up", "-d"]);
    assert!(stderr(&out).contains("Recreate"), "{}", stderr(&out));
    wait_for("the third line", || log() == "one\none\ntwo\n");
    state.ok(&["-f", f, "down", "-v", "-t", "0"]);
    assert_eq!(state.ok(&["volume", "ls", "-q"]), "");
}

#[test]
fn volumes_from_shares_another_services_mounts() {
    let state = state_with_busybox();
    state.ok(&["tag", IMAGE, "busybox:latest"]);
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    fs::write(
        &file,
        "name: vf\nservices:\n  owner:\n    image: busybox:latest\n    command: [\"sh\", \"-c\", \"echo shared > /data/f; exec sleep 600\"]\n    volumes: [\"data:/data\"]\n  reader:\n    image: busybox:latest\n    command: [\"sleep\", \"600\"]\n    volumes_from: [\"owner:ro\"]\n    depends_on: [owner]\nvolumes:\n  data: {}\n",
    )
    .expect("write");
    let f = file.to_str().expect("utf-8");
    state.ok(&["-f", f, "up", "-d"]);
    wait_for("the owner's write", || state.berth(&["-f", f, "exec", "reader", "cat", "/data/f"]).status.success());
    assert_eq!(state.ok(&["-f", f, "exec", "reader", "cat", "/data/f"]), "shared\n");
    let out = state.berth(&["-f", f, "exec", "reader", "touch", "/data/g"]);
    assert_ne!(code(&out), 0, ":ro makes the borrowed mount read-only");
    state.ok(&["-f", f, "down", "-v", "-t", "0"]);
}

#[test]
fn empty_volumes_are_seeded_from_the_image_unless_nocopy() {
    let state = state_with_busybox();
    state.ok(&["run", "--name", "base", IMAGE, "sh", "-c", "mkdir -p /srv/site && echo page > /srv/site/index.html && chmod 640 /srv/site/index.html && chown 1:2 /srv/site/index.html && ln -s index.html /srv/site/home"]);
    state.ok(&["commit", "base", "seeded:1"]);
    state.ok(&["run", "--rm", "-v", "site:/srv/site", "seeded:1", "true"]);
    let data = mountpoint(&state, "site");
    let page = data.join("index.html");
    assert_eq!(fs::read_to_string(&page).expect("seeded"), "page\n");
    let meta = fs::metadata(&page).expect("meta");
    assert_eq!((meta.permissions().mode() & 0o7777, meta.uid(), meta.gid()), (0o640, 1, 2), "owner and mode kept");
    assert_eq!(fs::read_link(data.join("home")).expect("a link stays a link"), Path::new("index.html"));
    // Seeding happens once: what a container writes is not overwritten by the image again.
    state.ok(&["run", "--rm", "-v", "site:/srv/site", "seeded:1", "sh", "-c", "echo edited > /srv/site/index.html"]);
    assert_eq!(
        state.ok(&["run", "--rm", "-v", "site:/srv/site", "seeded:1", "cat", "/srv/site/index.html"]),
        "edited\n"
    );
    // nocopy leaves a new volume empty.
    state.ok(&["run", "--rm", "--mount", "type=volume,source=bare,target=/srv/site,volume-nocopy", "seeded:1", "true"]);
    assert_eq!(fs::read_dir(mountpoint(&state, "bare")).expect("dir").count(), 0);
}

#[test]
fn read_only_mounts_tmpfs_limits_and_binds() {
    let state = state_with_busybox();
    let host = tempfile::tempdir().expect("tmp");
    let dir = host.path().join("dir");
    fs::create_dir(&dir).expect("mkdir");
    fs::write(dir.join("in"), "from the host\n").expect("write");
    let file = host.path().join("single.conf");
    fs::write(&file, "one file\n").expect("write");
    let (d, f) = (dir.to_str().expect("utf-8"), file.to_str().expect("utf-8"));

    // Read-only: a named volume and a bind refuse writes.
    let out = state.berth(&["run", "--rm", "-v", "ro:/data:ro", IMAGE, "touch", "/data/x"]);
    assert_ne!(code(&out), 0, "a read-only volume refuses writes");
    assert!(stderr(&out).contains("Read-only file system"), "{}", stderr(&out));
    let out = state.berth(&["run", "--rm", "-v", &format!("{d}:/in:ro"), IMAGE, "touch", "/in/x"]);
    assert_ne!(code(&out), 0, "a read-only bind refuses writes");
    assert!(!dir.join("x").exists());

    // Directory and file binds, both ways.
    let out = state.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{d}:/in"),
        "-v",
        &format!("{f}:/etc/single.conf:ro"),
        IMAGE,
        "sh",
        "-c",
        "cat /in/in /etc/single.conf && echo back > /in/out",
    ]);
    assert_eq!(out, "from the host\none file\n");
    assert_eq!(fs::read_to_string(dir.join("out")).expect("written through the bind"), "back\n");

    // tmpfs: the size limit holds, in both spellings.
    for args in [["--tmpfs", "/scratch:size=1m"], ["--mount", "type=tmpfs,target=/scratch,tmpfs-size=1048576"]] {
        let mut run = vec!["run", "--rm"];
        run.extend_from_slice(&args);
        run.extend_from_slice(&[IMAGE, "sh", "-c", "dd if=/dev/zero of=/scratch/big bs=1024 count=2048"]);
        let out = state.berth(&run);
        assert_ne!(code(&out), 0, "{args:?}: 2 MB do not fit in 1 MB");
        assert!(stderr(&out).contains("No space left on device"), "{}", stderr(&out));
    }
}

#[test]
fn symbolic_links_cannot_lead_a_mount_out_of_the_container() {
    let state = state_with_busybox();
    let host = tempfile::tempdir().expect("tmp");
    let outside = host.path().join("outside");
    fs::create_dir(&outside).expect("mkdir");
    fs::write(outside.join("host-file"), "host\n").expect("write");
    let real = host.path().join("real");
    fs::create_dir(&real).expect("mkdir");
    fs::write(real.join("content"), "real\n").expect("write");

    // A bind source that is a link is resolved on the host, as Docker does: the link's target
    // is what the container sees.
    let link = host.path().join("link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let out = state.ok(&["run", "--rm", "-v", &format!("{}:/src", link.display()), IMAGE, "cat", "/src/content"]);
    assert_eq!(out, "real\n");

    // A mount target that is a link in the image, pointing at an absolute host path, lands
    // inside the container's root, never on the host.
    let escape = format!("ln -s {} /escape", outside.display());
    state.ok(&["run", "--name", "linker", IMAGE, "sh", "-c", &escape]);
    state.ok(&["commit", "linker", "linked:1"]);
    let out = state.berth(&["run", "--rm", "-v", &format!("{}:/escape", real.display()), "linked:1", "ls", "/escape"]);
    assert_eq!(fs::read_to_string(outside.join("host-file")).expect("untouched"), "host\n");
    assert_eq!(fs::read_dir(&outside).expect("dir").count(), 1, "nothing was mounted on or written to {outside:?}");
    if out.status.success() {
        assert_eq!(stdout(&out), "content\n", "the bind is inside the container");
    }
    // Nothing stays mounted on the host's directory either.
    let mounts = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!mounts.contains(outside.to_str().expect("utf-8")), "{mounts}");

    // Seeding copies links as links, and never follows one out of the volume.
    let escape = format!("mkdir /seed && ln -s {} /seed/out", outside.display());
    state.ok(&["run", "--name", "seeder", IMAGE, "sh", "-c", &escape]);
    state.ok(&["commit", "seeder", "seedlink:1"]);
    state.ok(&["run", "--rm", "-v", "linked:/seed", "seedlink:1", "true"]);
    assert_eq!(fs::read_link(mountpoint(&state, "linked").join("out")).expect("link"), outside);
    assert_eq!(fs::read_dir(&outside).expect("dir").count(), 1);
}

#[test]
fn bad_volume_input_is_refused_before_anything_is_created() {
    let state = state_with_busybox();
    let refused = |args: &[&str], needle: &str| {
        let out = state.berth(args);
        assert!(!out.status.success(), "{args:?} is refused");
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    };
    refused(&["run", "--rm", "-v", "data:relative", IMAGE, "true"], "absolute");
    refused(
        &["run", "--rm", "--mount", "type=bind,source=/nonexistent/berth-test,target=/x", IMAGE, "true"],
        "/nonexistent/berth-test",
    );
    refused(&["volume", "create", "-d", "nfs", "remote"], "nfs");
    refused(&["volume", "create", "bad/name"], "bad/name");
    refused(&["run", "--rm", "-v", "bad name:/x", IMAGE, "true"], "bad name");
    assert_eq!(state.ok(&["volume", "ls", "-q"]), "", "no volume was created");
    assert_eq!(state.ok(&["ps", "-aq"]), "", "no container was created");

    // The same mistakes in a Compose file: named in the error, nothing created.
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let cases = [
        (
            "services:\n  app:\n    image: busybox:latest\n    volumes:\n      - data:relative\nvolumes:\n  data: {}\n",
            "relative",
        ),
        (
            "services:\n  app:\n    image: busybox:latest\n    volumes:\n      - type: bind\n        source: ./missing\n        target: /x\n",
            "missing",
        ),
        (
            "services:\n  app:\n    image: busybox:latest\n    volumes:\n      - data:/x\nvolumes:\n  data:\n    driver: nfs\n",
            "nfs",
        ),
    ];
    for (text, needle) in cases {
        fs::write(&file, text).expect("write");
        let out = state.berth(&["-f", file.to_str().expect("utf-8"), "-p", "bad", "up", "-d"]);
        assert!(!out.status.success(), "{text}");
        assert!(stderr(&out).contains(needle), "{text}: {}", stderr(&out));
        assert_eq!(state.ok(&["volume", "ls", "-q"]), "", "{text}: no volume");
        assert_eq!(state.ok(&["ps", "-aq"]), "", "{text}: no container");
        assert!(!state.ok(&["network", "ls"]).contains("bad_default"), "{text}: no network");
    }
}

#[test]
fn volume_modes_for_other_hosts_are_accepted_and_the_files_are_there() {
    let state = state_with_busybox();
    state.ok(&["tag", IMAGE, "busybox:latest"]);
    let dir = tempfile::tempdir().expect("tmp");
    fs::create_dir(dir.path().join("src")).expect("mkdir");
    fs::write(dir.path().join("src/app.txt"), "from the host\n").expect("write");
    // `cached` tunes file sharing on Docker Desktop for macOS; `Z` relabels for SELinux, which
    // this host does not enforce: both mean nothing here, and both are in real files.
    let text = "name: modes\nservices:\n  app:\n    image: busybox:latest\n    command: [\"sh\", \"-c\", \"cat /src/app.txt; echo kept > /data/f; sleep 100\"]\n    volumes: [\"./src:/src:cached\", \"data:/data:Z\", \"./src:/ro:ro,delegated\"]\nvolumes:\n  data: {}\n";
    fs::write(dir.path().join("compose.yaml"), text).expect("write");
    let f = dir.path().join("compose.yaml");
    let f = f.to_str().expect("utf-8");
    state.ok(&["-f", f, "up", "-d"]);
    wait_for("the bind's file read in the container", || state.ok(&["-f", f, "logs", "app"]).contains("from the host"));
    let out = state.berth(&["-f", f, "exec", "-T", "app", "cat", "/data/f", "/ro/app.txt"]);
    assert_eq!(stdout(&out), "kept\nfrom the host\n", "{}", stderr(&out));
    assert_ne!(code(&state.berth(&["-f", f, "exec", "-T", "app", "touch", "/ro/x"])), 0, "ro still holds");
    state.ok(&["-f", f, "down", "-t", "0", "-v"]);
}

#[test]
fn commands_and_files_on_binds_are_found_where_the_container_sees_them() {
    let state = state_with_busybox();
    let host = tempfile::tempdir().expect("tmp");
    let script = host.path().join("start.sh");
    fs::write(&script, "#!/bin/sh\necho from the bind \"$@\"\n").expect("write");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    let bind = format!("{}:/w", host.path().display());

    // The command is looked up with the container's mounts, as the kernel will look it up.
    let out = state.ok(&["run", "--rm", "-v", &bind, IMAGE, "/w/start.sh", "run"]);
    assert_eq!(out, "from the bind run\n");
    let out = state.berth(&["run", "--rm", "-v", &bind, IMAGE, "/w/missing.sh"]);
    assert_eq!(code(&out), 127, "{}", stderr(&out));

    state.ok(&["run", "-d", "--name", "tools", "-v", &bind, IMAGE, "sleep", "300"]);
    let out = state.ok(&["exec", "tools", "/w/start.sh", "exec"]);
    assert_eq!(out, "from the bind exec\n");
    // cp reaches through the bind too, both ways.
    let copied = host.path().join("copied.sh");
    state.ok(&["cp", "tools:/w/start.sh", copied.to_str().expect("utf-8")]);
    assert_eq!(fs::read(&copied).expect("copied out"), fs::read(&script).expect("script"));
    let elsewhere = tempfile::tempdir().expect("tmp");
    let note = elsewhere.path().join("note");
    fs::write(&note, "hello\n").expect("write");
    state.ok(&["cp", note.to_str().expect("utf-8"), "tools:/w/note"]);
    assert_eq!(fs::read_to_string(host.path().join("note")).expect("copied in, onto the bind"), "hello\n");
    // The running container's root is mounted in its shim's namespace, not on the host.
    let id = state.ok(&["inspect", "-f", "{{.Id}}", "tools"]).trim().to_string();
    let rootfs = state.root().join("containers").join(&id).join("rootfs");
    let table = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(!table.contains(rootfs.to_str().expect("utf-8")), "the root is on the host's mount table:\n{table}");
    state.ok(&["rm", "-f", "tools"]);
}
