//! `berth config`: the normalised project, or one of its lists, as `docker compose config`
//! prints them.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use berth_compose::model::Project;
use berth_compose::{Graph, hash};

use crate::cli::{ConfigArgs, Format, GlobalArgs};
use crate::{output, project};

pub fn run(global: &GlobalArgs, args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let mut opts = project::options(global)?;
    opts.interpolate = !args.no_interpolate;
    opts.consistency = !args.no_consistency;
    opts.resolve_environment = !args.no_env_resolution;
    opts.targets = args.services.clone();
    let mut project = project::load(&opts)?.project;
    if !args.services.is_empty() {
        keep_services(&mut project, &args.services)?;
    }
    if args.quiet {
        return Ok(ExitCode::SUCCESS);
    }
    let text = render(&project, &args)?;
    match &args.output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).context("cannot write to standard output")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Keeps the named services and what they depend on.
fn keep_services(project: &mut Project, names: &[String]) -> anyhow::Result<()> {
    let mut keep: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(name) = todo.pop() {
        let service = project.services.get(&name).with_context(|| format!("no such service: {name}"))?;
        if keep.insert(name.clone()) {
            todo.extend(service.depends_on.keys().filter(|d| project.services.contains_key(*d)).cloned());
        }
    }
    project.services.retain(|name, _| keep.contains(name));
    Ok(())
}

fn lines<I: IntoIterator<Item = String>>(items: I) -> String {
    items.into_iter().map(|l| l + "\n").collect()
}

fn render(project: &Project, args: &ConfigArgs) -> anyhow::Result<String> {
    if args.list_services {
        return Ok(lines(Graph::new(project).start_order()?));
    }
    if args.volumes {
        return Ok(lines(project.volumes.keys().cloned()));
    }
    if args.networks {
        return Ok(lines(project.networks.keys().cloned()));
    }
    if args.list_profiles {
        let all: BTreeSet<String> = project
            .services
            .values()
            .chain(project.disabled_services.values())
            .flat_map(|s| s.profiles.iter().cloned())
            .collect();
        return Ok(lines(all));
    }
    if args.images {
        return Ok(lines(
            project
                .services
                .iter()
                .map(|(name, s)| s.image.clone().unwrap_or_else(|| format!("{}-{name}", project.name))),
        ));
    }
    if let Some(which) = &args.hash {
        let wanted: Vec<&str> = which.split(',').map(str::trim).collect();
        let mut out = Vec::new();
        for name in &wanted {
            if *name != "*" && !project.services.contains_key(*name) {
                anyhow::bail!("no such service: {name}");
            }
        }
        for (name, service) in &project.services {
            if wanted.contains(&"*") || wanted.contains(&name.as_str()) {
                out.push(format!("{name} {}", hash::service_hash(service)));
            }
        }
        return Ok(lines(out));
    }
    let escape = !args.no_interpolate;
    match args.format {
        Format::Yaml => output::project_yaml(project, escape),
        Format::Json => output::project_json(project, escape),
    }
}
