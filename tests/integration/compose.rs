//! `up`, `down` and the project commands against the quickstart example and small files:
//! dependency order with health gating, recreation only on change, volumes that outlive
//! `down`, and nothing left behind.

use std::fs;
use std::path::Path;

use crate::containers::state_with_busybox;
use crate::images::State;
use crate::support::{stderr, stdout};

fn with_latest_tag() -> State {
    let state = state_with_busybox();
    state.ok(&["tag", crate::containers::IMAGE, "busybox:latest"]);
    state
}

fn up(state: &State, file: &Path, extra: &[&str]) -> String {
    let f = file.to_str().expect("utf-8");
    let mut args = vec!["-f", f, "up", "-d"];
    args.extend_from_slice(extra);
    let out = state.berth(&args);
    assert!(out.status.success(), "up failed:\n{}", stderr(&out));
    stderr(&out)
}

fn ids(state: &State, file: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        state.ok(&["-f", file.to_str().expect("utf-8"), "ps", "-aq"]).lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn quickstart_comes_up_in_order_and_goes_away() {
    let state = with_latest_tag();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/quickstart/compose.yaml");
    let progress = up(&state, &file, &[]);
    let pos = |needle: &str| progress.find(needle).unwrap_or_else(|| panic!("{needle} in:\n{progress}"));
    assert!(
        pos("quickstart-seed-1              Exited") < pos("quickstart-web-1               Starting"),
        "{progress}"
    );
    assert!(
        pos("quickstart-web-1               Healthy") < pos("quickstart-worker-1            Starting"),
        "{progress}"
    );
    let ps = state.ok(&["-f", file.to_str().expect("utf-8"), "ps", "-a"]);
    assert!(ps.contains("(healthy)") && ps.contains("127.0.0.1:8080->8080/tcp"), "{ps}");
    // The worker reaches the web server by name.
    crate::containers::wait_for("the worker's fetch", || {
        state
            .ok(&["-f", file.to_str().expect("utf-8"), "logs", "worker"])
            .contains("quickstart-worker-1 | hello from berth")
    });

    // Nothing changed: nothing is recreated.
    let before = ids(&state, &file);
    let again = up(&state, &file, &[]);
    assert!(!again.contains("Recreate") && !again.contains("Created"), "{again}");
    assert_eq!(ids(&state, &file), before);

    // A changed service is recreated, the others are kept.
    let dir = tempfile::tempdir().expect("tmp");
    let changed = dir.path().join("compose.yaml");
    let text = fs::read_to_string(&file).expect("read").replace("sleep 5", "sleep 4");
    fs::write(&changed, text).expect("write");
    let progress = up(&state, &changed, &["--remove-orphans"]);
    assert!(progress.contains("quickstart-worker-1            Recreate"), "{progress}");
    assert!(!progress.contains("quickstart-web-1               Recreate"), "{progress}");

    // down keeps the named volume; down -v removes it.
    let down = state.berth(&["-f", changed.to_str().expect("utf-8"), "down", "-t", "1"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(state.ok(&["ps", "-aq"]), "");
    assert!(state.ok(&["volume", "ls", "-q"]).contains("quickstart_site"));
    assert!(!state.ok(&["network", "ls"]).contains("quickstart_default"));
    let progress = up(&state, &changed, &["--wait"]);
    assert!(progress.contains("Started"), "{progress}");
    let page = state.ok(&["-f", changed.to_str().expect("utf-8"), "logs", "seed"]);
    assert_eq!(page, "", "the seed writes nothing to its output");
    let down = state.berth(&["-f", changed.to_str().expect("utf-8"), "down", "-v", "-t", "0"]);
    assert!(down.status.success(), "{}", stderr(&down));
    assert_eq!(state.ok(&["volume", "ls", "-q"]), "");
    assert_eq!(stdout(&state.berth(&["ls", "-q"])), "");
}

#[test]
fn a_failed_dependency_stops_its_dependents() {
    let state = with_latest_tag();
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("compose.yaml");
    fs::write(
        &file,
        "name: failing\nservices:\n  migrate:\n    image: busybox:latest\n    command: [\"sh\", \"-c\", \"exit 3\"]\n  app:\n    image: busybox:latest\n    command: [\"sleep\", \"600\"]\n    depends_on:\n      migrate:\n        condition: service_completed_successfully\n",
    )
    .expect("write");
    let out = state.berth(&["-f", file.to_str().expect("utf-8"), "up", "-d"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("service \"migrate\" didn't complete successfully: exit 3"), "{}", stderr(&out));
    let ps = state.ok(&["-f", file.to_str().expect("utf-8"), "ps", "-a"]);
    assert!(ps.lines().any(|l| l.starts_with("failing-app-1") && l.contains("Created")), "app never started: {ps}");
    state.ok(&["-f", file.to_str().expect("utf-8"), "down"]);
}
