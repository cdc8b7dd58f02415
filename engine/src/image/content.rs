//! The content store: blobs (layers, configs, manifests) named by their sha256, verified as they
//! are written. A blob is only ever visible under its name once its digest and size have been
//! checked, so a reader never sees partial or forged content.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingWriter};
use crate::fsutil;

#[derive(Debug, thiserror::Error)]
pub enum ContentError {
    #[error("blob {expected} does not match its digest (got {actual}); it was discarded")]
    DigestMismatch { expected: Digest, actual: Digest },
    #[error("blob {digest} is {actual} bytes, but {expected} were announced; it was discarded")]
    SizeMismatch { digest: Digest, expected: u64, actual: u64 },
    #[error("blob {digest} is larger than the {limit} bytes announced; the transfer was stopped")]
    TooLarge { digest: Digest, limit: u64 },
    #[error("cannot write blob {digest} to the content store")]
    Io {
        digest: Digest,
        #[source]
        source: io::Error,
    },
}

#[derive(Debug, Clone)]
pub struct ContentStore {
    dir: PathBuf,
}

impl ContentStore {
    pub fn open(root: &Path) -> io::Result<ContentStore> {
        let dir = root.join("content").join("sha256");
        fs::create_dir_all(&dir)?;
        Ok(ContentStore { dir })
    }

    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(digest.hex())
    }

    pub fn has(&self, digest: &Digest) -> bool {
        self.path(digest).is_file()
    }

    pub fn read(&self, digest: &Digest) -> io::Result<Vec<u8>> {
        fs::read(self.path(digest))
    }

    pub fn open_blob(&self, digest: &Digest) -> io::Result<File> {
        File::open(self.path(digest))
    }

    pub fn size(&self, digest: &Digest) -> io::Result<u64> {
        Ok(fs::metadata(self.path(digest))?.len())
    }

    /// Stores `data` under its own digest.
    pub fn put(&self, data: &[u8]) -> Result<Digest, ContentError> {
        let digest = Digest::of(data);
        if !self.has(&digest) {
            let mut w = self.writer(&digest, Some(data.len() as u64))?;
            w.write_all(data).map_err(|source| ContentError::Io { digest: digest.clone(), source })?;
            w.commit()?;
        }
        Ok(digest)
    }

    /// A writer for the blob `expected`, of `size` bytes if known. Nothing is stored unless
    /// [`BlobWriter::commit`] finds the content matches.
    pub fn writer(&self, expected: &Digest, size: Option<u64>) -> Result<BlobWriter, ContentError> {
        let tmp = fsutil::temp_name(&self.path(expected));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|source| ContentError::Io { digest: expected.clone(), source })?;
        Ok(BlobWriter {
            store: self.clone(),
            expected: expected.clone(),
            size,
            tmp,
            out: Some(HashingWriter::new(io::BufWriter::with_capacity(256 * 1024, file))),
        })
    }

    /// Stores whatever `reader` yields under its own digest (for content whose digest is not
    /// known in advance, such as the members of an archive being loaded).
    pub fn ingest<R: io::Read>(&self, reader: &mut R) -> io::Result<Digest> {
        let tmp = fsutil::temp_name(&self.dir.join("ingest"));
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let result = (|| {
            let mut w = HashingWriter::new(io::BufWriter::new(file));
            io::copy(reader, &mut w)?;
            let (buf, digest, _) = w.finish();
            buf.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            if !self.has(&digest) {
                fs::rename(&tmp, self.path(&digest))?;
            }
            Ok(digest)
        })();
        let _ = fs::remove_file(&tmp);
        result
    }

    /// Every blob in the store.
    pub fn list(&self) -> io::Result<Vec<Digest>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let name = entry?.file_name();
            if let Ok(d) = Digest::parse(&format!("sha256:{}", name.to_string_lossy())) {
                out.push(d);
            }
        }
        Ok(out)
    }

    pub fn remove(&self, digest: &Digest) -> io::Result<()> {
        match fs::remove_file(self.path(digest)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// A blob being written; removed on drop unless committed.
pub struct BlobWriter {
    store: ContentStore,
    expected: Digest,
    size: Option<u64>,
    tmp: PathBuf,
    out: Option<HashingWriter<io::BufWriter<File>>>,
}

impl BlobWriter {
    /// Checks size and digest, then moves the blob into place.
    pub fn commit(mut self) -> Result<(), ContentError> {
        let out = self.out.take().expect("a blob writer is committed once");
        let (buf, actual, written) = out.finish();
        let io_err = |source| ContentError::Io { digest: self.expected.clone(), source };
        let file = buf.into_inner().map_err(|e| io_err(e.into_error()))?;
        if let Some(size) = self.size {
            if written != size {
                return Err(ContentError::SizeMismatch {
                    digest: self.expected.clone(),
                    expected: size,
                    actual: written,
                });
            }
        }
        if actual != self.expected {
            return Err(ContentError::DigestMismatch { expected: self.expected.clone(), actual });
        }
        file.sync_all().map_err(io_err)?;
        fs::rename(&self.tmp, self.store.path(&self.expected)).map_err(io_err)?;
        Ok(())
    }

    pub fn written(&self) -> u64 {
        self.out.as_ref().map_or(0, HashingWriter::written)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let out = self.out.as_mut().ok_or_else(|| io::Error::other("blob already committed"))?;
        if let Some(limit) = self.size {
            if out.written() + buf.len() as u64 > limit {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    ContentError::TooLarge { digest: self.expected.clone(), limit },
                ));
            }
        }
        out.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.as_mut().map_or(Ok(()), |o| o.flush())
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.out.is_some() || self.tmp.exists() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_writes() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = ContentStore::open(dir.path()).expect("open");
        let d = store.put(b"layer").expect("put");
        assert_eq!(store.read(&d).expect("read"), b"layer");

        let wrong = Digest::of(b"something else");
        let mut w = store.writer(&wrong, None).expect("writer");
        w.write_all(b"layer").expect("write");
        assert!(matches!(w.commit(), Err(ContentError::DigestMismatch { .. })));
        assert!(!store.has(&wrong));

        let mut w = store.writer(&d, Some(3)).expect("writer");
        assert!(w.write_all(b"layer").is_err(), "more than announced is refused");
        drop(w);
        let mut w = store.writer(&d, Some(10)).expect("writer");
        w.write_all(b"layer").expect("write");
        assert!(matches!(w.commit(), Err(ContentError::SizeMismatch { .. })));
        assert_eq!(store.list().expect("list"), vec![d], "failed writes leave nothing behind");
    }
}
