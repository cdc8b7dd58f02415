//! The project a command acts on, resolved once per command: the Compose files are read (and
//! their warnings printed, standard input consumed) at most once, whichever parts of the
//! command ask for them.

use std::cell::OnceCell;

use berth_compose::Project;
use berth_engine::container::store::Container;
use berth_engine::project;
use berth_engine::store::Store;

use crate::cli::GlobalArgs;
use crate::output::LoadError;

/// The Compose file names Docker Compose looks for in the current directory.
const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];

pub struct Scope<'a> {
    pub global: &'a GlobalArgs,
    loaded: OnceCell<Result<Project, anyhow::Error>>,
}

impl<'a> Scope<'a> {
    pub fn new(global: &'a GlobalArgs) -> Scope<'a> {
        Scope { global, loaded: OnceCell::new() }
    }

    /// Whether the command line names a project: `-f`, `-p`, or a Compose file here.
    pub fn named(&self) -> bool {
        if !self.global.files.is_empty() || self.global.project_name.is_some() {
            return true;
        }
        let Ok(cwd) = std::env::current_dir() else { return false };
        DEFAULT_FILES.iter().any(|f| cwd.join(f).is_file())
    }

    /// The project, loaded the first time it is asked for.
    pub fn project(&self) -> anyhow::Result<&Project> {
        let loaded = self.loaded.get_or_init(|| {
            let opts = crate::project::options(self.global)?;
            Ok(crate::project::load(&opts)?.project)
        });
        loaded.as_ref().map_err(again)
    }

    /// The project's name and, when its files load, the project: from `-p` alone when there
    /// are no files (a project that is only containers' labels now), or from the files.
    pub fn name(&self) -> anyhow::Result<(String, Option<&Project>)> {
        match self.project() {
            Ok(p) => Ok((p.name.clone(), Some(p))),
            Err(e) => match &self.global.project_name {
                Some(name) if self.global.files.is_empty() => Ok((name.clone(), None)),
                _ => Err(e),
            },
        }
    }

    /// The project's containers of the services (none: all of them), with the state
    /// directory they are in, the project's name and, when its files load, the project.
    pub fn containers(&self, services: &[String]) -> anyhow::Result<(Store, String, Option<&Project>, Vec<Container>)> {
        let (name, project) = self.name()?;
        let store = crate::engine::store()?;
        let cs = project::containers(&store, &name, false)?
            .into_iter()
            .filter(|c| services.is_empty() || services.iter().any(|s| s == project::service_of(c)))
            .collect();
        Ok((store, name, project, cs))
    }

    /// Whether the names are all services of the project (none: all of them), so that a
    /// container command acts on services; otherwise it acts on containers by name or ID, as
    /// outside a project.
    pub fn names_services(&self, names: &[String]) -> bool {
        names.is_empty() || self.project().is_ok_and(|p| names.iter().all(|n| p.services.contains_key(n)))
    }
}

/// The same failure once more, for a second caller: the loader's diagnostics as they were,
/// any other error with its chain of causes.
fn again(e: &anyhow::Error) -> anyhow::Error {
    if let Some(load) = e.downcast_ref::<LoadError>() {
        return anyhow::Error::new(load.clone());
    }
    let mut causes: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    let mut out = anyhow::Error::msg(causes.pop().unwrap_or_default());
    while let Some(outer) = causes.pop() {
        out = out.context(outer);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_repeats_with_its_causes() {
        let first = anyhow::Error::msg("no such file").context("cannot read compose.yaml");
        let second = again(&first);
        let chain: Vec<String> = second.chain().map(|c| c.to_string()).collect();
        assert_eq!(chain, ["cannot read compose.yaml", "no such file"]);
    }

    #[test]
    fn diagnostics_repeat_as_diagnostics() {
        let first = anyhow::Error::new(LoadError(berth_compose::Diagnostics::default()));
        assert!(again(&first).downcast_ref::<LoadError>().is_some());
    }
}
