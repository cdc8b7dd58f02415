//! What Docker Compose fills in, or leaves out, once the files are merged and the resources
//! named: the last step of normalisation, on the tree. Each rule is written once, under the
//! YAML path it applies to.
//!
//! | path | rule |
//! |---|---|
//! | `services.*.secrets[].target` | `/run/secrets/<source>` when not given |
//! | `services.*.ports[].mode`, `.protocol` | `ingress` and `tcp` when not given (long syntax) |
//! | `services.*.models` | a list of names becomes a mapping of each name to null |
//! | `services.*.*`, `services.*.build.*`, `<resources>.*.*` | a scalar that is the empty string (a variable that interpolated to nothing) is left out, as Go's `omitempty` leaves it out; defaults are not filled in for it |

use crate::node::Map;
use crate::node::{Node, Value};

/// Applies every rule of the table to a normalised model.
pub fn apply(model: &mut Node) {
    let Some(top) = model.as_map_mut() else { return };
    if let Some(services) = top.get_mut("services").and_then(Node::as_map_mut) {
        for service in services.values_mut() {
            let Some(attrs) = service.as_map_mut() else { continue };
            secret_targets(attrs);
            port_defaults(attrs);
            models_as_map(attrs);
            drop_empty_strings(attrs);
            if let Some(build) = attrs.get_mut("build").and_then(Node::as_map_mut) {
                drop_empty_strings(build);
            }
        }
    }
    for kind in ["networks", "volumes", "secrets", "configs"] {
        for resource in top.get_mut(kind).and_then(Node::as_map_mut).into_iter().flat_map(|m| m.values_mut()) {
            if let Some(attrs) = resource.as_map_mut() {
                drop_empty_strings(attrs);
            }
        }
    }
}

fn secret_targets(attrs: &mut Map) {
    for secret in attrs.get_mut("secrets").and_then(Node::as_seq_mut).into_iter().flatten() {
        let Some(source) = secret.get_str("source").map(str::to_string) else { continue };
        let pos = secret.pos.clone();
        if let Some(entry) = secret.as_map_mut().filter(|m| !m.contains_key("target")) {
            entry.insert("target".into(), Node::string(format!("/run/secrets/{source}"), pos));
        }
    }
}

fn port_defaults(attrs: &mut Map) {
    for port in attrs.get_mut("ports").and_then(Node::as_seq_mut).into_iter().flatten() {
        let pos = port.pos.clone();
        let Some(entry) = port.as_map_mut() else { continue };
        for (key, default) in [("mode", "ingress"), ("protocol", "tcp")] {
            if !entry.contains_key(key) {
                entry.insert(key.into(), Node::string(default, pos.clone()));
            }
        }
    }
}

fn models_as_map(attrs: &mut Map) {
    let Some(models) = attrs.get_mut("models") else { return };
    if let Some(items) = models.as_seq() {
        let map =
            items.iter().filter_map(|i| i.as_text().map(|t| (t.to_string(), Node::null(i.pos.clone())))).collect();
        models.value = Value::Map(map);
    }
}

fn drop_empty_strings(attrs: &mut Map) {
    attrs.retain(|k, v| k.starts_with("x-") || !matches!(&v.value, Value::Scalar { text, .. } if text.is_empty()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(text: &str) -> Node {
        let mut root = crate::canonical::parse_canonical(text);
        apply(&mut root);
        root
    }

    #[test]
    fn secret_targets_and_port_defaults() {
        let root = applied(
            "services:\n  a:\n    secrets: [s, {source: t, target: /x}]\n    ports: [{target: 80, published: 8080}]\n",
        );
        let a = root.get("services").and_then(|s| s.get("a")).expect("a");
        let secrets = a.get("secrets").and_then(Node::as_seq).expect("secrets");
        assert_eq!(secrets[0].get_str("target"), Some("/run/secrets/s"));
        assert_eq!(secrets[1].get_str("target"), Some("/x"));
        let port = &a.get("ports").and_then(Node::as_seq).expect("ports")[0];
        assert_eq!((port.get_str("mode"), port.get_str("protocol")), (Some("ingress"), Some("tcp")));
    }

    #[test]
    fn empty_strings_are_left_out_and_models_become_a_map() {
        let root = applied(
            "services:\n  a:\n    platform: ''\n    build: {context: ., dockerfile: ''}\n    models: [m]\nvolumes:\n  v: {name: ''}\n",
        );
        let a = root.get("services").and_then(|s| s.get("a")).expect("a");
        assert!(a.get("platform").is_none());
        assert!(a.get("build").and_then(|b| b.get("dockerfile")).is_none());
        assert!(a.get("models").and_then(|m| m.get("m")).is_some_and(Node::is_null));
        assert!(root.get("volumes").and_then(|v| v.get("v")).and_then(|v| v.get("name")).is_none());
    }
}
