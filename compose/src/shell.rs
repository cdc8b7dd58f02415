//! Shell-like word splitting for the string forms of `command`, `entrypoint` and friends,
//! following POSIX quoting (what Docker Compose's shellwords does).

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unterminated quote in {0:?}")]
pub struct SplitError(pub String);

pub fn split(input: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = input.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return Err(SplitError(input.to_string())),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => word.push(ch),
                            Some(ch) => {
                                word.push('\\');
                                word.push(ch);
                            }
                            None => return Err(SplitError(input.to_string())),
                        },
                        Some(ch) => word.push(ch),
                        None => return Err(SplitError(input.to_string())),
                    }
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(split("bundle exec thin -p 3000").expect("ok"), ["bundle", "exec", "thin", "-p", "3000"]);
        assert_eq!(split(r#"sh -c "echo $$X 'a'""#).expect("ok"), ["sh", "-c", "echo $$X 'a'"]);
        assert_eq!(split(r"a\ b 'c d' e''").expect("ok"), ["a b", "c d", "e"]);
        assert!(split("echo 'oops").is_err());
    }
}
