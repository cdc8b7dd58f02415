//! The layer unpacker against well-formed and hostile archives.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use berth_engine::digest::Digest;
use berth_engine::image::unpack::{UnpackError, unpack};

use crate::require_root;

/// A tar stream built entry by entry, with raw names so that hostile paths can be written.
struct Tar(Vec<u8>);

impl Tar {
    fn new() -> Tar {
        Tar(Vec::new())
    }

    fn raw(mut self, name: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8], mode: u32) -> Tar {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }

    fn file(self, name: &str, data: &str) -> Tar {
        self.raw(name.as_bytes(), tar::EntryType::Regular, b"", data.as_bytes(), 0o644)
    }

    fn dir(self, name: &str) -> Tar {
        self.raw(name.as_bytes(), tar::EntryType::Directory, b"", b"", 0o755)
    }

    fn symlink(self, name: &str, to: &str) -> Tar {
        self.raw(name.as_bytes(), tar::EntryType::Symlink, to.as_bytes(), b"", 0o777)
    }

    fn hardlink(self, name: &str, to: &str) -> Tar {
        self.raw(name.as_bytes(), tar::EntryType::Link, to.as_bytes(), b"", 0o644)
    }

    fn finish(mut self) -> Vec<u8> {
        self.0.extend(std::iter::repeat_n(0u8, 1024));
        self.0
    }
}

fn scratch() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::Builder::new().prefix("berth-unpack-").tempdir().expect("tmp");
    let dest = tmp.path().join("layer");
    fs::create_dir(&dest).expect("mkdir");
    (tmp, dest)
}

fn unpack_bytes(bytes: &[u8], dest: &Path) -> Result<berth_engine::image::unpack::Unpacked, UnpackError> {
    unpack(bytes, dest)
}

#[test]
fn a_normal_layer_in_every_compression() {
    require_root();
    let tar = Tar::new()
        .dir("etc/")
        .file("etc/hostname", "box\n")
        .symlink("etc/alias", "hostname")
        .hardlink("etc/hard", "etc/hostname")
        .raw(b"run/fifo", tar::EntryType::Fifo, b"", b"", 0o600)
        .file("/abs/contained", "x")
        .finish();
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&tar).expect("gzip");
        e.finish().expect("gzip")
    };
    let zst = zstd::encode_all(&tar[..], 3).expect("zstd");
    for bytes in [&tar, &gz, &zst] {
        let (_tmp, dest) = scratch();
        let done = unpack_bytes(bytes, &dest).expect("unpacks");
        assert_eq!(done.diff_id, Digest::of(&tar), "the diff ID is the digest of the uncompressed stream");
        assert_eq!(fs::read_to_string(dest.join("etc/hostname")).expect("file"), "box\n");
        assert_eq!(fs::read_link(dest.join("etc/alias")).expect("link").to_str(), Some("hostname"));
        let (a, b) = (
            fs::metadata(dest.join("etc/hostname")).expect("meta"),
            fs::metadata(dest.join("etc/hard")).expect("meta"),
        );
        assert_eq!(a.ino(), b.ino(), "hard links share an inode");
        assert_eq!((a.uid(), a.gid(), a.mode() & 0o7777), (1000, 1000, 0o644));
        assert_eq!(a.mtime(), 1_700_000_000);
        assert!(fs::symlink_metadata(dest.join("run/fifo")).expect("fifo").file_type().is_fifo());
        assert!(dest.join("abs/contained").is_file(), "absolute paths land inside the layer");
    }
}

#[test]
fn whiteouts_become_overlay_whiteouts() {
    require_root();
    let tar = Tar::new().dir("gone/").file("gone/.wh..wh..opq", "").file(".wh.removed", "").finish();
    let (_tmp, dest) = scratch();
    unpack_bytes(&tar, &dest).expect("unpacks");
    let m = fs::symlink_metadata(dest.join("removed")).expect("whiteout");
    assert!(m.file_type().is_char_device() && m.rdev() == 0, "a whiteout is a 0/0 character device");
    let mut value = [0u8; 4];
    let n = rustix::fs::getxattr(dest.join("gone"), "trusted.overlay.opaque", &mut value).expect("opaque xattr");
    assert_eq!(&value[..n], b"y");
    assert!(!dest.join(".wh.removed").exists() && !dest.join("gone/.wh..wh..opq").exists());
}

/// `.wh..` and `.wh...` would hide the directory itself or its parent: at the layer's root
/// that is the directory holding the layer (the whole store). `.wh.` hides nothing, and
/// other `.wh..wh.` names are Docker's metadata, skipped as Docker skips them.
#[test]
fn whiteouts_of_dot_names_are_refused_and_metadata_names_skipped() {
    require_root();
    for name in [".wh..", ".wh...", "sub/.wh...", ".wh."] {
        let (tmp, dest) = scratch();
        fs::write(tmp.path().join("neighbour"), "kept").expect("write");
        let tar = Tar::new().dir("sub/").file("sub/kept", "x").file(name, "").finish();
        let err = unpack_bytes(&tar, &dest).expect_err(name);
        assert!(matches!(err, UnpackError::BadWhiteout { .. }), "{name}: {err}");
        assert!(tmp.path().join("neighbour").is_file() && dest.is_dir(), "{name} removed what holds the layer");
        assert!(dest.join("sub/kept").is_file(), "{name} removed the directory it is in");
    }
    let (_tmp, dest) = scratch();
    unpack_bytes(&Tar::new().file(".wh..wh.plnk", "").finish(), &dest).expect("metadata is skipped");
    assert_eq!(fs::read_dir(&dest).expect("read").count(), 0, "nothing is made of Docker's metadata names");
}

#[test]
fn parent_directory_entries_are_refused() {
    require_root();
    let (tmp, dest) = scratch();
    let tar = Tar::new().file("../escaped", "pwned").finish();
    assert!(matches!(unpack_bytes(&tar, &dest), Err(UnpackError::Escape { .. })));
    assert!(!tmp.path().join("escaped").exists());
}

#[test]
fn entries_through_a_symlink_are_refused() {
    require_root();
    let (tmp, dest) = scratch();
    let outside = tmp.path().join("outside");
    fs::create_dir(&outside).expect("mkdir");
    let tar = Tar::new().symlink("evil", outside.to_str().expect("utf-8")).file("evil/pwned", "x").finish();
    let err = unpack_bytes(&tar, &dest).expect_err("refused");
    assert!(matches!(err, UnpackError::ThroughSymlink { .. }), "{err}");
    assert!(!outside.join("pwned").exists(), "nothing was written outside the layer");
}

#[test]
fn a_directory_replaced_by_a_symlink_shelters_nothing() {
    require_root();
    let (tmp, dest) = scratch();
    for tar in [
        Tar::new().dir("a").symlink("a", "..").file("a/b", "x").finish(),
        Tar::new().file("a/.wh..wh..opq", "").symlink("a", "..").file("a/b", "x").finish(),
        Tar::new().dir("a/c").file("a", "").symlink("a", "..").dir("a/c").finish(),
        Tar::new().dir("d/a").file("d/.wh.a", "").symlink("d/a", "../..").file("d/a/b", "x").finish(),
    ] {
        let err = unpack_bytes(&tar, &dest).expect_err("refused");
        assert!(matches!(err, UnpackError::ThroughSymlink { .. }), "{err}");
        let outside: Vec<_> = fs::read_dir(tmp.path()).expect("read").flatten().map(|e| e.file_name()).collect();
        assert_eq!(outside, vec![std::ffi::OsString::from("layer")], "nothing was written outside the layer");
        fs::remove_dir_all(&dest).expect("clean");
        fs::create_dir(&dest).expect("mkdir");
    }
}

#[test]
fn hard_links_must_stay_inside() {
    require_root();
    let (_tmp, dest) = scratch();
    let tar = Tar::new().hardlink("passwd", "../../../etc/passwd").finish();
    assert!(matches!(unpack_bytes(&tar, &dest), Err(UnpackError::Escape { .. })));
    let (_tmp, dest) = scratch();
    let tar = Tar::new().hardlink("x", "missing").finish();
    assert!(matches!(unpack_bytes(&tar, &dest), Err(UnpackError::BadLink { .. })));
    let (tmp, dest) = scratch();
    let outside = tmp.path().join("secret");
    fs::write(&outside, "s").expect("write");
    let tar = Tar::new().symlink("dir", tmp.path().to_str().expect("utf-8")).hardlink("x", "dir/secret").finish();
    assert!(
        matches!(unpack_bytes(&tar, &dest), Err(UnpackError::BadLink { .. })),
        "a link through a symlink is refused"
    );
}

#[test]
fn device_nodes_are_refused() {
    require_root();
    let (_tmp, dest) = scratch();
    let tar = Tar::new().raw(b"dev/sda", tar::EntryType::Block, b"", b"", 0o600).finish();
    assert!(matches!(unpack_bytes(&tar, &dest), Err(UnpackError::Device { .. })));
    let tar = Tar::new().raw(b"dev/mem", tar::EntryType::Char, b"", b"", 0o600).finish();
    assert!(matches!(unpack_bytes(&tar, &dest), Err(UnpackError::Device { .. })));
}

#[test]
fn oversized_name_headers_are_refused() {
    require_root();
    let (_tmp, dest) = scratch();
    let huge = vec![b'a'; 2 << 20];
    let tar = Tar::new().raw(b"././@LongLink", tar::EntryType::GNULongName, b"", &huge, 0o644).file("x", "y").finish();
    assert!(matches!(unpack_bytes(&tar, &dest), Err(UnpackError::HeaderTooLarge { .. })));
}

#[test]
fn long_names_are_honoured() {
    require_root();
    let (_tmp, dest) = scratch();
    let long = format!("{}/file", "d".repeat(150));
    let tar = Tar::new()
        .raw(b"././@LongLink", tar::EntryType::GNULongName, b"", long.as_bytes(), 0o644)
        .file("short", "data")
        .finish();
    unpack_bytes(&tar, &dest).expect("unpacks");
    assert_eq!(fs::read_to_string(dest.join(&long)).expect("long name"), "data");
}

#[test]
fn a_truncated_archive_is_an_error() {
    require_root();
    let (_tmp, dest) = scratch();
    let tar = Tar::new().file("a", &"x".repeat(4000)).finish();
    assert!(unpack_bytes(&tar[..1500], &dest).is_err());
}
