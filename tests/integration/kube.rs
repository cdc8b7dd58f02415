//! `kube generate` against the Kubernetes schemas: every example and every real-world project
//! berth loads is generated and checked by kubernetes-validate (PyPI; its schemas are bundled,
//! so it runs offline) in strict mode, unknown fields refused, for Kubernetes 1.30 and 1.37.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{BERTH, stderr};

/// kubernetes-validate: `BERTH_KUBE_VALIDATE`, the one `.ci/run` and the README's set-up
/// install, or one on the PATH. Its absence fails the test: CI installs it.
fn validator() -> PathBuf {
    let candidates = [
        std::env::var_os("BERTH_KUBE_VALIDATE").map(PathBuf::from),
        Some(PathBuf::from("/opt/berth-test/venv/bin/kubernetes-validate")),
    ];
    if let Some(found) = candidates.into_iter().flatten().find(|p| p.is_file()) {
        return found;
    }
    let on_path = Command::new("kubernetes-validate").arg("--version").output();
    assert!(
        on_path.is_ok_and(|o| o.status.success()),
        "kubernetes-validate is missing: install it as .ci/run does (python3 -m venv /opt/berth-test/venv && /opt/berth-test/venv/bin/pip install kubernetes-validate)"
    );
    PathBuf::from("kubernetes-validate")
}

/// Writes the manifests of the project `args` loads to `out`; the loader's refusal is `None`.
fn generate(dir: &Path, env: &[(String, String)], args: &[String], out: &Path) -> Result<(), String> {
    let mut cmd = Command::new(BERTH);
    cmd.args(args).args(["kube", "generate", "--hostpath"]).current_dir(dir).env_clear();
    cmd.stdin(std::process::Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("berth runs");
    if !output.status.success() {
        return Err(stderr(&output));
    }
    std::fs::write(out, &output.stdout).expect("write the manifests");
    Ok(())
}

fn validate(files: &[PathBuf], version: &str) {
    let out = Command::new(validator())
        .args(["--strict", "--quiet", "-k", version])
        .args(files)
        .output()
        .expect("kubernetes-validate runs");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(out.status.success() && !report.contains("ERROR"), "Kubernetes {version}:\n{report}");
}

#[test]
fn generated_manifests_validate_for_kubernetes_1_30_and_1_37() {
    let work = tempfile::tempdir().expect("tmp");
    let mut files = Vec::new();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    for entry in std::fs::read_dir(&examples).expect("examples").flatten() {
        let file = entry.path().join("compose.yaml");
        if !file.is_file() {
            continue;
        }
        let out = work.path().join(format!("example-{}.yaml", entry.file_name().to_string_lossy()));
        let args = vec!["-f".to_string(), file.to_string_lossy().into_owned()];
        generate(&entry.path(), &[], &args, &out).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        files.push(out);
    }
    let examples_count = files.len();
    assert!(examples_count >= 2, "the examples were found");

    let root = crate::realworld::corpus();
    let home = tempfile::tempdir().expect("home");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("corpus")
        .flatten()
        .filter(|e| e.path().join("cmd.txt").is_file() && !e.path().join("expected.error.txt").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut refused = Vec::new();
    for name in &names {
        let case = root.join(name);
        let (env, args) = crate::realworld::command(&case, home.path());
        // The case's global flags, without its `config ...`.
        let globals: Vec<String> = args.iter().take_while(|a| *a != "config").cloned().collect();
        let out = work.path().join(format!("{name}.yaml"));
        match generate(&case, &env, &globals, &out) {
            Ok(()) => files.push(out),
            Err(e) => refused.push(format!("{name}: {}", e.trim())),
        }
    }
    let generated = files.len() - examples_count;
    eprintln!(
        "kube generate: {examples_count} examples and {generated} of {} real-world projects generated, validated for 1.30 and 1.37",
        names.len()
    );
    assert!(refused.is_empty(), "{} projects berth loads were not generated:\n{}", refused.len(), refused.join("\n"));
    validate(&files, "1.30.0");
    validate(&files, "1.37.0");
}

/// The page the quickstart publishes, or why not.
fn page() -> Result<String, String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect("127.0.0.1:8080").map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2))).map_err(|e| e.to_string())?;
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    Ok(answer)
}

#[test]
fn the_quickstart_goes_to_manifests_and_back() {
    let _port = crate::support::QUICKSTART_PORT.lock().unwrap_or_else(|e| e.into_inner());
    let state = crate::compose::with_latest_tag();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/compose.yaml");
    let dir = state.dir.path().join("manifests");
    let d = dir.to_str().expect("utf-8");
    state.ok(&["-f", file.to_str().expect("utf-8"), "kube", "generate", "-o", d]);
    assert!(dir.join("kustomization.yaml").is_file() && dir.join("web-deployment.yaml").is_file());
    let out = state.berth(&["--progress", "plain", "kube", "play", d]);
    assert!(out.status.success(), "{}", stderr(&out));
    let progress = stderr(&out);
    let at = |what: &str| progress.find(what).unwrap_or_else(|| panic!("{what} in {progress}"));
    assert!(at("default-seed-1                 Exited") < at("default-web-1                  Starting"), "{progress}");
    assert!(at("default-web-1                  Healthy") < at("default-worker-1               Starting"), "{progress}");
    crate::containers::wait_for("the published page", || page().is_ok_and(|p| p.contains("hello from berth")));
    state.ok(&["kube", "play", "--down", d]);
    assert_eq!(state.ok(&["ps", "-aq"]), "", "no container left");
    assert_eq!(state.ok(&["volume", "ls", "-q"]), "", "no volume left");
    assert!(!state.ok(&["network", "ls"]).contains("default_default"), "no network left");
}
