//! `.env` and `env_file` reading, with the quoting, comment and interpolation rules of Docker
//! Compose's dotenv format.

use crate::interpolate::{Lookup, TemplateError, substitute};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct DotenvError {
    pub line: usize,
    pub message: String,
}

/// The `format` of an `env_file` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Quotes, escapes, comments and `${}` interpolation, as in `.env`.
    Standard,
    /// Every value taken literally after `=`.
    Raw,
}

/// Parses dotenv text into ordered pairs. A bare `NAME` line takes its value from `env` and is
/// left out when `env` does not have it. Values may refer to earlier names of the same file and
/// to `env`.
pub fn parse(text: &str, format: Format, env: &dyn Lookup) -> Result<Vec<(String, String)>, DotenvError> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line_no = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some(eq) = line.find('=') else {
            let name = line.trim();
            check_key(name, line_no)?;
            if let Some(v) = lookup_in(&vars, env, name) {
                vars.push((name.to_string(), v));
            }
            continue;
        };
        let name = line[..eq].trim();
        check_key(name, line_no)?;
        let raw = line[eq + 1..].trim_start();
        let value = match (format, raw.chars().next()) {
            (Format::Raw, _) => raw.trim_end().to_string(),
            (Format::Standard, Some(q @ ('\'' | '"'))) => {
                // A quoted value may run over several lines up to its closing quote.
                let mut body = raw[1..].to_string();
                let closed = loop {
                    if let Some(end) = closing_quote(&body, q) {
                        body.truncate(end);
                        break true;
                    }
                    match lines.get(i) {
                        Some(next) => {
                            body.push('\n');
                            body.push_str(next);
                            i += 1;
                        }
                        None => break false,
                    }
                };
                if !closed {
                    return Err(DotenvError {
                        line: line_no,
                        message: format!("unterminated quoted value for {name}"),
                    });
                }
                if q == '\'' {
                    body.replace("\\'", "'")
                } else {
                    let unescaped = unescape_double(&body);
                    expand(&unescaped, &vars, env, line_no)?
                }
            }
            (Format::Standard, _) => {
                let value = match raw.find(" #").or_else(|| raw.find("\t#")) {
                    Some(c) => &raw[..c],
                    None => raw,
                };
                expand(value.trim_end(), &vars, env, line_no)?
            }
        };
        vars.retain(|(k, _)| k != name);
        vars.push((name.to_string(), value));
    }
    Ok(vars)
}

fn check_key(name: &str, line: usize) -> Result<(), DotenvError> {
    if name.is_empty() {
        return Err(DotenvError { line, message: "missing variable name".into() });
    }
    if name.contains(char::is_whitespace) {
        return Err(DotenvError { line, message: "key cannot contain a space".into() });
    }
    Ok(())
}

fn closing_quote(body: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in body.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            c if c == quote && !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

fn unescape_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn lookup_in(vars: &[(String, String)], env: &dyn Lookup, name: &str) -> Option<String> {
    vars.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.clone()).or_else(|| env.lookup(name))
}

fn expand(value: &str, vars: &[(String, String)], env: &dyn Lookup, line: usize) -> Result<String, DotenvError> {
    if !value.contains('$') {
        return Ok(value.to_string());
    }
    let lookup = |name: &str| lookup_in(vars, env, name);
    substitute(value, &lookup).map(|s| s.text).map_err(|e| DotenvError {
        line,
        message: match e {
            TemplateError::Invalid => format!("invalid interpolation format in {value:?}"),
            TemplateError::Required { name, message } => {
                format!("required variable {name} is missing a value: {message}")
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn get(text: &str) -> Vec<(String, String)> {
        parse(text, Format::Standard, &no_env).expect("valid dotenv")
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn plain_values_and_inline_comments() {
        assert_eq!(
            get("A=1\nB = 2\nC= my string # comment\nD=1234#5\nE=\n# c\n\nexport F=x\n456 = ABC\n"),
            pairs(&[
                ("A", "1"),
                ("B", "2"),
                ("C", "my string"),
                ("D", "1234#5"),
                ("E", ""),
                ("F", "x"),
                ("456", "ABC")
            ])
        );
    }

    #[test]
    fn quotes() {
        assert_eq!(
            get("A='\\n'\nB=\"\\n\"\nC='Let\\'s go!'\nD = \"echo 'asd'\" # c\nE='first\nsecond'\nF=\"1234#5\"\n"),
            pairs(&[
                ("A", "\\n"),
                ("B", "\n"),
                ("C", "Let's go!"),
                ("D", "echo 'asd'"),
                ("E", "first\nsecond"),
                ("F", "1234#5")
            ])
        );
    }

    #[test]
    fn references_and_inheritance() {
        let env = |n: &str| (n == "OS").then(|| "from_os".to_string());
        let got = parse("A=${OS:-1}\nB=${A}_x\nOS\nMISSING\nC='${A}'\n", Format::Standard, &env).expect("valid");
        assert_eq!(got, pairs(&[("A", "from_os"), ("B", "from_os_x"), ("OS", "from_os"), ("C", "${A}")]));
    }

    #[test]
    fn raw_format_keeps_everything() {
        let got = parse("T='{\"k\": \"v\"}'\n", Format::Raw, &no_env).expect("valid");
        assert_eq!(got, pairs(&[("T", "'{\"k\": \"v\"}'")]));
    }

    #[test]
    fn a_key_with_a_space_names_its_line() {
        let err = parse("# c\nfoo=\"\n a\n\"\nINVALID LINE\n", Format::Standard, &no_env).expect_err("invalid");
        assert_eq!(err, DotenvError { line: 5, message: "key cannot contain a space".into() });
    }
}
