//! The shim's loop while the container runs: its output into the log, its exit, healthchecks.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::container::exit_code;

use super::*;

impl Shim<'_> {
    /// Serves the container until its process exits; returns its exit code.
    pub(super) fn supervise(&mut self, mut run: Run) -> i32 {
        loop {
            let next = [self.kill_at, self.health_next, self.health_run.as_ref().map(|h| h.deadline)]
                .into_iter()
                .flatten()
                .min()
                .map_or(Duration::from_millis(1000), |at| {
                    at.saturating_duration_since(Instant::now()).min(Duration::from_millis(1000))
                });
            // While a healthcheck runs, look at it often: it is reaped in this loop.
            let next = if self.health_run.is_some() { next.min(Duration::from_millis(20)) } else { next };
            let timeout = PollTimeout::try_from(next).unwrap_or(PollTimeout::MAX);
            let (exited, out_ready, err_ready, conn_ready, clients_ready) = {
                let mut fds = vec![
                    PollFd::new(run.pidfd.as_fd(), PollFlags::POLLIN),
                    PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
                ];
                let mut index = [None, None];
                for (i, o) in [&run.stdout, &run.stderr].into_iter().enumerate() {
                    if let Some(o) = o {
                        fds.push(PollFd::new(o.from.as_fd(), PollFlags::POLLIN));
                        index[i] = Some(fds.len() - 1);
                    }
                }
                let [out_i, err_i] = index;
                let watched: Vec<Option<usize>> = self
                    .clients
                    .watches()
                    .into_iter()
                    .map(|w| {
                        w.map(|(fd, events)| {
                            fds.push(PollFd::new(fd, events));
                            fds.len() - 1
                        })
                    })
                    .collect();
                let _ = nix::poll::poll(&mut fds, timeout);
                let revents = |i: usize| fds[i].revents().unwrap_or(PollFlags::empty());
                let ready = |i: usize| !revents(i).is_empty();
                let clients: Vec<PollFlags> = watched.iter().map(|w| w.map_or(PollFlags::empty(), revents)).collect();
                (ready(0), out_i.is_some_and(ready), err_i.is_some_and(ready), ready(1), clients)
            };
            if out_ready {
                self.pump(&mut run.stdout);
            }
            if err_ready {
                self.pump(&mut run.stderr);
            }
            self.note_lost_output();
            self.retry_save();
            if clients_ready.iter().any(|r| !r.is_empty()) {
                self.clients.ready(&clients_ready);
            }
            if conn_ready {
                self.accept(Some(run.pid));
            }
            if let Some(at) = self.kill_at {
                if Instant::now() >= at {
                    let _ = nix::sys::signal::kill(run.pid, Signal::SIGKILL);
                    self.kill_at = None;
                }
            }
            let health_pid = self.health_run.as_ref().map(|h| h.pid);
            let swept = reap_orphans(run.pid, health_pid);
            if let Some(status) = swept.health {
                self.finish_healthcheck(status);
            }
            if !exited && swept.init.is_none() {
                self.healthcheck_tick();
            }
            if exited || swept.init.is_some() {
                if let Some(h) = self.health_run.take() {
                    let _ = nix::sys::signal::kill(h.pid, Signal::SIGKILL);
                }
                self.health_next = None;
                let status = match swept.init {
                    Some(status) => status,
                    None => waitpid(run.pid, None).unwrap_or(WaitStatus::StillAlive),
                };
                let code = exit_code(status).unwrap_or(255);
                // The pipes close once every process of the container is gone (the kernel kills
                // them all when init exits); read what is left.
                let deadline = Instant::now() + Duration::from_secs(2);
                while (run.stdout.is_some() || run.stderr.is_some()) && Instant::now() < deadline {
                    self.pump(&mut run.stdout);
                    self.pump(&mut run.stderr);
                    if run.stdout.is_some() || run.stderr.is_some() {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
                for o in [&mut run.stdout, &mut run.stderr].into_iter().flatten() {
                    let _ = o.lines.flush(&mut self.log);
                }
                self.terminal = None;
                self.kill_at = None;
                tracing::info!(container = %self.c.config.name, code, "exited");
                return code;
            }
        }
    }

    /// Moves what a pipe (or the terminal) has into the log and to attached clients; drops
    /// the pipe at end of file.
    pub(super) fn pump(&mut self, stream: &mut Option<Output>) {
        let Some(o) = stream else { return };
        let mut buf = [0u8; 64 * 1024];
        // At most 1 MiB at a time: a container that writes faster than the log takes it (on a
        // full disk the log takes it very fast) must not keep the shim from its socket.
        for _ in 0..16 {
            match o.from.read(&mut buf) {
                Ok(0) => {
                    let _ = o.lines.flush(&mut self.log);
                    *stream = None;
                    return;
                }
                Ok(n) => {
                    // The log stores or counts each line; it does not fail.
                    let _ = o.lines.push(&buf[..n], &mut self.log);
                    self.clients.broadcast(o.stream, &buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A terminal whose last user closed it reads as EIO: its end.
                Err(_) => {
                    let _ = o.lines.flush(&mut self.log);
                    *stream = None;
                    return;
                }
            }
        }
    }

    /// Starts a due healthcheck, reads the output of a running one, kills one past its timeout.
    pub(super) fn healthcheck_tick(&mut self) {
        let Some(config) = self.c.config.healthcheck.clone() else { return };
        if let Some(h) = &mut self.health_run {
            read_some(&mut h.output, &mut h.buf);
            if Instant::now() >= h.deadline && !h.timed_out {
                h.timed_out = true;
                let _ = nix::sys::signal::kill(h.pid, Signal::SIGKILL);
            }
            return;
        }
        if self.health_next.is_none_or(|at| Instant::now() < at) {
            return;
        }
        self.health_next = None;
        let start = crate::time::now_nanos();
        let spawned = (|| -> Result<(Pid, File), String> {
            let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| e.to_string())?;
            set_nonblocking(&r).map_err(|e| e.to_string())?;
            let w2 = w.try_clone().map_err(|e| e.to_string())?;
            let null = File::open("/dev/null").map_err(|e| e.to_string())?;
            let opts = crate::container::exec::ExecOptions { args: config.command(), ..Default::default() };
            let pid = crate::container::exec::spawn(self.store, &self.c, &opts, [OwnedFd::from(null), w, w2])
                .map_err(|e| e.to_string())?;
            Ok((pid, File::from(r)))
        })();
        match spawned {
            Ok((pid, output)) => {
                let deadline = Instant::now() + Duration::from_millis(config.timeout_ms);
                self.health_run = Some(HealthRun { pid, output, buf: Vec::new(), start, deadline, timed_out: false });
            }
            Err(message) => {
                let end = crate::time::now_nanos();
                self.record_health(crate::container::HealthResult { start, end, exit_code: -1, output: message })
            }
        }
    }

    pub(super) fn finish_healthcheck(&mut self, status: WaitStatus) {
        let Some(mut h) = self.health_run.take() else { return };
        read_some(&mut h.output, &mut h.buf);
        let timeout_ms = self.c.config.healthcheck.as_ref().map_or(0, |c| c.timeout_ms);
        let (exit_code, output) = if h.timed_out {
            (-1, format!("Health check exceeded timeout ({timeout_ms}ms)"))
        } else {
            (exit_code(status).unwrap_or(-1), String::from_utf8_lossy(&h.buf).into_owned())
        };
        let end = crate::time::now_nanos();
        self.record_health(crate::container::HealthResult { start: h.start, end, exit_code, output });
    }

    pub(super) fn record_health(&mut self, result: crate::container::HealthResult) {
        let Some(config) = self.c.config.healthcheck.clone() else { return };
        let since = self.run_started.elapsed().as_millis() as u64;
        let health = self.c.state.health.get_or_insert_with(Default::default);
        let before = health.status;
        crate::container::health::record(&config, health, result, since);
        let after = health.status;
        let wait = crate::container::health::next_interval_ms(&config, health, since);
        self.health_next = Some(Instant::now() + Duration::from_millis(wait));
        if before != after {
            tracing::info!(container = %self.c.config.name, "health: {after}");
        }
        self.save();
        if after == crate::container::HealthStatus::Unhealthy && before != after && self.c.config.restart_on_unhealthy {
            self.heal();
        }
    }

    /// Stops a run that turned unhealthy, as `stop` does (its stop signal, SIGKILL after its
    /// grace period), to be restarted after the back-off.
    fn heal(&mut self) {
        let Some(pid) = self.c.state.pid.filter(|_| !self.healing && self.kill_at.is_none()) else { return };
        tracing::warn!(container = %self.c.config.name, "unhealthy: restarting it");
        self.healing = true;
        let sig = super::signal_by_name(&self.c.config.stop_signal).unwrap_or(Signal::SIGTERM);
        let _ = nix::sys::signal::kill(Pid::from_raw(pid), sig);
        self.kill_at = Some(Instant::now() + Duration::from_secs(self.c.config.stop_timeout));
    }
}
