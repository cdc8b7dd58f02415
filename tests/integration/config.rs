//! `berth config` as a user runs it: errors, lists and flags.

use std::path::Path;
use std::process::Output;

use crate::support::{berth, berth_with_stdin, stderr, stdout};

const ENV: &[(&str, &str)] = &[("HOME", "/home/tester"), ("PATH", "/usr/bin:/bin")];

/// A project directory holding `files`; its name makes the default project name.
fn project(name: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::Builder::new().prefix("berth-config-").tempdir().expect("temp dir");
    let dir = tmp.path().join(name);
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    std::fs::create_dir_all(&dir).expect("mkdir");
    (tmp, dir)
}

fn run(dir: &Path, args: &[&str]) -> Output {
    berth(dir, args, ENV)
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "berth failed:\n{}", stderr(out));
    stdout(out)
}

fn error_lines(out: &Output) -> Vec<String> {
    assert_eq!(out.status.code(), Some(1), "berth must fail with exit code 1; stdout:\n{}", stdout(out));
    stderr(out).lines().filter(|l| l.starts_with("error:")).map(str::to_string).collect()
}

#[test]
fn five_mistakes_give_five_errors_at_their_lines() {
    let (_tmp, dir) = project(
        "shop",
        &[(
            "compose.yaml",
            "services:\n  web:\n    image: nginx\n    ports:\n      - \"80000:80\"\n    restart: sometimes\n    \
             healthcheck:\n      interval: 10 seconds\n    enviroment:\n      A: 1\n    depends_on: [db]\n",
        )],
    );
    let errors = error_lines(&run(&dir, &["config"]));
    assert_eq!(errors.len(), 5, "{errors:#?}");
    let expect = [
        (":5:", "services.web.ports[0]"),
        (":6:", "services.web.restart"),
        (":8:", "services.web.healthcheck.interval"),
        (":9:", "services.web.enviroment"),
        (":11:", "services.web.depends_on.db"),
    ];
    for ((line, path), error) in expect.iter().zip(&errors) {
        assert!(
            error.contains(&format!("compose.yaml{line}")) && error.contains(path),
            "{error} should point at {line} {path}"
        );
    }
    assert!(errors[3].contains("did you mean `environment`"), "{}", errors[3]);
}

#[test]
fn a_yaml_syntax_error_names_its_line() {
    let (_tmp, dir) = project("p", &[("compose.yaml", "services:\n  web:\n    image: [nginx\n  db: {}\n")]);
    let errors = error_lines(&run(&dir, &["config"]));
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("compose.yaml:") && errors[0].contains("invalid YAML"), "{}", errors[0]);
}

const STACK: &str = "services:
  web:
    image: nginx:1.27
    depends_on: [api]
    networks: [front]
  api:
    build: ./api
    depends_on: [db]
    networks: [front, back]
  db:
    image: postgres:16
    volumes: ['data:/var/lib/postgresql/data']
    networks: [back]
  debug:
    image: busybox
    profiles: [tools]
networks:
  front: {}
  back: {}
volumes:
  data: {}
";

#[test]
fn lists_services_volumes_networks_profiles_images() {
    let (_tmp, dir) = project("shop", &[("compose.yaml", STACK)]);
    assert_eq!(ok(&run(&dir, &["config", "--services"])), "db\napi\nweb\n");
    assert_eq!(ok(&run(&dir, &["config", "--volumes"])), "data\n");
    assert_eq!(ok(&run(&dir, &["config", "--networks"])), "back\nfront\n");
    assert_eq!(ok(&run(&dir, &["config", "--profiles"])), "tools\n");
    assert_eq!(ok(&run(&dir, &["config", "--images"])), "shop-api\npostgres:16\nnginx:1.27\n");
    let hashes = ok(&run(&dir, &["config", "--hash", "*"]));
    assert_eq!(hashes.lines().count(), 3);
    let web = ok(&run(&dir, &["config", "--hash", "web"]));
    assert!(web.starts_with("web ") && web.trim().len() == 4 + 64, "{web}");
    assert!(hashes.contains(web.trim()));
}

#[test]
fn profiles_from_the_flag_the_environment_and_a_targeted_service() {
    let (_tmp, dir) = project("shop", &[("compose.yaml", STACK)]);
    assert!(!ok(&run(&dir, &["config", "--services"])).contains("debug"));
    assert!(ok(&run(&dir, &["--profile", "tools", "config", "--services"])).contains("debug"));
    let env = [ENV, &[("COMPOSE_PROFILES", "tools")]].concat();
    assert!(stdout(&berth(&dir, &["config", "--services"], &env)).contains("debug"));
    assert_eq!(ok(&run(&dir, &["config", "--services", "debug"])), "debug\n");
}

#[test]
fn the_hash_changes_with_the_configuration_only() {
    let (_tmp, dir) = project("shop", &[("compose.yaml", STACK)]);
    let before = ok(&run(&dir, &["config", "--hash", "db"]));
    std::fs::write(dir.join("compose.yaml"), STACK.replace("image: postgres:16", "image: postgres:16\n    scale: 1"))
        .expect("write");
    assert_eq!(ok(&run(&dir, &["config", "--hash", "db"])), before, "scale must not change the hash");
    std::fs::write(dir.join("compose.yaml"), STACK.replace("postgres:16", "postgres:17")).expect("write");
    assert_ne!(ok(&run(&dir, &["config", "--hash", "db"])), before);
}

#[test]
fn finds_the_file_upwards_with_its_override() {
    let (_tmp, dir) = project(
        "Shop App",
        &[
            ("compose.yaml", "services:\n  web:\n    image: nginx\n"),
            ("compose.override.yaml", "services:\n  web:\n    environment: [DEBUG=1]\n"),
            ("src/deep/.keep", ""),
        ],
    );
    let out = ok(&run(&dir.join("src/deep"), &["config", "--format", "json"]));
    let tree: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(tree["name"], "shopapp", "the directory name is made a valid project name");
    assert_eq!(tree["services"]["web"]["environment"]["DEBUG"], "1");
    assert_eq!(tree["networks"]["default"]["name"], "shopapp_default");
}

#[test]
fn reads_standard_input_and_writes_a_file() {
    let (_tmp, dir) = project("p", &[]);
    let out = berth_with_stdin(
        &dir,
        &["-f", "-", "-p", "demo", "config", "-o", "out.yaml"],
        ENV,
        "services:\n  a:\n    image: busybox\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    let written = std::fs::read_to_string(dir.join("out.yaml")).expect("output file");
    assert!(written.contains("name: demo") && written.contains("image: busybox"), "{written}");
    assert!(ok(&run(&dir, &["-f", "out.yaml", "config", "-q"])).is_empty(), "the output loads again");
}

#[test]
fn project_name_rules() {
    let (_tmp, dir) = project("p", &[("compose.yaml", "name: fromfile\nservices:\n  a:\n    image: busybox\n")]);
    assert!(ok(&run(&dir, &["config"])).starts_with("name: fromfile"));
    assert!(ok(&run(&dir, &["-p", "flag", "config"])).starts_with("name: flag"));
    let env = [ENV, &[("COMPOSE_PROJECT_NAME", "fromenv")]].concat();
    assert!(stdout(&berth(&dir, &["config"], &env)).starts_with("name: fromenv"));
    let errors = error_lines(&run(&dir, &["-p", "Bad Name", "config"]));
    assert!(errors[0].contains("invalid project name"), "{errors:?}");
}

#[test]
fn interpolation_can_be_skipped() {
    let (_tmp, dir) = project("p", &[("compose.yaml", "services:\n  a:\n    image: \"busybox:${TAG:-1.36}\"\n")]);
    assert!(ok(&run(&dir, &["config"])).contains("image: busybox:1.36"));
    assert!(ok(&run(&dir, &["config", "--no-interpolate"])).contains("image: busybox:${TAG:-1.36}"));
    let env = [ENV, &[("TAG", "1.37")]].concat();
    assert!(stdout(&berth(&dir, &["config"], &env)).contains("image: busybox:1.37"));
}

#[test]
fn env_file_flag_replaces_dot_env() {
    let (_tmp, dir) = project(
        "p",
        &[
            ("compose.yaml", "services:\n  a:\n    image: \"busybox:${TAG}\"\n"),
            (".env", "TAG=from-dot-env\n"),
            ("other.env", "TAG=from-other\n"),
        ],
    );
    assert!(ok(&run(&dir, &["config"])).contains("busybox:from-dot-env"));
    assert!(ok(&run(&dir, &["--env-file", "other.env", "config"])).contains("busybox:from-other"));
}

#[test]
fn extends_loops_and_include_conflicts_are_errors() {
    let (_tmp, dir) =
        project("p", &[("compose.yaml", "services:\n  a:\n    extends: b\n    image: x\n  b:\n    extends: a\n")]);
    let errors = error_lines(&run(&dir, &["config"]));
    assert!(errors.iter().any(|e| e.contains("extends itself")), "{errors:?}");

    let (_tmp2, dir) = project(
        "q",
        &[
            ("compose.yaml", "include: [other.yaml]\nservices:\n  a:\n    image: x\n"),
            ("other.yaml", "services:\n  a:\n    image: y\n"),
        ],
    );
    let errors = error_lines(&run(&dir, &["config"]));
    assert!(errors.iter().any(|e| e.contains("services.a") && e.contains("conflicts")), "{errors:?}");
}

#[test]
fn a_missing_file_is_a_clear_error() {
    let (_tmp, dir) = project("p", &[]);
    let errors = error_lines(&run(&dir, &["config"]));
    assert!(errors[0].contains("no Compose file found"), "{errors:?}");
    let errors = error_lines(&run(&dir, &["-f", "nope.yaml", "config"]));
    assert!(errors[0].contains("nope.yaml") && errors[0].contains("cannot read"), "{errors:?}");
}

#[test]
fn container_name_with_replicas_and_undefined_resources() {
    let (_tmp, dir) = project(
        "p",
        &[(
            "compose.yaml",
            "services:\n  a:\n    image: x\n    container_name: one\n    deploy:\n      replicas: 2\n    \
             networks: [nope]\n    secrets: [s]\n",
        )],
    );
    let errors = error_lines(&run(&dir, &["config"]));
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(errors.iter().any(|e| e.contains("container_name") && e.contains("2 replicas")));
    assert!(errors.iter().any(|e| e.contains("undefined network \"nope\"")));
    assert!(errors.iter().any(|e| e.contains("undefined secret \"s\"")));
}

#[test]
fn every_example_loads() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&examples).expect("examples/") {
        let dir = entry.expect("entry").path();
        if dir.join("compose.yaml").is_file() {
            count += 1;
            let out = run(&dir, &["config", "-q"]);
            assert!(out.status.success(), "{}: {}", dir.display(), stderr(&out));
        }
    }
    assert!(count > 0, "no example found in {}", examples.display());
}
