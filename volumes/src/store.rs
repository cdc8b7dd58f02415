//! Named volumes: `<dir>/<name>/_data` holds the data, `<dir>/<name>/volume.json` the record.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Result, VolumeError, io};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The local driver's options: `type`, `o`, `device`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    pub created: String,
}

/// How a volume's data reaches a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// A directory: `_data`, or the `device` of a `type: none, o: bind` volume.
    Directory(PathBuf),
    /// A fresh tmpfs (`type: tmpfs`) with these mount options.
    Tmpfs(Vec<String>),
}

/// Volume names as Docker accepts them.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Checks a local driver's options: a bind of an existing directory, or a tmpfs.
pub fn check_options(name: &str, driver: &str, options: &BTreeMap<String, String>) -> Result<()> {
    if driver != "local" {
        return Err(VolumeError::Driver(driver.to_string()));
    }
    let bad = |message: String| VolumeError::Options { name: name.to_string(), message };
    for key in options.keys() {
        if !matches!(key.as_str(), "type" | "o" | "device") {
            return Err(bad(format!("unknown driver option {key:?}: the local driver takes type, o and device")));
        }
    }
    match options.get("type").map(String::as_str) {
        None if options.is_empty() => Ok(()),
        Some("none") | None => {
            let o = options.get("o").map(String::as_str).unwrap_or("");
            if !o.split(',').any(|x| x == "bind" || x == "rbind") {
                return Err(bad("type none needs o: bind".into()));
            }
            let device = options.get("device").ok_or_else(|| bad("a bind volume needs a device".into()))?;
            if !Path::new(device).is_absolute() {
                return Err(bad(format!("device {device:?} must be an absolute path")));
            }
            Ok(())
        }
        Some("tmpfs") => Ok(()),
        Some(other) => Err(bad(format!("type {other:?} is not supported: use none (with o: bind) or tmpfs"))),
    }
}

pub struct VolumeStore {
    dir: PathBuf,
}

impl VolumeStore {
    pub fn new(dir: &Path) -> VolumeStore {
        VolumeStore { dir: dir.to_path_buf() }
    }

    fn record_path(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("volume.json")
    }

    /// Where a volume's data lives on the host.
    pub fn data(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    pub fn get(&self, name: &str) -> Result<Option<Volume>> {
        match std::fs::read(self.record_path(name)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                io(format!("cannot read volume {name}"))(std::io::Error::new(std::io::ErrorKind::InvalidData, e))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(format!("cannot read volume {name}"))(e)),
        }
    }

    pub fn list(&self) -> Result<Vec<Volume>> {
        let mut out = Vec::new();
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Ok(out) };
        for entry in entries.flatten() {
            if let Some(v) = entry.file_name().to_str().and_then(|n| self.get(n).ok().flatten()) {
                out.push(v);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Creates a volume, or returns the existing one of that name (as Docker does).
    pub fn create(
        &self,
        name: &str,
        driver: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
        created: String,
    ) -> Result<Volume> {
        if !valid_name(name) {
            return Err(VolumeError::BadName(name.to_string()));
        }
        check_options(name, driver, &options)?;
        if let Some(existing) = self.get(name)? {
            return Ok(existing);
        }
        let data = self.data(name);
        std::fs::create_dir_all(&data).map_err(io(format!("cannot create {}", data.display())))?;
        let volume = Volume { name: name.to_string(), driver: driver.to_string(), labels, options, created };
        let bytes = serde_json::to_vec_pretty(&volume).expect("a volume record serialises");
        let path = self.record_path(name);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, bytes)
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(io(format!("cannot write {}", path.display())))?;
        Ok(volume)
    }

    /// Deletes a volume and its data. The caller has checked that no container uses it.
    pub fn remove(&self, name: &str) -> Result<()> {
        if self.get(name)?.is_none() {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        // The record goes last: a crash half-way leaves a volume that can be removed again.
        let data = self.data(name);
        if data.exists() {
            std::fs::remove_dir_all(&data).map_err(io(format!("cannot remove {}", data.display())))?;
        }
        let dir = self.dir.join(name);
        std::fs::remove_dir_all(&dir).map_err(io(format!("cannot remove {}", dir.display())))
    }

    /// How the volume is mounted.
    pub fn backing(&self, volume: &Volume) -> Backing {
        let o = volume.options.get("o").cloned().unwrap_or_default();
        match volume.options.get("type").map(String::as_str) {
            Some("tmpfs") => Backing::Tmpfs(o.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect()),
            Some(_) => match volume.options.get("device") {
                Some(device) => Backing::Directory(PathBuf::from(device)),
                None => Backing::Directory(self.data(&volume.name)),
            },
            None => Backing::Directory(self.data(&volume.name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("data"));
        assert!(valid_name("p_db-data.1"));
        assert!(!valid_name("a"));
        assert!(!valid_name("-x"));
        assert!(!valid_name("no/slash"));
        assert!(!valid_name("sp ace"));
    }

    #[test]
    fn driver_options() {
        let o = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert!(check_options("v", "local", &o(&[])).is_ok());
        assert!(check_options("v", "local", &o(&[("type", "none"), ("o", "bind"), ("device", "/srv")])).is_ok());
        assert!(check_options("v", "local", &o(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=1m")])).is_ok());
        assert!(check_options("v", "nfs", &o(&[])).is_err());
        assert!(check_options("v", "local", &o(&[("type", "nfs")])).is_err());
        assert!(check_options("v", "local", &o(&[("type", "none"), ("o", "bind"), ("device", "rel")])).is_err());
        assert!(check_options("v", "local", &o(&[("colour", "red")])).is_err());
    }

    #[test]
    fn create_list_remove() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = VolumeStore::new(dir.path());
        let v = store.create("data", "local", BTreeMap::new(), BTreeMap::new(), "now".into()).expect("create");
        std::fs::write(store.data("data").join("f"), "x").expect("write");
        // Creating again keeps the data.
        let again = store.create("data", "local", BTreeMap::new(), BTreeMap::new(), "later".into()).expect("again");
        assert_eq!(again, v);
        assert!(store.data("data").join("f").exists());
        assert_eq!(store.list().expect("list").len(), 1);
        store.remove("data").expect("remove");
        assert!(store.list().expect("list").is_empty());
        assert!(matches!(store.remove("data"), Err(VolumeError::NotFound(_))));
        assert!(matches!(
            store.create("x/y", "local", BTreeMap::new(), BTreeMap::new(), String::new()),
            Err(VolumeError::BadName(_))
        ));
    }
}
