//! Images against a real registry (Debian's docker-registry, filled by skopeo), and against a
//! fake one for the faults a real registry does not produce.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use crate::registry::{Layer, Layout, Registry, busybox_layer, host_arch};
use crate::support::{BERTH, stderr, stdout};

/// A berth state directory and HOME of its own.
pub struct State {
    pub dir: tempfile::TempDir,
}

impl State {
    pub fn new() -> State {
        State { dir: tempfile::Builder::new().prefix("berth-state-").tempdir().expect("tmp") }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// The command, with this state's root, HOME, and `config.toml` if the test wrote one.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(BERTH);
        cmd.args(args)
            .env_clear()
            .env("BERTH_ROOT", self.root())
            .env("HOME", self.dir.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        let config = self.dir.path().join("config.toml");
        if config.exists() {
            cmd.env("BERTH_CONFIG", config);
        }
        cmd
    }

    pub fn berth(&self, args: &[&str]) -> Output {
        self.command(args).stdin(std::process::Stdio::null()).output().expect("berth runs")
    }

    /// `berth ARGS` with `input` on standard input.
    pub fn berth_with_input(&self, args: &[&str], input: &str) -> Output {
        self.berth_with_bytes(args, input.as_bytes())
    }

    /// `berth ARGS` with `input` (any bytes: a tar stream) on standard input.
    pub fn berth_with_bytes(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("berth runs");
        child.stdin.take().expect("stdin").write_all(input).expect("write stdin");
        child.wait_with_output().expect("berth ends")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.berth(args);
        assert!(out.status.success(), "berth {args:?} failed:\n{}", stderr(&out));
        stdout(&out)
    }

    /// The snapshot directories, without temporary ones.
    pub fn snapshots(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(self.root().join("snapshots"))
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    pub fn blobs(&self) -> usize {
        fs::read_dir(self.root().join("content/sha256")).map(|d| d.count()).unwrap_or(0)
    }
}

/// Whatever a test did, its containers go: shims stopped, mounts and cgroups removed.
impl Drop for State {
    fn drop(&mut self) {
        let ids = self.berth(&["ps", "-aq"]);
        for id in stdout(&ids).lines() {
            let _ = self.berth(&["rm", "-f", id]);
        }
        // Networks take their bridges, rules and DNS server with them.
        let _ = self.berth(&["network", "prune", "-f"]);
        let root = self.root().display().to_string();
        let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for line in mounts.lines() {
            if let Some(target) = line.split(' ').nth(4).filter(|t| t.starts_with(&root)) {
                let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            }
        }
        // The parent cgroup berth creates is left empty by `rm`; remove it when no test uses it.
        for controller in fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            let _ = fs::remove_dir(controller.path().join("berth"));
        }
    }
}

pub fn busybox_image(dir: &Path) -> PathBuf {
    let mut layout = Layout::new(&dir.join("busybox-oci"));
    layout.image(host_arch(), vec![busybox_layer().finish()], &["sh"]);
    layout.finish()
}

#[test]
fn pull_list_inspect_tag_and_remove() {
    let registry = Registry::start();
    let state = State::new();
    registry.push_layout(&busybox_image(state.dir.path()), "test/busybox:1.0");
    let name = format!("{}/test/busybox:1.0", registry.host());

    let out = state.berth(&["pull", &name]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("Downloaded newer image"), "{}", stderr(&out));
    assert_eq!(state.snapshots().len(), 1);
    let fs_dir = state.snapshots()[0].join("fs");
    assert!(fs_dir.join("bin/busybox").is_file());
    assert_eq!(fs::read_link(fs_dir.join("bin/sh")).expect("applet link").to_str(), Some("busybox"));

    let again = state.berth(&["pull", &name]);
    assert!(stderr(&again).contains("Image is up to date"), "{}", stderr(&again));

    let table = state.ok(&["images"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("REPOSITORY") && lines[0].contains("IMAGE ID"), "{table}");
    assert!(lines[1].starts_with(&format!("{}/test/busybox", registry.host())) && lines[1].contains("1.0"), "{table}");
    let id = state.ok(&["images", "-q"]).trim().to_string();
    assert_eq!(id.len(), 12);
    let json: serde_json::Value =
        serde_json::from_str(state.ok(&["images", "--format", "json"]).lines().next().expect("a line")).expect("json");
    assert_eq!(json["Tag"], "1.0");

    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["image", "inspect", &name])).expect("json");
    assert_eq!(inspect[0]["Config"]["Cmd"][0], "sh");
    assert!(
        inspect[0]["Id"].as_str().expect("id").ends_with(&id[..12])
            || inspect[0]["Id"].as_str().expect("id").contains(&id)
    );

    state.ok(&["tag", &name, "local/box:dev"]);
    assert!(state.ok(&["images"]).contains("local/box"));
    let refused = state.berth(&["rmi", &id]);
    assert!(!refused.status.success() && stderr(&refused).contains("several names"), "{}", stderr(&refused));
    let out = state.ok(&["rmi", "local/box:dev"]);
    assert!(out.contains("Untagged: local/box:dev") && !out.contains("Deleted"), "{out}");
    let out = state.ok(&["rmi", &name]);
    assert!(out.contains("Deleted: sha256:"), "{out}");
    assert!(state.snapshots().is_empty(), "the layer goes with the last image using it");
    assert_eq!(state.blobs(), 0);
    assert!(!state.berth(&["image", "inspect", &name]).status.success());
}

#[test]
fn layers_with_whiteouts_stack_as_overlay_lower_directories() {
    let registry = Registry::start();
    let state = State::new();
    let mut layout = Layout::new(&state.dir.path().join("layers-oci"));
    let base = Layer::new()
        .dir("app/")
        .file("app/a", b"a", 0o644)
        .file("app/b", b"b", 0o644)
        .dir("data/")
        .file("data/old", b"o", 0o600);
    let change = Layer::new()
        .dir("app/")
        .file("app/.wh.a", b"", 0o644)
        .dir("data/")
        .file("data/.wh..wh..opq", b"", 0o644)
        .file("data/new", b"n", 0o600);
    let top = Layer::new().file("c", b"c", 0o755);
    layout.image(host_arch(), vec![base.finish(), change.finish(), top.finish()], &["sh"]);
    registry.push_layout(&layout.finish(), "test/layers:1");

    state.ok(&["pull", &format!("{}/test/layers:1", registry.host())]);
    let snapshots = state.snapshots();
    assert_eq!(snapshots.len(), 3);
    let middle =
        snapshots.iter().map(|s| s.join("fs")).find(|s| s.join("data/new").exists()).expect("the middle layer");
    let whiteout = fs::symlink_metadata(middle.join("app/a")).expect("whiteout");
    assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0);
    let mut v = [0u8; 1];
    rustix::fs::getxattr(middle.join("data"), "trusted.overlay.opaque", &mut v).expect("opaque directory");
    assert_eq!(&v, b"y");
}

#[test]
fn a_multi_platform_index_gives_the_platform_asked_for() {
    let registry = Registry::start();
    let state = State::new();
    let other = if host_arch() == "arm64" { "amd64" } else { "arm64" };
    let mut layout = Layout::new(&state.dir.path().join("multi-oci"));
    layout.image(host_arch(), vec![Layer::new().file("arch", host_arch().as_bytes(), 0o644).finish()], &["sh"]);
    layout.image(other, vec![Layer::new().file("arch", other.as_bytes(), 0o644).finish()], &["sh"]);
    registry.push_layout(&layout.finish(), "test/multi:1");
    let name = format!("{}/test/multi:1", registry.host());

    state.ok(&["pull", &name]);
    let arch_of = |state: &State| -> Vec<String> {
        state.snapshots().iter().map(|s| fs::read_to_string(s.join("fs/arch")).expect("arch file")).collect()
    };
    assert_eq!(arch_of(&state), [host_arch()]);
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["image", "inspect", &name])).expect("json");
    assert_eq!(inspect[0]["Architecture"], host_arch());

    let other_state = State::new();
    other_state.ok(&["pull", "--platform", &format!("linux/{other}"), &name]);
    assert_eq!(arch_of(&other_state), [other]);

    let out = other_state.berth(&["pull", "--platform", "linux/s390x", &name]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("has no image for linux/s390x") && stderr(&out).contains(other), "{}", stderr(&out));
}

#[test]
fn a_missing_image_is_a_clear_error() {
    let registry = Registry::start();
    let state = State::new();
    let out = state.berth(&["pull", &format!("{}/nothing/here:1", registry.host())]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("cannot pull") && stderr(&out).contains("404"), "{}", stderr(&out));
    let out = state.berth(&["pull", "Not A Name"]);
    assert!(stderr(&out).contains("invalid image reference"), "{}", stderr(&out));
}

mod faults {
    use super::State;
    use crate::fake_registry::{FakeRegistry, Fault};
    use crate::support::stderr;

    /// Pulling from a registry with `fault` fails with a message naming it, and leaves no
    /// image, no snapshot and no partial blob behind.
    fn refused(fault: Fault, words: &[&str]) {
        let registry = FakeRegistry::start(fault);
        let state = State::new();
        let out = state.berth(&["pull", &registry.name()]);
        assert!(!out.status.success(), "{fault:?}: the pull must fail");
        for w in words {
            assert!(stderr(&out).contains(w), "{fault:?}: the error should mention {w:?}:\n{}", stderr(&out));
        }
        assert_eq!(state.ok(&["images", "-q"]), "", "{fault:?}: no image is recorded");
        assert!(state.snapshots().is_empty(), "{fault:?}: no snapshot is left");
        for entry in std::fs::read_dir(state.root().join("content/sha256")).expect("content dir").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let data = std::fs::read(entry.path()).expect("blob");
            assert_eq!(
                crate::registry::sha256(&data),
                format!("sha256:{name}"),
                "{fault:?}: only verified blobs are kept"
            );
        }
    }

    #[test]
    fn a_blob_that_does_not_match_its_digest() {
        refused(Fault::WrongDigest, &["does not match its digest"]);
    }

    #[test]
    fn a_truncated_blob() {
        refused(Fault::Truncated, &["cannot pull", "ended after"]);
    }

    #[test]
    fn an_endless_blob() {
        refused(Fault::Endless, &["more than", "the transfer was stopped"]);
    }

    #[test]
    fn a_manifest_of_the_wrong_media_type() {
        refused(Fault::WrongMediaType, &["unsupported manifest media type", "prettyjws"]);
    }

    #[test]
    fn a_redirect_loop() {
        refused(Fault::RedirectLoop, &["too many redirects"]);
    }

    #[test]
    fn a_layer_named_by_a_path_instead_of_a_digest() {
        refused(Fault::PathDigest, &["invalid digest", "sha256:../"]);
        assert!(!std::path::Path::new("/tmp/berth-path-digest").exists(), "nothing written where the path points");
    }

    #[test]
    fn a_gzip_bomb_is_stopped() {
        refused(Fault::GzipBomb, &["decompression bomb", "compressed bytes"]);
    }

    #[test]
    fn a_connection_closed_without_an_answer_is_tried_once_more() {
        let registry = FakeRegistry::start(Fault::ClosesFirstConnection);
        let state = State::new();
        state.ok(&["pull", "-q", &registry.name()]);
        assert_eq!(state.ok(&["images", "-q"]).lines().count(), 1, "the image is pulled on the second attempt");
    }

    #[test]
    fn a_redirect_to_another_host_carries_no_credentials() {
        let registry = FakeRegistry::start(Fault::RedirectElsewhere);
        let state = State::new();
        let host = format!("127.0.0.1:{}", registry.port);
        let login = state.berth_with_input(&["login", "-u", "tester", "--password-stdin", &host], "s3cret\n");
        assert!(login.status.success(), "{}", stderr(&login));
        state.ok(&["pull", "-q", &registry.name()]);
        let seen = registry.elsewhere.lock().expect("lock").clone();
        assert!(!seen.is_empty() && seen.iter().all(String::is_empty), "the other host was sent {seen:?}");
    }

    /// Docker's rule for token realms: the registry names its token service, which gets the
    /// credentials whatever its host (docker/distribution's token handler asks the realm of
    /// the challenge with them); the token, not the password, then goes to the registry.
    #[test]
    fn a_token_realm_on_another_host_gets_the_credentials_as_dockers_do() {
        let registry = FakeRegistry::start(Fault::RealmElsewhere);
        let state = State::new();
        let host = format!("127.0.0.1:{}", registry.port);
        let login = state.berth_with_input(&["login", "-u", "tester", "--password-stdin", &host], "s3cret\n");
        assert!(login.status.success(), "{}", stderr(&login));
        state.ok(&["pull", "-q", &registry.name()]);
        let seen = registry.elsewhere.lock().expect("lock").clone();
        assert!(
            !seen.is_empty() && seen.iter().all(|a| a == "Basic dGVzdGVyOnMzY3JldA=="),
            "the token service was sent {seen:?}"
        );
    }
}

/// The image ID of `name` in `state`.
fn image_id(state: &State, name: &str) -> String {
    let inspect: serde_json::Value = serde_json::from_str(&state.ok(&["image", "inspect", name])).expect("json");
    inspect[0]["Id"].as_str().expect("an Id").to_string()
}

#[test]
fn save_load_push_and_import_round_trip_with_skopeo() {
    let registry = Registry::start();
    let state = State::new();
    registry.push_layout(&busybox_image(state.dir.path()), "test/busybox:1.0");
    let name = format!("{}/test/busybox:1.0", registry.host());
    state.ok(&["pull", "-q", &name]);
    let id = image_id(&state, &name);

    // berth save -> berth load, into a fresh store.
    let archive = state.dir.path().join("busybox.tar");
    state.ok(&["save", "-o", archive.to_str().expect("utf-8"), &name]);
    let fresh = State::new();
    let out = fresh.ok(&["load", "-i", archive.to_str().expect("utf-8")]);
    assert!(out.contains("Loaded image: "), "{out}");
    assert_eq!(image_id(&fresh, &name), id, "the image ID survives save and load");
    assert!(fresh.snapshots()[0].join("fs/bin/busybox").is_file());

    // berth save -> skopeo (a third-party reader) -> registry -> berth pull.
    crate::registry::skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("docker-archive:{}", archive.display()),
        &format!("docker://{}/test/from-archive:1", registry.host()),
    ]);
    let third = State::new();
    let from_archive = format!("{}/test/from-archive:1", registry.host());
    third.ok(&["pull", "-q", &from_archive]);
    assert_eq!(image_id(&third, &from_archive), id);

    // skopeo writes an archive -> berth load.
    let skopeo_archive = state.dir.path().join("skopeo.tar");
    crate::registry::skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{name}"),
        &format!("docker-archive:{}:test/written-by-skopeo:7", skopeo_archive.display()),
    ]);
    let fourth = State::new();
    fourth.ok(&["load", "-i", skopeo_archive.to_str().expect("utf-8")]);
    assert_eq!(image_id(&fourth, "test/written-by-skopeo:7"), id);

    // skopeo writes an OCI archive -> berth load.
    let oci_archive = state.dir.path().join("skopeo-oci.tar");
    crate::registry::skopeo(&[
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{name}"),
        &format!("oci-archive:{}:test/oci-written:3", oci_archive.display()),
    ]);
    fourth.ok(&["load", "-i", oci_archive.to_str().expect("utf-8")]);
    assert_eq!(image_id(&fourth, "test/oci-written:3"), id);

    // berth push of another name, read back by a fresh berth and by skopeo.
    let pushed = format!("{}/test/pushed:2", registry.host());
    fourth.ok(&["tag", "test/written-by-skopeo:7", &pushed]);
    let out = fourth.ok(&["push", &pushed]);
    assert!(out.contains("digest: sha256:"), "{out}");
    let fifth = State::new();
    fifth.ok(&["pull", "-q", &pushed]);
    assert_eq!(image_id(&fifth, &pushed), id);
    crate::registry::skopeo(&["inspect", "--tls-verify=false", &format!("docker://{pushed}")]);
}

#[test]
fn import_makes_an_image_from_a_root_file_system() {
    let state = State::new();
    let (tar, gz) = busybox_layer().finish();
    let rootfs = state.dir.path().join("rootfs.tar.gz");
    fs::write(&rootfs, &gz).expect("write");
    let out = state.ok(&[
        "import",
        rootfs.to_str().expect("utf-8"),
        "local/imported:1",
        "--change",
        r#"CMD ["sh"]"#,
        "-c",
        "ENV A=1",
    ]);
    assert!(out.trim().starts_with("sha256:"), "{out}");
    let inspect: serde_json::Value =
        serde_json::from_str(&state.ok(&["image", "inspect", "local/imported:1"])).expect("json");
    assert_eq!(inspect[0]["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(inspect[0]["Config"]["Env"], serde_json::json!(["A=1"]));
    assert_eq!(inspect[0]["RootFS"]["Layers"][0], crate::registry::sha256(&tar));
    assert!(state.snapshots()[0].join("fs/bin/busybox").is_file());

    let bad = state.dir.path().join("bad.tar");
    fs::write(&bad, b"this is not a tarball at all, just text").expect("write");
    let out = state.berth(&["import", bad.to_str().expect("utf-8"), "local/bad:1"]);
    assert!(!out.status.success(), "a file that is not a tarball is refused");
    assert!(!state.ok(&["images"]).contains("local/bad"));
}

#[test]
fn basic_auth_with_login_and_logout() {
    let registry = Registry::start_with_password("tester", "s3cret");
    let state = State::new();
    registry.push_layout_as(&busybox_image(state.dir.path()), "private/busybox:1", "tester:s3cret");
    let name = format!("{}/private/busybox:1", registry.host());

    let out = state.berth(&["pull", &name]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("requires authentication") && stderr(&out).contains("berth login"),
        "{}",
        stderr(&out)
    );

    let wrong = state.berth_with_input(&["login", "-u", "tester", "--password-stdin", &registry.host()], "nope\n");
    assert!(!wrong.status.success(), "a wrong password is refused");
    let login = state.berth_with_input(&["login", "-u", "tester", "--password-stdin", &registry.host()], "s3cret\n");
    assert!(login.status.success(), "{}", stderr(&login));
    let config = fs::read_to_string(state.dir.path().join(".docker/config.json")).expect("docker config");
    assert!(config.contains(&registry.host()) && config.contains("dGVzdGVyOnMzY3JldA=="), "{config}");

    state.ok(&["pull", "-q", &name]);
    state.ok(&["logout", &registry.host()]);
    state.ok(&["rmi", &name]);
    assert!(!state.berth(&["pull", &name]).status.success(), "after logout the registry refuses again");
}

#[test]
fn bearer_tokens_from_the_realm_of_the_challenge() {
    let registry = crate::fake_registry::FakeRegistry::start(crate::fake_registry::Fault::BearerOnly);
    let state = State::new();
    let out = state.berth(&["pull", &registry.name()]);
    assert!(!out.status.success() && stderr(&out).contains("requires authentication"), "{}", stderr(&out));
    let host = format!("127.0.0.1:{}", registry.port);
    let login = state.berth_with_input(&["login", "-u", "tester", "--password-stdin", &host], "s3cret\n");
    assert!(login.status.success(), "{}", stderr(&login));
    state.ok(&["pull", "-q", &registry.name()]);
    assert_eq!(state.snapshots().len(), 1);
}

#[test]
fn a_mirror_serves_pulls_for_its_registry() {
    let registry = Registry::start();
    let state = State::new();
    registry.push_layout(&busybox_image(state.dir.path()), "test/busybox:1.0");
    // `.invalid` never resolves: the pull can only succeed through the mirror.
    let config = format!("[registries.mirrors]\n\"registry.invalid\" = [\"http://{}\"]\n", registry.host());
    fs::write(state.dir.path().join("config.toml"), config).expect("config");
    state.ok(&["pull", "-q", "registry.invalid/test/busybox:1.0"]);
    assert!(state.ok(&["images"]).contains("registry.invalid/test/busybox"));

    fs::write(state.dir.path().join("config.toml"), "[registries]\nmirrorz = 1\n").expect("config");
    let out = state.berth(&["images"]);
    assert!(stderr(&out).contains("config.toml") || out.status.success(), "{}", stderr(&out));
    let out = state.berth(&["pull", "registry.invalid/test/busybox:1.0"]);
    assert!(
        !out.status.success() && stderr(&out).contains("config.toml"),
        "a mistake in the config file is reported: {}",
        stderr(&out)
    );
}

/// Each pull policy of `up` against the loopback registry, a newer image pushed under the
/// same tag between the `up`s: `never` refuses a missing image, `missing` pulls only what is
/// not here, `daily` pulls again once the recorded pull is a day old, `weekly` not yet,
/// `always` every time; `every_0s` is refused.
#[test]
fn pull_policies_of_up_against_a_registry() {
    let registry = Registry::start();
    let state = State::new();
    let v1 = busybox_image(state.dir.path());
    let mut layout = Layout::new(&state.dir.path().join("v2-oci"));
    layout.image(host_arch(), vec![busybox_layer().finish()], &["sh", "-c", "echo two"]);
    let v2 = layout.finish();
    let name = format!("{}/test/policy:1", registry.host());
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    let f = file.to_str().expect("utf-8");
    let up = |policy: &str| {
        let text = format!(
            "name: pol\nservices:\n  app:\n    image: {name}\n    command: [sleep, '300']\n    pull_policy: {policy}\n"
        );
        fs::write(&file, text).expect("write");
        state.berth(&["-f", f, "up", "-d"])
    };

    registry.push_layout(&v1, "test/policy:1");
    let out = up("never");
    assert!(!out.status.success() && stderr(&out).contains("pull policy is never"), "{}", stderr(&out));
    assert_eq!(state.ok(&["ps", "-aq"]), "", "nothing was created");
    assert!(up("missing").status.success());
    let first = image_id(&state, &name);

    registry.push_layout(&v2, "test/policy:1");
    assert!(up("missing").status.success());
    assert_eq!(image_id(&state, &name), first, "missing: the image here is kept");
    assert!(up("daily").status.success());
    assert_eq!(image_id(&state, &name), first, "daily: pulled less than a day ago");
    // The recorded pull moved two days back, as if the image had been pulled then.
    let index = state.root().join("images/index.json");
    let mut records: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&index).expect("index")).expect("json");
    let record = records["images"].as_object_mut().and_then(|m| m.get_mut(&name)).expect("the image's record");
    record["pulled"] = (record["pulled"].as_u64().expect("a pull time") - 2 * 24 * 3600).into();
    fs::write(&index, serde_json::to_vec(&records).expect("json")).expect("write");
    assert!(up("weekly").status.success());
    assert_eq!(image_id(&state, &name), first, "weekly: two days is not a week");
    assert!(up("daily").status.success());
    let second = image_id(&state, &name);
    assert_ne!(second, first, "daily: a day old, pulled again");

    registry.push_layout(&v1, "test/policy:1");
    assert!(up("always").status.success());
    assert_eq!(image_id(&state, &name), first, "always: pulled every time");
    let out = up("every_0s");
    assert!(!out.status.success() && stderr(&out).contains("invalid pull policy"), "{}", stderr(&out));
    state.ok(&["-f", f, "down", "-t", "0"]);
}
