//! One entry point for the fuzz target and the property tests: load arbitrary text as a
//! Compose file and let nothing but a `Result` come out.

use std::collections::HashMap;
use std::path::Path;

use crate::loader::{Options, load};

/// Loads `text` as the only Compose file (`-f -`), in `dir`, with a small fixed environment.
/// Returns whether it loaded. Panics are the bugs the callers look for.
pub fn load_text(text: &str, dir: &Path) -> bool {
    let env: HashMap<String, String> = [("HOME", "/home/fuzz"), ("FOO", "first"), ("EMPTY", "")]
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
    let mut opts = Options::new(dir.to_path_buf(), env);
    opts.files = vec!["-".into()];
    opts.project_name = Some("fuzz".into());
    opts.stdin = Some(text.to_string());
    load(&opts).is_ok()
}
