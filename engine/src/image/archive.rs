//! `save` and `load`: image archives in the format current Docker writes, which is a Docker
//! archive (`manifest.json`) and an OCI image layout (`index.json`, `blobs/`) in one tar, so
//! that `docker load`, `skopeo copy docker-archive:` and `oci-archive:` readers all accept it.
//! `load` reads both, and the older Docker layout (`<id>/layer.tar`).
//!
//! Archives are untrusted: every file is hashed on the way into the content store, names are
//! never used as paths, and JSON documents are size-limited.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use crate::digest::Digest;
use crate::image::local::{self, LocalError};
use crate::image::manifest::{self, Descriptor, Document, ImageConfig, Platform};
use crate::image::ops::ImageError;
use crate::image::unpack;
use crate::reference::ImageRef;
use crate::store::{ImageRecord, Store};

const MAX_DOCUMENT: u64 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("cannot write the archive")]
    Write(#[source] io::Error),
    #[error("cannot read the archive")]
    Read(#[source] io::Error),
    #[error("the archive is not an image archive: it has neither manifest.json nor index.json")]
    NotAnArchive,
    #[error("the archive's {file} is not valid: {message}")]
    Invalid { file: String, message: String },
    #[error("the archive refers to {0}, which it does not contain")]
    MissingFile(String),
    #[error("the archive names no image; give one with --name (for OCI layouts without a name annotation)")]
    Unnamed,
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Local(#[from] LocalError),
    #[error(transparent)]
    Content(#[from] crate::image::content::ContentError),
}

/// Writes the images `names` (with their records) as one archive to `out`.
pub fn save<W: Write>(store: &Store, images: &[(ImageRef, ImageRecord)], out: W) -> Result<(), ArchiveError> {
    let mut tar = tar::Builder::new(out);
    let mut written: std::collections::BTreeSet<String> = Default::default();
    let mut tar_size: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut docker_manifest = Vec::new();
    let mut index_entries = Vec::new();
    let werr = ArchiveError::Write;
    // Images by ID, with all their names, so an image saved under two names is stored once.
    let mut by_id: BTreeMap<Digest, (ImageRecord, Vec<ImageRef>)> = BTreeMap::new();
    for (name, record) in images {
        by_id.entry(record.id.clone()).or_insert_with(|| (record.clone(), Vec::new())).1.push(name.clone());
    }
    for (record, names) in by_id.values() {
        let config_bytes = store.content.read(&record.id).map_err(|_| ImageError::Damaged(record.id.to_string()))?;
        let config: ImageConfig =
            serde_json::from_slice(&config_bytes).map_err(|_| ImageError::Damaged(record.id.to_string()))?;
        let stored = store.manifest_of(record)?;
        add_file(&mut tar, &mut written, &format!("blobs/sha256/{}", record.id.hex()), &config_bytes).map_err(werr)?;
        // Layers go in uncompressed, named by their diff ID, as `docker save` writes them.
        let mut layers = Vec::new();
        for (layer, diff_id) in stored.layers.iter().zip(&config.rootfs.diff_ids) {
            let path = format!("blobs/sha256/{}", diff_id.hex());
            if !written.contains(&path) {
                let blob =
                    store.content.open_blob(&layer.digest).map_err(|_| ImageError::Damaged(record.id.to_string()))?;
                let mut plain = unpack::decompress(blob).map_err(ArchiveError::Read)?;
                let mut spool = tempfile_in(store)?;
                let size = io::copy(&mut plain, &mut spool).map_err(ArchiveError::Read)?;
                spool.rewind_for_read()?;
                let mut h = tar::Header::new_gnu();
                h.set_size(size);
                h.set_mode(0o644);
                h.set_mtime(0);
                tar.append_data(&mut h, &path, &mut spool.file).map_err(werr)?;
                written.insert(path.clone());
                tar_size.insert(diff_id.clone(), size);
            }
            layers.push((path, diff_id.clone(), tar_size.get(diff_id).copied().unwrap_or(0)));
        }
        let oci_manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": manifest::OCI_MANIFEST,
            "config": {"mediaType": manifest::OCI_CONFIG, "digest": record.id.to_string(), "size": config_bytes.len()},
            "layers": layers.iter()
                .map(|(_, d, size)| serde_json::json!({"mediaType": manifest::OCI_LAYER, "digest": d.to_string(), "size": size}))
                .collect::<Vec<_>>(),
        });
        let manifest_bytes = serde_json::to_vec(&oci_manifest).expect("a manifest serialises");
        let manifest_digest = Digest::of(&manifest_bytes);
        add_file(&mut tar, &mut written, &format!("blobs/sha256/{}", manifest_digest.hex()), &manifest_bytes)
            .map_err(werr)?;
        for name in names {
            index_entries.push(serde_json::json!({
                "mediaType": manifest::OCI_MANIFEST,
                "digest": manifest_digest.to_string(),
                "size": manifest_bytes.len(),
                "annotations": {
                    "io.containerd.image.name": name.to_string(),
                    "org.opencontainers.image.ref.name": name.tag.clone().unwrap_or_else(|| "latest".into()),
                },
            }));
        }
        docker_manifest.push(serde_json::json!({
            "Config": format!("blobs/sha256/{}", record.id.hex()),
            "RepoTags": names.iter().filter(|n| n.tag.is_some()).map(ImageRef::familiar).collect::<Vec<_>>(),
            "Layers": layers.iter().map(|(p, _, _)| p.clone()).collect::<Vec<_>>(),
        }));
    }
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": manifest::OCI_INDEX, "manifests": index_entries});
    add_file(&mut tar, &mut written, "index.json", &serde_json::to_vec(&index).expect("json")).map_err(werr)?;
    add_file(&mut tar, &mut written, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(werr)?;
    add_file(&mut tar, &mut written, "manifest.json", &serde_json::to_vec(&docker_manifest).expect("json"))
        .map_err(werr)?;
    tar.into_inner().map_err(werr)?.flush().map_err(werr)?;
    Ok(())
}

fn add_file<W: Write>(
    tar: &mut tar::Builder<W>,
    written: &mut std::collections::BTreeSet<String>,
    path: &str,
    data: &[u8],
) -> io::Result<()> {
    if !written.insert(path.to_string()) {
        return Ok(());
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    tar.append_data(&mut h, path, data)
}

/// A temporary file in the state directory, for spooling an uncompressed layer.
struct Spool {
    file: std::fs::File,
}

impl Spool {
    fn rewind_for_read(&mut self) -> Result<(), ArchiveError> {
        use std::io::Seek;
        self.file.seek(io::SeekFrom::Start(0)).map(|_| ()).map_err(ArchiveError::Read)
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

fn tempfile_in(store: &Store) -> Result<Spool, ArchiveError> {
    let path = crate::fsutil::temp_name(&store.root.join("spool"));
    let file =
        std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&path).map_err(ArchiveError::Write)?;
    // Unlinked at once: the open handle keeps the data, and nothing is left after a crash.
    let _ = std::fs::remove_file(&path);
    Ok(Spool { file })
}

/// An archive's files by path, as their digests in the content store.
type Files = BTreeMap<String, Digest>;
/// An archive's JSON documents by path.
type Documents = BTreeMap<String, Vec<u8>>;

/// Reads an archive into the store; returns the names loaded. `name` names an OCI layout
/// whose entries carry no image name.
pub fn load<R: Read>(store: &Store, input: R, name: Option<&ImageRef>) -> Result<Vec<ImageRef>, ArchiveError> {
    let (files, documents) = read_entries(store, input)?;
    match documents.get("manifest.json") {
        Some(data) => load_docker(store, &files, &documents, data, name),
        None => load_oci(store, &files, &documents, name),
    }
}

/// Every file of the archive into the content store: the JSON documents kept in memory too
/// (each within [`MAX_DOCUMENT`]), with every file's digest by its path.
fn read_entries<R: Read>(store: &Store, input: R) -> Result<(Files, Documents), ArchiveError> {
    let mut files = Files::new();
    let mut documents = Documents::new();
    let plain = unpack::decompress(input).map_err(ArchiveError::Read)?;
    let mut archive = tar::Archive::new(plain);
    for entry in archive.entries().map_err(ArchiveError::Read)? {
        let mut entry = entry.map_err(ArchiveError::Read)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(ArchiveError::Read)?.to_string_lossy().trim_start_matches("./").to_string();
        let size = entry.header().size().map_err(ArchiveError::Read)?;
        if path.ends_with(".json") || path == "repositories" || path == "oci-layout" {
            if size > MAX_DOCUMENT {
                return Err(ArchiveError::Invalid {
                    file: path,
                    message: format!("{size} bytes is too large for a document"),
                });
            }
            let mut data = Vec::new();
            entry.read_to_end(&mut data).map_err(ArchiveError::Read)?;
            let digest = store.content.put(&data)?;
            files.insert(path.clone(), digest);
            documents.insert(path, data);
        } else {
            files.insert(path, store.content.ingest(&mut entry).map_err(ArchiveError::Read)?);
        }
    }
    Ok((files, documents))
}

/// A `docker save` archive: `manifest.json` lists each image's config, tags and layers.
fn load_docker(
    store: &Store,
    files: &Files,
    documents: &Documents,
    data: &[u8],
    name: Option<&ImageRef>,
) -> Result<Vec<ImageRef>, ArchiveError> {
    let mut loaded = Vec::new();
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Entry {
        config: String,
        #[serde(default)]
        repo_tags: Option<Vec<String>>,
        layers: Vec<String>,
    }
    let entries: Vec<Entry> = serde_json::from_slice(data)
        .map_err(|e| ArchiveError::Invalid { file: "manifest.json".into(), message: e.to_string() })?;
    for e in entries {
        let config =
            documents.get(&e.config).cloned().or_else(|| files.get(&e.config).and_then(|d| store.content.read(d).ok()));
        let config = config.ok_or_else(|| ArchiveError::MissingFile(e.config.clone()))?;
        let layers: Vec<Digest> = e
            .layers
            .iter()
            .map(|l| files.get(l).cloned().ok_or_else(|| ArchiveError::MissingFile(l.clone())))
            .collect::<Result<_, _>>()?;
        let mut names: Vec<ImageRef> =
            e.repo_tags.unwrap_or_default().iter().filter_map(|t| ImageRef::parse(t).ok()).collect();
        if names.is_empty() {
            names.extend(name.cloned());
        }
        if names.is_empty() {
            return Err(ArchiveError::Unnamed);
        }
        local::commit_image(store, &config, &layers, &names)?;
        loaded.extend(names);
    }
    Ok(loaded)
}

/// An OCI image layout: `index.json` and content-addressed blobs.
fn load_oci(
    store: &Store,
    files: &Files,
    documents: &Documents,
    name: Option<&ImageRef>,
) -> Result<Vec<ImageRef>, ArchiveError> {
    let mut loaded = Vec::new();
    let index = documents.get("index.json").ok_or(ArchiveError::NotAnArchive)?;
    let blob = |d: &Digest| -> Result<Vec<u8>, ArchiveError> {
        let path = format!("blobs/sha256/{}", d.hex());
        let stored = files.get(&path).ok_or_else(|| ArchiveError::MissingFile(path.clone()))?;
        if stored != d {
            return Err(ArchiveError::Invalid { file: path, message: format!("its content has digest {stored}") });
        }
        store.content.read(d).map_err(ArchiveError::Read)
    };
    let top = match Document::parse(index, manifest::OCI_INDEX) {
        Ok(Document::Index(i)) => i,
        _ => return Err(ArchiveError::Invalid { file: "index.json".into(), message: "not an OCI index".into() }),
    };
    for entry in &top.manifests {
        let names = entry_names(entry, name)?;
        let mut doc = Document::parse(&blob(&entry.digest)?, &entry.media_type)
            .map_err(|e| ArchiveError::Invalid { file: entry.digest.to_string(), message: e.to_string() })?;
        if let Document::Index(inner) = &doc {
            let host = Platform::host();
            let chosen =
                inner.manifests.iter().find(|d| d.platform.as_ref().is_some_and(|p| host.matches(p))).ok_or_else(
                    || ArchiveError::Invalid {
                        file: entry.digest.to_string(),
                        message: format!("no image for {host}"),
                    },
                )?;
            doc = Document::parse(&blob(&chosen.digest)?, &chosen.media_type)
                .map_err(|e| ArchiveError::Invalid { file: chosen.digest.to_string(), message: e.to_string() })?;
        }
        let Document::Manifest(m) = doc else {
            return Err(ArchiveError::Invalid { file: entry.digest.to_string(), message: "nested indexes".into() });
        };
        let config = blob(&m.config.digest)?;
        for l in &m.layers {
            blob_exists(files, &l.digest)?;
        }
        let layers: Vec<Digest> = m.layers.iter().map(|l| l.digest.clone()).collect();
        local::commit_image(store, &config, &layers, &names)?;
        loaded.extend(names);
    }
    Ok(loaded)
}

fn blob_exists(files: &Files, d: &Digest) -> Result<(), ArchiveError> {
    let path = format!("blobs/sha256/{}", d.hex());
    match files.get(&path) {
        Some(stored) if stored == d => Ok(()),
        Some(stored) => Err(ArchiveError::Invalid { file: path, message: format!("its content has digest {stored}") }),
        None => Err(ArchiveError::MissingFile(path)),
    }
}

fn entry_names(entry: &Descriptor, name: Option<&ImageRef>) -> Result<Vec<ImageRef>, ArchiveError> {
    if let Some(n) = name {
        return Ok(vec![n.clone()]);
    }
    let full = entry.annotations.get("io.containerd.image.name").and_then(|n| ImageRef::parse(n).ok());
    let by_ref =
        entry.annotations.get("org.opencontainers.image.ref.name").filter(|r| r.contains('/') || r.contains(':'));
    match (full, by_ref.and_then(|r| ImageRef::parse(r).ok())) {
        (Some(n), _) | (None, Some(n)) => Ok(vec![n]),
        _ => Err(ArchiveError::Unnamed),
    }
}
