//! One module per subcommand (or family of subcommands).

mod archive;
pub(crate) mod attach;
pub(crate) mod build;
pub(crate) mod compose;
mod config;
pub(crate) mod containers;
pub(crate) mod filter;
pub(crate) mod images;
pub(crate) mod info;
mod inspect;
mod kube;
pub(crate) mod login;
pub(crate) mod logs;
pub(crate) mod network;
pub(crate) mod prune;
pub(crate) mod ps;
mod scope;
mod stats;
mod system;
pub(crate) mod volume;
mod watch;

pub(crate) use system::shim;

use std::process::ExitCode;

use crate::cli::{BuilderCommand, Cli, Command, ContainerCommand, ImageCommand, KubeCommand, SystemCommand};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let scope = scope::Scope::new(&cli.global);
    let project = scope.named();
    match cli.command {
        Command::Up(args) => compose::up(&scope, args),
        Command::Down(args) => compose::down(&scope, args),
        Command::Ls { all, quiet, format } => compose::ls(all, quiet, format.as_deref()),
        Command::Ps(args) if project => ps::project_ps(&scope, args),
        Command::Stats(args) if project && scope.names_services(&args.containers) => stats::project_stats(&scope, args),
        Command::Logs(args) if project => logs::project_logs(&scope, args),
        Command::Stop(args) if project => compose::stop(&scope, args),
        Command::Restart(args) if project => compose::restart(&scope, args),
        Command::Start { containers: c } if project => compose::start(&scope, &c),
        Command::Exec(args) if project && scope.names_services(std::slice::from_ref(&args.container)) => {
            compose::exec(&scope, args)
        }
        Command::Attach(mut args) if project && scope.names_services(std::slice::from_ref(&args.container)) => {
            args.container = compose::replica_id(&scope, &args.container, args.index)?;
            attach::attach(args)
        }
        Command::Run(args) if project && scope.names_services(std::slice::from_ref(&args.image)) => {
            compose::run(&scope, args)
        }
        Command::Kill(args) if project && scope.names_services(&args.containers) => compose::kill(&scope, args),
        Command::Rm(args) if project && scope.names_services(&args.containers) => compose::rm(&scope, args),
        Command::Pause { containers: c } if project && scope.names_services(&c) => compose::pause(&scope, &c, true),
        Command::Unpause { containers: c } if project && scope.names_services(&c) => compose::pause(&scope, &c, false),
        Command::Top { containers: c } if project && scope.names_services(&c) => compose::top(&scope, &c),
        Command::Wait { containers: c } if project && scope.names_services(&c) => compose::wait(&scope, &c),
        Command::Port { container, port, index }
            if project && scope.names_services(std::slice::from_ref(&container)) =>
        {
            compose::port(&scope, &container, port.as_deref(), index)
        }
        Command::Images(args) if project => compose::images(&scope, args.quiet),
        Command::Push(args) if project && scope.names_services(&args.image) => {
            compose::push(&scope, &args.image, args.quiet)
        }
        Command::Create(args) if project && scope.names_services(std::slice::from_ref(&args.image)) => {
            let mut services = vec![args.image.clone()];
            services.extend(args.command.iter().cloned());
            compose::create(&scope, &services, args.no_deps)
        }
        Command::Pull(args) if project && scope.names_services(&args.image) => compose::pull(&scope, &args.image),
        Command::Scale { services, no_deps } => compose::scale(&scope, &services, no_deps),
        Command::Version { short, format } => version(short, format.as_deref()),
        Command::Build(args) if project => compose::build(&scope, &args),
        Command::Build(args) | Command::Image(ImageCommand::Build(args)) => build::image_build(args),
        Command::Watch { services, no_up } => compose::watch(&scope, &services, no_up),
        Command::Config(args) => config::run(&cli.global, args),
        Command::Pull(args) | Command::Image(ImageCommand::Pull(args)) => images::pull(args),
        Command::Images(args) | Command::Image(ImageCommand::Ls(args)) => images::images(args),
        Command::Tag(args) | Command::Image(ImageCommand::Tag(args)) => images::tag(args),
        Command::Rmi(args) | Command::Image(ImageCommand::Rm(args)) => images::rmi(args),
        Command::Image(ImageCommand::Inspect(a)) => images::inspect(&a.names, a.format.as_deref()),
        Command::Image(ImageCommand::Prune { all, prune: p }) => prune::images(all, &p),
        Command::Container(ContainerCommand::Prune(p)) => prune::containers(&p),
        Command::Builder(BuilderCommand::Prune { prune: p, .. }) => prune::builder(&p),
        Command::System(SystemCommand::Prune { all, volumes, prune: p }) => prune::system(all, volumes, &p),
        Command::Info { format } | Command::System(SystemCommand::Info { format }) => info::info(format.as_deref()),
        Command::Image(ImageCommand::History { image, no_trunc, quiet, format }) => {
            images::history(&image, no_trunc, quiet, format.as_deref())
        }
        Command::Save(args) | Command::Image(ImageCommand::Save(args)) => archive::save(args),
        Command::Load(args) | Command::Image(ImageCommand::Load(args)) => archive::load(args),
        Command::Import(args) | Command::Image(ImageCommand::Import(args)) => archive::import(args),
        Command::Push(args) | Command::Image(ImageCommand::Push(args)) => archive::push(args),
        Command::Run(args) => containers::run::run(args, true),
        Command::Create(args) => containers::run::run(args, false),
        Command::Start { containers: c } => containers::start(&c),
        Command::Stop(args) => containers::stop(args),
        Command::Kill(args) => containers::kill(args),
        Command::Rm(args) => containers::rm(args),
        Command::Restart(args) => containers::restart(args),
        Command::Cp { source, destination, index, follow_link } if project => {
            compose::cp(&scope, &source, &destination, index, follow_link)
        }
        Command::Cp { source, destination, follow_link, .. } => containers::cp(&source, &destination, follow_link),
        Command::Events { services, json, filter, format } => {
            compose::events(&scope, &services, json, &filter, format.as_deref())
        }
        Command::Kube(KubeCommand::Generate {
            services,
            output,
            namespace,
            image_prefix,
            service_type,
            hostpath,
            volume_size,
        }) => {
            let opts = kube::generate::Options { namespace, image_prefix, service_type, hostpath, volume_size };
            kube::generate(&scope, &services, output.as_deref(), &opts)
        }
        Command::Kube(KubeCommand::Play { path, down }) => kube::play(&path, down),
        Command::Viz { format, image, networks, ports } => {
            compose::viz(&scope, format, compose::Shown { image, networks, ports })
        }
        Command::Commit { container, image, message, pause } => {
            containers::commit(&container, &image, message.as_deref(), pause)
        }
        Command::Diff { container } => containers::diff(&container),
        Command::Rename { container, new_name } => containers::rename(&container, &new_name),
        Command::Stats(args) => stats::stats(args),
        Command::Update { containers: c, memory, cpus, pids_limit, restart } => {
            containers::update(&c, memory.as_deref(), cpus, pids_limit, restart.as_deref())
        }
        Command::Completion { shell } => {
            let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "berth", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Export { container, output } => containers::export(&container, output.as_deref()),
        Command::Top { containers: c } => containers::top(&c),
        Command::System(SystemCommand::Boot) => system::boot(),
        // main.rs serves the API itself: the service sits above the commands.
        Command::System(SystemCommand::Service { .. }) => anyhow::bail!("the API service is started by main"),
        Command::System(SystemCommand::Df { verbose, format }) => system::df(verbose, format.as_deref()),
        Command::System(SystemCommand::Install { unit_dir, completion_dir, man_dir, api }) => {
            system::install(&unit_dir, &completion_dir, &man_dir, api)
        }
        Command::Ps(args) => ps::ps(args),
        Command::Logs(args) => logs::logs(args),
        Command::Exec(args) => containers::exec(args),
        Command::Attach(args) => attach::attach(args),
        Command::Pause { containers: c } => containers::pause(&c, true),
        Command::Unpause { containers: c } => containers::pause(&c, false),
        Command::Wait { containers: c } => containers::wait(&c),
        Command::Inspect(a) => containers::inspect(&a.names, a.format.as_deref()),
        Command::Dns => network::dns(),
        Command::Network(command) => network::run(command),
        Command::Volume(command) => volume::run(command),
        Command::Port { container, port, .. } => network::port(&container, port.as_deref()),
        Command::Login(args) => login::login(args),
        Command::Logout(args) => login::logout(args),
    }
}

/// `version`: berth's version, as `docker compose version` prints its own.
fn version(short: bool, format: Option<&str>) -> anyhow::Result<ExitCode> {
    let v = env!("CARGO_PKG_VERSION");
    match (short, format) {
        (true, _) => println!("{v}"),
        (false, Some("json")) => println!("{}", serde_json::json!({ "version": v })),
        (false, None | Some("pretty")) => println!("berth version {v}"),
        (false, Some(template)) => println!("{}", crate::format::render(template, &serde_json::json!({"Version": v}))?),
    }
    Ok(ExitCode::SUCCESS)
}

/// `KEY=VALUE` flags (`--label`, `--opt`) as a map; a bare `KEY` has an empty value.
pub(crate) fn key_values(items: &[String]) -> std::collections::BTreeMap<String, String> {
    items
        .iter()
        .map(|l| l.split_once('=').map_or((l.clone(), String::new()), |(k, v)| (k.to_string(), v.to_string())))
        .collect()
}
