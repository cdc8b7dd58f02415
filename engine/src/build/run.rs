//! RUN: the command in a container of the image so far, whose changes become the layer.

use std::collections::BTreeMap;
use std::path::Path;

use super::dockerfile::{Command, Step};
use super::{BuildError, Builder, State, store_err};
use crate::container::{NetworkMode, NetworkSettings, create, launch, remove};
use crate::digest::Digest;
use crate::image::local;

impl Builder<'_> {
    /// Runs a RUN step in a container of the image so far; its changes are the layer.
    pub(super) fn run(
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
            let lines = log_lines(&store.container_dir(&config.id).log());
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
}

/// What a container logged (every rotated file, oldest first), without the line ends.
fn log_lines(path: &Path) -> Vec<String> {
    let files = crate::container::logs::files(path);
    files
        .iter()
        .filter_map(|f| crate::container::logs::open(f).ok())
        .flat_map(crate::container::logs::read)
        .map(|e| e.log.trim_end_matches('\n').to_string())
        .collect()
}
