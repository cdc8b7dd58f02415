//! One module per subcommand (or family of subcommands).

mod archive;
mod attach;
mod build;
mod compose;
mod config;
mod containers;
mod images;
mod inspect;
mod login;
mod network;
mod volume;
mod watch;

use std::process::ExitCode;

use crate::cli::{Cli, Command, ImageCommand, SystemCommand};

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let project = compose::in_project(&cli.global);
    match cli.command {
        Command::Up(args) => compose::up(&cli.global, args),
        Command::Down(args) => compose::down(&cli.global, args),
        Command::Ls { all, quiet, format } => compose::ls(all, quiet, format),
        Command::Ps(args) if project => compose::ps(&cli.global, args),
        Command::Logs(args) if project => compose::logs(&cli.global, args),
        Command::Stop(args) if project => compose::stop(&cli.global, args),
        Command::Restart(args) if project => compose::restart(&cli.global, args),
        Command::Start { containers: c } if project => compose::start(&cli.global, &c),
        Command::Exec(args)
            if project && compose::names_services(&cli.global, std::slice::from_ref(&args.container)) =>
        {
            compose::exec(&cli.global, args)
        }
        Command::Attach(mut args)
            if project && compose::names_services(&cli.global, std::slice::from_ref(&args.container)) =>
        {
            args.container = compose::replica_id(&cli.global, &args.container, args.index)?;
            attach::attach(args)
        }
        Command::Run(args) if project && compose::names_services(&cli.global, std::slice::from_ref(&args.image)) => {
            compose::run(&cli.global, args)
        }
        Command::Kill(args) if project && compose::names_services(&cli.global, &args.containers) => {
            compose::kill(&cli.global, args)
        }
        Command::Rm(args) if project && compose::names_services(&cli.global, &args.containers) => {
            compose::rm(&cli.global, args)
        }
        Command::Pause { containers: c } if project && compose::names_services(&cli.global, &c) => {
            compose::pause(&cli.global, &c, true)
        }
        Command::Unpause { containers: c } if project && compose::names_services(&cli.global, &c) => {
            compose::pause(&cli.global, &c, false)
        }
        Command::Top { containers: c } if project && compose::names_services(&cli.global, &c) => {
            compose::top(&cli.global, &c)
        }
        Command::Wait { containers: c } if project && compose::names_services(&cli.global, &c) => {
            compose::wait(&cli.global, &c)
        }
        Command::Port { container, port, index }
            if project && compose::names_services(&cli.global, std::slice::from_ref(&container)) =>
        {
            compose::port(&cli.global, &container, port.as_deref(), index)
        }
        Command::Images(args) if project => compose::images(&cli.global, args.quiet),
        Command::Push(args) if project && compose::names_services(&cli.global, &args.image) => {
            compose::push(&cli.global, &args.image, args.quiet)
        }
        Command::Create(args) if project && compose::names_services(&cli.global, std::slice::from_ref(&args.image)) => {
            let mut services = vec![args.image.clone()];
            services.extend(args.command.iter().cloned());
            compose::create(&cli.global, &services, args.no_deps)
        }
        Command::Pull(args) if project && compose::names_services(&cli.global, &args.image) => {
            compose::pull(&cli.global, &args.image)
        }
        Command::Scale { services, no_deps } => compose::scale(&cli.global, &services, no_deps),
        Command::Version { short, format } => version(short, format),
        Command::Build(args) if project => compose::build(&cli.global, &args),
        Command::Build(args) | Command::Image(ImageCommand::Build(args)) => build::image_build(args),
        Command::Watch { services, no_up } => compose::watch(&cli.global, &services, no_up),
        Command::Config(args) => config::run(&cli.global, args),
        Command::Pull(args) | Command::Image(ImageCommand::Pull(args)) => images::pull(args),
        Command::Images(args) | Command::Image(ImageCommand::Ls(args)) => images::images(args),
        Command::Tag(args) | Command::Image(ImageCommand::Tag(args)) => images::tag(args),
        Command::Rmi(args) | Command::Image(ImageCommand::Rm(args)) => images::rmi(args),
        Command::Image(ImageCommand::Inspect(a)) => images::inspect(&a.names, a.format.as_deref()),
        Command::Image(ImageCommand::Prune { .. }) => images::prune(),
        Command::Save(args) | Command::Image(ImageCommand::Save(args)) => archive::save(args),
        Command::Load(args) | Command::Image(ImageCommand::Load(args)) => archive::load(args),
        Command::Import(args) | Command::Image(ImageCommand::Import(args)) => archive::import(args),
        Command::Push(args) | Command::Image(ImageCommand::Push(args)) => archive::push(args),
        Command::Run(args) => containers::run(args, true),
        Command::Create(args) => containers::run(args, false),
        Command::Start { containers: c } => containers::start(&c),
        Command::Stop(args) => containers::stop(args),
        Command::Kill(args) => containers::kill(args),
        Command::Rm(args) => containers::rm(args),
        Command::Restart(args) => containers::restart(args),
        Command::Cp { source, destination, index } if project => compose::cp(&cli.global, &source, &destination, index),
        Command::Cp { source, destination, .. } => containers::cp(&source, &destination),
        Command::Events { services, json } => compose::events(&cli.global, &services, json),
        Command::Commit { container, image, message, pause } => {
            containers::commit(&container, &image, message.as_deref(), pause)
        }
        Command::Top { containers: c } => containers::top(&c),
        Command::System(SystemCommand::Boot) => containers::boot(),
        Command::System(SystemCommand::Install { unit_dir }) => containers::install(&unit_dir),
        Command::Ps(args) => containers::ps(args),
        Command::Logs(args) => containers::logs(args),
        Command::Exec(args) => containers::exec(args),
        Command::Attach(args) => attach::attach(args),
        Command::Pause { containers: c } => containers::pause(&c, true),
        Command::Unpause { containers: c } => containers::pause(&c, false),
        Command::Wait { containers: c } => containers::wait(&c),
        Command::Inspect(a) => containers::inspect(&a.names, a.format.as_deref()),
        Command::Shim { id, attach } => containers::shim(&id, attach.as_deref()),
        Command::Dns => network::dns(),
        Command::Network(command) => network::run(command),
        Command::Volume(command) => volume::run(command),
        Command::Port { container, port, .. } => network::port(&container, port.as_deref()),
        Command::Login(args) => login::login(args),
        Command::Logout(args) => login::logout(args),
    }
}

/// `version`: berth's version, as `docker compose version` prints its own.
fn version(short: bool, format: Option<crate::cli::Format>) -> anyhow::Result<ExitCode> {
    let v = env!("CARGO_PKG_VERSION");
    match (short, format) {
        (true, _) => println!("{v}"),
        (false, Some(crate::cli::Format::Json)) => println!("{}", serde_json::json!({ "version": v })),
        (false, _) => println!("berth version {v}"),
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
