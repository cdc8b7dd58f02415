//! `image build` (a Dockerfile and a context) and, in a project, `build [SERVICE...]` and the
//! builds `up` does: the engine's builder (`berth_engine::build`) with progress per step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use berth_compose::Project;
use berth_engine::build::{self, BuildOptions, Progress};
use berth_engine::project;
use berth_engine::reference::ImageRef;
use berth_engine::store::{ImageRecord, Store};

use crate::cli::BuildArgs;
use crate::engine;

/// Steps as other builders show them: `#3 [stage 2/5] RUN make`, then `CACHED` or `DONE 0.4s`;
/// a RUN's output in between, indented (not with `-q`).
struct Steps {
    quiet: bool,
}

impl Progress for Steps {
    fn step(&self, stage: &str, number: usize, total: usize, text: &str) {
        if !self.quiet {
            eprintln!("#{number} [{stage} {number}/{total}] {text}");
        }
    }

    fn cached(&self) {
        if !self.quiet {
            eprintln!("   CACHED");
        }
    }

    fn done(&self, took: Duration) {
        if !self.quiet {
            eprintln!("   DONE {:.1}s", took.as_secs_f64());
        }
    }

    fn output(&self, line: &str) {
        if !self.quiet {
            eprintln!("   {line}");
        }
    }
}

/// Base images: here already (unless `pull`), or pulled.
pub(crate) fn resolver(store: &Store, pull: bool) -> impl Fn(&str) -> Result<ImageRecord, String> + '_ {
    move |name: &str| {
        if let (false, Ok((_, record))) = (pull, store.find_image(name)) {
            return Ok(record);
        }
        super::images::pull_one(store, name).map_err(|e| format!("{e:#}"))?;
        store.find_image(name).map(|(_, r)| r).map_err(|e| e.to_string())
    }
}

fn key_values(items: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    items
        .iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            // `--build-arg NAME` passes this process's value, as Docker does.
            None => std::env::var(a).map(|v| (a.clone(), v)).with_context(|| format!("--build-arg {a}: not set here")),
        })
        .collect()
}

/// `berth image build -t NAME [-f Dockerfile] [--build-arg K=V] [--target T] [--no-cache] CONTEXT`.
pub fn image_build(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let [context] = args.targets.as_slice() else { anyhow::bail!("build takes one context directory") };
    let context = PathBuf::from(context);
    let dockerfile_path = args.file.clone().unwrap_or_else(|| context.join("Dockerfile"));
    let dockerfile = std::fs::read_to_string(&dockerfile_path)
        .with_context(|| format!("cannot read the Dockerfile {}", dockerfile_path.display()))?;
    let tags = args.tags.iter().map(|t| ImageRef::parse(t)).collect::<Result<Vec<_>, _>>()?;
    let opts = BuildOptions {
        context,
        dockerfile,
        dockerfile_name: dockerfile_path.display().to_string(),
        tags,
        args: key_values(&args.build_args)?,
        target: args.target.clone(),
        no_cache: args.no_cache,
        labels: super::key_values(&args.labels),
        ..BuildOptions::default()
    };
    let record = run(&opts, args.quiet)?;
    println!("{}", record.id);
    Ok(ExitCode::SUCCESS)
}

fn run(opts: &BuildOptions, quiet: bool) -> anyhow::Result<ImageRecord> {
    let store = engine::store()?;
    let exe = std::env::current_exe().context("cannot find the berth binary")?;
    let resolve = resolver(&store, opts.pull);
    Ok(build::build(&store, opts, &exe, &resolve, &Steps { quiet })?)
}

/// Builds the service `name` of `project` as its `build` section says; the image gets the
/// service's image name (or `<project>-<service>`) and the section's `tags`.
pub fn build_service(project: &Project, name: &str, no_cache: bool, quiet: bool) -> anyhow::Result<()> {
    let service = &project.services[name];
    let section = service.build.as_ref().with_context(|| format!("service {name} has no build section"))?;
    let context = PathBuf::from(section.context.as_deref().unwrap_or("."));
    let context = if context.is_absolute() { context } else { project.working_dir.join(context) };
    let (dockerfile, dockerfile_name) = match (&section.dockerfile_inline, &section.dockerfile) {
        (Some(inline), _) => (inline.clone(), format!("service {name}: dockerfile_inline")),
        (None, file) => {
            let path = Path::new(file.as_deref().unwrap_or("Dockerfile"));
            let path = if path.is_absolute() { path.to_path_buf() } else { context.join(path) };
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("service {name}: cannot read the Dockerfile {}", path.display()))?;
            (text, path.display().to_string())
        }
    };
    let image = project::image_of(project, name, service).expect("a service with a build section has an image name");
    let mut tags = vec![ImageRef::parse(&image)?];
    for t in &section.tags {
        tags.push(ImageRef::parse(t)?);
    }
    let opts = BuildOptions {
        context,
        dockerfile,
        dockerfile_name,
        tags,
        args: section.args.iter().filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v))).collect(),
        target: section.target.clone(),
        no_cache: no_cache || section.no_cache,
        labels: section.labels.clone(),
        contexts: section
            .additional_contexts
            .iter()
            .map(|(k, v)| {
                let p = PathBuf::from(v);
                (k.clone(), if p.is_absolute() { p } else { project.working_dir.join(p) })
            })
            .collect(),
        network: section.network.clone(),
        extra_hosts: section.extra_hosts.clone(),
        pull: section.pull,
    };
    if !quiet {
        eprintln!("Building {name}");
    }
    run(&opts, quiet).with_context(|| format!("service {name}: the build failed"))?;
    Ok(())
}

/// Builds the services that need it before `up`: all with a build section (`--build`), or
/// those whose image is missing or whose `pull_policy` is `build`; none with `--no-build`.
pub fn before_up(project: &Project, services: &[String], always: bool, never: bool) -> anyhow::Result<()> {
    if never {
        return Ok(());
    }
    let store = engine::store()?;
    for name in services {
        let service = &project.services[name];
        if service.build.is_none() {
            continue;
        }
        let image = project::image_of(project, name, service).unwrap_or_default();
        let wanted = always || service.pull_policy.as_deref() == Some("build") || store.find_image(&image).is_err();
        if wanted {
            build_service(project, name, false, false)?;
        }
    }
    Ok(())
}

/// `build [SERVICE...]` in a project.
pub fn project_build(project: &Project, args: &BuildArgs) -> anyhow::Result<ExitCode> {
    let services: Vec<String> = if args.targets.is_empty() {
        project.services.iter().filter(|(_, s)| s.build.is_some()).map(|(n, _)| n.clone()).collect()
    } else {
        args.targets.clone()
    };
    for name in &services {
        if !project.services.contains_key(name) {
            anyhow::bail!("no such service: {name}");
        }
        build_service(project, name, args.no_cache, args.quiet)?;
    }
    Ok(ExitCode::SUCCESS)
}
