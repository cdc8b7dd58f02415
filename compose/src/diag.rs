//! Diagnostics: every problem the loader finds, with where it was found.
//!
//! The loader never stops at the first mistake. Each phase pushes [`Diagnostic`]s and the caller
//! reports them together, sorted by file and line, so a user fixes a file in one pass.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A place in a source file. Lines and columns count from 1; `line == 0` means "no position"
/// (a value that came from the environment or was made by normalisation).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pos {
    pub file: Option<Arc<PathBuf>>,
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub fn new(file: Option<Arc<PathBuf>>, line: u32, col: u32) -> Self {
        Pos { file, line, col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), 0) => write!(f, "{}", file.display()),
            (Some(file), line) => write!(f, "{}:{}:{}", file.display(), line, self.col),
            (None, 0) => write!(f, "<input>"),
            (None, line) => write!(f, "<stdin>:{}:{}", line, self.col),
        }
    }
}

/// One problem found while loading: where, at which YAML path, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub pos: Pos,
    /// The YAML path of the offending node, like `services.web.ports[1]`; empty for file-level problems.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.pos, self.message)
        } else {
            write!(f, "{}: {}: {}", self.pos, self.path, self.message)
        }
    }
}

/// All the problems found by one load, in source order.
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, pos: &Pos, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(Diagnostic { pos: pos.clone(), path: path.into(), message: message.into() });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    /// Sorts by position and drops exact repeats (two phases may trip over the same node).
    pub fn finish(mut self) -> Result<(), Diagnostics> {
        if self.0.is_empty() {
            return Ok(());
        }
        self.0.sort_by(|a, b| (&a.pos, &a.path, &a.message).cmp(&(&b.pos, &b.path, &b.message)));
        self.0.dedup();
        Err(self)
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Appends a path segment for a mapping key: `services` + `web` = `services.web`.
pub fn join_key(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// Appends a sequence index: `services.web.ports` + 1 = `services.web.ports[1]`.
pub fn join_index(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}
