//! This command's standard streams joined to a container's: `attach`, a foreground `run` with
//! `-i` or `-t`, and `exec -t`. With a terminal on both sides the local one is put in raw mode
//! (every key goes to the container, Ctrl-C included), its size follows the window, and
//! Ctrl-P Ctrl-Q detaches, as with Docker.

use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use berth_engine::container::attach::{Demux, STDERR, Streams};
use berth_engine::container::control::{self, Request};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

use crate::cli::AttachArgs;
use crate::engine;

/// Docker's detach keys, Ctrl-P then Ctrl-Q.
const DETACH: [u8; 2] = [0x10, 0x11];

/// How a relay ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The other side closed: the container (or the process) ended.
    Closed,
    /// The user pressed the detach keys; the container runs on.
    Detached,
}

/// What to relay.
pub(crate) struct Relay {
    /// Send this command's standard input.
    pub(crate) input: bool,
    /// The other side is a terminal: output is raw bytes (otherwise Docker's stream format),
    /// the detach keys are looked for, and sizes are sent.
    pub(crate) terminal: bool,
}

/// Joins this command's standard streams to `conn` until it closes. `resize` is called with
/// the local terminal's size at once and whenever the window changes (only with a terminal).
pub(crate) fn relay(conn: OwnedFd, how: Relay, mut resize: impl FnMut(u16, u16)) -> anyhow::Result<Ended> {
    // A container that ends closes the connection under the input relay: a write error, not
    // a signal that would lose the container's exit code.
    crate::sigpipe(nix::sys::signal::SigHandler::SigIgn);
    let stdin_tty = rustix::termios::isatty(std::io::stdin());
    let _raw = (how.input && how.terminal && stdin_tty).then(RawMode::enter).transpose()?;
    let winch = if how.terminal { window_changes().ok() } else { None };
    if how.terminal {
        if let Some((rows, cols)) = window_size() {
            resize(rows, cols);
        }
    }
    let detached = Arc::new(AtomicBool::new(false));
    if how.input {
        let writer = conn.try_clone().context("cannot set up the input relay")?;
        let detached = Arc::clone(&detached);
        let keys = how.terminal;
        std::thread::spawn(move || send_input(writer, keys, &detached));
    }
    let mut conn = std::fs::File::from(conn);
    let mut demux = Demux::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let mut fds = vec![PollFd::new(conn.as_fd(), PollFlags::POLLIN)];
        if let Some(w) = &winch {
            fds.push(PollFd::new(w.as_fd(), PollFlags::POLLIN));
        }
        if let Err(e) = nix::poll::poll(&mut fds, PollTimeout::NONE) {
            if e == nix::errno::Errno::EINTR {
                continue;
            }
            return Err(e.into());
        }
        let window_changed = fds.get(1).and_then(|f| f.revents()).is_some_and(|r| !r.is_empty());
        if let (true, Some(w)) = (window_changed, &winch) {
            let _ = w.read_signal();
            if let Some((rows, cols)) = window_size() {
                resize(rows, cols);
            }
        }
        // A terminal's master end reads EIO once the last process holding the other end is
        // gone: the end, as a closed connection is.
        let n = match conn.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => 0,
        };
        if n == 0 {
            break;
        }
        if how.terminal {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&buf[..n]).and_then(|_| out.flush());
        } else {
            demux.push(&buf[..n], |stream, data| {
                let _ = if stream == STDERR {
                    std::io::stderr().lock().write_all(data)
                } else {
                    let mut out = std::io::stdout().lock();
                    out.write_all(data).and_then(|_| out.flush())
                };
            });
        }
    }
    Ok(if detached.load(Ordering::SeqCst) { Ended::Detached } else { Ended::Closed })
}

/// Sends this command's standard input to `to` until it ends, then shuts down the writing
/// half (a foreground `run -i`: the output comes from the log).
pub(crate) fn send_input_only(to: OwnedFd) {
    crate::sigpipe(nix::sys::signal::SigHandler::SigIgn);
    send_input(to, false, &AtomicBool::new(false));
}

/// Copies standard input to `to` until it ends (then shuts down the writing half, which tells
/// the other side) or, with `keys`, until the detach keys (then shuts down both halves).
fn send_input(to: OwnedFd, keys: bool, detached: &AtomicBool) {
    use nix::sys::socket::{Shutdown, shutdown};
    let mut to = std::fs::File::from(to);
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 16 * 1024];
    let mut matched = 0;
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let data = &buf[..n];
        if keys {
            if let Some(at) = find_detach(data, &mut matched) {
                let _ = to.write_all(&data[..at]);
                detached.store(true, Ordering::SeqCst);
                let _ = shutdown(to.as_raw_fd(), Shutdown::Both);
                return;
            }
        }
        if to.write_all(data).is_err() {
            return;
        }
    }
    // A terminal's master end is no socket: there the input just stops.
    let _ = shutdown(to.as_raw_fd(), Shutdown::Write);
}

/// Where the detach keys end in `data` (the bytes before the sequence's first key), carrying a
/// partial match across reads in `matched`.
fn find_detach(data: &[u8], matched: &mut usize) -> Option<usize> {
    for (i, b) in data.iter().enumerate() {
        if *b == DETACH[*matched] {
            *matched += 1;
            if *matched == DETACH.len() {
                return Some((i + 1).saturating_sub(DETACH.len()));
            }
        } else {
            *matched = usize::from(*b == DETACH[0]);
        }
    }
    None
}

/// The local terminal's size (rows, columns), from standard output or standard input.
pub(crate) fn window_size() -> Option<(u16, u16)> {
    let size = rustix::termios::tcgetwinsize(std::io::stdout())
        .or_else(|_| rustix::termios::tcgetwinsize(std::io::stdin()))
        .ok()?;
    (size.ws_row > 0 && size.ws_col > 0).then_some((size.ws_row, size.ws_col))
}

/// SIGWINCH as a readable descriptor. The signal is blocked in this thread (and the threads
/// it starts later), so that it arrives only there.
fn window_changes() -> nix::Result<SignalFd> {
    let mut set = SigSet::empty();
    set.add(Signal::SIGWINCH);
    set.thread_block()?;
    SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
}

/// The local terminal in raw mode until dropped.
struct RawMode {
    saved: nix::sys::termios::Termios,
}

impl RawMode {
    fn enter() -> anyhow::Result<RawMode> {
        use nix::sys::termios::{SetArg, cfmakeraw, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let saved = tcgetattr(stdin.as_fd()).context("cannot read the terminal's settings")?;
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).context("cannot put the terminal in raw mode")?;
        Ok(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = nix::sys::termios::tcsetattr(std::io::stdin().as_fd(), nix::sys::termios::SetArg::TCSANOW, &self.saved);
    }
}

/// Asks a container's shim to resize its terminal.
pub(crate) fn resize_container(dir: &berth_engine::container::dir::ContainerDir) -> impl FnMut(u16, u16) + '_ {
    move |rows, cols| {
        let _ = control::send(dir, &Request::Resize(rows, cols), Some(std::time::Duration::from_secs(2)));
    }
}

/// `berth attach`: this command's streams joined to a running container's until it ends (the
/// container's exit code) or the detach keys are pressed.
pub fn attach(args: AttachArgs) -> anyhow::Result<ExitCode> {
    let store = engine::store()?;
    let c = store.find_container(&args.container)?;
    if !berth_engine::container::remove::is_live(&c) {
        anyhow::bail!("cannot attach to container {}: it is not running", c.config.name);
    }
    let dir = store.container_dir(&c.config.id);
    let wants = Streams { input: c.config.open_stdin && !args.no_stdin, output: true };
    let conn = berth_engine::container::attach::connect(&dir, wants)
        .with_context(|| format!("cannot attach to container {}", c.config.name))?;
    let how = Relay { input: wants.input, terminal: c.config.tty };
    if relay(OwnedFd::from(conn), how, resize_container(&dir))? == Ended::Detached {
        return Ok(ExitCode::SUCCESS);
    }
    // The shim records the exit before it lets attached clients go.
    let after = store.load_container(&c.config.id)?;
    let code = if berth_engine::container::remove::is_live(&after) { 0 } else { after.state.exit_code.unwrap_or(0) };
    Ok(ExitCode::from(code.clamp(0, 255) as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detach_keys_are_found_across_reads() {
        let mut m = 0;
        assert_eq!(find_detach(b"ls\r\x10\x11", &mut m), Some(3));
        let mut m = 0;
        assert_eq!(find_detach(b"ab\x10", &mut m), None);
        assert_eq!(find_detach(b"\x11", &mut m), Some(0));
        let mut m = 0;
        assert_eq!(find_detach(b"\x10x\x11", &mut m), None);
        assert_eq!(find_detach(b"\x10\x10\x11", &mut { 0 }), Some(1));
    }
}
