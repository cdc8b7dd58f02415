//! The project name: `-p`, then `COMPOSE_PROJECT_NAME`, then `name:` in the files, then the
//! project directory's name, with Docker Compose's rules for each.

use std::path::Path;

use crate::diag::{Diagnostics, Pos};
use crate::env::Environment;
use crate::interpolate::substitute;
use crate::node::Node;
use crate::options::Options;

/// A valid project name: lowercase letters, digits, `-` and `_`, starting with a letter or digit.
pub fn is_valid(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A directory name made into a project name: lowercased, other characters dropped.
pub fn from_directory(dir_name: &str) -> String {
    let cleaned: String = dir_name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_')
        .collect();
    cleaned.trim_start_matches(['-', '_']).to_string()
}

fn invalid(name: &str, source: &str) -> String {
    format!(
        "invalid project name {name:?} ({source}): use only lowercase letters, digits, dashes and underscores, \
         starting with a letter or a digit"
    )
}

pub fn project_name(
    opts: &Options,
    env: &Environment,
    declared: Option<&Node>,
    project_dir: &Path,
    diags: &mut Diagnostics,
) -> Option<String> {
    let nowhere = Pos::default();
    if let Some(name) = opts.project_name.as_deref().filter(|n| !n.is_empty()) {
        if !is_valid(name) {
            diags.push(&nowhere, "", invalid(name, "from -p"));
            return None;
        }
        return Some(name.to_string());
    }
    if let Some(name) = env.get("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty()) {
        if !is_valid(name) {
            diags.push(&nowhere, "", invalid(name, "from COMPOSE_PROJECT_NAME"));
            return None;
        }
        return Some(name.to_string());
    }
    if let Some(node) = declared {
        let raw = node.as_text().unwrap_or_default();
        let text = if opts.interpolate {
            substitute(raw, env).map(|s| s.text).unwrap_or_else(|_| raw.to_string())
        } else {
            raw.to_string()
        };
        let name = text.to_lowercase();
        if !name.is_empty() {
            if !is_valid(&name) {
                diags.push(&node.pos, "name", invalid(&text, "from the `name` attribute"));
                return None;
            }
            return Some(name);
        }
    }
    let dir_name = project_dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = from_directory(&dir_name);
    if name.is_empty() {
        diags.push(
            &nowhere,
            "",
            format!("cannot make a project name from the directory {dir_name:?}; set one with -p or `name:`"),
        );
        return None;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(is_valid("shop"));
        assert!(is_valid("my_app-2"));
        assert!(!is_valid("MyApp"));
        assert!(!is_valid("-x"));
        assert!(!is_valid(""));
        assert_eq!(from_directory("My App.v2"), "myappv2");
        assert_eq!(from_directory("_x"), "x");
    }
}
