//! YAML text to a positioned [`Node`] tree.
//!
//! Built on the event parser that serde-saphyr itself uses, so berth reads YAML exactly as its
//! typed deserialiser would, while keeping what the loader needs and serde does not give: the
//! position of every node, Compose's `!reset`/`!override` tags, anchors and `<<` merge keys
//! resolved in place, and every duplicate key reported rather than the first.

use crate::node::Map;
use std::path::PathBuf;
use std::sync::Arc;

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, Span};

use crate::diag::{Diagnostics, Pos, join_key};
use crate::node::{Node, Tag, Value};

/// Parses one Compose document. An empty file gives an empty mapping, as in Docker Compose.
pub fn parse(text: &str, file: Option<Arc<PathBuf>>, diags: &mut Diagnostics) -> Option<Node> {
    let mut builder = Builder { file, anchors: Vec::new(), stack: Vec::new(), docs: Vec::new(), expanded: 0 };
    for item in Parser::new_from_str(text) {
        if builder.expanded > MAX_EXPANDED {
            return None;
        }
        match item {
            Ok((event, span)) => builder.event(event, span, diags),
            Err(err) => {
                let m = err.marker();
                let pos = Pos::new(builder.file.clone(), m.line() as u32, m.col() as u32 + 1);
                diags.push(&pos, "", format!("invalid YAML: {}", err.info()));
                return None;
            }
        }
    }
    let mut docs = builder.docs.into_iter();
    let first = docs.next();
    if let Some(extra) = docs.next() {
        diags.push(&extra.pos, "", "a Compose file holds one YAML document; found more than one");
    }
    Some(first.unwrap_or_else(|| Node::map(Map::new(), Pos::new(builder.file.clone(), 1, 1))))
}

/// How many nodes `node` holds, itself included.
fn node_count(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(node_count).sum(),
        Value::Map(map) => map.values().map(node_count).sum(),
        _ => 0,
    }
}

enum Frame {
    Seq { node: Node, anchor: usize },
    Map { node: Node, anchor: usize, key: Option<(String, Pos)>, merges: Vec<Node> },
}

/// How many nodes aliases may copy into one file. An alias is expanded in place, so aliases of
/// aliases grow as a power (a 9-level "billion laughs" file of under 1 KB copies 9^9 nodes);
/// real files stay far below this (the largest of the real-world corpus copies about 3,000).
/// Docker Compose's YAML library refuses such files as "excessive aliasing" too.
const MAX_EXPANDED: usize = 200_000;

struct Builder {
    file: Option<Arc<PathBuf>>,
    /// Each anchor's node and how many nodes it holds.
    anchors: Vec<(usize, Node, usize)>,
    /// Nodes copied by aliases so far.
    expanded: usize,
    stack: Vec<Frame>,
    docs: Vec<Node>,
}

impl Builder {
    fn pos(&self, span: &Span) -> Pos {
        Pos::new(self.file.clone(), span.start.line() as u32, span.start.col() as u32 + 1)
    }

    fn event(&mut self, event: Event<'_>, span: Span, diags: &mut Diagnostics) {
        let pos = self.pos(&span);
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                let tag_name = tag.as_ref().map(|t| (t.handle().to_string(), t.suffix().to_string()));
                // A key position takes the scalar as a key, whatever its style.
                if let Some(Frame::Map { key: key @ None, .. }) = self.stack.last_mut() {
                    *key = Some((text.into_owned(), pos));
                    return;
                }
                let plain = style == ScalarStyle::Plain && tag_name.as_ref().is_none_or(|(_, s)| s != "str");
                let value = if plain && crate::node::resolve_plain(&text) == crate::node::Scalar::Null {
                    Value::Null
                } else {
                    Value::Scalar { text: text.into_owned(), plain }
                };
                let mut node = Node::new(value, pos);
                node.tag = compose_tag(tag_name.as_ref());
                self.finish(node, anchor, diags);
            }
            Event::SequenceStart(_, anchor, tag) => {
                let tag_name = tag.as_ref().map(|t| (t.handle().to_string(), t.suffix().to_string()));
                let mut node = Node::seq(Vec::new(), pos);
                node.tag = compose_tag(tag_name.as_ref());
                self.check_key_position(&node, diags);
                self.stack.push(Frame::Seq { node, anchor });
            }
            Event::MappingStart(_, anchor, tag) => {
                let tag_name = tag.as_ref().map(|t| (t.handle().to_string(), t.suffix().to_string()));
                let mut node = Node::map(Map::new(), pos);
                node.tag = compose_tag(tag_name.as_ref());
                self.check_key_position(&node, diags);
                self.stack.push(Frame::Map { node, anchor, key: None, merges: Vec::new() });
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq { node, anchor }) = self.stack.pop() {
                    self.finish(node, anchor, diags);
                }
            }
            Event::MappingEnd => {
                if let Some(Frame::Map { mut node, anchor, merges, .. }) = self.stack.pop() {
                    apply_merge_keys(&mut node, merges);
                    self.finish(node, anchor, diags);
                }
            }
            Event::Alias(id) => {
                let found = self.anchors.iter().rev().find(|(a, _, _)| *a == id).map(|(_, n, size)| (n, *size));
                if let Some((_, size)) = found {
                    self.expanded += size;
                    if self.expanded > MAX_EXPANDED {
                        let message = format!(
                            "excessive aliasing: the aliases of this file expand to more than {MAX_EXPANDED} values"
                        );
                        diags.push(&pos, self.current_path(), message);
                        return;
                    }
                }
                match found.map(|(n, _)| n.clone()) {
                    Some(mut node) => {
                        if let Some(Frame::Map { key: key @ None, .. }) = self.stack.last_mut() {
                            // An alias used as a key: only scalars make sense there.
                            let text = node.as_text().unwrap_or_default().to_string();
                            *key = Some((text, pos));
                            return;
                        }
                        node.pos = pos;
                        self.finish(node, 0, diags);
                    }
                    None => diags.push(&pos, self.current_path(), "alias refers to an unknown anchor"),
                }
            }
            _ => {}
        }
    }

    /// YAML allows a mapping or sequence as a key; Compose does not.
    fn check_key_position(&mut self, node: &Node, diags: &mut Diagnostics) {
        if let Some(Frame::Map { key: None, .. }) = self.stack.last() {
            diags.push(&node.pos, self.current_path(), "mapping keys must be strings");
            if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                *key = Some((String::new(), node.pos.clone()));
            }
        }
    }

    /// The YAML path of the node being read; built only for error messages.
    fn current_path(&self) -> String {
        let mut path = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Map { key: Some((k, _)), .. } => path = join_key(&path, k),
                Frame::Seq { node, .. } => path = crate::diag::join_index(&path, node.as_seq().map_or(0, Vec::len)),
                _ => {}
            }
        }
        path
    }

    fn finish(&mut self, node: Node, anchor: usize, diags: &mut Diagnostics) {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone(), node_count(&node)));
        }
        let duplicate = match self.stack.last() {
            Some(Frame::Map { node: map, key: Some((k, _)), .. }) => map.get(k).is_some() && k != "<<",
            _ => false,
        };
        let path =
            if duplicate || (matches!(self.stack.last(), Some(Frame::Map { key: Some((k, _)), .. }) if k == "<<")) {
                self.current_path()
            } else {
                String::new()
            };
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { node: seq, .. }) => {
                if let Value::Seq(items) = &mut seq.value {
                    items.push(node);
                }
            }
            Some(Frame::Map { node: map, key, merges, .. }) => {
                let Some((k, key_pos)) = key.take() else { return };
                if k == "<<" && node.tag.is_none() {
                    match &node.value {
                        Value::Map(_) => merges.push(node),
                        Value::Seq(items) if items.iter().all(|i| i.as_map().is_some()) => {
                            merges.extend(items.iter().cloned())
                        }
                        _ => diags.push(
                            &node.pos,
                            path.clone(),
                            "a `<<` merge key takes a mapping or a list of mappings",
                        ),
                    }
                    return;
                }
                // A mapping, list or empty value is reported at its key: that is where the
                // reader looks, and a block value only starts on the next line.
                let mut node = node;
                if matches!(node.value, Value::Map(_) | Value::Seq(_) | Value::Null) {
                    node.pos = key_pos.clone();
                }
                if let Value::Map(entries) = &mut map.value {
                    if entries.contains_key(&k) {
                        diags.push(&key_pos, path, format!("duplicate key `{k}`"));
                    } else {
                        entries.insert(k, node);
                    }
                }
            }
        }
    }
}

/// Keys from `<<` sources fill in what the mapping does not set itself; earlier sources win.
fn apply_merge_keys(node: &mut Node, merges: Vec<Node>) {
    let Value::Map(entries) = &mut node.value else { return };
    for source in merges {
        if let Value::Map(src) = source.value {
            for (k, v) in src {
                if !entries.contains_key(&k) {
                    entries.insert(k, v);
                }
            }
        }
    }
}

fn compose_tag(tag: Option<&(String, String)>) -> Option<Tag> {
    match tag {
        Some((handle, suffix)) if handle == "!" && suffix == "reset" => Some(Tag::Reset),
        Some((handle, suffix)) if handle == "!" && suffix == "override" => Some(Tag::Override),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A "billion laughs" file: each level nine aliases of the one below.
    fn alias_bomb(levels: usize) -> String {
        let mut text = String::from("x-a0: &a0 [lol]\n");
        for level in 1..=levels {
            let below = vec![format!("*a{}", level - 1); 9].join(", ");
            text.push_str(&format!("x-a{level}: &a{level} [{below}]\n"));
        }
        text + "services: {}\n"
    }

    #[test]
    fn excessive_aliasing_is_refused() {
        let mut d = Diagnostics::default();
        let started = std::time::Instant::now();
        assert!(parse(&alias_bomb(9), None, &mut d).is_none());
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert!(d.to_string().contains("excessive aliasing"), "{d}");
        // A few levels are fine: 9^4 copies.
        let n = parse_ok(&alias_bomb(4));
        assert!(n.as_map().is_some_and(|m| m.get("x-a4").is_some()));
    }

    fn parse_ok(text: &str) -> Node {
        let mut d = Diagnostics::default();
        let n = parse(text, None, &mut d).expect("parses");
        assert!(d.is_empty(), "{d}");
        n
    }

    #[test]
    fn keeps_positions() {
        let n = parse_ok("services:\n  web:\n    image: nginx\n");
        let image = n.get("services").and_then(|s| s.get("web")).and_then(|w| w.get("image")).expect("image");
        assert_eq!((image.pos.line, image.pos.col), (3, 12));
        assert_eq!(image.as_str(), Some("nginx"));
    }

    #[test]
    fn merge_keys_and_anchors() {
        let n = parse_ok("x-base: &b\n  image: a\n  restart: always\ns:\n  <<: *b\n  image: c\n");
        let s = n.get("s").expect("s");
        assert_eq!(s.get_str("image"), Some("c"));
        assert_eq!(s.get_str("restart"), Some("always"));
    }

    #[test]
    fn tags_and_duplicates() {
        let n = parse_ok("a: !reset\nb: !override {}\n");
        assert_eq!(n.get("a").and_then(|a| a.tag), Some(Tag::Reset));
        assert_eq!(n.get("b").and_then(|a| a.tag), Some(Tag::Override));
        let mut d = Diagnostics::default();
        parse("a: 1\na: 2\n", None, &mut d);
        assert_eq!(d.len(), 1);
        assert!(d.0[0].message.contains("duplicate key"));
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let mut d = Diagnostics::default();
        assert!(parse("a: [1, 2\nb: 3\n", None, &mut d).is_none());
        assert_eq!(d.len(), 1);
        assert!(d.0[0].pos.line > 0);
    }
}
