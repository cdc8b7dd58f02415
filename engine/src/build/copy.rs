//! COPY and ADD: what they read (the context, a named context, another stage, an image) and
//! where it goes.

use std::path::{Path, PathBuf};

use super::context::{self, Ignore};
use super::dockerfile::Instruction;
use super::{BuildError, Builder, State, store_err};
use crate::store::Store;

/// A COPY's files, planned (see `Builder::plan_copy`).
pub(super) struct CopyPlan {
    pub(super) entries: Vec<context::Entry>,
    pub(super) inline: Vec<(String, Vec<u8>)>,
    /// Keeps an image's or stage's root mounted until the layer is written.
    _mount: Option<ReadOnlyRoot>,
}

impl Builder<'_> {
    /// What a COPY or ADD reads and where it goes, with its source mounted while the plan
    /// lives: planned once, hashed for the cache key, written only on a miss.
    pub(super) fn plan_copy(
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
    pub(super) fn image_file(&self, state: &State, rel: &str) -> String {
        state
            .config
            .rootfs
            .diff_ids
            .iter()
            .rev()
            .find_map(|d| std::fs::read_to_string(self.store.snapshot_fs(d).join(rel)).ok())
            .unwrap_or_default()
    }
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
