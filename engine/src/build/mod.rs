//! Building images from Dockerfiles with the engine's own runtime and image store.
//!
//! A build walks the stages the target needs, in order. Metadata instructions (ENV, CMD,
//! LABEL...) change the image config; RUN runs in a container of the engine made from the
//! image so far (host network) and its changes become a layer, as `commit` makes them; COPY
//! and ADD write their layer straight from the files. Each step has a cache key chained from
//! the one before: the base image's ID, then each instruction's text, the build arguments in
//! scope, and for COPY/ADD the sha256 of what it reads. A step whose key is in
//! `build-cache/` is not run again (its layers are checked to be still stored).

pub mod context;
pub mod dockerfile;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use self::context::{Attributes, Ignore};
use self::dockerfile::{Command, Dockerfile, Health, Instruction, Stage, Step};
use crate::container::{NetworkMode, NetworkSettings, create, launch, remove};
use crate::digest::Digest;
use crate::image::local;
use crate::image::manifest::{History, ImageConfig, RootFs};
use crate::reference::ImageRef;
use crate::store::{ImageRecord, Store};

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub context: PathBuf,
    /// The Dockerfile's text, and the name errors give it.
    pub dockerfile: String,
    pub dockerfile_name: String,
    pub tags: Vec<ImageRef>,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub labels: BTreeMap<String, String>,
    /// Named contexts `COPY --from=NAME` reads (Compose's `additional_contexts`).
    pub contexts: BTreeMap<String, PathBuf>,
    /// RUN's network: `host` (the default) or `none`.
    pub network: Option<String>,
    /// `NAME:ADDRESS` lines RUN's containers get in /etc/hosts.
    pub extra_hosts: Vec<String>,
    /// Pull base images even when they are here.
    pub pull: bool,
}

/// What a build tells the user as it goes.
pub trait Progress {
    fn step(&self, stage: &str, number: usize, total: usize, text: &str);
    fn cached(&self);
    fn done(&self, took: Duration);
    fn output(&self, line: &str);
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{file}: {source}")]
    Parse {
        file: String,
        #[source]
        source: dockerfile::ParseError,
    },
    #[error("{file}: line {line}: {message}")]
    Step { file: String, line: usize, message: String },
    #[error("{file}: line {line}: `{text}` failed with exit code {code}{output}")]
    Run { file: String, line: usize, text: String, code: i32, output: String },
    #[error("{file}: no stage named {0:?} (the target)", file = .1)]
    NoTarget(String, String),
    #[error("cannot store the image")]
    Store(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn store_err(e: impl std::error::Error + Send + Sync + 'static) -> BuildError {
    BuildError::Store(Box::new(e))
}

/// The image so far: its config and layer blobs, and the cache key of the steps that made it.
#[derive(Debug, Clone)]
struct State {
    config: ImageConfig,
    layers: Vec<Digest>,
    key: String,
}

/// A finished build step as the cache keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Cached {
    config: Digest,
    layers: Vec<Digest>,
}

/// Where the base images come from: found here or pulled, by the caller.
pub type BaseResolver<'a> = dyn Fn(&str) -> Result<ImageRecord, String> + 'a;

struct Builder<'a> {
    store: &'a Store,
    opts: &'a BuildOptions,
    exe: &'a Path,
    base: &'a BaseResolver<'a>,
    progress: &'a dyn Progress,
    ignore: Ignore,
    file: Dockerfile,
    /// The global ARGs (before the first FROM), with the build's values.
    global: BTreeMap<String, String>,
}

/// Builds the Dockerfile of `opts`; the image gets `opts.tags`.
pub fn build(
    store: &Store,
    opts: &BuildOptions,
    exe: &Path,
    base: &BaseResolver<'_>,
    progress: &dyn Progress,
) -> Result<ImageRecord, BuildError> {
    let file = dockerfile::parse(&opts.dockerfile)
        .map_err(|source| BuildError::Parse { file: opts.dockerfile_name.clone(), source })?;
    let mut global = BTreeMap::new();
    for (name, default) in &file.args {
        if let Some(v) = opts.args.get(name).cloned().or_else(|| default.clone()) {
            global.insert(name.clone(), v);
        }
    }
    let ignore = Ignore::read(&opts.context).map_err(store_err)?;
    let b = Builder { store, opts, exe, base, progress, ignore, file, global };
    let target = match &opts.target {
        Some(t) => b
            .file
            .stages
            .iter()
            .position(|s| s.name.as_deref() == Some(&t.to_lowercase()))
            .ok_or_else(|| BuildError::NoTarget(t.clone(), opts.dockerfile_name.clone()))?,
        None => b.file.stages.len() - 1,
    };
    let mut needed = vec![false; b.file.stages.len()];
    b.mark_needed(target, &mut needed);
    let total: usize = (0..=target).filter(|i| needed[*i]).map(|i| b.file.stages[i].steps.len() + 1).sum();
    let mut done: Vec<Option<State>> = vec![None; b.file.stages.len()];
    let mut number = 0;
    for i in (0..=target).filter(|i| needed[*i]) {
        let state = b.stage(i, &done, &mut number, total)?;
        done[i] = Some(state);
    }
    let mut state = done[target].take().expect("the target was built");
    if !opts.labels.is_empty() {
        state.config.config.labels.get_or_insert_with(BTreeMap::new).extend(opts.labels.clone());
    }
    // The image is as old as its last layer (or its base): an unchanged rebuild is the same
    // image, with the same ID.
    if state.config.created.is_none() {
        state.config.created = Some(crate::time::now());
    }
    let bytes = serde_json::to_vec(&state.config).map_err(store_err)?;
    local::commit_image(store, &bytes, &state.layers, &opts.tags).map_err(store_err)
}

impl Builder<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> BuildError {
        BuildError::Step { file: self.opts.dockerfile_name.clone(), line, message: message.into() }
    }

    /// The stage a `FROM` or `--from` names: by name or index, earlier than `before`.
    fn stage_named(&self, name: &str, before: usize) -> Option<usize> {
        let lower = name.to_lowercase();
        self.file.stages[..before]
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse::<usize>().ok().filter(|i| *i < before))
    }

    /// Marks stage `i` and the stages it reads from.
    fn mark_needed(&self, i: usize, needed: &mut [bool]) {
        if needed[i] {
            return;
        }
        needed[i] = true;
        let stage = &self.file.stages[i];
        let base = dockerfile::expand(&stage.base, &self.global).unwrap_or_default();
        if let Some(j) = self.stage_named(&base, i) {
            self.mark_needed(j, needed);
        }
        for step in &stage.steps {
            if let Instruction::Copy { from: Some(from), .. } = &step.instruction {
                if let Some(j) = self.stage_named(from, i) {
                    self.mark_needed(j, needed);
                }
            }
        }
    }

    fn stage(&self, i: usize, done: &[Option<State>], number: &mut usize, total: usize) -> Result<State, BuildError> {
        let stage: &Stage = &self.file.stages[i];
        let label = stage.name.clone().unwrap_or_else(|| format!("stage-{i}"));
        *number += 1;
        let base = dockerfile::expand(&stage.base, &self.global).map_err(|e| self.err(stage.line, e))?;
        self.progress.step(&label, *number, total, &format!("FROM {base}"));
        let started = Instant::now();
        let mut state = if let Some(j) = self.stage_named(&base, i) {
            done[j].clone().ok_or_else(|| self.err(stage.line, format!("stage {base} was not built")))?
        } else if base == "scratch" {
            let platform = crate::image::manifest::Platform::host();
            State {
                config: ImageConfig {
                    architecture: platform.architecture,
                    os: platform.os,
                    rootfs: RootFs { kind: "layers".into(), diff_ids: Vec::new() },
                    ..ImageConfig::default()
                },
                layers: Vec::new(),
                key: "scratch".into(),
            }
        } else {
            let record = (self.base)(&base).map_err(|e| self.err(stage.line, e))?;
            let config = self.store.config_of(&record).map_err(store_err)?;
            let layers =
                self.store.manifest_of(&record).map_err(store_err)?.layers.into_iter().map(|l| l.digest).collect();
            State { config, layers, key: format!("image {}", record.id) }
        };
        self.progress.done(started.elapsed());
        let mut args: BTreeMap<String, String> = BTreeMap::new();
        for step in &stage.steps {
            *number += 1;
            self.progress.step(&label, *number, total, &step.text);
            let started = Instant::now();
            let cached = self.step(step, &mut state, &mut args, done, i)?;
            if cached {
                self.progress.cached();
            } else {
                self.progress.done(started.elapsed());
            }
        }
        Ok(state)
    }

    /// The variables a step's words are expanded with: ARGs in scope, then ENV over them.
    fn vars(&self, state: &State, args: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut vars = args.clone();
        for e in state.config.config.env.iter().flatten() {
            if let Some((k, v)) = e.split_once('=') {
                vars.insert(k.to_string(), v.to_string());
            }
        }
        vars
    }

    /// Runs one step; returns whether it came from the cache.
    fn step(
        &self,
        step: &Step,
        state: &mut State,
        args: &mut BTreeMap<String, String>,
        done: &[Option<State>],
        stage: usize,
    ) -> Result<bool, BuildError> {
        let line = step.line;
        let vars = self.vars(state, args);
        let x = |text: &str| dockerfile::expand(text, &vars).map_err(|e| self.err(line, e));
        let c = &mut state.config.config;
        let mut layer_input: Option<String> = None;
        let mut copy: Option<CopyPlan> = None;
        match &step.instruction {
            Instruction::Env(pairs) => {
                let mut env = c.env.clone().unwrap_or_default();
                for (k, v) in pairs {
                    let v = x(v)?;
                    env.retain(|e| e.split('=').next() != Some(k.as_str()));
                    env.push(format!("{k}={v}"));
                }
                c.env = Some(env);
            }
            Instruction::Arg(pairs) => {
                for (name, default) in pairs {
                    let value = match self.opts.args.get(name) {
                        Some(v) => Some(v.clone()),
                        None => match default {
                            Some(d) => Some(x(d)?),
                            None => self.global.get(name).cloned(),
                        },
                    };
                    if let Some(v) = value {
                        args.insert(name.clone(), v);
                    }
                }
            }
            Instruction::Workdir(dir) => {
                let dir = x(dir)?;
                let base = c.working_dir.clone().unwrap_or_else(|| "/".into());
                c.working_dir = Some(clean(&Path::new(&base).join(dir)));
            }
            Instruction::User(u) => c.user = Some(x(u)?),
            Instruction::Cmd(cmd) => c.cmd = Some(self.argv(cmd, c.shell.as_deref())),
            Instruction::Entrypoint(cmd) => {
                c.entrypoint = Some(self.argv(cmd, c.shell.as_deref()));
                // As Docker: a new ENTRYPOINT drops the CMD inherited from the base.
                c.cmd = None;
            }
            Instruction::Expose(ports) => {
                let exposed = c.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in ports {
                    let p = x(p)?;
                    let key = if p.contains('/') { p } else { format!("{p}/tcp") };
                    exposed.insert(key, serde_json::json!({}));
                }
            }
            Instruction::Label(pairs) => {
                let labels = c.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in pairs {
                    labels.insert(x(k)?, x(v)?);
                }
            }
            Instruction::Volume(paths) => {
                let volumes = c.volumes.get_or_insert_with(BTreeMap::new);
                for p in paths {
                    volumes.insert(x(p)?, serde_json::json!({}));
                }
            }
            Instruction::Healthcheck(h) => c.healthcheck = Some(healthcheck(h, c.shell.as_deref())),
            Instruction::Shell(shell) => c.shell = Some(shell.clone()),
            Instruction::StopSignal(s) => c.stop_signal = Some(x(s)?),
            Instruction::OnBuild(text) => c.on_build.get_or_insert_with(Vec::new).push(text.clone()),
            Instruction::Maintainer(_) => {}
            Instruction::Run(_) => layer_input = Some(String::new()),
            Instruction::Copy { .. } => {
                let plan = self.plan_copy(&step.instruction, c.working_dir.as_deref(), &x, done, stage, line)?;
                let mut hash = context::hash(&plan.entries).map_err(|e| self.err(line, e.to_string()))?;
                for (_, body) in &plan.inline {
                    hash.push_str(&format!("{:x}", Sha256::digest(body)));
                }
                layer_input = Some(hash);
                copy = Some(plan);
            }
        }
        let Some(input) = layer_input else {
            // Metadata only: the key moves on, no layer.
            state.key = chain(&state.key, &step.text, args, "");
            // Dated like the image so far, so that an unchanged rebuild gives the same image ID.
            state.config.history.push(History {
                created: state.config.created.clone(),
                created_by: Some(step.text.clone()),
                comment: None,
                empty_layer: true,
            });
            return Ok(false);
        };
        let key = chain(&state.key, &step.text, args, &input);
        if !self.opts.no_cache {
            if let Some(hit) = self.cached(&key) {
                *state = hit;
                return Ok(true);
            }
        }
        let (blob, diff_id) = match &step.instruction {
            Instruction::Run(cmd) => self.run(step, state, cmd, args)?,
            Instruction::Copy { chown, chmod, add, .. } => {
                let plan = copy.take().expect("a COPY was planned");
                let mut attrs = Attributes::default();
                if let Some(spec) = chown {
                    let passwd = self.image_file(state, "etc/passwd");
                    let group = self.image_file(state, "etc/group");
                    attrs.owner = Some(context::owner(&x(spec)?, &passwd, &group).map_err(|e| self.err(line, e))?);
                }
                if let Some(mode) = chmod {
                    attrs.mode = Some(
                        u32::from_str_radix(mode, 8)
                            .map_err(|_| self.err(line, format!("invalid --chmod {mode:?}")))?,
                    );
                }
                crate::container::commit::store_layer(self.store, |out| {
                    context::write_layer(&plan.entries, &plan.inline, attrs, *add, out)
                })
                .map_err(|e| self.err(line, e.to_string()))?
            }
            _ => unreachable!("only RUN, COPY and ADD make layers"),
        };
        state.layers.push(blob);
        state.config.rootfs.diff_ids.push(diff_id);
        state.config.created = Some(crate::time::now());
        state.config.history.push(History {
            created: state.config.created.clone(),
            created_by: Some(step.text.clone()),
            comment: None,
            empty_layer: false,
        });
        state.key = key;
        self.remember(state);
        Ok(false)
    }

    /// A command as an argv: exec form as is, shell form through the stage's SHELL.
    fn argv(&self, cmd: &Command, shell: Option<&[String]>) -> Vec<String> {
        match cmd {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => {
                let mut argv = shell.map(<[String]>::to_vec).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                argv.push(s.clone());
                argv
            }
        }
    }

    /// Runs a RUN step in a container of the image so far; its changes are the layer.
    fn run(
        &self,
        step: &Step,
        state: &State,
        cmd: &Command,
        args: &BTreeMap<String, String>,
    ) -> Result<(Digest, Digest), BuildError> {
        let store = self.store;
        let bytes = serde_json::to_vec(&state.config).map_err(store_err)?;
        let record = local::commit_image(store, &bytes, &state.layers, &[]).map_err(store_err)?;
        let argv = self.argv(cmd, state.config.config.shell.as_deref());
        let suffix: String = crate::container::new_id().chars().take(12).collect();
        let opts = create::CreateOptions {
            name: Some(format!("berth-build-{suffix}")),
            env: args.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            entrypoint: Some(argv),
            labels: [("berth.build".to_string(), self.opts.dockerfile_name.clone())].into(),
            network: NetworkSettings {
                mode: if self.opts.network.as_deref() == Some("none") { NetworkMode::None } else { NetworkMode::Host },
                extra_hosts: self.opts.extra_hosts.clone(),
                ..NetworkSettings::default()
            },
            ..create::CreateOptions::default()
        };
        let config =
            create::create(store, "berth-build", &record, opts).map_err(|e| self.err(step.line, e.to_string()))?;
        let outcome = (|| {
            let mut started =
                launch::launch(store, &config.id, self.exe).map_err(|e| self.err(step.line, e.to_string()))?;
            let code = launch::wait_exit(&mut started).unwrap_or(-1);
            let lines = log_lines(&store.container_dir(&config.id).join("log.json"));
            for l in &lines {
                self.progress.output(l);
            }
            if code != 0 {
                let tail: Vec<&String> = lines.iter().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect();
                let output = if tail.is_empty() {
                    String::new()
                } else {
                    format!(":\n{}", tail.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"))
                };
                return Err(BuildError::Run {
                    file: self.opts.dockerfile_name.clone(),
                    line: step.line,
                    text: step.text.clone(),
                    code,
                    output,
                });
            }
            let c = store.load_container(&config.id).map_err(store_err)?;
            crate::container::commit::layer_of(store, &c).map_err(store_err)
        })();
        if let Ok(c) = store.load_container(&config.id) {
            let _ = remove::remove(store, &c, true);
        }
        outcome
    }

    /// What a COPY or ADD reads and where it goes, with its source mounted while the plan
    /// lives: planned once, hashed for the cache key, written only on a miss.
    fn plan_copy(
        &self,
        copy: &Instruction,
        working_dir: Option<&str>,
        x: &dyn Fn(&str) -> Result<String, BuildError>,
        done: &[Option<State>],
        stage: usize,
        line: usize,
    ) -> Result<CopyPlan, BuildError> {
        let Instruction::Copy { sources, dest, from, inline, .. } = copy else {
            unreachable!("only COPY and ADD are planned")
        };
        let from = from.as_deref();
        let (root, mount) = self.source_root(from, done, stage, line)?;
        let dest = x(dest)?;
        let dest = if dest.starts_with('/') {
            dest
        } else {
            format!("{}/{dest}", working_dir.unwrap_or("/").trim_end_matches('/'))
        };
        let from_image = from.is_some_and(|f| !self.opts.contexts.contains_key(f));
        let entries = self.copy_entries(&root, from_image, sources, &dest, x, line)?;
        let inline = inline
            .iter()
            .map(|(name, body)| {
                let to = if dest.ends_with('/') { format!("{dest}{name}") } else { dest.clone() };
                (to, body.clone().into_bytes())
            })
            .collect();
        Ok(CopyPlan { entries, inline, _mount: mount })
    }

    /// What a COPY or ADD puts in its layer. From the context, `.dockerignore` applies; from
    /// an image or a stage, each source is resolved inside that image's root.
    fn copy_entries(
        &self,
        root: &Path,
        from_image: bool,
        sources: &[String],
        dest: &str,
        x: &dyn Fn(&str) -> Result<String, BuildError>,
        line: usize,
    ) -> Result<Vec<context::Entry>, BuildError> {
        let mut expanded: Vec<String> = sources.iter().map(|s| x(s)).collect::<Result<_, _>>()?;
        if expanded.iter().any(|s| s.contains("://")) {
            return Err(self.err(line, "ADD from a URL is not supported: download it into the context"));
        }
        if expanded.is_empty() {
            return Ok(Vec::new());
        }
        let ignore = if from_image {
            for s in &mut expanded {
                let real = context::resolve_in_root(root, s).map_err(|e| self.err(line, format!("{s}: {e}")))?;
                *s = real.strip_prefix(root).unwrap_or(&real).display().to_string();
            }
            Ignore::default()
        } else {
            self.ignore.clone()
        };
        context::entries(root, &expanded, dest, &ignore).map_err(|e| self.err(line, e.to_string()))
    }

    /// The directory COPY reads from: the context, or the root of an earlier stage or an
    /// image (mounted read-only while the returned guard lives).
    fn source_root(
        &self,
        from: Option<&str>,
        done: &[Option<State>],
        stage: usize,
        line: usize,
    ) -> Result<(PathBuf, Option<ReadOnlyRoot>), BuildError> {
        let Some(from) = from else { return Ok((self.opts.context.clone(), None)) };
        if let Some(dir) = self.opts.contexts.get(from) {
            return Ok((dir.clone(), None));
        }
        let state = match self.stage_named(from, stage) {
            Some(j) => done[j].clone().ok_or_else(|| self.err(line, format!("stage {from} was not built")))?,
            None => {
                let record = (self.base)(from).map_err(|e| self.err(line, e))?;
                let config = self.store.config_of(&record).map_err(store_err)?;
                let layers =
                    self.store.manifest_of(&record).map_err(store_err)?.layers.into_iter().map(|l| l.digest).collect();
                State { config, layers, key: String::new() }
            }
        };
        // The layers of a stage built just now are unpacked only when something reads them.
        for (blob, diff_id) in state.layers.iter().zip(&state.config.rootfs.diff_ids) {
            self.store.create_snapshot(blob, diff_id).map_err(store_err)?;
        }
        let lowers: Vec<PathBuf> =
            state.config.rootfs.diff_ids.iter().rev().map(|d| self.store.snapshot_fs(d)).collect();
        let mount = ReadOnlyRoot::mount(self.store, &lowers).map_err(|e| self.err(line, e.to_string()))?;
        Ok((mount.path.clone(), Some(mount)))
    }

    /// A file of the image so far (`etc/passwd`), from its topmost layer that has it.
    fn image_file(&self, state: &State, rel: &str) -> String {
        state
            .config
            .rootfs
            .diff_ids
            .iter()
            .rev()
            .find_map(|d| std::fs::read_to_string(self.store.snapshot_fs(d).join(rel)).ok())
            .unwrap_or_default()
    }

    fn cache_path(&self, key: &str) -> PathBuf {
        self.store.root.join("build-cache").join(key)
    }

    fn cached(&self, key: &str) -> Option<State> {
        let text = std::fs::read(self.cache_path(key)).ok()?;
        let hit: Cached = serde_json::from_slice(&text).ok()?;
        if !hit.layers.iter().all(|l| self.store.content.size(l).is_ok()) {
            return None;
        }
        let config: ImageConfig = serde_json::from_slice(&self.store.content.read(&hit.config).ok()?).ok()?;
        Some(State { config, layers: hit.layers, key: key.to_string() })
    }

    fn remember(&self, state: &State) {
        let Ok(bytes) = serde_json::to_vec(&state.config) else { return };
        let Ok(config) = self.store.content.put(&bytes) else { return };
        let record = Cached { config, layers: state.layers.clone() };
        let path = self.cache_path(&state.key);
        if let (Some(dir), Ok(text)) = (path.parent(), serde_json::to_vec(&record)) {
            let _ = std::fs::create_dir_all(dir);
            let _ = crate::fsutil::write_atomic(&path, &text);
        }
    }
}

/// A COPY's files, planned (see `Builder::plan_copy`).
struct CopyPlan {
    entries: Vec<context::Entry>,
    inline: Vec<(String, Vec<u8>)>,
    /// Keeps an image's or stage's root mounted until the layer is written.
    _mount: Option<ReadOnlyRoot>,
}

/// The next cache key: the previous one, the instruction, the ARGs in scope and what it read.
fn chain(previous: &str, text: &str, args: &BTreeMap<String, String>, input: &str) -> String {
    let mut h = Sha256::new();
    for part in [previous, text, input] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for (k, v) in args {
        h.update(format!("{k}={v}\0").as_bytes());
    }
    format!("{:x}", h.finalize())
}

/// `a/./b/../c` as `/a/c`.
fn clean(path: &Path) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            std::path::Component::ParentDir => {
                parts.pop();
            }
            _ => {}
        }
    }
    format!("/{}", parts.join("/"))
}

/// Docker's HEALTHCHECK config: durations in nanoseconds, `["NONE"]` to disable.
fn healthcheck(h: &Health, shell: Option<&[String]>) -> serde_json::Value {
    let Some(test) = &h.test else { return serde_json::json!({ "Test": ["NONE"] }) };
    let test: Vec<String> = match test {
        Command::Exec(v) => std::iter::once("CMD".to_string()).chain(v.iter().cloned()).collect(),
        Command::Shell(s) if shell.is_none() => vec!["CMD-SHELL".into(), s.clone()],
        Command::Shell(s) => std::iter::once("CMD".to_string())
            .chain(shell.unwrap_or_default().iter().cloned())
            .chain([s.clone()])
            .collect(),
    };
    let ns = |d: &Option<String>| {
        d.as_deref().and_then(|d| berth_compose::model::types::Duration::parse(d).ok()).map(|d| d.0.as_nanos() as u64)
    };
    let mut v = serde_json::json!({ "Test": test });
    for (key, value) in [
        ("Interval", ns(&h.interval)),
        ("Timeout", ns(&h.timeout)),
        ("StartPeriod", ns(&h.start_period)),
        ("StartInterval", ns(&h.start_interval)),
        ("Retries", h.retries.map(u64::from)),
    ] {
        if let Some(value) = value {
            v[key] = value.into();
        }
    }
    v
}

/// What a container logged (every rotated file, oldest first), without the line ends.
fn log_lines(path: &Path) -> Vec<String> {
    let files = crate::container::logs::files(path);
    files
        .iter()
        .filter_map(|f| std::fs::File::open(f).ok())
        .flat_map(|f| crate::container::logs::read(std::io::BufReader::new(f)))
        .map(|e| e.log.trim_end_matches('\n').to_string())
        .collect()
}

/// An image's root, read-only: a single layer's directory as is, several layers as an
/// overlay mounted in the state directory, unmounted when dropped.
struct ReadOnlyRoot {
    path: PathBuf,
    /// An overlay berth mounted (and unmounts).
    mounted: bool,
    /// A directory berth made for the copy (and removes).
    made: bool,
}

impl ReadOnlyRoot {
    fn mount(store: &Store, lowers: &[PathBuf]) -> std::io::Result<ReadOnlyRoot> {
        match lowers {
            [] => {
                let path = crate::fsutil::temp_name(&store.root.join("build-empty"));
                std::fs::create_dir_all(&path)?;
                Ok(ReadOnlyRoot { path, mounted: false, made: true })
            }
            [one] => Ok(ReadOnlyRoot { path: one.clone(), mounted: false, made: false }),
            _ => {
                let path = crate::fsutil::temp_name(&store.root.join("build-root"));
                std::fs::create_dir_all(&path)?;
                // Made before the mount, so that a failed mount still removes the directory.
                let mut root = ReadOnlyRoot { path, mounted: false, made: true };
                let lower = lowers.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":");
                nix::mount::mount(
                    Some("overlay"),
                    &root.path,
                    Some("overlay"),
                    nix::mount::MsFlags::MS_RDONLY,
                    Some(format!("lowerdir={lower}").as_str()),
                )
                .map_err(std::io::Error::from)?;
                root.mounted = true;
                Ok(root)
            }
        }
    }
}

impl Drop for ReadOnlyRoot {
    fn drop(&mut self) {
        if self.mounted {
            let _ = nix::mount::umount2(&self.path, nix::mount::MntFlags::MNT_DETACH);
        }
        if self.made {
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_keys_and_healthchecks() {
        assert_eq!(clean(Path::new("/app/./src/../bin")), "/app/bin");
        assert_eq!(clean(Path::new("/../..")), "/");
        let none = BTreeMap::new();
        let a = chain("base", "RUN x", &none, "");
        assert_eq!(a, chain("base", "RUN x", &none, ""));
        assert_ne!(a, chain("base", "RUN y", &none, ""));
        assert_ne!(a, chain("base", "RUN x", &[("V".to_string(), "1".to_string())].into(), ""));
        assert_ne!(a, chain("other", "RUN x", &none, ""));
        let h = Health {
            test: Some(Command::Shell("true".into())),
            interval: Some("5s".into()),
            retries: Some(2),
            ..Health::default()
        };
        assert_eq!(
            healthcheck(&h, None),
            serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000u64, "Retries": 2})
        );
        assert_eq!(healthcheck(&Health::default(), None), serde_json::json!({"Test": ["NONE"]}));
    }
}
