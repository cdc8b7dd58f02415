//! Merging one Compose document over another: `-f a.yaml -f b.yaml`, `compose.override.yaml`,
//! `extends` and `include` all use these rules.
//!
//! Mappings merge key by key and scalars are replaced, as the specification says. Sequences
//! follow the table in [`rule_for`], keyed by YAML path with `*` for any name: some are replaced,
//! some appended without repeats, some keyed by a field (a volume by its target). A value tagged
//! `!reset` removes what was inherited; `!override` replaces it whole.

use crate::node::{Node, Tag, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// The override replaces the base value.
    Replace,
    /// Items are mappings keyed by this field; an override item replaces the base item with the
    /// same key, others are appended.
    KeyedBy(&'static str),
}

/// The merge rules for sequences, by YAML path. `*` matches any one name.
const RULES: &[(&str, Rule)] = &[
    ("services.*.command", Rule::Replace),
    ("services.*.entrypoint", Rule::Replace),
    ("services.*.healthcheck.test", Rule::Replace),
    ("services.*.build.ssh", Rule::Replace),
    ("services.*.volumes", Rule::KeyedBy("target")),
    ("services.*.secrets", Rule::KeyedBy("target_or_source")),
    ("services.*.configs", Rule::KeyedBy("target_or_source")),
    ("services.*.devices", Rule::KeyedBy("target")),
    ("services.*.env_file", Rule::KeyedBy("path")),
    ("services.*.ulimits.*", Rule::Replace),
    ("networks.*.ipam.config", Rule::KeyedBy("subnet")),
];

fn rule_for(path: &[&str]) -> Option<Rule> {
    RULES.iter().find_map(|(pattern, rule)| {
        let parts: Vec<&str> = pattern.split('.').collect();
        (parts.len() == path.len() && parts.iter().zip(path).all(|(p, s)| *p == "*" || p == s)).then_some(*rule)
    })
}

/// Merges `over` into `base`.
pub fn merge(base: &mut Node, over: Node) {
    let mut path = Vec::new();
    merge_at(base, over, &mut path);
}

fn merge_at(base: &mut Node, over: Node, path: &mut Vec<String>) {
    let path_refs: Vec<&str> = path.iter().map(String::as_str).collect();
    let rule = rule_for(&path_refs);
    if over.tag == Some(Tag::Override) || rule == Some(Rule::Replace) {
        *base = strip_tags(over);
        return;
    }
    // `logging` with a different driver starts over: the options of one driver mean nothing to another.
    if path_refs.len() == 3 && path_refs[0] == "services" && path_refs[2] == "logging" {
        let (b, o) = (base.get_str("driver"), over.get_str("driver"));
        if b.is_some() && o.is_some() && b != o {
            *base = strip_tags(over);
            return;
        }
    }
    match (&mut base.value, over.value) {
        (Value::Map(b), Value::Map(o)) => {
            for (key, value) in o {
                if value.tag == Some(Tag::Reset) {
                    b.shift_remove(&key);
                    continue;
                }
                match b.get_mut(&key) {
                    Some(existing) if !existing.is_null() => {
                        path.push(key);
                        merge_at(existing, value, path);
                        path.pop();
                    }
                    _ => {
                        b.insert(key, strip_tags(value));
                    }
                }
            }
        }
        (Value::Seq(b), Value::Seq(o)) => match rule {
            Some(Rule::KeyedBy(field)) => {
                for item in o {
                    let key = item_key(&item, field);
                    match b.iter_mut().find(|x| key.is_some() && item_key(x, field) == key) {
                        Some(existing) => *existing = strip_tags(item),
                        None => b.push(strip_tags(item)),
                    }
                }
            }
            _ => {
                for item in o {
                    if !b.iter().any(|x| same(x, &item)) {
                        b.push(strip_tags(item));
                    }
                }
            }
        },
        (_, value) => *base = strip_tags(Node { value, pos: over.pos, tag: None }),
    }
}

fn item_key(item: &Node, field: &str) -> Option<String> {
    if field == "target_or_source" {
        return item.get_str("target").or_else(|| item.get_str("source")).map(str::to_string);
    }
    item.get_str(field).map(str::to_string)
}

/// Equality of content, ignoring positions (the same port written in two files is one port).
pub fn same(a: &Node, b: &Node) -> bool {
    match (&a.value, &b.value) {
        (Value::Null, Value::Null) => true,
        (Value::Scalar { text: x, .. }, Value::Scalar { text: y, .. }) => x == y,
        (Value::Seq(x), Value::Seq(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q)),
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => false,
    }
}

/// Removes merge tags once they have been acted on; a `!reset` entry that had nothing to reset
/// is dropped.
pub fn strip_tags(mut node: Node) -> Node {
    node.tag = None;
    match &mut node.value {
        Value::Map(m) => {
            m.retain(|_, v| v.tag != Some(Tag::Reset));
            for v in m.values_mut() {
                *v = strip_tags(std::mem::replace(v, Node::null(Default::default())));
            }
        }
        Value::Seq(s) => {
            s.retain(|v| v.tag != Some(Tag::Reset));
            for v in s.iter_mut() {
                *v = strip_tags(std::mem::replace(v, Node::null(Default::default())));
            }
        }
        _ => {}
    }
    node
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::parse_canonical as load;

    fn merged(base: &str, over: &str) -> Node {
        let mut b = load(base);
        merge(&mut b, load(over));
        b.get("services").and_then(|s| s.get("s")).cloned().expect("service s")
    }

    #[test]
    fn scalars_replace_and_maps_merge() {
        let s = merged(
            "services:\n  s:\n    image: a\n    environment: [A=1, B=2]\n",
            "services:\n  s:\n    image: b\n    environment: {B: 3, C: 4}\n",
        );
        assert_eq!(s.get_str("image"), Some("b"));
        let env = s.get("environment").expect("env");
        assert_eq!((env.get_str("A"), env.get_str("B"), env.get_str("C")), (Some("1"), Some("3"), Some("4")));
    }

    #[test]
    fn sequences_follow_their_rule() {
        let s = merged(
            "services:\n  s:\n    command: [a, b]\n    ports: ['80:80']\n    volumes: ['v:/data', 'w:/w']\n",
            "services:\n  s:\n    command: [c]\n    ports: ['80:80', '81:81']\n    volumes: ['x:/data']\n",
        );
        assert_eq!(s.get("command").and_then(Node::as_seq).map(Vec::len), Some(1));
        assert_eq!(s.get("ports").and_then(Node::as_seq).map(Vec::len), Some(2));
        let vols = s.get("volumes").and_then(Node::as_seq).expect("volumes");
        assert_eq!(vols.len(), 2);
        assert_eq!(vols[0].get_str("source"), Some("x"));
    }

    #[test]
    fn reset_and_override() {
        let s = merged(
            "services:\n  s:\n    build: .\n    environment: {FOO: BAR, K: V}\n    ports: ['80:80']\n",
            "services:\n  s:\n    build: !reset\n    environment:\n      FOO: !reset\n    ports: !override ['81:81']\n",
        );
        assert!(s.get("build").is_none());
        assert!(s.get("environment").and_then(|e| e.get("FOO")).is_none());
        let ports = s.get("ports").and_then(Node::as_seq).expect("ports");
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].get_str("published"), Some("81"));
    }
}
