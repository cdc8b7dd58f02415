//! `berth save`, `load`, `import` and `push`: images leaving and entering the store.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use berth_engine::image::manifest::RunConfig;
use berth_engine::image::{archive, import as importer, push as pusher};
use berth_engine::reference::ImageRef;

use crate::cli::{ImportArgs, LoadArgs, PushArgs, SaveArgs};
use crate::{engine, progress};

pub fn save(args: SaveArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let mut images = Vec::new();
    for query in &args.images {
        let (name, record) = store.find_image(query)?;
        let name = match name {
            Some(n) => ImageRef::parse(&n)?,
            None => anyhow::bail!("save {query} by name, so that the archive can name it"),
        };
        images.push((name, record));
    }
    match &args.output {
        Some(path) => {
            let tmp = path.with_extension("berth-partial");
            let file = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
            let result = archive::save(&store, &images, std::io::BufWriter::new(file));
            if result.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            result?;
            std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                anyhow::bail!("refusing to write an archive to a terminal; use -o FILE or redirect standard output");
            }
            archive::save(&store, &images, std::io::BufWriter::new(std::io::stdout().lock()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn load(args: LoadArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let name = args.name.as_deref().map(ImageRef::parse).transpose()?;
    let loaded = match &args.input {
        Some(path) => {
            let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            archive::load(&store, file, name.as_ref()).with_context(|| format!("cannot load {}", path.display()))?
        }
        None => archive::load(&store, std::io::stdin().lock(), name.as_ref())
            .context("cannot load the archive from standard input")?,
    };
    for n in loaded {
        if args.quiet {
            println!("{}", n.familiar());
        } else {
            println!("Loaded image: {}", n.familiar());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let name = ImageRef::parse(&args.name)?;
    let mut run = RunConfig::default();
    for change in &args.changes {
        apply_change(&mut run, change)?;
    }
    let record = if args.file.as_os_str() == "-" {
        importer::import(&store, &mut std::io::stdin().lock(), &name, run)
    } else {
        let mut file =
            std::fs::File::open(&args.file).with_context(|| format!("cannot open {}", args.file.display()))?;
        importer::import(&store, &mut file, &name, run)
    }
    .with_context(|| format!("cannot import {}", args.file.display()))?;
    println!("{}", record.id);
    Ok(ExitCode::SUCCESS)
}

/// One `--change` instruction, in Dockerfile syntax.
fn apply_change(run: &mut RunConfig, change: &str) -> anyhow::Result<()> {
    let (instruction, value) = change.trim().split_once(char::is_whitespace).unwrap_or((change.trim(), ""));
    let value = value.trim();
    let words = || -> anyhow::Result<Vec<String>> {
        if value.starts_with('[') {
            serde_json::from_str(value).with_context(|| format!("{instruction} takes a JSON list of strings: {value}"))
        } else {
            Ok(vec!["/bin/sh".into(), "-c".into(), value.to_string()])
        }
    };
    match instruction.to_ascii_uppercase().as_str() {
        "CMD" => run.cmd = Some(words()?),
        "ENTRYPOINT" => run.entrypoint = Some(words()?),
        "ENV" => run.env.get_or_insert_with(Vec::new).push(value.replacen(' ', "=", usize::from(!value.contains('=')))),
        "WORKDIR" => run.working_dir = Some(value.to_string()),
        "USER" => run.user = Some(value.to_string()),
        "STOPSIGNAL" => run.stop_signal = Some(value.to_string()),
        other => anyhow::bail!("--change supports CMD, ENTRYPOINT, ENV, WORKDIR, USER and STOPSIGNAL, not {other}"),
    }
    Ok(())
}

pub fn push(args: PushArgs) -> anyhow::Result<ExitCode> {
    let [image] = args.image.as_slice() else { anyhow::bail!("push takes one image (or, in a project, services)") };
    let store = engine::store()?;
    let target = ImageRef::parse(image)?;
    let (_, record) = store.find_image(image)?;
    let config = engine::config()?;
    let digest = engine::runtime()?
        .block_on(pusher::push(&store, &config, &record, &target, progress::for_terminal(args.quiet)))
        .with_context(|| format!("cannot push {}", target.familiar()))?;
    if args.quiet {
        println!("{digest}");
    } else {
        println!("{}: digest: {digest}", target.tag.as_deref().unwrap_or("latest"));
    }
    Ok(ExitCode::SUCCESS)
}
