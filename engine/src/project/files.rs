//! Secrets and configs as Docker Compose makes them on a single host: the content of each
//! one a service names (from a file, an environment variable or inline), written for the
//! container at its creation and mounted read-only at its target: a secret at
//! `/run/secrets/<name>` (the loader fills that in), a config at `/<name>` unless the service
//! says where. External ones and drivers belong to a swarm, and are refused.

use berth_compose::Project;
use berth_compose::model::{FileObject, FileReference, Service};
use sha2::{Digest as _, Sha256};

use super::*;
use crate::container::options::ContainerFile;

/// The files of service `name`: its secrets, then its configs.
pub(super) fn files_of(project: &Project, name: &str, service: &Service) -> Result<Vec<ContainerFile>> {
    let secrets = service.secrets.iter().map(|r| ("secret", r, project.secrets.get(&r.source)));
    let configs = service.configs.iter().map(|r| ("config", r, project.configs.get(&r.source)));
    secrets
        .chain(configs)
        .map(|(kind, r, object)| file(kind, r, object, &project.environment).map_err(|e| service_error(name, e)))
        .collect()
}

/// The configuration hash of a service as its containers' label records it: the service's
/// (as `config --hash` prints it), with the contents of its secrets and configs when it has
/// any, so that a changed secret recreates the container.
pub(super) fn config_hash(project: &Project, name: &str, service: &Service) -> Result<String> {
    let hash = berth_compose::hash::service_hash(service);
    let files = files_of(project, name, service)?;
    if files.is_empty() {
        return Ok(hash);
    }
    let mut h = Sha256::new();
    h.update(hash.as_bytes());
    for f in &files {
        h.update(f.target.as_bytes());
        h.update((f.content.len() as u64).to_le_bytes());
        h.update(&f.content);
        h.update(format!("{}:{}:{:o}", f.uid, f.gid, f.mode).as_bytes());
    }
    Ok(format!("{:x}", h.finalize()))
}

fn file(
    kind: &str,
    r: &FileReference,
    object: Option<&FileObject>,
    env: &std::collections::BTreeMap<String, String>,
) -> Result<ContainerFile, String> {
    let source = &r.source;
    let object = object.ok_or_else(|| format!("{kind} {source:?} is not defined at the top level"))?;
    if object.external {
        return Err(format!("{kind} {source:?} is external: external {kind}s belong to a swarm, not to a single host"));
    }
    if let Some(driver) = object.driver.as_deref().or(object.template_driver.as_deref()) {
        return Err(format!(
            "{kind} {source:?} uses driver {driver:?}: a single host takes only file, environment and content"
        ));
    }
    let content = match (&object.file, &object.environment, &object.content) {
        (Some(path), _, _) => std::fs::read(path).map_err(|e| format!("{kind} {source:?}: cannot read {path}: {e}"))?,
        (None, Some(var), _) => env
            .get(var)
            .cloned()
            .ok_or_else(|| format!("{kind} {source:?}: the environment variable {var} is not set"))?
            .into_bytes(),
        (None, None, Some(text)) => text.clone().into_bytes(),
        (None, None, None) => return Err(format!("{kind} {source:?} has no file, environment or content")),
    };
    let target = match &r.target {
        Some(t) if t.starts_with('/') => t.clone(),
        Some(t) if kind == "secret" => format!("/run/secrets/{t}"),
        Some(t) => format!("/{t}"),
        None if kind == "secret" => format!("/run/secrets/{source}"),
        None => format!("/{source}"),
    };
    let id = |what: &str, v: &Option<String>| -> Result<u32, String> {
        v.as_deref()
            .map_or(Ok(0), |n| n.parse().map_err(|_| format!("{kind} {source:?}: {what} {n:?} is not a number")))
    };
    Ok(ContainerFile {
        target,
        content,
        uid: id("uid", &r.uid)?,
        gid: id("gid", &r.gid)?,
        mode: r.mode.map_or(0o444, |m| m.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(yaml: serde_json::Value) -> Project {
        serde_json::from_value(yaml).expect("a project")
    }

    #[test]
    fn sources_targets_owners_and_modes() {
        let dir = tempfile::tempdir().expect("tmp");
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\n").expect("write");
        let mut p = project(serde_json::json!({
            "services": {"app": {
                "secrets": [{"source": "pw"}, {"source": "token", "target": "/etc/token", "uid": "1000", "mode": "0400"}],
                "configs": [{"source": "cfg"}, {"source": "inline", "target": "app.conf"}],
            }},
            "secrets": {"pw": {"file": pw}, "token": {"environment": "BERTH_FILES_TEST_TOKEN"}},
            "configs": {"cfg": {"file": pw}, "inline": {"content": "x=1"}},
        }));
        // As the loader keeps it: from the process's environment or `.env`.
        p.environment.insert("BERTH_FILES_TEST_TOKEN".into(), "tok".into());
        let files = files_of(&p, "app", &p.services["app"]).expect("files");
        let got: Vec<(&str, &[u8], u32, u32)> =
            files.iter().map(|f| (f.target.as_str(), f.content.as_slice(), f.uid, f.mode)).collect();
        assert_eq!(
            got,
            [
                ("/run/secrets/pw", &b"s3cret\n"[..], 0, 0o444),
                ("/etc/token", b"tok", 1000, 0o400),
                ("/cfg", b"s3cret\n", 0, 0o444),
                ("/app.conf", b"x=1", 0, 0o444),
            ]
        );
        let before = config_hash(&p, "app", &p.services["app"]).expect("hash");
        std::fs::write(&pw, "changed\n").expect("write");
        assert_ne!(
            config_hash(&p, "app", &p.services["app"]).expect("hash"),
            before,
            "a changed secret changes the hash"
        );
    }

    #[test]
    fn external_drivers_and_missing_sources_are_refused() {
        let p = project(serde_json::json!({
            "services": {"a": {"secrets": [{"source": "ext"}]}, "b": {"secrets": [{"source": "drv"}]},
                         "c": {"secrets": [{"source": "nope"}]}, "d": {"configs": [{"source": "env"}]}},
            "secrets": {"ext": {"external": true}, "drv": {"driver": "vault"}},
            "configs": {"env": {"environment": "BERTH_FILES_TEST_UNSET"}},
        }));
        let err = |s: &str| files_of(&p, s, &p.services[s]).expect_err("refused").to_string();
        assert!(err("a").contains("external"), "{}", err("a"));
        assert!(err("b").contains("driver \"vault\""), "{}", err("b"));
        assert!(err("c").contains("not defined"), "{}", err("c"));
        assert!(err("d").contains("BERTH_FILES_TEST_UNSET is not set"), "{}", err("d"));
    }
}
