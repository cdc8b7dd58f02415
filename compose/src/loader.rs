//! The loading pipeline (DESIGN.md §3): find the files, build the environment, then per file
//! parse -> interpolate -> canonical -> paths -> include -> extends; then merge the files,
//! apply profiles, normalise, bind to the typed [`Project`] and check consistency.
//!
//! Every phase adds to one [`Diagnostics`]; the load fails at the end with all of them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::canonical::canonical;
use crate::diag::{Diagnostics, Pos};
use crate::env::Environment;
use crate::interpolate::interpolate_tree;
use crate::merge::{merge, same};
use crate::model::Project;
use crate::node::{Map, Node, Value};
pub use crate::options::Options;
use crate::{bind, consistency, defaults, name, normalize, paths, yaml};

/// The file names looked for, in order, when no `-f` is given.
pub const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];
const OVERRIDE_FILES: [&str; 4] =
    ["compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml"];

/// A successful load: the project and the warnings to show the user.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<String>,
}

/// Loads a project, or fails with every problem found.
pub fn load(opts: &Options) -> Result<Loaded, Diagnostics> {
    let mut loader = Loader {
        diags: Diagnostics::default(),
        warnings: Vec::new(),
        opts,
        home: opts.environment.get("HOME").cloned(),
        os_env: Environment::from_map(opts.environment.clone()),
        chain: Vec::new(),
    };
    let project = loader.load_project();
    let mut warnings = loader.warnings;
    let mut seen = BTreeSet::new();
    warnings.retain(|w| seen.insert(w.clone()));
    loader.diags.finish()?;
    let project = project.ok_or_else(Diagnostics::default)?;
    Ok(Loaded { project, warnings })
}

struct Loader<'a> {
    diags: Diagnostics,
    warnings: Vec<String>,
    opts: &'a Options,
    home: Option<String>,
    os_env: Environment,
    /// Files being loaded through `include`/`extends`, to refuse loops.
    chain: Vec<PathBuf>,
}

impl Loader<'_> {
    fn load_project(&mut self) -> Option<Project> {
        let files = self.compose_files()?;
        let project_dir = match &self.opts.project_directory {
            Some(dir) => paths::absolute(&dir.to_string_lossy(), &self.opts.working_dir, self.home.as_deref()),
            None => files
                .iter()
                .find(|f| f.as_os_str() != "-")
                .and_then(|f| f.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| self.opts.working_dir.clone()),
        };
        let mut env = Environment::layered(&self.os_env, &self.opts.env_files, &project_dir, &mut self.diags);

        let mut docs = Vec::new();
        for file in &files {
            if let Some(doc) = self.parse_file(file) {
                docs.push((file.clone(), doc));
            }
        }
        let declared = docs.iter().rev().find_map(|(_, d)| d.get("name").cloned());
        let project_name = name::project_name(self.opts, &env, declared.as_ref(), &project_dir, &mut self.diags)?;
        env.set_default("COMPOSE_PROJECT_NAME", &project_name);

        let mut model: Option<Node> = None;
        for (file, doc) in docs {
            let doc = self.process(doc, &file, &env, &project_dir);
            match &mut model {
                None => model = Some(doc),
                Some(m) => merge(m, doc),
            }
        }
        let mut model = model?;
        normalize::resolve_environment(&mut model, &env, self.opts.resolve_environment, &mut self.diags);
        let disabled = self.apply_profiles(&mut model, &env);
        if let Some(version) = model.get("version") {
            let _ = version;
            self.warnings.push("the attribute `version` is obsolete, it will be ignored".into());
        }
        normalize::normalize(&mut model, &project_name, &project_dir);
        defaults::apply(&mut model);

        let mut project: Project = bind::bind(&model, "", &mut self.diags)?;
        project.name = project_name;
        project.working_dir = project_dir;
        project.compose_files = files;
        project.active_profiles = self.active_profiles(&env);
        let named = project.secrets.values().chain(project.configs.values()).filter_map(|o| o.environment.clone());
        project.environment = named.filter_map(|var| env.get(&var).map(|v| (var.clone(), v.to_string()))).collect();
        for (name, node) in disabled {
            if let Some(service) = bind::bind(&node, &format!("services.{name}"), &mut self.diags) {
                project.disabled_services.insert(name, service);
            }
        }
        consistency::check_schema(&project, &model, &mut self.diags);
        if self.opts.consistency {
            consistency::check_references(&project, &model, &mut self.diags);
        }
        Some(project)
    }

    /// `-f` files, or `COMPOSE_FILE`, or the first default name found from the working
    /// directory upwards with its override file beside it.
    fn compose_files(&mut self) -> Option<Vec<PathBuf>> {
        let absolute = |p: &Path| {
            if p.as_os_str() == "-" {
                p.to_path_buf()
            } else {
                paths::absolute(&p.to_string_lossy(), &self.opts.working_dir, self.home.as_deref())
            }
        };
        if !self.opts.files.is_empty() {
            return Some(self.opts.files.iter().map(|f| absolute(f)).collect());
        }
        if let Some(list) = self.opts.environment.get("COMPOSE_FILE").filter(|l| !l.is_empty()) {
            let sep = self.opts.environment.get("COMPOSE_PATH_SEPARATOR").map_or(":", String::as_str);
            return Some(list.split(sep).map(|f| absolute(Path::new(f))).collect());
        }
        let start =
            self.opts.project_directory.as_deref().map(absolute).unwrap_or_else(|| self.opts.working_dir.clone());
        for dir in start.ancestors() {
            if let Some(found) = DEFAULT_FILES.iter().map(|n| dir.join(n)).find(|p| p.is_file()) {
                if let Some(name) = found.file_name().and_then(|n| n.to_str()) {
                    if DEFAULT_FILES[..2].contains(&name) && dir.join(DEFAULT_FILES[2]).is_file() {
                        self.warnings.push(format!("found multiple config files with supported names; using {name}"));
                    }
                }
                let mut files = vec![found];
                if let Some(o) = OVERRIDE_FILES.iter().map(|n| dir.join(n)).find(|p| p.is_file()) {
                    files.push(o);
                }
                return Some(files);
            }
        }
        self.diags.push(
            &Pos::new(Some(Arc::new(start)), 0, 0),
            "",
            format!("no Compose file found here or in any parent directory (looked for {})", DEFAULT_FILES.join(", ")),
        );
        None
    }

    fn parse_file(&mut self, path: &Path) -> Option<Node> {
        let text = if path.as_os_str() == "-" {
            self.opts.stdin.clone().unwrap_or_default()
        } else {
            match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) => {
                    self.diags.push(
                        &Pos::new(Some(Arc::new(path.to_path_buf())), 0, 0),
                        "",
                        format!("cannot read the file: {e}"),
                    );
                    return None;
                }
            }
        };
        let file = (path.as_os_str() != "-").then(|| Arc::new(path.to_path_buf()));
        let doc = yaml::parse(&text, file, &mut self.diags)?;
        if doc.as_map().is_none() {
            self.diags.push(
                &doc.pos,
                "",
                format!("a Compose file must be a mapping at the top level, not {}", doc.kind()),
            );
            return None;
        }
        Some(doc)
    }

    /// The per-file phases, after parsing.
    fn process(&mut self, mut doc: Node, file: &Path, env: &Environment, base: &Path) -> Node {
        if self.opts.interpolate {
            let unset = interpolate_tree(&mut doc, env, &mut self.diags);
            self.warnings.extend(
                unset.into_iter().map(|v| format!("the {v:?} variable is not set; defaulting to a blank string")),
            );
        }
        canonical(&mut doc, &mut self.diags, &mut self.warnings);
        paths::resolve(&mut doc, base, self.home.as_deref());
        self.apply_includes(&mut doc, base);
        let file_dir = if file.as_os_str() == "-" {
            base.to_path_buf()
        } else {
            file.parent().map_or_else(|| base.to_path_buf(), Path::to_path_buf)
        };
        self.apply_extends(&mut doc, file, &file_dir, env);
        doc
    }

    /// Loads a file pulled in by `include` or `extends`, refusing loops.
    fn load_other(&mut self, path: &Path, env: &Environment, base: &Path, at: &Pos) -> Option<Node> {
        if self.chain.iter().any(|p| p == path) {
            self.diags.push(at, "", format!("{} includes or extends itself through a loop", path.display()));
            return None;
        }
        self.chain.push(path.to_path_buf());
        let doc = self.parse_file(path).map(|doc| self.process(doc, path, env, base));
        self.chain.pop();
        doc
    }

    fn apply_includes(&mut self, doc: &mut Node, base: &Path) {
        let Some(includes) = doc.as_map_mut().and_then(|m| m.shift_remove("include")) else { return };
        let entries = match includes.value {
            Value::Seq(items) => items,
            _ => {
                self.diags.push(&includes.pos, "include", "must be a list");
                return;
            }
        };
        for (i, entry) in entries.into_iter().enumerate() {
            let path = format!("include[{i}]");
            let list = |n: Option<&Node>| -> Vec<String> {
                match n.map(|n| &n.value) {
                    Some(Value::Seq(items)) => items.iter().filter_map(|i| i.as_text().map(str::to_string)).collect(),
                    Some(Value::Scalar { text, .. }) => vec![text.clone()],
                    _ => Vec::new(),
                }
            };
            let (files, project_dir, env_files) = if entry.as_text().is_some() {
                (list(Some(&entry)), None, Vec::new())
            } else {
                (
                    list(entry.get("path")),
                    entry.get_str("project_directory").map(str::to_string),
                    list(entry.get("env_file")),
                )
            };
            if files.is_empty() {
                self.diags.push(&entry.pos, path, "an include needs a `path`");
                continue;
            }
            let resolve = |p: &str| paths::absolute(p, base, self.home.as_deref());
            let files: Vec<PathBuf> = files.iter().map(|f| resolve(f)).collect();
            let project_dir = project_dir
                .map(|d| resolve(&d))
                .unwrap_or_else(|| files[0].parent().map_or_else(|| base.to_path_buf(), Path::to_path_buf));
            let env_files: Vec<PathBuf> = env_files.iter().map(|f| resolve(f)).collect();
            let env = Environment::layered(&self.os_env, &env_files, &project_dir, &mut self.diags);
            let mut included: Option<Node> = None;
            for file in &files {
                if let Some(d) = self.load_other(file, &env, &project_dir, &entry.pos) {
                    match &mut included {
                        None => included = Some(d),
                        Some(m) => merge(m, d),
                    }
                }
            }
            let Some(mut included) = included else { continue };
            normalize::resolve_environment(&mut included, &env, self.opts.resolve_environment, &mut self.diags);
            self.add_included(doc, included, &path);
        }
    }

    /// Adds the resources of an included model; a name defined differently on both sides is an error.
    fn add_included(&mut self, doc: &mut Node, included: Node, path: &str) {
        let Some(top) = doc.as_map_mut() else { return };
        let Value::Map(sections) = included.value else { return };
        for (section, value) in sections {
            if !matches!(section.as_str(), "services" | "networks" | "volumes" | "secrets" | "configs" | "models") {
                continue;
            }
            let Value::Map(entries) = value.value else { continue };
            let target = top.get_or_insert_with(&section, || Node::map(Map::new(), value.pos.clone()));
            if target.is_null() {
                *target = Node::map(Map::new(), value.pos.clone());
            }
            let Some(target) = target.as_map_mut() else { continue };
            for (name, resource) in entries {
                match target.get(&name) {
                    Some(existing) if !same(existing, &resource) => self.diags.push(
                        &existing.pos,
                        format!("{section}.{name}"),
                        format!("conflicts with the {section} entry of the same name imported by {path}"),
                    ),
                    Some(_) => {}
                    None => {
                        target.insert(name, resource);
                    }
                }
            }
        }
    }

    fn apply_extends(&mut self, doc: &mut Node, file: &Path, file_dir: &Path, env: &Environment) {
        let names: Vec<String> = doc
            .get("services")
            .and_then(Node::as_map)
            .map(|m| m.iter().filter(|(_, s)| s.get("extends").is_some()).map(|(k, _)| k.clone()).collect())
            .unwrap_or_default();
        for name in names {
            let mut visiting = Vec::new();
            self.extend_service(doc, &name, file, file_dir, env, &mut visiting);
        }
    }

    /// Replaces service `name` by its base merged with its own attributes.
    fn extend_service(
        &mut self,
        doc: &mut Node,
        name: &str,
        file: &Path,
        file_dir: &Path,
        env: &Environment,
        visiting: &mut Vec<String>,
    ) {
        let Some(service) = doc.get("services").and_then(|s| s.get(name)).cloned() else { return };
        let Some(ext) = service.get("extends").cloned() else { return };
        let path = format!("services.{name}.extends");
        let (other_file, base_name) = match (&ext.value, ext.get_str("service")) {
            (Value::Scalar { text, .. }, _) => (None, text.clone()),
            (Value::Map(_), Some(base)) => (ext.get_str("file").map(str::to_string), base.to_string()),
            _ => {
                self.diags.push(&ext.pos, path, "extends needs a `service` (and optionally a `file`)");
                return;
            }
        };
        let (base, source) = match other_file {
            Some(f) => {
                let path_buf = paths::absolute(&f, file_dir, self.home.as_deref());
                let dir = path_buf.parent().map_or_else(|| file_dir.to_path_buf(), Path::to_path_buf);
                let Some(other) = self.load_other(&path_buf, env, &dir, &ext.pos) else { return };
                (other.get("services").and_then(|s| s.get(&base_name)).cloned(), path_buf)
            }
            None => {
                if visiting.contains(&base_name) || base_name == name {
                    self.diags.push(&ext.pos, path, format!("service {name:?} extends itself through a loop"));
                    return;
                }
                visiting.push(name.to_string());
                self.extend_service(doc, &base_name, file, file_dir, env, visiting);
                visiting.pop();
                (doc.get("services").and_then(|s| s.get(&base_name)).cloned(), file.to_path_buf())
            }
        };
        let Some(mut base) = base else {
            let message = format!("cannot extend service {base_name:?}: {} has no such service", source.display());
            self.diags.push(&ext.pos, path, message);
            return;
        };
        // `extends: x` with an empty service body gives a null base.
        if base.is_null() {
            base = Node::map(Map::new(), base.pos.clone());
        }
        if let Some(m) = base.as_map_mut() {
            m.shift_remove("extends");
        }
        let mut over = service;
        if let Some(m) = over.as_map_mut() {
            m.shift_remove("extends");
        }
        let wrap = |svc: Node| {
            let mut services = Map::new();
            services.insert(name.to_string(), svc);
            let mut top = Map::new();
            top.insert("services".to_string(), Node::map(services, Pos::default()));
            Node::map(top, Pos::default())
        };
        let mut merged = wrap(base);
        merge(&mut merged, wrap(over));
        let result = merged.get("services").and_then(|s| s.get(name)).cloned();
        if let (Some(result), Some(services)) = (result, doc.get_mut("services").and_then(Node::as_map_mut)) {
            services.insert(name.to_string(), result);
        }
    }

    fn active_profiles(&self, env: &Environment) -> Vec<String> {
        // `COMPOSE_PROFILES` is the default of `--profile`, as in Docker Compose: the flag, when
        // given, replaces it rather than adding to it.
        let mut active: Vec<String> = self.opts.profiles.clone();
        if let Some(list) = env.get("COMPOSE_PROFILES").filter(|_| active.is_empty()) {
            active.extend(list.split(',').map(str::trim).filter(|p| !p.is_empty()).map(str::to_string));
        }
        active.sort();
        active.dedup();
        active
    }

    /// Moves the services that the active profiles leave out of `services`, and returns them.
    fn apply_profiles(&mut self, model: &mut Node, env: &Environment) -> Vec<(String, Node)> {
        let mut active = self.active_profiles(env);
        let Some(services) = model.get_mut("services").and_then(Node::as_map_mut) else { return Vec::new() };
        let profiles_of = |s: &Node| -> Vec<String> {
            s.get("profiles")
                .and_then(Node::as_seq)
                .map(|p| p.iter().filter_map(|x| x.as_text().map(str::to_string)).collect())
                .unwrap_or_default()
        };
        for target in &self.opts.targets {
            if let Some(s) = services.get(target) {
                active.extend(profiles_of(s));
            }
        }
        let all = active.iter().any(|p| p == "*");
        let mut disabled = Vec::new();
        services.retain(|name, service| {
            let profiles = profiles_of(service);
            let enabled = profiles.is_empty() || all || profiles.iter().any(|p| active.contains(p));
            if !enabled {
                disabled.push((name.to_string(), service.clone()));
            }
            enabled
        });
        disabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn the_profile_flag_replaces_compose_profiles() {
        let text = "services:\n  a: {image: x}\n  b: {image: x, profiles: [pb]}\n  c: {image: x, profiles: [pc]}\n";
        let env = HashMap::from([("COMPOSE_PROFILES".to_string(), "pb".to_string())]);
        let services = |profiles: &[&str]| -> Vec<String> {
            let mut opts = Options::new(PathBuf::from("/nonexistent"), env.clone());
            opts.files = vec![PathBuf::from("-")];
            opts.project_name = Some("p".into());
            opts.stdin = Some(text.to_string());
            opts.profiles = profiles.iter().map(|p| p.to_string()).collect();
            load(&opts).expect("loads").project.services.keys().cloned().collect()
        };
        assert_eq!(services(&[]), ["a", "b"]);
        assert_eq!(services(&["pc"]), ["a", "c"]);
    }
}
