//! Variable expansion in Dockerfile words, as Docker's builder does it.

use std::collections::BTreeMap;

/// Expands `$NAME`, `${NAME}`, `${NAME:-word}`, `${NAME:+word}` (and the forms without `:`)
/// from `vars`; an unset name is empty; `\$` is a literal dollar.
pub fn expand(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'$') => {
                out.push('$');
                chars.next();
            }
            '$' if chars.peek() == Some(&'{') => {
                chars.next();
                let mut inner = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => inner.push(c),
                        None => return Err(format!("unclosed ${{ in {text:?}")),
                    }
                }
                let name_end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
                let (name, op) = inner.split_at(name_end);
                let value = vars.get(name);
                let set = |colon: bool| value.is_some_and(|v| !colon || !v.is_empty());
                out.push_str(&match op {
                    "" => value.cloned().unwrap_or_default(),
                    _ if op.starts_with(":-") => {
                        if set(true) {
                            value.cloned().unwrap_or_default()
                        } else {
                            expand(&op[2..], vars)?
                        }
                    }
                    _ if op.starts_with('-') => {
                        if set(false) {
                            value.cloned().unwrap_or_default()
                        } else {
                            expand(&op[1..], vars)?
                        }
                    }
                    _ if op.starts_with(":+") => {
                        if set(true) {
                            expand(&op[2..], vars)?
                        } else {
                            String::new()
                        }
                    }
                    _ if op.starts_with('+') => {
                        if set(false) {
                            expand(&op[1..], vars)?
                        } else {
                            String::new()
                        }
                    }
                    _ => return Err(format!("unsupported substitution ${{{inner}}}")),
                });
            }
            '$' if chars.peek().is_some_and(|c| c.is_ascii_alphabetic() || *c == '_') => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if !(c.is_ascii_alphanumeric() || c == '_') {
                        break;
                    }
                    name.push(c);
                    chars.next();
                }
                out.push_str(vars.get(&name).map(String::as_str).unwrap_or(""));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expansion() {
        let vars: BTreeMap<String, String> =
            [("A", "1"), ("EMPTY", "")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let x = |t: &str| expand(t, &vars).expect("expands");
        assert_eq!(x("$A-${A}x"), "1-1x");
        assert_eq!(x("${NOPE:-dflt} ${EMPTY:-e} ${EMPTY-e} ${A:+set} ${NOPE:+set}"), "dflt e  set ");
        assert_eq!(x("\\$A $NOPE."), "$A .");
        assert!(expand("${A", &vars).is_err());
    }
}
