//! Progress of pulls and pushes: a bar per layer on a terminal, one line per step otherwise,
//! nothing with `-q` or `--progress quiet`.

use std::collections::HashMap;
use std::sync::Mutex;

use berth_engine::image::pull::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

pub fn for_terminal(quiet: bool) -> std::sync::Arc<dyn Progress> {
    if quiet || crate::report::quiet() {
        std::sync::Arc::new(berth_engine::image::pull::Quiet)
    } else if crate::report::on_terminal() {
        std::sync::Arc::new(Bars { multi: MultiProgress::new(), bars: Mutex::new(HashMap::new()) })
    } else {
        std::sync::Arc::new(Lines)
    }
}

/// Plain lines, for logs and pipes.
struct Lines;

impl Progress for Lines {
    fn status(&self, id: &str, status: &str) {
        eprintln!("{id}: {status}");
    }
    fn start(&self, id: &str, total: u64) {
        eprintln!("{id}: Downloading {}", crate::output::human_size(total));
    }
    fn advance(&self, _: &str, _: u64) {}
}

struct Bars {
    multi: MultiProgress,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn bar(&self, id: &str) -> ProgressBar {
        let mut bars = self.bars.lock().expect("progress lock is never poisoned");
        bars.entry(id.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new(0));
                bar.set_style(
                    ProgressStyle::with_template("{prefix}: {msg:<12} [{bar:30}] {bytes}/{total_bytes}")
                        .expect("the template is valid")
                        .progress_chars("=> "),
                );
                bar.set_prefix(id.to_string());
                bar
            })
            .clone()
    }
}

impl Progress for Bars {
    fn status(&self, id: &str, status: &str) {
        let bar = self.bar(id);
        bar.set_message(status.to_string());
        if matches!(status, "Pull complete" | "Already exists" | "Pushed" | "Layer already exists") {
            bar.finish();
        }
    }
    fn start(&self, id: &str, total: u64) {
        let bar = self.bar(id);
        bar.set_length(total);
        bar.set_message("Downloading");
    }
    fn advance(&self, id: &str, bytes: u64) {
        self.bar(id).inc(bytes);
    }
}
