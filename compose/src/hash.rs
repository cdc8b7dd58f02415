//! The configuration hash of a service: what `up` compares to decide whether a running
//! container must be recreated (label `com.docker.compose.config-hash`).

use sha2::{Digest, Sha256};

use crate::model::Service;

/// The sha256 of the service's normalised configuration, leaving out what does not change a
/// container: how many replicas run, how the image is built or pulled, dependencies and
/// profiles.
pub fn service_hash(service: &Service) -> String {
    let mut s = service.clone();
    s.build = None;
    s.pull_policy = None;
    s.scale = None;
    if let Some(deploy) = &mut s.deploy {
        deploy.replicas = None;
    }
    s.depends_on.clear();
    s.profiles.clear();
    let json = serde_json::to_vec(&s).unwrap_or_default();
    let digest = Sha256::digest(&json);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignores_replicas_and_sees_the_image() {
        let mut a = Service { image: Some("nginx".into()), ..Default::default() };
        let before = service_hash(&a);
        a.scale = Some(3);
        assert_eq!(service_hash(&a), before);
        a.image = Some("nginx:2".into());
        assert_ne!(service_hash(&a), before);
        assert_eq!(before.len(), 64);
    }
}
