//! The environment a project is interpolated with: the process environment over the `.env`
//! file (or `--env-file` files), as Docker Compose layers them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::diag::{Diagnostics, Pos};
use crate::dotenv;
use crate::interpolate::Lookup;

#[derive(Debug, Clone, Default)]
pub struct Environment {
    vars: HashMap<String, String>,
}

impl Environment {
    pub fn from_map(vars: HashMap<String, String>) -> Self {
        Environment { vars }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    pub fn set_default(&mut self, name: &str, value: &str) {
        self.vars.entry(name.to_string()).or_insert_with(|| value.to_string());
    }

    /// `base` with the variables of `files` added where `base` does not set them. With no
    /// files given, `<dir>/.env` is read if it exists. Values in the files may use `${}` of
    /// `base` and of their own earlier lines.
    pub fn layered(base: &Environment, files: &[PathBuf], dir: &Path, diags: &mut Diagnostics) -> Environment {
        let default_file = dir.join(".env");
        let files: Vec<PathBuf> = if files.is_empty() {
            if default_file.is_file() { vec![default_file] } else { Vec::new() }
        } else {
            files.to_vec()
        };
        let mut env = base.clone();
        for file in files {
            match std::fs::read_to_string(&file) {
                Ok(text) => match dotenv::parse(&text, dotenv::Format::Standard, base) {
                    Ok(pairs) => {
                        for (k, v) in pairs {
                            env.vars.entry(k).or_insert(v);
                        }
                    }
                    Err(e) => diags.push(
                        &Pos::new(Some(file.clone().into()), e.line as u32, 1),
                        "",
                        format!("failed to read env file: {}", e.message),
                    ),
                },
                Err(e) => {
                    diags.push(&Pos::new(Some(file.clone().into()), 0, 0), "", format!("failed to read env file: {e}"))
                }
            }
        }
        env
    }
}

impl Lookup for Environment {
    fn lookup(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}
