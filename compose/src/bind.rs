//! Binding the untyped tree to the typed model, reporting every mistake at once.
//!
//! serde's derived code stops at the first error. This deserializer never returns one for a
//! user's mistake: it records a [`Diagnostic`](crate::diag::Diagnostic) with the node's position
//! and YAML path, hands serde a harmless stand-in (zero, empty string, empty list) and carries
//! on, so a file with five mistakes yields five errors. Struct field lists, which serde passes to
//! `deserialize_struct`, tell it which attributes are unknown. Value types that parse text
//! (durations, sizes) report through [`report`], which the deserializer picks up with the
//! position of the value being read.

use crate::node::Map;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeOwned, DeserializeSeed, IntoDeserializer, Visitor};

use crate::diag::{Diagnostics, Pos};
use crate::node::{Node, Scalar, Value};

thread_local! {
    static PENDING: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Called by value types whose text does not parse; the message is attached to the value's
/// position by the deserializer that is reading it.
pub(crate) fn report(message: String) {
    PENDING.with(|p| *p.borrow_mut() = Some(message));
}

fn take_pending() -> Option<String> {
    PENDING.with(|p| p.borrow_mut().take())
}

/// Binds `node` to `T`, adding a diagnostic for each mistake. Returns `None` only if serde gave
/// up entirely (which a mistake in the input alone does not cause).
pub fn bind<T: DeserializeOwned>(node: &Node, path: &str, diags: &mut Diagnostics) -> Option<T> {
    take_pending();
    let ctx = Ctx { diags: RefCell::new(Diagnostics::default()) };
    let result = T::deserialize(NodeDe { node, path: Path::Root(path), ctx: &ctx });
    diags.extend(ctx.diags.into_inner());
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            diags.push(&node.pos, path, e.0);
            None
        }
    }
}

struct Ctx {
    diags: RefCell<Diagnostics>,
}

/// A YAML path built lazily: only rendered when there is something to report.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root(&'a str),
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root(r) => f.write_str(r),
            Path::Key(parent, key) => {
                let p = parent.to_string();
                if p.is_empty() { write!(f, "{key}") } else { write!(f, "{p}.{key}") }
            }
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

#[derive(Debug)]
pub struct BindError(String);

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BindError {}

impl de::Error for BindError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        BindError(msg.to_string())
    }
}

struct NodeDe<'a> {
    node: &'a Node,
    path: Path<'a>,
    ctx: &'a Ctx,
}

impl NodeDe<'_> {
    fn record(&self, message: impl Into<String>) {
        self.ctx.diags.borrow_mut().push(&self.node.pos, self.path.to_string(), message);
    }

    fn mismatch(&self, expected: &str) {
        self.record(format!("must be {expected}, not {}", self.node.kind()));
    }

    fn check_pending<T>(&self, result: Result<T, BindError>) -> Result<T, BindError> {
        if let Some(message) = take_pending() {
            self.record(message);
        }
        result
    }

    /// A mapping for a map type, or for a struct with its known `fields`; null reads as empty.
    fn mapping<'de, V: Visitor<'de>>(
        self,
        fields: Option<&'static [&'static str]>,
        visitor: V,
    ) -> Result<V::Value, BindError> {
        let map = match &self.node.value {
            Value::Map(entries) => MapDe { fields, ..MapDe::plain(entries, self.path, self.ctx) },
            Value::Null => MapDe::empty(self.path, self.ctx),
            _ => {
                self.mismatch("a mapping");
                MapDe::empty(self.path, self.ctx)
            }
        };
        let result = visitor.visit_map(map);
        self.check_pending(result)
    }

    fn integer(&self) -> Option<i128> {
        match self.node.scalar() {
            Some(Scalar::Int(i)) => Some(i as i128),
            Some(Scalar::Str(s)) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

macro_rules! int_method {
    ($name:ident, $ty:ty, $visit:ident) => {
        fn $name<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
            match self.integer() {
                Some(i) if i >= <$ty>::MIN as i128 && i <= <$ty>::MAX as i128 => visitor.$visit(i as $ty),
                Some(_) => {
                    self.record(format!("{} is out of range", self.node.as_text().unwrap_or_default()));
                    visitor.$visit(0)
                }
                None => {
                    self.mismatch("an integer");
                    visitor.$visit(0)
                }
            }
        }
    };
}

impl<'de, 'a> de::Deserializer<'de> for NodeDe<'a> {
    type Error = BindError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        let result = match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Scalar { .. } => match self.node.scalar() {
                Some(Scalar::Bool(b)) => visitor.visit_bool(b),
                Some(Scalar::Int(i)) => visitor.visit_i64(i),
                Some(Scalar::Float(f)) => visitor.visit_f64(f),
                Some(Scalar::Str(s)) => visitor.visit_str(s),
                Some(Scalar::Null) | None => visitor.visit_unit(),
            },
            Value::Seq(items) => {
                visitor.visit_seq(SeqDe { items: items.iter(), index: 0, path: self.path, ctx: self.ctx })
            }
            Value::Map(entries) => visitor.visit_map(MapDe::plain(entries, self.path, self.ctx)),
        };
        self.check_pending(result)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        match self.node.scalar() {
            Some(Scalar::Bool(b)) => visitor.visit_bool(b),
            _ => {
                self.mismatch("a boolean (true or false)");
                visitor.visit_bool(false)
            }
        }
    }

    int_method!(deserialize_i8, i8, visit_i8);
    int_method!(deserialize_i16, i16, visit_i16);
    int_method!(deserialize_i32, i32, visit_i32);
    int_method!(deserialize_i64, i64, visit_i64);
    int_method!(deserialize_u8, u8, visit_u8);
    int_method!(deserialize_u16, u16, visit_u16);
    int_method!(deserialize_u32, u32, visit_u32);
    int_method!(deserialize_u64, u64, visit_u64);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        match self.node.scalar() {
            Some(Scalar::Int(i)) => visitor.visit_f64(i as f64),
            Some(Scalar::Float(f)) => visitor.visit_f64(f),
            Some(Scalar::Str(s)) if s.trim().parse::<f64>().is_ok() => {
                visitor.visit_f64(s.trim().parse().unwrap_or(0.0))
            }
            _ => {
                self.mismatch("a number");
                visitor.visit_f64(0.0)
            }
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        let result = match self.node.scalar() {
            Some(Scalar::Str(s)) => visitor.visit_str(s),
            _ => {
                self.mismatch("a string");
                visitor.visit_str(self.node.as_text().unwrap_or_default())
            }
        };
        self.check_pending(result)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        if self.node.is_null() { visitor.visit_none() } else { visitor.visit_some(self) }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, BindError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, BindError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        static EMPTY: Vec<Node> = Vec::new();
        let items = match &self.node.value {
            Value::Seq(items) => items,
            Value::Null => &EMPTY,
            _ => {
                self.mismatch("a list");
                &EMPTY
            }
        };
        visitor.visit_seq(SeqDe { items: items.iter(), index: 0, path: self.path, ctx: self.ctx })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value, BindError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value, BindError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        self.mapping(None, visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, BindError> {
        self.mapping(Some(fields), visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, BindError> {
        match self.node.as_text() {
            Some(text) if variants.contains(&text) || variants.is_empty() => {
                visitor.visit_enum(text.into_deserializer())
            }
            Some(text) => {
                let list = variants.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(", ");
                self.record(format!("value {text:?} must be one of {list}"));
                // Bound as the first, so that the load goes on to find the other mistakes; it
                // fails with this one.
                visitor.visit_enum(variants[0].into_deserializer())
            }
            None => Err(BindError(format!("must be a string, not {}", self.node.kind()))),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, BindError> {
        visitor.visit_unit()
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
    path: Path<'a>,
    ctx: &'a Ctx,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = BindError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, BindError> {
        let Some(node) = self.items.next() else { return Ok(None) };
        let path = Path::Index(&self.path, self.index);
        self.index += 1;
        seed.deserialize(NodeDe { node, path, ctx: self.ctx }).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// The key under which `x-` attributes reach a struct that keeps them.
const EXTENSIONS: &str = "__extensions";

struct MapDe<'a> {
    entries: Vec<(&'a str, &'a Node)>,
    next: usize,
    path: Path<'a>,
    ctx: &'a Ctx,
    /// For structs: the known attribute names; unknown ones are reported and skipped.
    fields: Option<&'static [&'static str]>,
    /// The `x-` entries, handed over as one mapping when the struct keeps extensions.
    extensions: Option<Node>,
}

impl<'a> MapDe<'a> {
    fn plain(entries: &'a Map, path: Path<'a>, ctx: &'a Ctx) -> Self {
        MapDe {
            entries: entries.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            next: 0,
            path,
            ctx,
            fields: None,
            extensions: None,
        }
    }

    fn empty(path: Path<'a>, ctx: &'a Ctx) -> Self {
        MapDe { entries: Vec::new(), next: 0, path, ctx, fields: None, extensions: None }
    }
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = BindError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, BindError> {
        if let Some(fields) = self.fields {
            while let Some((key, node)) = self.entries.get(self.next) {
                if is_field(fields, key) {
                    break;
                }
                if key.starts_with("x-") {
                    if fields.contains(&EXTENSIONS) {
                        let ext =
                            self.extensions.get_or_insert_with(|| Node::map(Default::default(), node.pos.clone()));
                        if let Some(m) = ext.as_map_mut() {
                            m.insert(key.to_string(), (*node).clone());
                        }
                    }
                } else {
                    let mut message = format!("unknown attribute `{key}`");
                    if let Some(suggestion) = suggest(key, fields) {
                        message.push_str(&format!("; did you mean `{suggestion}`?"));
                    }
                    let path = Path::Key(&self.path, key).to_string();
                    self.ctx.diags.borrow_mut().push(&node.pos, path, message);
                }
                self.next += 1;
            }
            if self.next >= self.entries.len() {
                if self.extensions.is_some() && self.next == self.entries.len() {
                    self.next += 1;
                    return seed.deserialize(EXTENSIONS.into_deserializer()).map(Some);
                }
                return Ok(None);
            }
        } else if self.next >= self.entries.len() {
            return Ok(None);
        }
        let (key, _) = self.entries[self.next];
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, BindError> {
        if self.next > self.entries.len() {
            let ext = self.extensions.take().unwrap_or_else(|| Node::null(Pos::default()));
            return seed.deserialize(NodeDe { node: &ext, path: self.path, ctx: self.ctx });
        }
        let (key, node) = self.entries[self.next];
        self.next += 1;
        seed.deserialize(NodeDe { node, path: Path::Key(&self.path, key), ctx: self.ctx })
    }
}

/// Is `key` one of a struct's `fields`? Field lists are static, so each is turned into a hash
/// set once per thread; the model's largest struct has about a hundred fields.
fn is_field(fields: &'static [&'static str], key: &str) -> bool {
    if fields.len() < 16 {
        return fields.contains(&key);
    }
    thread_local! {
        static SETS: RefCell<std::collections::HashMap<usize, std::collections::HashSet<&'static str>>> =
            RefCell::new(std::collections::HashMap::new());
    }
    SETS.with(|sets| {
        sets.borrow_mut()
            .entry(fields.as_ptr() as usize)
            .or_insert_with(|| fields.iter().copied().collect())
            .contains(key)
    })
}

/// The known name closest to a misspelt one, if it is close enough to be a likely typo.
pub fn suggest(word: &str, known: &[&str]) -> Option<String> {
    known
        .iter()
        .filter(|k| !k.starts_with("__"))
        .map(|k| (distance(word, k), *k))
        // One slip anywhere, or two in a word whose first letter is right: typos rarely start
        // a word wrong, and `pre_start` should not suggest `restart`.
        .filter(|(d, k)| *d == 1 || (*d == 2 && k.len() > 4 && k.chars().next() == word.chars().next()))
        .min()
        .map(|(_, k)| k.to_string())
}

/// Levenshtein distance over characters.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb { prev } else { 1 + prev.min(row[j]).min(cur) };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Service;
    use crate::yaml;

    fn bind_service(text: &str) -> (Option<Service>, Diagnostics) {
        let mut d = Diagnostics::default();
        let node = yaml::parse(text, None, &mut d).expect("yaml");
        let s = bind::<Service>(&node, "services.web", &mut d);
        (s, d)
    }

    #[test]
    fn binds_a_service() {
        let (s, d) = bind_service("image: nginx\nprivileged: true\nstop_grace_period: 90s\nx-note: hi\n");
        assert!(d.is_empty(), "{d}");
        let s = s.expect("bound");
        assert_eq!(s.image.as_deref(), Some("nginx"));
        assert!(s.privileged);
        assert_eq!(s.stop_grace_period.map(|d| d.to_string()).as_deref(), Some("1m30s"));
        assert_eq!(s.extensions.get("x-note"), Some(&serde_json::json!("hi")));
    }

    #[test]
    fn reports_every_mistake_with_its_place() {
        let (_, d) =
            bind_service("imgae: nginx\nprivileged: sometimes\nstop_grace_period: soon\ncap_add: ALL\nshm_size: 1q\n");
        let got: Vec<(u32, &str)> = d.0.iter().map(|x| (x.pos.line, x.path.as_str())).collect();
        assert_eq!(
            got,
            [
                (1, "services.web.imgae"),
                (2, "services.web.privileged"),
                (3, "services.web.stop_grace_period"),
                (4, "services.web.cap_add"),
                (5, "services.web.shm_size"),
            ]
        );
        assert!(d.0[0].message.contains("did you mean `image`"), "{}", d.0[0].message);
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("enviroment", &["environment", "env_file"]).as_deref(), Some("environment"));
        assert_eq!(suggest("zzz", &["environment"]), None);
        assert_eq!(suggest("imgae", &["image", "init"]).as_deref(), Some("image"));
        assert_eq!(suggest("pre_start", &["restart", "pre_stop"]), None);
    }
}
