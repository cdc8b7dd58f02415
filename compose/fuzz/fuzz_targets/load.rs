//! Any bytes, loaded as a Compose file: the loader must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        berth_compose::fuzzing::load_text(text, &std::env::temp_dir());
    }
});
