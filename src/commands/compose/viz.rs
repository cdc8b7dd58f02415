//! `viz`: a picture of the project's dependency graph, as Docker Compose's experimental `viz`
//! draws one: services with the conditions on their edges, in the levels they start in, and
//! optionally their images, networks (as clusters) and ports. `text` is a tree for the
//! terminal, `dot` is Graphviz, `mermaid` is a Mermaid flowchart.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::process::ExitCode;

use berth_compose::model::Condition;
use berth_compose::{Graph, Project};

use crate::cli::VizFormat;
use crate::commands::scope::Scope;

/// What the picture shows besides the services and their dependencies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shown {
    pub image: bool,
    pub networks: bool,
    pub ports: bool,
}

pub fn viz(scope: &Scope, format: VizFormat, shown: Shown) -> anyhow::Result<ExitCode> {
    let project = scope.project()?;
    print!("{}", render(project, format, shown)?);
    Ok(ExitCode::SUCCESS)
}

/// The picture of `project` in `format`.
pub fn render(project: &Project, format: VizFormat, shown: Shown) -> anyhow::Result<String> {
    let levels = Graph::new(project).levels().map_err(|c| anyhow::anyhow!("{c}"))?;
    Ok(match format {
        VizFormat::Text => text(project, &levels, shown),
        VizFormat::Dot => dot(project, &levels, shown),
        VizFormat::Mermaid => mermaid(project, &levels, shown),
    })
}

/// An edge's label: the condition, and `(optional)` where the dependency is not required.
fn edge_label(condition: Condition, required: bool) -> String {
    let optional = if required { "" } else { " (optional)" };
    format!("{condition}{optional}")
}

/// The lines under a service's name: image, networks, ports, as asked.
fn details(project: &Project, name: &str, shown: Shown) -> Vec<String> {
    let service = &project.services[name];
    let mut out = Vec::new();
    if shown.image {
        let image = berth_engine::project::image_of(project, name, service).unwrap_or_default();
        out.push(format!("image: {image}"));
    }
    if shown.networks && !service.networks.is_empty() {
        out.push(format!("networks: {}", service.networks.keys().cloned().collect::<Vec<_>>().join(", ")));
    }
    if shown.ports && !service.ports.is_empty() {
        let ports: Vec<String> = service
            .ports
            .iter()
            .map(|p| {
                let protocol = p.protocol.as_deref().unwrap_or("tcp");
                match &p.published {
                    Some(published) => format!("{published}:{}/{protocol}", p.target),
                    None => format!("{}/{protocol}", p.target),
                }
            })
            .collect();
        out.push(format!("ports: {}", ports.join(", ")));
    }
    out
}

/// Levels, first to start first; each service with what it waits for.
fn text(project: &Project, levels: &[Vec<String>], shown: Shown) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", project.name);
    for (i, level) in levels.iter().enumerate() {
        let last_level = i + 1 == levels.len();
        let _ = writeln!(out, "{} level {}", if last_level { "└──" } else { "├──" }, i + 1);
        let bar = if last_level { "    " } else { "│   " };
        for (j, name) in level.iter().enumerate() {
            let last = j + 1 == level.len();
            let _ = writeln!(out, "{bar}{} {name}", if last { "└──" } else { "├──" });
            let inner = format!("{bar}{}", if last { "    " } else { "│   " });
            let service = &project.services[name];
            let mut lines: Vec<String> = service
                .depends_on
                .iter()
                .map(|(dep, d)| format!("waits for {dep}: {}", edge_label(d.condition, d.required)))
                .collect();
            lines.extend(details(project, name, shown));
            for (k, line) in lines.iter().enumerate() {
                let _ = writeln!(out, "{inner}{} {line}", if k + 1 == lines.len() { "└──" } else { "├──" });
            }
        }
    }
    out
}

/// The networks' members, for the clusters: a service on several networks is drawn in the
/// first (a node belongs to one cluster in Graphviz), the others named under it.
fn clusters(project: &Project) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, service) in &project.services {
        let first = service.networks.keys().next().cloned().unwrap_or_else(|| "default".into());
        out.entry(first).or_default().push(name.clone());
    }
    out
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn dot(project: &Project, levels: &[Vec<String>], shown: Shown) -> String {
    let mut out = format!("digraph {} {{\n  rankdir=LR;\n  node [shape=box];\n", quoted(&project.name));
    let node = |out: &mut String, indent: &str, name: &str| {
        let label = std::iter::once(name.to_string()).chain(details(project, name, shown)).collect::<Vec<_>>();
        let _ = writeln!(out, "{indent}{} [label={}];", quoted(name), quoted(&label.join("\\n")));
    };
    if shown.networks {
        for (network, members) in clusters(project) {
            let _ = writeln!(
                out,
                "  subgraph {} {{\n    label={};",
                quoted(&format!("cluster_{network}")),
                quoted(&network)
            );
            members.iter().for_each(|m| node(&mut out, "    ", m));
            out.push_str("  }\n");
        }
    } else {
        levels.iter().flatten().for_each(|name| node(&mut out, "  ", name));
    }
    for level in levels {
        let names: Vec<String> = level.iter().map(|n| quoted(n)).collect();
        let _ = writeln!(out, "  {{ rank=same; {}; }}", names.join("; "));
    }
    for name in levels.iter().flatten() {
        for (dep, d) in &project.services[name].depends_on {
            let style = if d.required { "" } else { ", style=dashed" };
            let label = quoted(&edge_label(d.condition, d.required));
            let _ = writeln!(out, "  {} -> {} [label={label}{style}];", quoted(name), quoted(dep));
        }
    }
    out.push_str("}\n");
    out
}

fn mermaid(project: &Project, levels: &[Vec<String>], shown: Shown) -> String {
    // Mermaid's node IDs are words: services' names may hold dots and dashes.
    let id = |name: &str| name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>();
    let node = |name: &str| {
        let label = std::iter::once(name.to_string()).chain(details(project, name, shown)).collect::<Vec<_>>();
        format!("{}[\"{}\"]", id(name), label.join("<br/>").replace('"', "#quot;"))
    };
    let mut out = String::from("flowchart LR\n");
    if shown.networks {
        for (network, members) in clusters(project) {
            let _ = writeln!(out, "  subgraph {}[\"{network}\"]", id(&format!("net_{network}")));
            members.iter().for_each(|m| {
                let _ = writeln!(out, "    {}", node(m));
            });
            out.push_str("  end\n");
        }
    } else {
        levels.iter().flatten().for_each(|name| {
            let _ = writeln!(out, "  {}", node(name));
        });
    }
    for name in levels.iter().flatten() {
        for (dep, d) in &project.services[name].depends_on {
            let arrow = if d.required { "-->" } else { "-.->" };
            let _ = writeln!(out, "  {} {arrow}|{}| {}", id(name), edge_label(d.condition, d.required), id(dep));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        let yaml = r#"
name: shop
services:
  db:
    image: postgres:16
    networks: [back]
  cache:
    image: redis
    networks: [back]
  web:
    image: shop/web:1
    ports: ["8080:80"]
    networks: [front, back]
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started, required: false}
networks:
  front: {}
  back: {}
"#;
        let mut options = berth_compose::Options::new(std::env::temp_dir(), Default::default());
        options.files = vec!["-".into()];
        options.stdin = Some(yaml.to_string());
        berth_compose::load(&options).expect("the project loads").project
    }

    #[test]
    fn a_tree_of_levels_with_the_conditions() {
        let text = render(&project(), VizFormat::Text, Shown { image: true, ports: true, ..Shown::default() })
            .expect("renders");
        let want = "shop
├── level 1
│   ├── cache
│   │   └── image: redis
│   └── db
│       └── image: postgres:16
└── level 2
    └── web
        ├── waits for db: service_healthy
        ├── waits for cache: service_started (optional)
        ├── image: shop/web:1
        └── ports: 8080:80/tcp
";
        assert_eq!(text, want);
    }

    #[test]
    fn graphviz_with_networks_as_clusters() {
        let dot = render(&project(), VizFormat::Dot, Shown { networks: true, ..Shown::default() }).expect("renders");
        assert!(dot.starts_with("digraph \"shop\" {\n"), "{dot}");
        assert!(dot.contains("subgraph \"cluster_back\" {\n    label=\"back\";\n    \"cache\""), "{dot}");
        assert!(dot.contains("\"web\" -> \"db\" [label=\"service_healthy\"];"), "{dot}");
        assert!(dot.contains("\"web\" -> \"cache\" [label=\"service_started (optional)\", style=dashed];"), "{dot}");
        assert!(dot.contains("{ rank=same; \"cache\"; \"db\"; }"), "{dot}");
        assert!(dot.trim_end().ends_with('}'));
    }

    #[test]
    fn mermaid_flowchart() {
        let m = render(&project(), VizFormat::Mermaid, Shown::default()).expect("renders");
        assert!(m.starts_with("flowchart LR\n"), "{m}");
        assert!(
            m.contains("  web -->|service_healthy| db\n")
                && m.contains("  web -.->|service_started (optional)| cache\n"),
            "{m}"
        );
    }
}
