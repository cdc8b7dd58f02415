//! A container's standard streams seen from outside: clients attached to the shim (`berth
//! attach`, a foreground `run -i` or `run -t`), Docker's multiplexed stream format for output
//! without a terminal, and the pseudo-terminal libcontainer hands over on a console socket.
//!
//! An attached client is one Unix stream connection. The shim writes the container's output
//! to it (raw bytes with a terminal, [`frame`]d without one) and, if the client asked for
//! input, writes what the client sends to the container's standard input. A client that
//! shuts down its writing half has no more input; the container's input is closed then if
//! the container was made with `stdin_once` (a foreground `run -i`).

use std::fs::File;
use std::io::{self, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::poll::PollFlags;

use super::dir::ContainerDir;

/// Stream numbers of Docker's format.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

/// Output a client may hold unread before the shim lets it go: a client that stops reading
/// must not make the shim buffer without bound (the log keeps everything regardless).
const CLIENT_BACKLOG: usize = 4 << 20;

pub use super::control::Streams;

/// Appends `data` to `out` in Docker's stream format: a header of the stream number, three
/// zero bytes and the big-endian length, then the bytes.
pub fn frame(stream: u8, data: &[u8], out: &mut Vec<u8>) {
    for chunk in data.chunks(u32::MAX as usize) {
        out.extend_from_slice(&[stream, 0, 0, 0]);
        out.extend_from_slice(&(chunk.len() as u32).to_be_bytes());
        out.extend_from_slice(chunk);
    }
}

/// Reads Docker's stream format incrementally.
#[derive(Default)]
pub struct Demux {
    buf: Vec<u8>,
}

impl Demux {
    /// Takes more bytes and calls `emit` for every complete frame.
    pub fn push(&mut self, data: &[u8], mut emit: impl FnMut(u8, &[u8])) {
        self.buf.extend_from_slice(data);
        let mut at = 0;
        while self.buf.len() - at >= 8 {
            let len = u32::from_be_bytes(self.buf[at + 4..at + 8].try_into().expect("four bytes")) as usize;
            if self.buf.len() - at - 8 < len {
                break;
            }
            emit(self.buf[at], &self.buf[at + 8..at + 8 + len]);
            at += 8 + len;
        }
        self.buf.drain(..at);
    }
}

/// One attached client, as the shim holds it.
struct Client {
    stream: UnixStream,
    wants: Streams,
    /// Output not yet taken by the client.
    pending: Vec<u8>,
}

impl Client {
    /// Writes what the client will take now; false if it is gone.
    fn flush(&mut self) -> bool {
        while !self.pending.is_empty() {
            match self.stream.write(&self.pending) {
                Ok(0) => return false,
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
        true
    }
}

/// The clients attached to a container, and its standard input.
#[derive(Default)]
pub struct Clients {
    list: Vec<Client>,
    /// Where input goes: the writing end of the container's input pipe, or its terminal.
    sink: Option<File>,
    /// Input read from a client and not yet taken by the container.
    unsent: Vec<u8>,
    /// Output is raw terminal bytes rather than framed streams.
    raw: bool,
    /// Close the container's input when a client's input ends.
    stdin_once: bool,
}

/// What the shim should watch for one poll: a descriptor and the events wanted.
pub type Watch<'a> = (std::os::fd::BorrowedFd<'a>, PollFlags);

impl Clients {
    /// The clients of a container with a terminal (`raw`) or not, and `stdin_once` or not.
    pub fn new(raw: bool, stdin_once: bool) -> Clients {
        Clients { raw, stdin_once, ..Default::default() }
    }

    pub fn add(&mut self, stream: UnixStream, wants: Streams) {
        if stream.set_nonblocking(true).is_ok() {
            self.list.push(Client { stream, wants, pending: Vec::new() });
        }
    }

    /// A new run's input: the pipe or terminal the container reads. Input a client sent that
    /// the run before did not take is dropped with it.
    pub fn set_sink(&mut self, sink: Option<File>) {
        self.sink = sink;
        self.unsent.clear();
    }

    /// Sends output of `stream` to every client that wants it.
    pub fn broadcast(&mut self, stream: u8, data: &[u8]) {
        let raw = self.raw;
        self.list.retain_mut(|c| {
            if !c.wants.output {
                return true;
            }
            if raw {
                c.pending.extend_from_slice(data);
            } else {
                frame(stream, data, &mut c.pending);
            }
            c.flush() && c.pending.len() <= CLIENT_BACKLOG
        });
    }

    /// What to poll: one entry per client, then one for the container's input, each `None`
    /// when there is nothing to wait for. [`Clients::ready`] takes the results in this order.
    pub fn watches(&self) -> Vec<Option<Watch<'_>>> {
        // Input is read from clients only once the container took the input before: a client
        // that sends faster than the container reads waits in its socket (and is not polled,
        // as a closed socket would wake every poll). A client whose input ended is polled
        // for nothing but room for output; its hang-up is reported regardless.
        let take_input = self.unsent.is_empty();
        let mut w: Vec<Option<Watch<'_>>> = self
            .list
            .iter()
            .map(|c| {
                if c.wants.input && !take_input {
                    return None;
                }
                let mut events = PollFlags::empty();
                if c.wants.input {
                    events |= PollFlags::POLLIN;
                }
                if !c.pending.is_empty() {
                    events |= PollFlags::POLLOUT;
                }
                Some((c.stream.as_fd(), events))
            })
            .collect();
        w.push(self.sink.as_ref().filter(|_| !take_input).map(|sink| (sink.as_fd(), PollFlags::POLLOUT)));
        w
    }

    /// Acts on the poll results for [`Clients::watches`]: moves input to the container and
    /// output to clients, and lets go of clients that hung up.
    pub fn ready(&mut self, revents: &[PollFlags]) {
        if revents.get(self.list.len()).is_some_and(|r| !r.is_empty()) {
            self.send_input();
        }
        let take_input = self.unsent.is_empty();
        let mut taken: Vec<u8> = Vec::new();
        let mut input_ended = false;
        let mut i = 0;
        self.list.retain_mut(|c| {
            let r = revents.get(i).copied().unwrap_or(PollFlags::empty());
            i += 1;
            if r.is_empty() {
                return true;
            }
            if !c.flush() {
                return false;
            }
            // A client that closed its connection may have left input: it is read to the end.
            let hung_up = r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR);
            if !c.wants.input {
                return !hung_up;
            }
            if !r.contains(PollFlags::POLLIN) || !take_input || !taken.is_empty() {
                return true;
            }
            let mut buf = [0u8; 16 * 1024];
            match c.stream.read(&mut buf) {
                Ok(0) => {
                    c.wants.input = false;
                    input_ended = true;
                    c.wants.output && !hung_up
                }
                Ok(n) => {
                    taken.extend_from_slice(&buf[..n]);
                    true
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => true,
                Err(_) => {
                    input_ended = true;
                    false
                }
            }
        });
        if !taken.is_empty() {
            self.unsent = taken;
            self.send_input();
        }
        if input_ended && self.stdin_once && !self.raw {
            self.sink = None;
        }
    }

    fn send_input(&mut self) {
        let Some(sink) = &mut self.sink else {
            self.unsent.clear();
            return;
        };
        while !self.unsent.is_empty() {
            match sink.write(&self.unsent) {
                Ok(n) => {
                    self.unsent.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    // The container closed its input: what is left has nowhere to go.
                    self.unsent.clear();
                    return;
                }
            }
        }
    }

    /// Gives every client what is waiting for it (for at most `within`), then lets them go:
    /// their connections close, which tells them the container has ended.
    pub fn finish(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        for c in &mut self.list {
            let _ = c.stream.set_nonblocking(false);
            let _ = c.stream.set_write_timeout(Some(
                deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)),
            ));
            let _ = c.stream.write_all(&c.pending);
        }
        self.list.clear();
        self.sink = None;
    }
}

/// The socket libcontainer connects to and sends a new terminal's master end on
/// (`console-socket` in the OCI runtime's words).
pub struct ConsoleSocket {
    listener: UnixListener,
    /// The socket's real path, which libcontainer links to (the link's target may be longer
    /// than a socket address).
    pub path: PathBuf,
}

impl ConsoleSocket {
    /// Listens at `dir/name`, replacing a socket left there.
    pub fn bind(dir: &ContainerDir, name: &str) -> io::Result<ConsoleSocket> {
        let path = dir.scratch(name);
        let _ = std::fs::remove_file(&path);
        let (_handle, short) = super::control::socket_path(dir.path(), name)?;
        let listener = UnixListener::bind(short)?;
        Ok(ConsoleSocket { listener, path })
    }

    /// Takes the terminal's master end from the runtime, waiting at most `timeout`.
    pub fn receive(&self, timeout: Duration) -> io::Result<OwnedFd> {
        use nix::poll::{PollFd, PollTimeout};
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
        let waited = nix::poll::poll(&mut fds, PollTimeout::try_from(timeout).unwrap_or(PollTimeout::MAX))?;
        if waited == 0 {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "the runtime did not connect"));
        }
        let (stream, _) = self.listener.accept()?;
        stream.set_read_timeout(Some(timeout))?;
        let mut name = [0u8; 64];
        let mut iov = [IoSliceMut::new(&mut name)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<()>(stream.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            .map_err(io::Error::from)?;
        for cmsg in msg.cmsgs().map_err(io::Error::from)? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                if let Some(&fd) = fds.first() {
                    // SAFETY: the kernel just installed this descriptor in this process for us
                    // (SCM_RIGHTS); nothing else owns it.
                    return Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
                }
            }
        }
        Err(io::Error::other("the runtime sent no terminal"))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Sets a terminal's size.
pub fn resize(tty: &impl AsFd, rows: u16, cols: u16) -> io::Result<()> {
    let size = rustix::termios::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
    rustix::termios::tcsetwinsize(tty, size).map_err(io::Error::from)
}

/// Connects to the shim of the container in `dir` as an attached client. The connection
/// carries the container's output from here on; input goes the other way if asked.
pub fn connect(dir: &ContainerDir, wants: Streams) -> io::Result<UnixStream> {
    let mut stream = super::control::connect(dir, &super::control::Request::Attach(wants))?;
    // The shim answers `ok` (a line) before any output; read byte by byte, so that none of
    // the output is taken with it.
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stream.read(&mut byte)? == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
        if line.len() > 4096 {
            break;
        }
    }
    match String::from_utf8_lossy(&line).as_ref() {
        "ok" => Ok(stream),
        "" => Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the shim closed the connection without answering")),
        other => Err(io::Error::other(other.trim_start_matches("error: ").to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_in_pieces() {
        let mut out = Vec::new();
        frame(STDOUT, b"hello\n", &mut out);
        frame(STDERR, b"oops", &mut out);
        frame(STDOUT, b"", &mut out); // nothing: there is no empty frame
        assert_eq!(&out[..8], &[1, 0, 0, 0, 0, 0, 0, 6]);
        let mut demux = Demux::default();
        let mut seen = Vec::new();
        for piece in out.chunks(3) {
            demux.push(piece, |s, d| seen.push((s, d.to_vec())));
        }
        assert_eq!(seen, vec![(STDOUT, b"hello\n".to_vec()), (STDERR, b"oops".to_vec())]);
    }

    #[test]
    fn stream_words() {
        assert_eq!(Streams::parse("in,out"), Some(Streams { input: true, output: true }));
        assert_eq!(Streams::parse("out"), Some(Streams { input: false, output: true }));
        assert_eq!(Streams::parse(""), Some(Streams::default()));
        assert_eq!(Streams::parse("err"), None);
        assert_eq!(Streams { input: true, output: true }.words(), "in,out");
    }

    #[test]
    fn input_reaches_the_sink_and_once_closes_it() {
        let (client, shim_end) = UnixStream::pair().expect("socket pair");
        let (r, w) = nix::unistd::pipe().expect("pipe");
        let mut clients = Clients::new(false, true);
        clients.add(shim_end, Streams { input: true, output: true });
        clients.set_sink(Some(File::from(w)));
        (&client).write_all(b"abc").expect("write");
        client.shutdown(std::net::Shutdown::Write).expect("shutdown");
        for _ in 0..2 {
            let ready: Vec<PollFlags> =
                clients.watches().iter().map(|w| w.map_or(PollFlags::empty(), |(_, events)| events)).collect();
            clients.ready(&ready);
        }
        assert!(clients.sink.is_none(), "stdin_once closes the input when the client's ends");
        let mut got = String::new();
        File::from(r).read_to_string(&mut got).expect("read");
        assert_eq!(got, "abc");
        // The client still gets output, framed.
        clients.broadcast(STDOUT, b"x");
        clients.finish(Duration::from_secs(1));
        let mut out = Vec::new();
        (&client).read_to_end(&mut out).expect("read");
        assert_eq!(out, [1, 0, 0, 0, 0, 0, 0, 1, b'x']);
    }
}
