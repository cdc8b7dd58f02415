//! How far a compressed layer may expand. A gzip or zstd stream of zeros expands about a
//! thousandfold, so a registry could fill the disk with a layer of a few megabytes (a
//! decompression bomb). A layer may always unpack to `FLOOR`; past that its uncompressed
//! stream may be at most `MAX_RATIO` times the compressed bytes read so far, and never more
//! than `MAX_SIZE`. Real layers stay far below: text compresses about tenfold, binaries
//! threefold.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// What any layer may unpack to, whatever its ratio.
pub const FLOOR: u64 = 256 << 20;
/// Uncompressed bytes per compressed byte, past `FLOOR`.
pub const MAX_RATIO: u64 = 200;
/// The largest uncompressed layer stream.
pub const MAX_SIZE: u64 = 64 << 30;

/// A layer stopped for expanding past the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the layer expands to more than {unpacked} bytes from {compressed} compressed bytes, past berth's limits \
     (a decompression bomb?): {MAX_RATIO} times the compressed size beyond {FLOOR} bytes, and {MAX_SIZE} bytes in all"
)]
pub struct TooLarge {
    pub compressed: u64,
    pub unpacked: u64,
}

/// Whether `unpacked` bytes out of `compressed` bytes are past the limits.
pub fn check(compressed: u64, unpacked: u64) -> Result<(), TooLarge> {
    if unpacked > MAX_SIZE || (unpacked > FLOOR && unpacked > compressed.saturating_mul(MAX_RATIO)) {
        return Err(TooLarge { compressed, unpacked });
    }
    Ok(())
}

/// Counts the compressed bytes read through it.
pub struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

/// Fails with `TooLarge` (inside an `io::Error`) once its stream passes the limits against
/// the bytes its `Counting` has read.
pub struct Bounded<R> {
    inner: R,
    compressed: Rc<Cell<u64>>,
    unpacked: u64,
}

/// A counter of compressed bytes, shared by a `Counting` and a `Bounded`.
pub fn counter() -> Rc<Cell<u64>> {
    Rc::new(Cell::new(0))
}

impl<R> Counting<R> {
    pub fn new(inner: R, count: Rc<Cell<u64>>) -> Counting<R> {
        Counting { inner, count }
    }
}

impl<R> Bounded<R> {
    pub fn new(inner: R, compressed: Rc<Cell<u64>>) -> Bounded<R> {
        Bounded { inner, compressed, unpacked: 0 }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.unpacked += n as u64;
        check(self.compressed.get(), self.unpacked).map_err(io::Error::other)?;
        Ok(n)
    }
}

/// The `TooLarge` an I/O error carries, if it is one.
pub fn too_large(e: &io::Error) -> Option<TooLarge> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<TooLarge>()).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert!(check(1, FLOOR).is_ok(), "any layer may reach the floor");
        assert!(check(1, FLOOR + 1).is_err());
        assert!(check(FLOOR / 50, FLOOR * 2).is_ok(), "a hundredfold layer past the floor");
        assert!(check(10 << 20, (10 << 20) * MAX_RATIO + 1).is_err(), "a bomb past the floor");
        assert!(check(MAX_SIZE, MAX_SIZE).is_ok(), "a plain layer of the largest size");
        assert!(check(MAX_SIZE + 1, MAX_SIZE + 1).is_err());
        assert!(check(u64::MAX, u64::MAX / 2).is_err(), "no overflow");
    }

    #[test]
    fn a_stream_of_zeros_is_stopped() {
        let count = counter();
        let mut compressed = Counting::new(&b"x"[..], count.clone());
        io::copy(&mut compressed, &mut io::sink()).expect("read");
        let mut bounded = Bounded::new(io::repeat(0).take(FLOOR * 2), count);
        let e = io::copy(&mut bounded, &mut io::sink()).expect_err("stopped");
        let stopped = too_large(&e).expect("a TooLarge inside");
        assert_eq!(stopped.compressed, 1);
        assert!(stopped.unpacked > FLOOR && stopped.unpacked < FLOOR + (1 << 20), "{stopped:?}");
    }
}
