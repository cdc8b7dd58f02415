//! The real-world corpus of `../shared/conformance/realworld/`: 269 Compose projects from
//! public repositories, each with what Docker Compose v2.40.3 printed for `config --format
//! json` (or that it refused the project). Every case is run as its `cmd.txt` says and the
//! output compared as a parsed tree, as `check.sh` compares it.
//!
//! Deliberate deviations are listed in [`DEVIATIONS`] with the reason; README.md repeats them.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{BERTH, stderr};

/// Cases where berth knowingly differs: the top-level key of berth's output taken out before
/// comparing, and why.
const DEVIATIONS: &[(&str, &str, &str)] = &[(
    "e2e-model-compose",
    "models",
    // The reference's JSON leaves out the top-level `models` section (its YAML output has it):
    // a bug of its own. berth prints it in both.
    "the reference's JSON drops top-level models",
)];

pub(crate) fn corpus() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/realworld");
    assert!(root.is_dir(), "the real-world corpus is missing: expected {}", root.display());
    root.canonicalize().expect("canonical path")
}

/// A case's command line: the environment and berth's arguments.
pub(crate) fn command(case: &Path, home: &Path) -> (Vec<(String, String)>, Vec<String>) {
    let text = std::fs::read_to_string(case.join("cmd.txt")).expect("cmd.txt");
    let line = text.lines().find(|l| !l.trim().is_empty()).expect("a command line");
    let line = line.replace("\"$TOOL\"", "@@TOOL@@").replace("$CASE_HOME", &home.to_string_lossy());
    let words = berth_compose::shell::split(&line).expect("cmd.txt splits");
    let tool = words.iter().position(|w| w == "@@TOOL@@").expect("the tool in cmd.txt");
    let env =
        words[..tool].iter().filter_map(|w| w.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect();
    (env, words[tool + 1..].to_vec())
}

enum Outcome {
    Same,
    Deviation,
    Differs(String),
}

#[test]
fn every_real_world_project_gives_what_docker_compose_gives() {
    let root = corpus();
    let home = tempfile::tempdir().expect("home");
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .expect("corpus")
        .flatten()
        .filter(|e| e.path().join("cmd.txt").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let (mut same, mut deviations, mut skipped, mut failures) = (0, 0, 0, Vec::new());
    for name in &names {
        let case = root.join(name);
        if case.join("known-reference-bug.txt").exists() {
            skipped += 1;
            continue;
        }
        match check(&root, &case, name, home.path()) {
            Outcome::Same => same += 1,
            Outcome::Deviation => deviations += 1,
            Outcome::Differs(why) => failures.push(format!("{name}: {why}")),
        }
    }
    // The same count as `check.sh target/release/berth` prints as passed.
    eprintln!(
        "{same} passed, {} failed ({deviations} listed deviations), {skipped} skipped",
        failures.len() + deviations
    );
    assert!(names.len() >= 260, "only {} cases found", names.len());
    assert!(failures.is_empty(), "{} real-world cases differ:\n\n{}", failures.len(), failures.join("\n\n"));
}

fn check(root: &Path, case: &Path, name: &str, home: &Path) -> Outcome {
    let (env, args) = command(case, home);
    let mut cmd = std::process::Command::new(BERTH);
    cmd.args(&args).current_dir(case).env_clear().stdin(std::process::Stdio::null());
    for (k, v) in &env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("berth runs");
    if case.join("expected.error.txt").exists() {
        return match out.status.success() {
            true => Outcome::Differs("the reference refuses it; berth accepts it".into()),
            false => Outcome::Same,
        };
    }
    if !out.status.success() {
        return Outcome::Differs(format!("berth refuses it:\n{}", stderr(&out)));
    }
    let substitute = |text: String| {
        text.replace("@@PROJECT_DIR@@", &case.to_string_lossy())
            .replace("@@CORPUS_DIR@@", &root.to_string_lossy())
            .replace("@@HOME@@", &home.to_string_lossy())
    };
    let want: Value =
        serde_json::from_str(&substitute(std::fs::read_to_string(case.join("expected.json")).expect("expected.json")))
            .expect("expected.json parses");
    let mut got: Value = match serde_json::from_slice(&out.stdout) {
        Ok(v) => v,
        Err(e) => return Outcome::Differs(format!("berth's JSON does not parse: {e}")),
    };
    if want == got {
        return Outcome::Same;
    }
    for (_, key, _) in DEVIATIONS.iter().filter(|(c, _, _)| *c == name) {
        if let Value::Object(top) = &mut got {
            top.remove(*key);
        }
    }
    match want == got {
        true => Outcome::Deviation,
        false => Outcome::Differs(first_differences(&want, &got)),
    }
}

fn first_differences(want: &Value, got: &Value) -> String {
    let mut out = Vec::new();
    crate::conformance::walk("", want, got, &mut out);
    out.truncate(8);
    out.join("\n")
}
