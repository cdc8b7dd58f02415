//! Property tests: the loader never panics, whatever YAML it is given, nor does the `.env`
//! parser, whatever text.
//!
//! Documents are generated from Compose's own vocabulary (so they reach deep into every phase:
//! interpolation, canonical forms, extends, merge tags, binding) mixed with arbitrary text.
//! `BERTH_PROPTEST_CASES` raises the number of cases for a long run; the cargo fuzz target in
//! `compose/fuzz` covers the same entry point with coverage guidance.

use proptest::prelude::*;

const KEYS: &[&str] = &[
    "services",
    "web",
    "db",
    "image",
    "build",
    "context",
    "command",
    "entrypoint",
    "ports",
    "volumes",
    "environment",
    "env_file",
    "depends_on",
    "condition",
    "required",
    "extends",
    "service",
    "file",
    "include",
    "path",
    "networks",
    "aliases",
    "healthcheck",
    "test",
    "interval",
    "retries",
    "ulimits",
    "soft",
    "hard",
    "deploy",
    "replicas",
    "resources",
    "limits",
    "memory",
    "cpus",
    "restart",
    "labels",
    "profiles",
    "x-ext",
    "<<",
    "name",
    "external",
    "secrets",
    "configs",
    "target",
    "source",
    "type",
    "bind",
    "tmpfs",
    "size",
    "mode",
    "extra_hosts",
    "network_mode",
    "links",
    "volumes_from",
    "stop_grace_period",
    "container_name",
    "scale",
    "develop",
    "watch",
    "action",
    "ipam",
    "config",
    "subnet",
    "driver_opts",
    "sysctls",
    "devices",
    "logging",
    "options",
    "version",
    "models",
    "cgroup",
];

const SCALARS: &[&str] = &[
    "nginx",
    "80",
    "8080:80",
    "127.0.0.1:5000-5010:5000-5010/udp",
    "70000",
    "1-3:1-2",
    "./data:/data:ro",
    "v:/v",
    "/anon",
    "a:b:c:d",
    "${FOO}",
    "${FOO:-x}",
    "${NOPE:?boom}",
    "${}",
    "$$",
    "$",
    "${FOO",
    "10s",
    "1m30s",
    "forever",
    "50M",
    "1.5g",
    "lots",
    "true",
    "false",
    "null",
    "~",
    "0440",
    "0x1F",
    "-1",
    "1e400",
    "on-failure:3",
    "service:web",
    "container:x",
    "host",
    "web",
    "db",
    "compose.yaml",
    "../../etc/passwd",
    "~/x",
    "CMD-SHELL",
    "echo 'unclosed",
    "A=1",
    "B",
    "h:1.2.3.4",
    "",
    " ",
    "é",
    "!reset",
    "*",
    "\\",
    "\"",
    "'",
];

/// A generated YAML document as text.
fn document() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        prop::sample::select(SCALARS).prop_map(|s| format!("{s:?}")),
        prop::sample::select(SCALARS).prop_map(str::to_string),
        any::<i64>().prop_map(|i| i.to_string()),
        Just("!reset".to_string()),
        Just("!override {}".to_string()),
        Just("*anchor".to_string()),
        "[ -~]{0,12}".prop_map(|s| format!("{s:?}")),
    ];
    let tree = leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|items| format!("[{}]", items.join(", "))),
            prop::collection::vec((prop::sample::select(KEYS), inner.clone()), 0..6).prop_map(|entries| {
                let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k:?}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
            (prop::sample::select(KEYS), inner).prop_map(|(k, v)| format!("&anchor {{{k:?}: {v}}}")),
        ]
    });
    (tree, prop::collection::vec(prop::sample::select(KEYS), 0..3)).prop_map(|(body, keys)| {
        let head = keys.iter().map(|k| format!("{k}: 1\n")).collect::<String>();
        format!("{head}services: {body}\n")
    })
}

fn cases() -> u32 {
    std::env::var("BERTH_PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_loader_never_panics_on_generated_compose(doc in document()) {
        let dir = std::env::temp_dir();
        berth_compose::fuzzing::load_text(&doc, &dir);
    }

    #[test]
    fn the_dotenv_parser_never_panics(
        text in "(A|B_1|=|\"|'|\\\\|\\$|\\{|\\}|:-|:\\?|#| |export |\n|\\PC){0,80}",
        raw in any::<bool>(),
    ) {
        struct Env;
        impl berth_compose::interpolate::Lookup for Env {
            fn lookup(&self, name: &str) -> Option<String> {
                (name == "A").then(|| "from-env".to_string())
            }
        }
        let format = if raw { berth_compose::dotenv::Format::Raw } else { berth_compose::dotenv::Format::Standard };
        let _ = berth_compose::dotenv::parse(&text, format, &Env);
    }

    #[test]
    fn the_loader_never_panics_on_arbitrary_text(text in "(\\PC|\n|  |- |: ){0,200}") {
        let dir = std::env::temp_dir();
        berth_compose::fuzzing::load_text(&text, &dir);
    }
}

/// Regression: documents that once broke a phase.
#[test]
fn known_tricky_documents() {
    let dir = std::env::temp_dir();
    for doc in [
        "services: {web: {extends: web}}",
        "services: {a: {extends: {service: b}}, b: {extends: {service: a}}}",
        "services: {web: !reset }",
        "services: [1, 2]",
        "services: {web: {ports: [\"1-3:1-2\"], volumes: [\"a:b:c:d\"]}}",
        "x: &a [*a]",
        "services: {web: {ulimits: {nofile: {soft: 1}}}}",
        "services: {web: {image: x, environment: [\"=\"]}}",
        "name: \"${}\"\nservices: {}",
        "include: [{path: []}]",
    ] {
        berth_compose::fuzzing::load_text(doc, &dir);
    }
}
