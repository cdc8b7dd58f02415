//! The shim's control socket: one request per connection, answered from the shim's state.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use crate::container::Status;
use crate::container::attach::{self};
use crate::container::control::Request;

use super::*;

impl Shim<'_> {
    /// Answers every pending connection on the control socket.
    pub(super) fn accept(&mut self, pid: Option<Pid>) {
        while let Ok((stream, _)) = self.listener.accept() {
            let _ = stream.set_nonblocking(false);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut line = String::new();
            if BufReader::new(&stream).read_line(&mut line).is_err() {
                continue;
            }
            let mut stream = stream;
            let reply = match Request::parse(&line) {
                Some(Request::State) => serde_json::to_string(&self.c.state).unwrap_or_default(),
                Some(Request::Wait) => {
                    self.waiters.push(stream);
                    continue;
                }
                Some(Request::Kill(sig)) => {
                    self.c.state.stopped_by_user = true;
                    match (pid, Signal::try_from(sig)) {
                        (Some(pid), Ok(sig)) => {
                            nix::sys::signal::kill(pid, sig).map_or_else(|e| format!("error: {e}"), |_| "ok".into())
                        }
                        (None, _) => "ok".into(),
                        (_, Err(_)) => format!("error: no signal {sig}"),
                    }
                }
                Some(Request::Attach(streams)) => {
                    if stream.write_all(b"ok\n").is_ok() {
                        self.clients.add(stream, streams);
                    }
                    continue;
                }
                Some(Request::Resize(rows, cols)) => match &self.terminal {
                    Some(t) => attach::resize(t, rows, cols).map_or_else(|e| format!("error: {e}"), |_| "ok".into()),
                    None => "error: the container has no terminal".into(),
                },
                Some(Request::Reload) => match self.store.load_container(&self.c.config.id) {
                    // The configuration alone: the state is the shim's own.
                    Ok(fresh) => {
                        self.c.config = fresh.config;
                        "ok".into()
                    }
                    Err(e) => format!("error: {e}"),
                },
                Some(Request::Pause) => self.freeze(true),
                Some(Request::Resume) => self.freeze(false),
                Some(Request::Stop(secs)) => {
                    self.c.state.stopped_by_user = true;
                    // Frozen processes take no signal: thaw first, as Docker does.
                    if self.c.state.status == Status::Paused {
                        self.freeze(false);
                    }
                    self.save();
                    if let Some(pid) = pid {
                        let sig = signal_by_name(&self.c.config.stop_signal).unwrap_or(Signal::SIGTERM);
                        let _ = nix::sys::signal::kill(pid, sig);
                        self.kill_at = Some(Instant::now() + Duration::from_secs(secs));
                    }
                    self.waiters.push(stream);
                    continue;
                }
                None => "error: unknown request".into(),
            };
            let _ = writeln!(stream, "{reply}");
        }
    }

    /// Freezes (or thaws) every process of the container through its cgroup's freezer.
    pub(super) fn freeze(&mut self, pause: bool) -> String {
        let dir = self.dir.runtime_state(&self.c.config.id);
        let result =
            libcontainer::container::Container::load(dir).and_then(|mut c| if pause { c.pause() } else { c.resume() });
        match result {
            Ok(()) => {
                self.c.state.status = if pause { Status::Paused } else { Status::Running };
                self.save();
                "ok".into()
            }
            Err(e) => format!("error: {e}"),
        }
    }

    pub(super) fn answer_waiters(&mut self, code: i32) {
        for mut w in self.waiters.drain(..) {
            let _ = writeln!(w, "exited {code}");
        }
    }

    /// Waits out a restart back-off while answering the socket; false if a stop came.
    pub(super) fn pause(&mut self, wait: Duration) -> bool {
        let until = Instant::now() + wait;
        // The kernel's slow part of the next start's cgroup migration is done within the
        // back-off, just before its end, while the lock it warms stays warm (see cgroup.rs).
        let mut prime_at = Some(until.checked_sub(Duration::from_millis(12)).unwrap_or(until));
        while Instant::now() < until {
            if prime_at.is_some_and(|at| Instant::now() >= at) {
                prime_at = None;
                crate::container::cgroup::prime_migration_now();
                continue;
            }
            let left = prime_at.unwrap_or(until).saturating_duration_since(Instant::now());
            let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
            let _ = nix::poll::poll(&mut fds, PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX));
            self.accept(None);
            if self.c.state.stopped_by_user {
                let code = self.c.state.exit_code.unwrap_or(0);
                self.answer_waiters(code);
                return false;
            }
        }
        true
    }
}
