//! The shim's control socket: one request line per connection, one reply line.
//!
//! ```text
//! state          -> the ContainerState as JSON
//! kill SIGNUM    -> ok
//! stop SECONDS   -> exited CODE    (stop signal, then SIGKILL after SECONDS)
//! wait           -> exited CODE    (when the container next exits)
//! pause          -> ok             (freezes every process of the container)
//! resume         -> ok
//! attach STREAMS -> ok, then the connection carries the container's streams (`in`, `out`,
//!                   `in,out`; see attach.rs)
//! resize ROWS COLS -> ok           (the container's terminal)
//! ```

use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::dir::ContainerDir;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    State,
    Kill(i32),
    Stop(u64),
    Wait,
    Pause,
    Resume,
    Attach(Streams),
    Resize(u16, u16),
    /// Read the container's record again (after `update`).
    Reload,
}

impl Request {
    pub fn parse(line: &str) -> Option<Request> {
        let mut words = line.split_whitespace();
        match (words.next()?, words.next()) {
            ("state", None) => Some(Request::State),
            ("wait", None) => Some(Request::Wait),
            ("pause", None) => Some(Request::Pause),
            ("resume", None) => Some(Request::Resume),
            ("reload", None) => Some(Request::Reload),
            ("kill", Some(n)) => n.parse().ok().map(Request::Kill),
            ("stop", Some(n)) => n.parse().ok().map(Request::Stop),
            ("attach", words) => Streams::parse(words.unwrap_or("")).map(Request::Attach),
            ("resize", Some(rows)) => {
                let cols = words.next()?;
                Some(Request::Resize(rows.parse().ok()?, cols.parse().ok()?))
            }
            _ => None,
        }
    }

    fn line(&self) -> String {
        match self {
            Request::State => "state".into(),
            Request::Wait => "wait".into(),
            Request::Pause => "pause".into(),
            Request::Resume => "resume".into(),
            Request::Reload => "reload".into(),
            Request::Kill(n) => format!("kill {n}"),
            Request::Stop(n) => format!("stop {n}"),
            Request::Attach(streams) => format!("attach {}", streams.words()),
            Request::Resize(rows, cols) => format!("resize {rows} {cols}"),
        }
    }
}

/// A path to `dir/name` short enough for a Unix socket address (108 bytes): through an open
/// handle on the directory, `/proc/self/fd/N/name`. File permissions apply as for the real
/// path. The handle must outlive the use of the path.
pub fn socket_path(dir: &Path, name: &str) -> io::Result<(std::fs::File, PathBuf)> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let handle = std::fs::OpenOptions::new().read(true).custom_flags(libc_o_path()).open(dir)?;
    let path = PathBuf::from(format!("/proc/self/fd/{}/{name}", handle.as_raw_fd()));
    Ok((handle, path))
}

fn libc_o_path() -> i32 {
    (rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY).bits() as i32
}

/// Sends `request` to the shim of the container whose directory is `dir`, and returns its
/// reply. `timeout` bounds the wait for the reply (none for `wait`).
pub fn send(dir: &ContainerDir, request: &Request, timeout: Option<Duration>) -> io::Result<String> {
    let stream = connect(dir, request)?;
    stream.set_read_timeout(timeout)?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply)?;
    if reply.is_empty() {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the shim closed the connection without answering"));
    }
    Ok(reply.trim_end().to_string())
}

/// Connects to the shim of the container whose directory is `dir` and sends `request`; the
/// reply is the caller's to read.
pub fn connect(dir: &ContainerDir, request: &Request) -> io::Result<UnixStream> {
    let (_handle, path) = socket_path(dir.path(), ContainerDir::SHIM_SOCKET)?;
    let mut stream = UnixStream::connect(path)?;
    // MSG_NOSIGNAL: a shim that ended between the connect and the write is an error here,
    // not a SIGPIPE for a command that does not ignore it.
    let line = format!("{}\n", request.line());
    let sent = nix::sys::socket::send(stream.as_raw_fd(), line.as_bytes(), nix::sys::socket::MsgFlags::MSG_NOSIGNAL)
        .map_err(io::Error::from)?;
    if sent < line.len() {
        stream.write_all(&line.as_bytes()[sent..])?;
    }
    Ok(stream)
}

/// Parses `exited CODE`.
pub fn exit_code(reply: &str) -> Option<i32> {
    reply.strip_prefix("exited ").and_then(|c| c.parse().ok())
}

/// What an attached client takes part in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Streams {
    /// It sends the container's standard input.
    pub input: bool,
    /// It receives the container's output.
    pub output: bool,
}

impl Streams {
    /// `in`, `out`, `in,out` (the words of the control protocol and of `berth shim --attach`).
    pub fn parse(text: &str) -> Option<Streams> {
        let mut s = Streams::default();
        for word in text.split(',').filter(|w| !w.is_empty()) {
            match word {
                "in" => s.input = true,
                "out" => s.output = true,
                _ => return None,
            }
        }
        Some(s)
    }

    pub fn words(self) -> String {
        let words: Vec<&str> = [(self.input, "in"), (self.output, "out")].iter().filter(|w| w.0).map(|w| w.1).collect();
        words.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::attach::Streams;

    #[test]
    fn requests_read_back_as_written() {
        let all = [
            Request::State,
            Request::Kill(9),
            Request::Stop(10),
            Request::Wait,
            Request::Pause,
            Request::Resume,
            Request::Attach(Streams { input: true, output: true }),
            Request::Attach(Streams { input: false, output: true }),
            Request::Resize(24, 80),
        ];
        for r in all {
            assert_eq!(Request::parse(&r.line()), Some(r.clone()), "{}", r.line());
        }
        assert_eq!(Request::parse("attach"), Some(Request::Attach(Streams::default())));
        assert_eq!(Request::parse("resize 24"), None);
        assert_eq!(Request::parse("attach err"), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: 10_000, failure_persistence: None, ..Default::default()
        })]

        /// Any line a client may send is read without a panic, and what it reads as is
        /// written back to the same request.
        #[test]
        fn any_line_reads_without_panic_and_round_trips(
            line in "((state|wait|pause|resume|kill|stop|attach|resize|in|out|,|-?[0-9]{1,25}|\\PC{0,4}) ?){0,5}"
        ) {
            if let Some(request) = Request::parse(&line) {
                proptest::prop_assert_eq!(Request::parse(&request.line()), Some(request));
            }
        }
    }
}
