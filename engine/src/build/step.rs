//! One build step: what it changes in the image config, or the layer it adds.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::context::{self, Attributes};
use super::dockerfile::{Command, Health, Instruction, Step};
use super::expand;
use super::{BuildError, Builder, State, chain, clean};
use crate::image::manifest::{History, RunConfig};

impl Builder<'_> {
    /// Runs one step; returns whether it came from the cache.
    pub(super) fn step(
        &self,
        step: &Step,
        state: &mut State,
        args: &mut BTreeMap<String, String>,
        done: &[Option<State>],
        stage: usize,
    ) -> Result<bool, BuildError> {
        let line = step.line;
        let vars = self.vars(state, args);
        let x = |text: &str| expand::expand(text, &vars).map_err(|e| self.err(line, e));
        // What the layer is made of, for its cache key; None for a step that makes no layer.
        let (input, copy) = match &step.instruction {
            Instruction::Run(_) => (String::new(), None),
            Instruction::Copy { .. } => {
                let working_dir = state.config.config.working_dir.as_deref();
                let plan = self.plan_copy(&step.instruction, working_dir, &x, done, stage, line)?;
                let mut hash = context::hash(&plan.entries).map_err(|e| self.err(line, e.to_string()))?;
                for (_, body) in &plan.inline {
                    hash.push_str(&format!("{:x}", Sha256::digest(body)));
                }
                (hash, Some(plan))
            }
            other => {
                self.configure(other, &mut state.config.config, args, &x)?;
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
            }
        };
        let key = chain(&state.key, &step.text, args, &input);
        if !self.opts.no_cache {
            if let Some(hit) = self.cached(&key) {
                *state = hit;
                return Ok(true);
            }
        }
        let (blob, diff_id) = match (&step.instruction, copy) {
            (Instruction::Run(cmd), _) => self.run(step, state, cmd, args)?,
            (Instruction::Copy { chown, chmod, add, .. }, Some(plan)) => {
                let attrs = self.copy_attributes(state, chown.as_deref(), chmod.as_deref(), &x, line)?;
                crate::container::commit::store_layer(self.store, |out| {
                    context::write_layer(&plan.entries, &plan.inline, attrs, *add, out)
                })
                .map_err(|e| self.err(line, e.to_string()))?
            }
            _ => unreachable!("only RUN, COPY and ADD make layers, and a COPY is planned"),
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

    /// A step that changes only the image config (ENV, ARG, WORKDIR, CMD, LABEL...).
    fn configure(
        &self,
        instruction: &Instruction,
        c: &mut RunConfig,
        args: &mut BTreeMap<String, String>,
        x: &dyn Fn(&str) -> Result<String, BuildError>,
    ) -> Result<(), BuildError> {
        match instruction {
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
            Instruction::Run(_) | Instruction::Copy { .. } => unreachable!("RUN, COPY and ADD make layers"),
        }
        Ok(())
    }

    /// The owner and mode `COPY --chown --chmod` give, the owner looked up in the image so far.
    fn copy_attributes(
        &self,
        state: &State,
        chown: Option<&str>,
        chmod: Option<&str>,
        x: &dyn Fn(&str) -> Result<String, BuildError>,
        line: usize,
    ) -> Result<Attributes, BuildError> {
        let mut attrs = Attributes::default();
        if let Some(spec) = chown {
            let passwd = self.image_file(state, "etc/passwd");
            let group = self.image_file(state, "etc/group");
            attrs.owner = Some(context::owner(&x(spec)?, &passwd, &group).map_err(|e| self.err(line, e))?);
        }
        if let Some(mode) = chmod {
            attrs.mode =
                Some(u32::from_str_radix(mode, 8).map_err(|_| self.err(line, format!("invalid --chmod {mode:?}")))?);
        }
        Ok(attrs)
    }

    /// A command as an argv: exec form as is, shell form through the stage's SHELL.
    pub(super) fn argv(&self, cmd: &Command, shell: Option<&[String]>) -> Vec<String> {
        match cmd {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => {
                let mut argv = shell.map(<[String]>::to_vec).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                argv.push(s.clone());
                argv
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthchecks_as_docker_stores_them() {
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
