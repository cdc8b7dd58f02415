//! Container output in Docker's json-file format: one JSON object per line,
//! `{"log":"...\n","stream":"stdout","time":"2026-01-01T00:00:00.000000000Z"}`, with
//! `"attrs":{...}` when the logging options ask for labels, variables or a tag.
//!
//! Rotated files are `log.json.1` (the newest) to `log.json.N`; with `compress`, every one
//! but the newest is gzipped (`log.json.2.gz`), in a thread of its own so that the
//! container's output is not held up. The newest stays plain so that a reader that was in
//! the middle of it when it was rotated finds it again by its inode.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::dir::ContainerDir;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<BTreeMap<String, String>>,
    pub time: String,
}

/// Splits a stream's output into lines and writes each as an entry; a partial last line is
/// kept until the rest arrives (or `flush` is called at the end).
pub struct LineWriter {
    stream: &'static str,
    pending: Vec<u8>,
    /// What every entry carries besides (see `logdriver::attributes`).
    attrs: Option<BTreeMap<String, String>>,
}

impl LineWriter {
    pub fn new(stream: &'static str) -> LineWriter {
        LineWriter { stream, pending: Vec::new(), attrs: None }
    }

    /// Entries carrying `attrs` (none when it is empty).
    pub fn with_attrs(mut self, attrs: BTreeMap<String, String>) -> LineWriter {
        self.attrs = (!attrs.is_empty()).then_some(attrs);
        self
    }

    pub fn push<W: Write>(&mut self, data: &[u8], out: &mut W) -> io::Result<()> {
        self.pending.extend_from_slice(data);
        while let Some(i) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=i).collect();
            out.write_all(&entry_line(self.stream, &line, self.attrs.as_ref()))?;
        }
        // A very long line without a newline is cut, as Docker cuts at 16 KiB.
        if self.pending.len() >= 16 * 1024 {
            let line = std::mem::take(&mut self.pending);
            out.write_all(&entry_line(self.stream, &line, self.attrs.as_ref()))?;
        }
        Ok(())
    }

    pub fn flush<W: Write>(&mut self, out: &mut W) -> io::Result<()> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            out.write_all(&entry_line(self.stream, &line, self.attrs.as_ref()))?;
        }
        Ok(())
    }
}

/// One entry as a line of the log.
fn entry_line(stream: &str, line: &[u8], attrs: Option<&BTreeMap<String, String>>) -> Vec<u8> {
    let entry = Entry {
        log: String::from_utf8_lossy(line).into_owned(),
        stream: stream.to_string(),
        attrs: attrs.cloned(),
        time: crate::time::now_nanos(),
    };
    let mut text = serde_json::to_vec(&entry).expect("a log entry serialises");
    text.push(b'\n');
    text
}

/// The log file of a container, rotated by size: `log.json` is the newest, `log.json.1` the one
/// before, up to `max_file - 1`. A write is never split across files.
///
/// Each write is one entry, stored whole or not at all: an entry that cannot be stored (a
/// full disk) is cut back off the file and counted as lost instead of failing the writer, so
/// that the shim goes on supervising the container. The first entry stored after a loss is a
/// notice saying how many were lost.
pub struct RotatingLog {
    path: PathBuf,
    file: File,
    /// Where the driver sends each line besides (`syslog`, `journald`).
    forward: Option<super::logdriver::Forwarder>,
    size: u64,
    config: super::LogConfig,
    /// The thread compressing the last rotated file, finished before the next rotation.
    compressing: Option<std::thread::JoinHandle<()>>,
    /// Entries lost since the last one stored, and in all.
    lost_now: u64,
    lost: u64,
    /// Why the last entry could not be stored.
    lost_why: Option<String>,
}

impl RotatingLog {
    pub fn open(path: &Path, config: super::LogConfig) -> io::Result<RotatingLog> {
        let file = OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingLog {
            path: path.to_path_buf(),
            file,
            forward: None,
            size,
            config,
            compressing: None,
            lost_now: 0,
            lost: 0,
            lost_why: None,
        })
    }

    /// The log of container `c` as its driver keeps it: sending each line on as well
    /// (`syslog`, `journald`), or keeping nothing (`none`, whose file stays empty).
    pub fn for_container(path: &Path, c: &super::ContainerConfig) -> io::Result<RotatingLog> {
        let mut log = RotatingLog::open(path, c.log.clone())?;
        log.forward = super::logdriver::Forwarder::open(c)
            .map_err(|e| io::Error::other(format!("cannot reach the {} logging driver: {e}", c.log.driver.name())))?;
        Ok(log)
    }

    /// How many entries could not be stored since the log was opened.
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// Whether entries are being lost right now (the last one could not be stored).
    pub fn losing(&self) -> bool {
        self.lost_now > 0
    }

    /// Stores one whole entry, or nothing of it.
    fn append(&mut self, entry: &[u8]) -> io::Result<()> {
        if let Some(max) = self.config.max_size {
            if self.size > 0 && self.size + entry.len() as u64 > max {
                self.rotate()?;
            }
        }
        let mut written = 0;
        while written < entry.len() {
            match self.file.write(&entry[written..]) {
                Ok(0) => return self.cut_off(written, io::ErrorKind::WriteZero.into()),
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return self.cut_off(written, e),
            }
        }
        self.size += entry.len() as u64;
        Ok(())
    }

    /// Cuts the `written` bytes of a partly written entry off the end of the file (they would
    /// spoil the next entry too), and returns `error`. The file's own length is used, not the
    /// recorded size: the file may have been truncated by hand to make room.
    fn cut_off(&mut self, written: usize, error: io::Error) -> io::Result<()> {
        if written > 0 {
            if let Ok(len) = self.file.metadata().map(|m| m.len()) {
                let _ = self.file.set_len(len.saturating_sub(written as u64));
            }
        }
        Err(error)
    }

    fn rotate(&mut self) -> io::Result<()> {
        let keep = self.config.max_file.max(1);
        if keep == 1 {
            self.file.set_len(0)?;
        } else {
            self.finish_compressing();
            let _ = std::fs::remove_file(rotated(&self.path, keep - 1));
            let _ = std::fs::remove_file(gzipped(&rotated(&self.path, keep - 1)));
            for n in (1..keep - 1).rev() {
                let (from, to) = (rotated(&self.path, n), rotated(&self.path, n + 1));
                let _ = std::fs::rename(gzipped(&from), gzipped(&to));
                let _ = std::fs::rename(from, to);
            }
            // `log.json` never disappears, so a reader opening it at any moment finds it: the
            // full file gets its second name first, then a new file replaces the first name.
            let first = rotated(&self.path, 1);
            let _ = std::fs::remove_file(&first);
            std::fs::hard_link(&self.path, &first)?;
            let fresh = crate::fsutil::temp_name(&self.path);
            let file = OpenOptions::new().create_new(true).append(true).mode(0o600).open(&fresh)?;
            std::fs::rename(&fresh, &self.path)?;
            self.file = file;
            let second = rotated(&self.path, 2);
            if self.config.compress && second.exists() {
                self.compressing = Some(std::thread::spawn(move || {
                    if let Err(e) = compress(&second) {
                        tracing::warn!("cannot compress {}: {e}", second.display());
                    }
                }));
            }
        }
        self.size = 0;
        Ok(())
    }

    fn finish_compressing(&mut self) {
        if let Some(t) = self.compressing.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RotatingLog {
    fn drop(&mut self) {
        self.finish_compressing();
    }
}

/// `path.gz`.
fn gzipped(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".gz");
    PathBuf::from(name)
}

/// Replaces a rotated file by its gzipped copy: the copy gets its name only when whole, and
/// the plain file goes after it, so a reader finds one of them at every moment.
fn compress(path: &Path) -> io::Result<()> {
    let target = gzipped(path);
    let temp = crate::fsutil::temp_name(&target);
    let result = (|| {
        let out = OpenOptions::new().create_new(true).write(true).mode(0o600).open(&temp)?;
        let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
        io::copy(&mut File::open(path)?, &mut gz)?;
        gz.finish()?.sync_all()?;
        std::fs::rename(&temp, &target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    std::fs::remove_file(path)
}

impl Write for RotatingLog {
    /// `buf` is one entry (see [`RotatingLog`]): it is stored whole, or counted as lost.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(forward) = &mut self.forward {
            if let Ok(entry) = serde_json::from_slice::<Entry>(buf) {
                if let Err(e) = forward.send(&entry.stream, &entry.log) {
                    tracing::warn!("the logging driver did not take a line: {e}");
                }
            }
        }
        if !self.config.driver.keeps_log() {
            return Ok(buf.len());
        }
        if self.lost_now > 0 {
            let why = self.lost_why.take().unwrap_or_default();
            let notice = format!("berth: {} lines of output were lost: {why}\n", self.lost_now);
            if self.append(&entry_line("stderr", notice.as_bytes(), None)).is_err() {
                self.lost_why = Some(why);
                self.lost_now += 1;
                self.lost += 1;
                return Ok(buf.len());
            }
            self.lost_now = 0;
        }
        if let Err(e) = self.append(buf) {
            self.lost_why = Some(e.to_string());
            self.lost_now += 1;
            self.lost += 1;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// `log.json.N`.
pub fn rotated(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// The log files of a container, oldest first: `log.json.N` or `log.json.N.gz` (the plain
/// one while both are there, as during compression).
pub fn files(path: &Path) -> Vec<PathBuf> {
    let found = |n| {
        let plain = rotated(path, n);
        if plain.exists() {
            return Some(plain);
        }
        let gz = gzipped(&plain);
        gz.exists().then_some(gz)
    };
    let mut out: Vec<PathBuf> = (1..100).map_while(found).collect();
    out.reverse();
    out.push(path.to_path_buf());
    out
}

/// A log file to read, decompressed when it is gzipped.
pub fn open(path: &Path) -> io::Result<BufReader<Box<dyn Read + Send>>> {
    let file = File::open(path)?;
    let reader: Box<dyn Read + Send> = match path.extension().is_some_and(|e| e == "gz") {
        true => Box::new(flate2::read::MultiGzDecoder::new(file)),
        false => Box::new(file),
    };
    Ok(BufReader::new(reader))
}

/// Reads the entries of a log, skipping lines that do not parse (a line cut by a crash).
pub fn read<R: BufRead>(reader: R) -> impl Iterator<Item = Entry> {
    reader.lines().map_while(Result::ok).filter_map(|l| serde_json::from_str(&l).ok())
}

/// Where a [`Follower`] starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The current file from its start (what a container started now will write).
    Current,
    /// The rotated files first, oldest first, then the current one; with `tail`, only the
    /// last lines of them all.
    All { tail: Option<usize> },
}

/// Reads a container's log as it grows, across rotations: the file being read is known by its
/// inode, and when `log.json` is a new file the rotated files that came after the old one are
/// read first. Only complete lines are returned; a line being written waits for its end.
pub struct Follower {
    path: PathBuf,
    /// Rotated files still to read, before the current one.
    backlog: Vec<PathBuf>,
    reader: BufReader<File>,
    ino: u64,
    pending: String,
    /// Lines still to skip (`tail`).
    skip: usize,
}

fn inode(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| std::os::unix::fs::MetadataExt::ino(&m))
}

impl Follower {
    pub fn open(dir: &ContainerDir, from: Start) -> io::Result<Follower> {
        let path = dir.log();
        let file = File::open(&path)?;
        let ino = std::os::unix::fs::MetadataExt::ino(&file.metadata()?);
        let (backlog, skip) = match from {
            Start::Current => (Vec::new(), 0),
            Start::All { tail } => {
                let all = files(&path);
                let total: usize = match tail {
                    Some(_) => all.iter().map(|f| open(f).map_or(0, |r| r.lines().count())).sum(),
                    None => 0,
                };
                let backlog = all[..all.len() - 1].to_vec();
                (backlog, tail.map_or(0, |n| total.saturating_sub(n)))
            }
        };
        Ok(Follower { path, backlog, reader: BufReader::new(file), ino, pending: String::new(), skip })
    }

    /// The entries written since the last call.
    pub fn next_entries(&mut self) -> Vec<Entry> {
        let mut out = Vec::new();
        for f in std::mem::take(&mut self.backlog) {
            self.take_file(&f, &mut out);
        }
        take_lines(&mut self.reader, &mut self.pending, &mut self.skip, &mut out);
        let Some(now) = inode(&self.path) else { return out };
        if now == self.ino {
            return out;
        }
        let all = files(&self.path);
        let rotated = &all[..all.len() - 1];
        // The files newer than the one just finished; all of them if it was already deleted.
        let start = rotated.iter().position(|f| inode(f) == Some(self.ino)).map_or(0, |i| i + 1);
        for f in &rotated[start..] {
            self.take_file(f, &mut out);
        }
        if let Ok(file) = File::open(&self.path) {
            self.ino = file.metadata().map_or(now, |m| std::os::unix::fs::MetadataExt::ino(&m));
            self.reader = BufReader::new(file);
            self.pending.clear();
            take_lines(&mut self.reader, &mut self.pending, &mut self.skip, &mut out);
        }
        out
    }

    /// Every complete line of a file read whole (a rotated one, which grows no more).
    fn take_file(&mut self, path: &Path, out: &mut Vec<Entry>) {
        if let Ok(mut reader) = open(path) {
            take_lines(&mut reader, &mut String::new(), &mut self.skip, out);
        }
    }
}

/// The complete lines of `reader` from where it is, as entries, after skipping `skip` lines;
/// a last line without its newline stays in `pending`.
fn take_lines<R: BufRead>(reader: &mut R, pending: &mut String, skip: &mut usize, out: &mut Vec<Entry>) {
    loop {
        match reader.read_line(pending) {
            Ok(0) | Err(_) => return,
            Ok(_) if !pending.ends_with('\n') => return,
            Ok(_) => {
                if *skip > 0 {
                    *skip -= 1;
                } else if let Ok(entry) = serde_json::from_str::<Entry>(pending) {
                    out.push(entry);
                }
                pending.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_max_file_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("log.json");
        let mut log = RotatingLog::open(
            &path,
            crate::container::LogConfig { max_size: Some(100), max_file: 3, ..Default::default() },
        )
        .expect("open");
        let mut w = LineWriter::new("stdout");
        for i in 0..20 {
            w.push(format!("line {i}\n").as_bytes(), &mut log).expect("write");
        }
        let all = files(&path);
        assert_eq!(all.len(), 3, "{all:?}");
        for f in &all {
            assert!(std::fs::metadata(f).expect("meta").len() <= 100);
        }
        let last: Vec<Entry> = read(std::io::BufReader::new(File::open(&path).expect("open"))).collect();
        assert_eq!(last.last().map(|e| e.log.as_str()), Some("line 19\n"));
    }

    #[test]
    fn rotated_files_but_the_newest_are_compressed_and_read_back() {
        let dir = tempfile::tempdir().expect("tmp");
        let cdir = ContainerDir::new(dir.path().to_path_buf());
        let config =
            crate::container::LogConfig { max_size: Some(250), max_file: 4, compress: true, ..Default::default() };
        let mut log = RotatingLog::open(&cdir.log(), config).expect("open");
        let tier = BTreeMap::from([("tier".to_string(), "front".to_string())]);
        let mut w = LineWriter::new("stdout").with_attrs(tier);
        for i in 0..12 {
            w.push(format!("line {i}\n").as_bytes(), &mut log).expect("write");
        }
        drop(log);
        let names: Vec<String> =
            files(&cdir.log()).iter().map(|f| f.file_name().expect("name").to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["log.json.3.gz", "log.json.2.gz", "log.json.1", "log.json"]);
        let entries = Follower::open(&cdir, Start::All { tail: None }).expect("follow").next_entries();
        let logs: Vec<&str> = entries.iter().map(|e| e.log.trim_end()).collect();
        assert_eq!(logs.last(), Some(&"line 11"));
        let first: usize = logs[0].trim_start_matches("line ").parse().expect("a line");
        assert_eq!(logs, (first..12).map(|i| format!("line {i}")).collect::<Vec<_>>(), "in order, none lost");
        let tier = entries[0].attrs.as_ref().and_then(|a| a.get("tier")).map(String::as_str);
        assert_eq!(tier, Some("front"), "{:?}", entries[0]);
        let tail = Follower::open(&cdir, Start::All { tail: Some(5) }).expect("follow").next_entries();
        assert_eq!(tail.len(), 5);
    }

    #[test]
    fn entries_that_cannot_be_stored_are_counted_and_reported() {
        // /dev/full fails every write with ENOSPC, as a full disk does.
        let mut log = RotatingLog {
            path: PathBuf::from("/dev/full"),
            file: OpenOptions::new().append(true).open("/dev/full").expect("/dev/full"),
            forward: None,
            size: 0,
            config: crate::container::LogConfig::default(),
            compressing: None,
            lost_now: 0,
            lost: 0,
            lost_why: None,
        };
        let mut w = LineWriter::new("stdout");
        w.push(b"one\ntwo\n", &mut log).expect("a full disk is no error for the writer");
        assert_eq!((log.lost(), log.losing()), (2, true));
        // Space again: the notice first, then the line.
        let dir = tempfile::tempdir().expect("tmp");
        log.file = OpenOptions::new().create(true).append(true).open(dir.path().join("log.json")).expect("open");
        w.push(b"three\n", &mut log).expect("write");
        assert!(!log.losing());
        let entries: Vec<Entry> =
            read(std::io::BufReader::new(File::open(dir.path().join("log.json")).expect("open"))).collect();
        assert_eq!(entries.len(), 2);
        assert!(entries[0].log.starts_with("berth: 2 lines of output were lost: "), "{:?}", entries[0]);
        assert_eq!((entries[0].stream.as_str(), entries[1].log.as_str()), ("stderr", "three\n"));
    }

    #[test]
    fn lines_become_entries() {
        let mut out = Vec::new();
        let mut w = LineWriter::new("stdout");
        w.push(b"hello\nwor", &mut out).expect("write");
        w.push(b"ld\n", &mut out).expect("write");
        w.push(b"tail", &mut out).expect("write");
        w.flush(&mut out).expect("flush");
        let entries: Vec<Entry> = read(&out[..]).collect();
        let logs: Vec<&str> = entries.iter().map(|e| e.log.as_str()).collect();
        assert_eq!(logs, ["hello\n", "world\n", "tail"]);
        assert!(entries[0].time.ends_with('Z') && entries[0].time.len() == 30, "{}", entries[0].time);
    }

    #[test]
    fn a_follower_reads_across_rotations_and_tails_all_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let cdir = ContainerDir::new(dir.path().to_path_buf());
        let config = crate::container::LogConfig { max_size: Some(100), max_file: 20, ..Default::default() };
        let mut log = RotatingLog::open(&cdir.log(), config).expect("open");
        let mut w = LineWriter::new("stdout");
        w.push(b"line 0\n", &mut log).expect("write");
        let mut current = Follower::open(&cdir, Start::Current).expect("follow");
        for i in 1..8 {
            w.push(format!("line {i}\n").as_bytes(), &mut log).expect("write");
        }
        assert!(files(&cdir.log()).len() > 1, "the log rotated");
        let texts = |es: Vec<Entry>| es.into_iter().map(|e| e.log.trim_end().to_string()).collect::<Vec<_>>();
        let seen = texts(current.next_entries());
        assert_eq!(seen, (0..8).map(|i| format!("line {i}")).collect::<Vec<_>>(), "nothing lost or repeated");
        // A line being written waits for its end.
        let mut log = OpenOptions::new().append(true).open(cdir.log()).expect("open");
        log.write_all(b"{\"log\":\"half").expect("write");
        assert!(current.next_entries().is_empty());
        log.write_all(b"\\n\",\"stream\":\"stdout\",\"time\":\"t\"}\n").expect("write");
        assert_eq!(texts(current.next_entries()), ["half"]);
        let mut tail = Follower::open(&cdir, Start::All { tail: Some(3) }).expect("follow");
        assert_eq!(texts(tail.next_entries()), ["line 6", "line 7", "half"]);
    }
}
