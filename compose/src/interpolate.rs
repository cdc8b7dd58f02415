//! Variable interpolation: `$V`, `${V}`, `${V:-d}`, `${V-d}`, `${V:?e}`, `${V?e}`, `${V:+a}`,
//! `${V+a}`, nesting in the argument, and `$$` for a literal dollar.
//!
//! Only values are interpolated, never mapping keys, as the Compose specification says.

use crate::diag::{Diagnostics, join_index, join_key};
use crate::node::{Node, Value};

/// Where variables come from. Implemented by the loader's environment (process environment over
/// `.env`), and by plain maps in tests.
pub trait Lookup {
    fn lookup(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn lookup(&self, name: &str) -> Option<String> {
        self(name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TemplateError {
    /// `${}`, `${ V}`, an unclosed `${`: the text cannot be read as a template.
    Invalid,
    /// `${V:?msg}` or `${V?msg}` with `V` unset (or empty, for `:?`).
    Required { name: String, message: String },
}

/// The outcome of substituting one string: the text, and the variables that were unset and
/// defaulted to blank (Docker Compose warns about those).
pub struct Substituted {
    pub text: String,
    pub unset: Vec<String>,
}

/// Substitutes every variable in `template`.
pub fn substitute(template: &str, env: &dyn Lookup) -> Result<Substituted, TemplateError> {
    let mut unset = Vec::new();
    let text = expand(template, env, &mut unset)?;
    Ok(Substituted { text, unset })
}

fn is_name_start(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_name_char(c: char) -> bool {
    c == '_' || c.is_ascii_alphanumeric()
}

fn expand(template: &str, env: &dyn Lookup, unset: &mut Vec<String>) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let mut chars = after.chars();
        match chars.next() {
            Some('$') => {
                out.push('$');
                rest = &after[1..];
            }
            Some('{') => {
                let end = closing_brace(after).ok_or(TemplateError::Invalid)?;
                out.push_str(&braced(&after[1..end], env, unset)?);
                rest = &after[end + 1..];
            }
            Some(c) if is_name_start(c) => {
                let len = after.find(|c: char| !is_name_char(c)).unwrap_or(after.len());
                let name = &after[..len];
                match env.lookup(name) {
                    Some(v) => out.push_str(&v),
                    None => unset.push(name.to_string()),
                }
                rest = &after[len..];
            }
            // A lone `$` (before a space, a brace or the end) stays as it is.
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Index in `s` (which starts with `{`) of the brace that closes it, counting nested braces.
fn closing_brace(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Expands the inside of `${...}`.
fn braced(inner: &str, env: &dyn Lookup, unset: &mut Vec<String>) -> Result<String, TemplateError> {
    let len = inner.find(|c: char| !is_name_char(c)).unwrap_or(inner.len());
    let name = &inner[..len];
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(TemplateError::Invalid);
    }
    let op = &inner[len..];
    let value = env.lookup(name);
    let (operator, arg) = ["~", ":-", "-", ":?", "?", ":+", "+"]
        .iter()
        .find_map(|o| op.strip_prefix(o).map(|a| (*o, a)))
        .unwrap_or(("", op));
    match operator {
        "" if arg.is_empty() => Ok(value.unwrap_or_else(|| {
            unset.push(name.to_string());
            String::new()
        })),
        ":-" => match value {
            Some(v) if !v.is_empty() => Ok(v),
            _ => expand(arg, env, unset),
        },
        "-" => match value {
            Some(v) => Ok(v),
            None => expand(arg, env, unset),
        },
        ":?" | "?" => match value {
            Some(v) if operator == "?" || !v.is_empty() => Ok(v),
            _ => Err(TemplateError::Required { name: name.to_string(), message: expand(arg, env, unset)? }),
        },
        ":+" => match value {
            Some(v) if !v.is_empty() => expand(arg, env, unset),
            _ => Ok(String::new()),
        },
        "+" => match value {
            Some(_) => expand(arg, env, unset),
            None => Ok(String::new()),
        },
        _ => Err(TemplateError::Invalid),
    }
}

/// Interpolates every scalar value of a document in place. Returns the names of unset variables
/// that defaulted to blank, in the order met, for the caller to warn about once each.
pub fn interpolate_tree(root: &mut Node, env: &dyn Lookup, diags: &mut Diagnostics) -> Vec<String> {
    let mut unset = Vec::new();
    let mut path = Vec::new();
    walk(root, &mut path, env, diags, &mut unset);
    unset
}

/// A step of the path to the current node; rendered only when there is an error to report.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn render(path: &[Step<'_>]) -> String {
    path.iter().fold(String::new(), |p, step| match step {
        Step::Key(k) => join_key(&p, k),
        Step::Index(i) => join_index(&p, *i),
    })
}

fn walk<'a>(
    node: &'a mut Node,
    path: &mut Vec<Step<'a>>,
    env: &dyn Lookup,
    diags: &mut Diagnostics,
    unset: &mut Vec<String>,
) {
    match &mut node.value {
        Value::Scalar { text, plain } if text.contains('$') => match substitute(text, env) {
            Ok(s) => {
                *text = s.text;
                unset.extend(s.unset);
                // `image: ${TAG}` with TAG unset reads as an empty string, not as null. In an
                // `x-` extension, which no schema types, what a variable gave stays a string
                // (`retries: ${R:-10}` is "10"), as in Docker Compose.
                let in_extension = path.iter().any(|step| matches!(step, Step::Key(k) if k.starts_with("x-")));
                if text.is_empty() || in_extension {
                    *plain = false;
                }
            }
            Err(TemplateError::Invalid) => diags.push(
                &node.pos,
                render(path),
                format!("invalid interpolation format {text:?}; you may need to escape any $ with another $"),
            ),
            Err(TemplateError::Required { name, message }) => {
                let detail = if message.is_empty() { String::new() } else { format!(": {message}") };
                diags.push(&node.pos, render(path), format!("required variable {name} is missing a value{detail}"))
            }
        },
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(Step::Index(i));
                walk(item, path, env, diags, unset);
                path.pop();
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                path.push(Step::Key(k));
                walk(v, path, env, diags, unset);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "FOO" => Some("first".into()),
            "BAR" => Some(String::new()),
            "JSON" => Some(r#"{"json":2}"#.into()),
            _ => None,
        }
    }

    fn sub(t: &str) -> String {
        substitute(t, &env).map(|s| s.text).expect("valid template")
    }

    #[test]
    fn the_forms_of_the_specification() {
        let cases = [
            ("$${foo}", "${foo}"),
            ("a $ string", "a $ string"),
            ("^REGEX$", "^REGEX$"),
            ("$}", "$}"),
            ("$FOO-bar", "first-bar"),
            ("This ${missing} var", "This  var"),
            ("ok ${missing:-def}", "ok def"),
            ("${A:+${A},}B", "B"),
            ("ok ${BAR:-def}", "ok def"),
            ("ok ${BAR-def}", "ok "),
            ("ok ${BAR+presence_value}", "ok presence_value"),
            ("ok ${BAR:+presence_value}", "ok "),
            ("ok ${BAR:-/non:-alphanumeric}", "ok /non:-alphanumeric"),
            ("+ok ${UNSET:-${BAR-defaultValue}}", "+ok "),
            ("ok ${BAR+$FOO ${FOO:+second}}", "ok first second"),
            ("ok ${BAR?err}", "ok "),
            ("${JSON}", r#"{"json":2}"#),
            ("${missing:-{}}", "{}"),
        ];
        for (template, want) in cases {
            assert_eq!(sub(template), want, "template {template}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(substitute("${}", &env).err(), Some(TemplateError::Invalid));
        assert_eq!(substitute("${FOO", &env).err(), Some(TemplateError::Invalid));
        assert_eq!(
            substitute("${UNSET:?must be set}", &env).err(),
            Some(TemplateError::Required { name: "UNSET".into(), message: "must be set".into() })
        );
        assert!(matches!(substitute("${BAR:?}", &env), Err(TemplateError::Required { .. })));
    }

    #[test]
    fn what_a_variable_gives_in_an_extension_stays_a_string() {
        let mut d = Diagnostics::default();
        let text = "x-a:\n  r: ${R:-10}\nservices:\n  s:\n    r: ${R:-10}\n";
        let mut plain_root = crate::yaml::parse(text, None, &mut d).expect("yaml");
        interpolate_tree(&mut plain_root, &env, &mut d);
        assert!(d.is_empty(), "{d}");
        let scalar = |n: &Node, path: [&str; 2]| n.get(path[0]).and_then(|m| m.get(path[1])).map(|v| v.value.clone());
        let service = plain_root.get("services").expect("services").clone();
        assert_eq!(scalar(&plain_root, ["x-a", "r"]), Some(Value::Scalar { text: "10".into(), plain: false }));
        assert_eq!(scalar(&service, ["s", "r"]), Some(Value::Scalar { text: "10".into(), plain: true }));
    }

    #[test]
    fn unset_variables_are_reported() {
        let s = substitute("${A} $B ${C:-x}", &env).expect("valid");
        assert_eq!(s.unset, vec!["A".to_string(), "B".to_string()]);
    }
}
