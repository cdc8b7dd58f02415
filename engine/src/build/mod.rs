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
mod copy;
pub mod dockerfile;
mod expand;
mod run;
mod step;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};

use self::context::Ignore;
use self::dockerfile::{Dockerfile, Instruction, Stage};
use crate::digest::Digest;
use crate::image::local;
use crate::image::manifest::{ImageConfig, RootFs};
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
    #[error("cannot parse {file}")]
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
        let base = expand::expand(&stage.base, &self.global).unwrap_or_default();
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
        let base = expand::expand(&stage.base, &self.global).map_err(|e| self.err(stage.line, e))?;
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

    fn cache_path(&self, key: &str) -> PathBuf {
        self.store.build_cache_dir().join(key)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_keys() {
        assert_eq!(clean(Path::new("/app/./src/../bin")), "/app/bin");
        assert_eq!(clean(Path::new("/../..")), "/");
        let none = BTreeMap::new();
        let a = chain("base", "RUN x", &none, "");
        assert_eq!(a, chain("base", "RUN x", &none, ""));
        assert_ne!(a, chain("base", "RUN y", &none, ""));
        assert_ne!(a, chain("base", "RUN x", &[("V".to_string(), "1".to_string())].into(), ""));
        assert_ne!(a, chain("other", "RUN x", &none, ""));
    }
}
