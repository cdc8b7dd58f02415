//! Building images: single- and multi-stage from the busybox image and `scratch`, the step
//! cache (hits, a change, --no-cache), `.dockerignore`, build arguments, the image config a
//! Dockerfile gives, bad input, `up --build` on the build example, and the built image read
//! by skopeo through `save`.

use std::fs;
use std::path::Path;

use crate::containers::{IMAGE, state_with_busybox};
use crate::images::State;
use crate::support::{stderr, stdout};

/// A context directory with these files.
fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tmp");
    for (name, text) in files {
        let path = dir.path().join(name);
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(path, text).expect("write");
    }
    dir
}

fn build(state: &State, dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["build"];
    args.extend_from_slice(extra);
    let d = dir.to_str().expect("utf-8");
    args.push(d);
    state.berth(&args)
}

fn config(state: &State, image: &str) -> serde_json::Value {
    serde_json::from_str(&state.ok(&["image", "inspect", "-f", "{{json .Config}}", image])).expect("json")
}

#[test]
fn single_stage_image_config_and_args() {
    let state = state_with_busybox();
    let dockerfile = format!(
        "FROM {IMAGE}
ARG GREETING=hi
ENV APP_HOME=/app GREETING=$GREETING
WORKDIR $APP_HOME
COPY app.sh bin/
RUN chmod +x bin/app.sh && echo built > stamp
EXPOSE 8080 53/udp
VOLUME /data
LABEL org.example.team=\"core\"
HEALTHCHECK --interval=5s --retries=2 CMD test -f /app/stamp
STOPSIGNAL SIGINT
USER 1000:1000
ENTRYPOINT [\"/app/bin/app.sh\"]
CMD [\"world\"]
"
    );
    let dir =
        context(&[("Dockerfile", &dockerfile), ("app.sh", "#!/bin/sh\necho \"$GREETING, $1 ($(cat /app/stamp))\"\n")]);
    let out = build(&state, dir.path(), &["-t", "app:1", "--build-arg", "GREETING=hello"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(state.ok(&["run", "--rm", "app:1"]), "hello, world (built)\n");
    assert_eq!(state.ok(&["run", "--rm", "app:1", "there"]), "hello, there (built)\n");
    // history: newest first, the RUN's layer with its size, the CMD a step of no layer.
    let history = state.ok(&["image", "history", "app:1"]);
    let lines: Vec<&str> = history.lines().collect();
    assert!(lines[0].starts_with("IMAGE") && lines[0].contains("CREATED BY") && lines[0].ends_with("COMMENT"));
    let id = state.ok(&["image", "inspect", "-f", "{{.Id}}", "app:1"]);
    assert!(lines[1].starts_with(&id.trim().trim_start_matches("sha256:")[..12]), "the top step is the image");
    assert!(lines[1].contains("CMD") && lines[1].contains(" 0B"), "{history}");
    let run = lines.iter().find(|l| l.contains("chmod +x")).expect("the RUN step");
    assert!(run.starts_with("<missing>") && !run.contains(" 0B "), "a layer of its own: {history}");
    let quiet = state.ok(&["image", "history", "-q", "app:1"]);
    assert_eq!(quiet.lines().count(), lines.len() - 1);
    let full = state.ok(&["image", "history", "--no-trunc", "--format", "json", "app:1"]);
    assert!(full.contains("chmod +x bin/app.sh && echo built > stamp"), "{full}");
    let c = config(&state, "app:1");
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/app/bin/app.sh"]));
    assert_eq!(c["Cmd"], serde_json::json!(["world"]));
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}, "53/udp": {}}));
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["Labels"]["org.example.team"], "core");
    assert_eq!(c["StopSignal"], "SIGINT");
    assert_eq!(
        c["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "test -f /app/stamp"], "Interval": 5_000_000_000u64, "Retries": 2})
    );
    let env = c["Env"].as_array().expect("env");
    assert!(env.contains(&serde_json::json!("APP_HOME=/app")) && env.contains(&serde_json::json!("GREETING=hello")));
    // The default of the build argument, without --build-arg.
    let out = build(&state, dir.path(), &["-t", "app:2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(state.ok(&["run", "--rm", "app:2"]), "hi, world (built)\n");
}

#[test]
fn multi_stage_builds_only_what_the_target_needs() {
    let state = state_with_busybox();
    let dockerfile = format!(
        "FROM {IMAGE} AS compile
RUN echo compiled > /out.txt
FROM {IMAGE} AS broken
RUN echo this stage is not needed; exit 1
FROM scratch AS final
COPY --from=compile /bin/busybox /bin/busybox
COPY --from=compile /out.txt /out.txt
CMD [\"/bin/busybox\", \"cat\", \"/out.txt\"]
"
    );
    let dir = context(&[("Dockerfile", &dockerfile)]);
    let out = build(&state, dir.path(), &["-t", "tiny:1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("not needed"), "the broken stage was skipped: {}", stderr(&out));
    assert_eq!(state.ok(&["run", "--rm", "tiny:1"]), "compiled\n");
    let layers: serde_json::Value =
        serde_json::from_str(&state.ok(&["image", "inspect", "-f", "{{json .RootFS.Layers}}", "tiny:1"]))
            .expect("json");
    assert_eq!(layers.as_array().expect("layers").len(), 2, "scratch plus two COPY layers");
    // --target picks an earlier stage (and fails as that stage does).
    let out = build(&state, dir.path(), &["-t", "broken:1", "--target", "broken"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("line 4") && stderr(&out).contains("exit code 1"), "{}", stderr(&out));
    assert!(stderr(&out).contains("this stage is not needed"), "the last output lines: {}", stderr(&out));
    assert!(!state.ok(&["images"]).contains("broken"), "nothing half-tagged");
}

#[test]
fn the_cache_hits_misses_and_dockerignore() {
    let state = state_with_busybox();
    let dockerfile = format!(
        "FROM {IMAGE}
RUN echo step one > /one
COPY . /ctx/
RUN ls /ctx > /listing
CMD [\"cat\", \"/listing\"]
"
    );
    let dir = context(&[
        ("Dockerfile", &dockerfile),
        ("keep.txt", "keep"),
        (".dockerignore", "*.log\nsecrets/\n"),
        ("debug.log", "noise"),
        ("secrets/key", "hidden"),
    ]);
    let first = build(&state, dir.path(), &["-t", "cached:1"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(!stderr(&first).contains("CACHED"));
    let listing = state.ok(&["run", "--rm", "cached:1"]);
    assert!(
        listing.contains("keep.txt") && !listing.contains("debug.log") && !listing.contains("secrets"),
        "{listing}"
    );
    let id = state.ok(&["images", "-q", "cached:1"]);

    // Nothing changed: every layer step is a hit, and the image is the same.
    let again = build(&state, dir.path(), &["-t", "cached:1"]);
    assert_eq!(stderr(&again).matches("CACHED").count(), 3, "{}", stderr(&again));
    assert_eq!(state.ok(&["images", "-q", "cached:1"]), id);
    // An ignored file changing changes nothing either.
    fs::write(dir.path().join("debug.log"), "more noise").expect("write");
    let ignored = build(&state, dir.path(), &["-t", "cached:1"]);
    assert_eq!(stderr(&ignored).matches("CACHED").count(), 3, "{}", stderr(&ignored));
    // A file that is copied: the steps from the COPY on run again.
    fs::write(dir.path().join("new.txt"), "new").expect("write");
    let changed = build(&state, dir.path(), &["-t", "cached:1"]);
    assert_eq!(stderr(&changed).matches("CACHED").count(), 1, "{}", stderr(&changed));
    assert!(state.ok(&["run", "--rm", "cached:1"]).contains("new.txt"));
    let forced = build(&state, dir.path(), &["-t", "cached:1", "--no-cache"]);
    assert_eq!(stderr(&forced).matches("CACHED").count(), 0, "{}", stderr(&forced));
}

#[test]
fn bad_dockerfiles_and_contexts_are_refused() {
    let state = state_with_busybox();
    let cases = [
        (format!("FROM {IMAGE}\n\nRUNN echo typo\n"), "line 3: unknown instruction RUNN"),
        (format!("FROM {IMAGE}\nCOPY ../outside /x\n"), "outside the build context"),
        (format!("FROM {IMAGE}\nCOPY missing.txt /x\n"), "missing.txt"),
        (format!("FROM {IMAGE}\nRUN <<EOF\necho unterminated\n"), "line 2: heredoc EOF is not terminated"),
    ];
    for (dockerfile, needle) in cases {
        let dir = context(&[("Dockerfile", &dockerfile)]);
        let out = build(&state, dir.path(), &["-t", "bad:1"]);
        assert!(!out.status.success(), "{dockerfile}");
        assert!(stderr(&out).contains(needle), "{dockerfile}: {}", stderr(&out));
    }
    let dir = context(&[("Dockerfile", &format!("FROM {IMAGE}\n"))]);
    let out = build(&state, dir.path(), &["-t", "bad:1", "--target", "nope"]);
    assert!(stderr(&out).contains("no stage named \"nope\""), "{}", stderr(&out));
    assert!(!state.ok(&["images"]).contains("bad"), "nothing tagged");
}

#[test]
fn up_builds_the_example_and_skopeo_reads_the_image() {
    let state = state_with_busybox();
    state.ok(&["tag", IMAGE, "busybox:latest"]);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/build");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let env = state.dir.path().join("build.env");
    fs::write(&env, format!("BUILD_EXAMPLE_PORT={port}\n")).expect("write");
    let file = example.join("compose.yaml");
    let (f, e) = (file.to_str().expect("utf-8"), env.to_str().expect("utf-8"));
    let up = state.berth(&["-f", f, "--env-file", e, "up", "--build", "-d", "--wait"]);
    assert!(up.status.success(), "{}", stderr(&up));
    assert!(stderr(&up).contains("Building web"), "{}", stderr(&up));
    let page = state.ok(&["-f", f, "--env-file", e, "exec", "web", "cat", "/www/index.html"]);
    assert_eq!(page, "hello from a built image\n");
    let ps = state.ok(&["-f", f, "--env-file", e, "ps"]);
    assert!(ps.contains("built-web") && ps.contains("(healthy)"), "{ps}");
    // Without --build an image that is there is used as is.
    let again = state.berth(&["-f", f, "--env-file", e, "up", "-d"]);
    assert!(!stderr(&again).contains("Building"), "{}", stderr(&again));
    state.ok(&["-f", f, "--env-file", e, "down", "-t", "0"]);

    // The image as a third-party tool reads it.
    let archive = state.dir.path().join("built.tar");
    state.ok(&["save", "-o", archive.to_str().expect("utf-8"), "built-web"]);
    let out = std::process::Command::new("skopeo")
        .args(["--insecure-policy", "inspect", "--config", &format!("docker-archive:{}", archive.display())])
        .output()
        .expect("skopeo runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let inspected: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(inspected["config"]["Cmd"], serde_json::json!(["httpd", "-f", "-p", "8080", "-h", "/www"]));
    assert_eq!(inspected["config"]["User"], "1000");
    assert_eq!(inspected["config"]["Labels"]["org.opencontainers.image.title"], "berth build example");
}

#[test]
fn compose_build_sections_additional_contexts_and_no_network() {
    let state = state_with_busybox();
    let shared = context(&[("shared.txt", "from another context\n")]);
    let dockerfile = format!(
        "FROM {IMAGE}
COPY --from=extras shared.txt /shared.txt
RUN ip -o link | grep -vc ' lo:' > /links || true
CMD [\"cat\", \"/shared.txt\", \"/links\"]
"
    );
    let dir = context(&[("Dockerfile.custom", &dockerfile)]);
    let compose = format!(
        "name: bs\nservices:\n  app:\n    build:\n      context: .\n      dockerfile: Dockerfile.custom\n      network: none\n      additional_contexts:\n        extras: {}\n      tags: [\"bs/app:extra\"]\n",
        shared.path().display()
    );
    fs::write(dir.path().join("compose.yaml"), compose).expect("write");
    let f = dir.path().join("compose.yaml");
    let f = f.to_str().expect("utf-8");
    let out = state.berth(&["-f", f, "build"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The image is named after the project and service, and has the extra tag.
    assert_eq!(state.ok(&["run", "--rm", "bs-app"]), "from another context\n0\n", "no network but lo during RUN");
    assert_eq!(state.ok(&["images", "-q", "bs/app:extra"]), state.ok(&["images", "-q", "bs-app"]));
}
