//! The Compose loader conformance cases of `../shared/conformance/compose/`: each case's
//! commands are run with `berth` in place of `docker compose`, and the output is compared with
//! what Docker Compose v2.40.3 printed, as parsed trees.
//!
//! Deliberate deviations are listed in [`DEVIATIONS`] with the reason; README.md repeats them.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::{berth, stderr, stdout};

/// Cases where berth knowingly differs from the reference, and what berth does instead.
const DEVIATIONS: &[(&str, &str, &str)] = &[(
    "merge/cg-merge-volumes",
    "expected",
    // The reference merges the override's short-syntax `c:/c` and the base's `a:/a` into volumes
    // whose *target* is `a:/a` (a bug in its merge of short syntax). berth reads them as the named
    // volumes `a` and `c` mounted at /a and /c; since neither is declared, that is an error.
    "refers to undefined volume \"a\"",
)];

/// For cases that fail, the words berth's message must contain. Our messages are our own;
/// these pin down that the same mistake is found at the same place.
const ERRORS: &[(&str, &str, &[&str])] = &[
    (
        "config/cg-depends-on-cycle",
        "expected",
        &["dependency cycle detected: service1 -> service2 -> service3 -> service1"],
    ),
    (
        "config/cg-full-example",
        "expected",
        &["services.foo.network_mode", "mutually exclusive `network_mode` and `networks`"],
    ),
    (
        "config/cg-normalize-depends-on",
        "expected",
        &["service \"zot\" has neither an image nor a build context specified"],
    ),
    (
        "config/cg-normalize-environment",
        "expected",
        &["service \"test\" has neither an image nor a build context specified"],
    ),
    (
        "config/cg-normalize-implicit-deps",
        "expected",
        &["compose.yaml:5:", "services.test.cgroup", "must be one of 'host', 'private'"],
    ),
    (
        "config/cg-normalize-implicit-deps",
        "expected-no-consistency",
        &["services.test.cgroup", "must be one of 'host', 'private'"],
    ),
    (
        "config/cg-normalize-pre-start",
        "expected",
        &["compose.yaml:5:", "services.app.pre_start", "unknown attribute `pre_start`"],
    ),
    ("config/cg-normalize-pre-start", "expected-no-consistency", &["services.app.pre_start", "unknown attribute"]),
    ("dotenv/invalid1", "expected", &["invalid1.env", "line 7: key cannot contain a space"]),
    (
        "interpolation/cg-template-error-00",
        "expected",
        &["services.probe.labels.case", "required variable UNSET_VAR is missing a value: Mandatory Variable Unset"],
    ),
    (
        "interpolation/cg-template-error-02",
        "expected",
        &["services.probe.labels.case", "required variable UNSET_VAR is missing a value"],
    ),
    ("interpolation/cg-template-error-06", "expected", &["services.probe.labels.case", "invalid interpolation format"]),
    (
        "merge/cg-merge-ulimits",
        "expected",
        &["override.yaml:", "services.test.ulimits.nproc", "needs both `soft` and `hard`"],
    ),
    ("merge/cg-merge-ulimits", "expected-no-consistency", &["services.test.ulimits.nproc"]),
];

fn root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/compose");
    assert!(
        root.is_dir(),
        "the conformance cases are missing: expected {} (CI checks out shared/ beside the repository)",
        root.display()
    );
    root.canonicalize().expect("canonical path")
}

/// One command line of a case's `cmd.txt`: which expected file, the environment, the arguments.
struct Command {
    tag: String,
    env: Vec<(String, String)>,
    args: Vec<String>,
}

fn commands(case: &Path) -> Vec<Command> {
    let text = std::fs::read_to_string(case.join("cmd.txt")).expect("cmd.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (tag, rest) = line.trim_start_matches('[').split_once(']').expect("[tag] command");
            let words = berth_compose::shell::split(rest).expect("cmd.txt splits");
            let compose = words.iter().position(|w| w == "docker").expect("docker compose");
            let env = words[..compose]
                .iter()
                .filter_map(|w| w.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Command { tag: tag.to_string(), env, args: words[compose + 2..].to_vec() }
        })
        .collect()
}

fn substitute(text: &str, case: &Path, home: &str) -> String {
    text.replace("@@PROJECT_DIR@@", &case.to_string_lossy()).replace("@@HOME@@", home)
}

fn yaml_tree(text: &str) -> Value {
    serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("not YAML: {e}\n{text}"))
}

#[test]
fn every_case_matches_the_reference() {
    let root = root();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut groups: Vec<PathBuf> =
        std::fs::read_dir(&root).expect("groups").map(|e| e.expect("entry").path()).collect();
    groups.sort();
    for group in groups {
        let mut cases: Vec<PathBuf> =
            std::fs::read_dir(&group).expect("cases").map(|e| e.expect("entry").path()).collect();
        cases.sort();
        for case in cases {
            let id = format!(
                "{}/{}",
                group.file_name().expect("name").to_string_lossy(),
                case.file_name().expect("name").to_string_lossy()
            );
            for cmd in commands(&case) {
                checked += 1;
                if let Err(why) = check(&id, &case, &cmd) {
                    failures.push(format!("{id} [{}]: {why}", cmd.tag));
                }
            }
        }
    }
    assert!(checked >= 40, "only {checked} commands found in the conformance cases");
    assert!(
        failures.is_empty(),
        "{} of {checked} conformance commands differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn check(id: &str, case: &Path, cmd: &Command) -> Result<(), String> {
    let home = cmd.env.iter().find(|(k, _)| k == "HOME").map_or("/home/tester", |(_, v)| v.as_str()).to_string();
    let env: Vec<(&str, &str)> = cmd.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let args: Vec<&str> = cmd.args.iter().map(String::as_str).collect();
    let out = berth(case, &args, &env);
    let (stdout, stderr) = (stdout(&out), stderr(&out));

    let must_fail = DEVIATIONS
        .iter()
        .chain(
            ERRORS.iter().flat_map(|(c, t, words)| words.iter().map(move |w| (*c, *t, *w))).collect::<Vec<_>>().iter(),
        )
        .filter(|(c, t, _)| *c == id && *t == cmd.tag)
        .map(|(_, _, w)| *w)
        .collect::<Vec<_>>();
    let error_file = case.join(format!("{}.error.txt", cmd.tag));
    if error_file.exists() && must_fail.is_empty() {
        return Err("the reference fails here; list the words berth must print in ERRORS".into());
    }
    if !must_fail.is_empty() {
        if out.status.success() {
            return Err(format!("berth succeeded where it must fail; it printed:\n{stdout}"));
        }
        for word in must_fail {
            if !stderr.contains(word) {
                return Err(format!("the error does not mention {word:?}; berth printed:\n{stderr}"));
            }
        }
        return Ok(());
    }
    if !out.status.success() {
        return Err(format!("berth failed:\n{stderr}"));
    }
    let is_json = args.windows(2).any(|w| w == ["--format", "json"]);
    let expected_yaml = case.join(format!("{}.yaml", cmd.tag));
    let expected_json = case.join(format!("{}.json", cmd.tag));
    let mut compared = false;
    if expected_yaml.exists() && !is_json {
        let want =
            yaml_tree(&substitute(&std::fs::read_to_string(&expected_yaml).map_err(|e| e.to_string())?, case, &home));
        let got = yaml_tree(&stdout);
        if want != got {
            return Err(diff(&want, &got));
        }
        compared = true;
        // The same command with --format json must give the reference's JSON.
        if expected_json.exists() {
            let mut json_args = args.clone();
            json_args.extend(["--format", "json"]);
            let out = berth(case, &json_args, &env);
            let want: Value = serde_json::from_str(&substitute(
                &std::fs::read_to_string(&expected_json).map_err(|e| e.to_string())?,
                case,
                &home,
            ))
            .map_err(|e| e.to_string())?;
            let mut got: Value =
                serde_json::from_slice(&out.stdout).map_err(|e| format!("berth's JSON does not parse: {e}"))?;
            drop_service_extensions(&mut got);
            if want != got {
                return Err(format!("JSON output: {}", diff(&want, &got)));
            }
        }
    }
    if !compared {
        return Err("no expected output file to compare with".into());
    }
    Ok(())
}

/// Deviation: the reference's JSON leaves out the `x-` attributes of services (its YAML keeps
/// them); berth keeps them in both, since dropping them loses what the user wrote. They are
/// removed here before comparing with the reference's JSON.
fn drop_service_extensions(tree: &mut Value) {
    if let Some(Value::Object(services)) = tree.get_mut("services") {
        for service in services.values_mut() {
            if let Value::Object(attrs) = service {
                attrs.retain(|k, _| !k.starts_with("x-"));
            }
        }
    }
}

/// The first differing paths, enough to see what is wrong.
fn diff(want: &Value, got: &Value) -> String {
    let mut out = Vec::new();
    walk("", want, got, &mut out);
    out.truncate(12);
    out.join("\n")
}

pub(crate) fn walk(path: &str, want: &Value, got: &Value, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) => walk(&format!("{path}.{k}"), v, w, out),
                    None => out.push(format!("  {path}.{k}: missing, want {v}")),
                }
            }
            for (k, w) in b {
                if !a.contains_key(k) {
                    out.push(format!("  {path}.{k}: unexpected {w}"));
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                walk(&format!("{path}[{i}]"), v, w, out);
            }
        }
        _ if want != got => out.push(format!("  {path}: want {want}, got {got}")),
        _ => {}
    }
}
