//! The untyped document tree every loader phase works on.
//!
//! Like compose-go, berth runs interpolation, include, extends, merge and normalisation over an
//! untyped tree and binds to typed structs only at the end. Unlike a plain YAML value, each
//! [`Node`] keeps its source position (for error messages) and its `!reset`/`!override` tag (for
//! merging). Plain scalars keep their source text and are typed lazily, so `0440` can still be
//! read as an octal file mode and `${PORT}` becomes a number only after interpolation.

mod map;

pub use map::Map;

use crate::diag::Pos;

/// The Compose-specific YAML tags that steer merging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tag {
    /// `!reset`: remove the value inherited from earlier files.
    Reset,
    /// `!override`: replace the inherited value instead of merging with it.
    Override,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    /// A scalar with its text. `plain` scalars are typed by the YAML core schema when read;
    /// quoted and block scalars are always strings.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Map),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
    pub tag: Option<Tag>,
}

/// The type a plain scalar resolves to under the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'a str),
}

impl Node {
    pub fn new(value: Value, pos: Pos) -> Self {
        Node { value, pos, tag: None }
    }

    pub fn null(pos: Pos) -> Self {
        Node::new(Value::Null, pos)
    }

    /// A string made by the loader itself (never re-typed as a number or a boolean).
    pub fn string(text: impl Into<String>, pos: Pos) -> Self {
        Node::new(Value::Scalar { text: text.into(), plain: false }, pos)
    }

    /// A plain scalar, typed like YAML source text (`8080` is a number, `true` a boolean).
    pub fn plain(text: impl Into<String>, pos: Pos) -> Self {
        Node::new(Value::Scalar { text: text.into(), plain: true }, pos)
    }

    pub fn map(entries: Map, pos: Pos) -> Self {
        Node::new(Value::Map(entries), pos)
    }

    pub fn seq(items: Vec<Node>, pos: Pos) -> Self {
        Node::new(Value::Seq(items), pos)
    }

    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    pub fn as_map(&self) -> Option<&Map> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_seq_mut(&mut self) -> Option<&mut Vec<Node>> {
        match &mut self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The text of any scalar, whatever its type.
    pub fn as_text(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The text of a scalar that is a string (quoted, or plain and not a number/bool/null).
    pub fn as_str(&self) -> Option<&str> {
        match self.scalar() {
            Some(Scalar::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        self.as_map_mut().and_then(|m| m.get_mut(key))
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Node::as_text)
    }

    /// The typed view of a scalar; `None` for sequences and mappings.
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        match &self.value {
            Value::Null => Some(Scalar::Null),
            Value::Scalar { text, plain: false } => Some(Scalar::Str(text)),
            Value::Scalar { text, plain: true } => Some(resolve_plain(text)),
            _ => None,
        }
    }

    /// A short description of the node's type for error messages.
    pub fn kind(&self) -> &'static str {
        match self.scalar() {
            None if self.as_seq().is_some() => "a list",
            None => "a mapping",
            Some(Scalar::Null) => "null",
            Some(Scalar::Bool(_)) => "a boolean",
            Some(Scalar::Int(_)) | Some(Scalar::Float(_)) => "a number",
            Some(Scalar::Str(_)) => "a string",
        }
    }
}

/// Resolves a plain scalar with the YAML 1.2 core schema, as go-yaml v3 (and so Docker Compose)
/// does, including its leniency for `0`-prefixed octal integers.
pub fn resolve_plain(text: &str) -> Scalar<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Scalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    if let Some(i) = parse_int(text) {
        return Scalar::Int(i);
    }
    let first = text.as_bytes()[0];
    if (first.is_ascii_digit() || matches!(first, b'-' | b'+' | b'.'))
        && text.bytes().any(|b| b.is_ascii_digit())
        && text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        if let Ok(f) = text.parse::<f64>() {
            return Scalar::Float(f);
        }
    }
    Scalar::Str(text)
}

fn parse_int(text: &str) -> Option<i64> {
    let (neg, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(digits, 8).ok()?
    } else if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if neg { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_scalars_resolve_like_the_core_schema() {
        assert_eq!(resolve_plain("42"), Scalar::Int(42));
        assert_eq!(resolve_plain("0440"), Scalar::Int(0o440));
        assert_eq!(resolve_plain("0x1F"), Scalar::Int(31));
        assert_eq!(resolve_plain("1.5"), Scalar::Float(1.5));
        assert_eq!(resolve_plain("~"), Scalar::Null);
        assert_eq!(resolve_plain("True"), Scalar::Bool(true));
        assert_eq!(resolve_plain("yes"), Scalar::Str("yes"));
        assert_eq!(resolve_plain("8080:80"), Scalar::Str("8080:80"));
        assert_eq!(resolve_plain("1.2.3.4"), Scalar::Str("1.2.3.4"));
        assert_eq!(resolve_plain("-"), Scalar::Str("-"));
    }
}
