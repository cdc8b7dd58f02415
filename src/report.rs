//! The progress of `up`, `down`, `start`, `stop`... as Docker Compose shows it (`--progress`):
//! on a terminal a block of lines redrawn in place, one per object with a spinner, its state
//! and the time it has taken, under `[+] Running N/M`; elsewhere one line per event
//! (` ✔ Container p-web-1  Started`); `json` one object per event for scripts; `quiet` nothing.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `--progress`, as Docker Compose takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Progress {
    /// A redrawn block on a terminal, lines otherwise
    Auto,
    Tty,
    Plain,
    Quiet,
    Json,
}

/// How this process shows progress; `auto` resolved. Plain until [`set`] is called.
static MODE: OnceLock<Progress> = OnceLock::new();
static BLOCK: OnceLock<Block> = OnceLock::new();

/// Chooses the display for this process (once, from the global flag).
pub fn set(progress: Progress) {
    let resolved = match progress {
        Progress::Auto if std::io::stderr().is_terminal() => Progress::Tty,
        Progress::Auto => Progress::Plain,
        other => other,
    };
    let _ = MODE.set(resolved);
}

fn mode() -> Progress {
    MODE.get().copied().unwrap_or(Progress::Plain)
}

/// Whether progress is drawn for a terminal (pulls draw bars then).
pub fn on_terminal() -> bool {
    mode() == Progress::Tty
}

/// Whether `--progress quiet` asked for no progress at all.
pub fn quiet() -> bool {
    mode() == Progress::Quiet
}

/// Whether a progress status is an end state (shown with a tick).
fn done(status: &str) -> bool {
    matches!(
        status,
        "Created" | "Started" | "Stopped" | "Removed" | "Healthy" | "Running" | "Exited" | "Pulled" | "Built"
    )
}

/// The redrawn block: one bar per object, keyed by kind and name, in the order they came.
struct Block {
    multi: MultiProgress,
    header: ProgressBar,
    bars: Mutex<BTreeMap<String, (ProgressBar, bool)>>,
    /// The block was ended (logs follow): later events are lines.
    ended: std::sync::atomic::AtomicBool,
}

impl Block {
    fn new() -> Block {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(20));
        let header = multi.add(ProgressBar::new_spinner());
        header.set_style(ProgressStyle::with_template("[+] Running {msg}").expect("the template is valid"));
        Block { multi, header, bars: Mutex::new(BTreeMap::new()), ended: Default::default() }
    }

    fn style(finished: bool) -> ProgressStyle {
        let template = match finished {
            true => " ✔ {prefix:<40} {msg:<10} {secs:>5}",
            false => " {spinner} {prefix:<40} {msg:<10} {secs:>5}",
        };
        ProgressStyle::with_template(template).expect("the template is valid").tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ").with_key(
            "secs",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1}s", state.elapsed().as_secs_f64());
            },
        )
    }

    fn event(&self, kind: &str, name: &str, status: &str) {
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let key = format!("{kind} {name}");
        let finished = done(status);
        let (bar, was_done) = bars.entry(key.clone()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.set_prefix(key);
            bar.enable_steady_tick(Duration::from_millis(100));
            (bar, false)
        });
        bar.set_style(Block::style(finished));
        bar.set_message(status.to_string());
        if finished && !*was_done {
            bar.finish();
        }
        *was_done = finished;
        let complete = bars.values().filter(|(_, d)| *d).count();
        self.header.set_message(format!("{complete}/{}", bars.len()));
        self.header.tick();
    }

    /// Draws the final state once more and lets the terminal keep it.
    fn end(&self) {
        if self.ended.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        for (bar, finished) in bars.values() {
            match finished {
                true => bar.finish(),
                false => bar.abandon(),
            }
        }
        self.header.finish();
    }
}

/// Ends the redrawn block, if there is one, leaving it on the screen; events after it are
/// lines (`up` does this before it follows the services' output).
pub fn finish() {
    if let Some(block) = BLOCK.get() {
        block.end();
    }
}

/// Progress in Docker Compose's shape, as the display chosen says.
pub struct Lines;

impl berth_engine::project::Report for Lines {
    fn event(&self, kind: &str, name: &str, status: &str) {
        match mode() {
            Progress::Quiet => {}
            Progress::Json => {
                let line =
                    serde_json::json!({"id": format!("{kind} {name}"), "kind": kind, "name": name, "status": status});
                eprintln!("{line}");
            }
            Progress::Tty if !BLOCK.get().is_some_and(|b| b.ended.load(std::sync::atomic::Ordering::SeqCst)) => {
                BLOCK.get_or_init(Block::new).event(kind, name, status)
            }
            _ => eprintln!(" {} {kind} {name:<30} {status}", if done(status) { "✔" } else { " " }),
        }
    }

    fn warn(&self, message: &str) {
        match BLOCK.get() {
            Some(block) => block.multi.suspend(|| crate::output::warn(message)),
            None => crate::output::warn(message),
        }
    }
}
