//! The Dockerfile parser: parser directives (`# escape`, `# syntax`), comments, line
//! continuations, heredocs, and each instruction into its typed form. Variables are not
//! expanded here (that needs the build's state); [`expand`] does it when a step runs.
//! Pure: every rule is a unit test.

/// A syntax error, with the line it is on (1-based).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

fn err(line: usize, message: impl Into<String>) -> ParseError {
    ParseError { line, message: message.into() }
}

/// A command in shell form (run with the stage's SHELL) or exec form (a JSON array).
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Health {
    /// `None`: `HEALTHCHECK NONE`.
    pub test: Option<Command>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub start_period: Option<String>,
    pub start_interval: Option<String>,
    pub retries: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Instruction {
    Run(Command),
    /// COPY, or ADD when `add` (which also unpacks local tar archives).
    Copy {
        sources: Vec<String>,
        dest: String,
        from: Option<String>,
        chown: Option<String>,
        chmod: Option<String>,
        add: bool,
        /// Heredoc files (`COPY <<EOF /dest`): name and content.
        inline: Vec<(String, String)>,
    },
    Env(Vec<(String, String)>),
    Arg(Vec<(String, Option<String>)>),
    Workdir(String),
    User(String),
    Cmd(Command),
    Entrypoint(Command),
    Expose(Vec<String>),
    Label(Vec<(String, String)>),
    Volume(Vec<String>),
    Healthcheck(Health),
    Shell(Vec<String>),
    StopSignal(String),
    OnBuild(String),
    Maintainer(String),
}

/// One instruction and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub line: usize,
    /// The instruction as written (continuations joined), for progress and the cache key.
    pub text: String,
    pub instruction: Instruction,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub line: usize,
    /// The image (or earlier stage) it starts from, variables unexpanded; `scratch` for none.
    pub base: String,
    pub name: Option<String>,
    pub platform: Option<String>,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dockerfile {
    /// The ARGs before the first FROM, usable in FROM lines.
    pub args: Vec<(String, Option<String>)>,
    pub stages: Vec<Stage>,
}

/// A logical line: an instruction with its arguments, and heredoc bodies that followed it.
struct Logical {
    line: usize,
    keyword: String,
    args: String,
    heredocs: Vec<(String, String)>,
}

pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    let mut escape = '\\';
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    // Parser directives: `# key=value` lines at the very top.
    while i < lines.len() {
        let Some(rest) = lines[i].trim().strip_prefix('#') else { break };
        let Some((key, value)) = rest.split_once('=') else { break };
        match key.trim().to_ascii_lowercase().as_str() {
            "escape" => {
                escape = match value.trim() {
                    "`" => '`',
                    "\\" => '\\',
                    other => return Err(err(i + 1, format!("invalid escape directive {other:?}: use \\ or `"))),
                }
            }
            "syntax" | "check" => {}
            _ => break,
        }
        i += 1;
    }
    let mut logical = Vec::new();
    while i < lines.len() {
        let start = i;
        let first = lines[i].trim_start();
        i += 1;
        if first.is_empty() || first.starts_with('#') {
            continue;
        }
        let mut joined = String::new();
        let mut current = first.trim_end().to_string();
        loop {
            if let Some(stripped) = current.strip_suffix(escape) {
                joined.push_str(stripped);
                // The next physical line continues this one; comment lines in between are dropped.
                while i < lines.len() && lines[i].trim_start().starts_with('#') {
                    i += 1;
                }
                if i >= lines.len() {
                    break;
                }
                current = lines[i].trim_end().to_string();
                i += 1;
            } else {
                joined.push_str(&current);
                break;
            }
        }
        let (keyword, args) = match joined.split_once(char::is_whitespace) {
            Some((k, a)) => (k.to_ascii_uppercase(), a.trim().to_string()),
            None => (joined.to_ascii_uppercase(), String::new()),
        };
        // Heredocs (`<<EOF`, `<<-EOF`, `<<"EOF"`): the following lines up to the terminator.
        let mut heredocs = Vec::new();
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            for word in args.split_whitespace().filter_map(|w| w.strip_prefix("<<")) {
                let strip_tabs = word.starts_with('-');
                let name = word.trim_start_matches('-').trim_matches(|c| c == '"' || c == '\'').to_string();
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    continue;
                }
                let mut body = String::new();
                loop {
                    let Some(l) = lines.get(i) else {
                        return Err(err(start + 1, format!("heredoc {name} is not terminated")));
                    };
                    i += 1;
                    let l = if strip_tabs { l.trim_start_matches('\t') } else { l };
                    if l == name {
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                heredocs.push((name, body));
            }
        }
        logical.push(Logical { line: start + 1, keyword, args, heredocs });
    }
    build_stages(logical)
}

fn build_stages(logical: Vec<Logical>) -> Result<Dockerfile, ParseError> {
    let mut file = Dockerfile::default();
    for l in logical {
        let line = l.line;
        if l.keyword == "FROM" {
            let mut words: Vec<&str> = l.args.split_whitespace().collect();
            let mut platform = None;
            while let Some(flag) = words.first().and_then(|w| w.strip_prefix("--")) {
                match flag.split_once('=') {
                    Some(("platform", p)) => platform = Some(p.to_string()),
                    _ => return Err(err(line, format!("FROM: unknown flag --{flag}"))),
                }
                words.remove(0);
            }
            let (base, name) = match words.as_slice() {
                [base] => (base.to_string(), None),
                [base, as_, name] if as_.eq_ignore_ascii_case("as") => (base.to_string(), Some(name.to_lowercase())),
                _ => return Err(err(line, "FROM takes an image and optionally AS name")),
            };
            file.stages.push(Stage { line, base, name, platform, steps: Vec::new() });
            continue;
        }
        let text = format!("{} {}", l.keyword, l.args);
        let instruction = instruction(&l)?;
        match file.stages.last_mut() {
            Some(stage) => stage.steps.push(Step { line, text, instruction }),
            None => match instruction {
                Instruction::Arg(args) => file.args.extend(args),
                _ => return Err(err(line, format!("{} before the first FROM (only ARG may come first)", l.keyword))),
            },
        }
    }
    if file.stages.is_empty() {
        return Err(err(1, "no FROM instruction: there is nothing to build"));
    }
    Ok(file)
}

fn instruction(l: &Logical) -> Result<Instruction, ParseError> {
    let (line, args) = (l.line, l.args.as_str());
    let need =
        |what: &str| if args.is_empty() { Err(err(line, format!("{} needs {what}", l.keyword))) } else { Ok(()) };
    Ok(match l.keyword.as_str() {
        "RUN" => {
            need("a command")?;
            let (_, rest) = flags(args);
            match l.heredocs.first() {
                // `RUN <<EOF` runs the heredoc's body as the script.
                Some((_, body)) if rest.trim_start().starts_with("<<") => {
                    Instruction::Run(Command::Shell(body.clone()))
                }
                _ => Instruction::Run(command(rest)),
            }
        }
        "COPY" | "ADD" => {
            let (flags, rest) = flags(args);
            let mut words = match exec_form(rest) {
                Some(w) => w,
                None => words(rest),
            };
            let inline: Vec<(String, String)> = l.heredocs.clone();
            words.retain(|w| !w.starts_with("<<"));
            if words.is_empty() || (words.len() < 2 && inline.is_empty()) {
                return Err(err(line, format!("{} needs a source and a destination", l.keyword)));
            }
            let dest = words.pop().unwrap_or_default();
            let mut from = None;
            let mut chown = None;
            let mut chmod = None;
            for (k, v) in flags {
                match k.as_str() {
                    "from" => from = Some(v),
                    "chown" => chown = Some(v),
                    "chmod" => chmod = Some(v),
                    "link" | "parents" | "exclude" | "checksum" | "keep-git-dir" => {}
                    other => return Err(err(line, format!("{}: unknown flag --{other}", l.keyword))),
                }
            }
            Instruction::Copy { sources: words, dest, from, chown, chmod, add: l.keyword == "ADD", inline }
        }
        "ENV" => {
            need("a name and a value")?;
            Instruction::Env(pairs(line, args, true)?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect())
        }
        "LABEL" => {
            need("a key and a value")?;
            Instruction::Label(pairs(line, args, false)?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect())
        }
        "ARG" => {
            need("a name")?;
            Instruction::Arg(pairs(line, args, false)?)
        }
        "WORKDIR" => {
            need("a directory")?;
            Instruction::Workdir(args.to_string())
        }
        "USER" => {
            need("a user")?;
            Instruction::User(args.to_string())
        }
        "CMD" => Instruction::Cmd(command(args)),
        "ENTRYPOINT" => Instruction::Entrypoint(command(args)),
        "EXPOSE" => Instruction::Expose(words(args)),
        "VOLUME" => Instruction::Volume(exec_form(args).unwrap_or_else(|| words(args))),
        "SHELL" => Instruction::Shell(
            exec_form(args).ok_or_else(|| err(line, "SHELL takes a JSON array, like [\"/bin/sh\", \"-c\"]"))?,
        ),
        "STOPSIGNAL" => {
            need("a signal")?;
            Instruction::StopSignal(args.to_string())
        }
        "ONBUILD" => {
            need("an instruction")?;
            Instruction::OnBuild(args.to_string())
        }
        "MAINTAINER" => Instruction::Maintainer(args.to_string()),
        "HEALTHCHECK" => Instruction::Healthcheck(healthcheck(line, args)?),
        other => return Err(err(line, format!("unknown instruction {other}"))),
    })
}

/// Leading `--name=value` flags, and the rest.
fn flags(args: &str) -> (Vec<(String, String)>, &str) {
    let mut found = Vec::new();
    let mut rest = args.trim_start();
    while let Some(flag) = rest.strip_prefix("--") {
        let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
        let (k, v) = flag[..end].split_once('=').unwrap_or((&flag[..end], ""));
        found.push((k.to_string(), v.to_string()));
        rest = flag[end..].trim_start();
    }
    (found, rest)
}

fn exec_form(args: &str) -> Option<Vec<String>> {
    let t = args.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

fn command(args: &str) -> Command {
    match exec_form(args) {
        Some(v) => Command::Exec(v),
        None => Command::Shell(args.trim().to_string()),
    }
}

/// Whitespace-separated words, quotes removed.
fn words(args: &str) -> Vec<String> {
    tokens(args).into_iter().map(|(w, _)| w).collect()
}

/// Words with quote removal; each with whether it held an unquoted `=` (and where).
fn tokens(args: &str) -> Vec<(String, Option<usize>)> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut eq = None;
    let mut quote: Option<char> = None;
    let mut started = false;
    let mut chars = args.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if started {
                    out.push((std::mem::take(&mut word), eq.take()));
                    started = false;
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => word.push(c),
            (_, '\\') => {
                if let Some(next) = chars.next() {
                    word.push(next);
                }
                started = true;
            }
            (None, '=') => {
                if eq.is_none() {
                    eq = Some(word.len());
                }
                word.push('=');
                started = true;
            }
            (_, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push((word, eq));
    }
    out
}

/// `KEY=VALUE ...` (or, with `legacy`, `KEY VALUE` with the rest as the value, as ENV allows).
fn pairs(line: usize, args: &str, legacy: bool) -> Result<Vec<(String, Option<String>)>, ParseError> {
    let toks = tokens(args);
    if legacy && toks.first().is_some_and(|(_, eq)| eq.is_none()) {
        let (key, rest) = args.trim().split_once(char::is_whitespace).unwrap_or((args.trim(), ""));
        return Ok(vec![(key.to_string(), Some(words(rest).join(" ")))]);
    }
    toks.into_iter()
        .map(|(w, eq)| match eq {
            Some(at) if at > 0 => Ok((w[..at].to_string(), Some(w[at + 1..].to_string()))),
            Some(_) => Err(err(line, format!("{w:?} has no name before ="))),
            None => Ok((w, None)),
        })
        .collect()
}

fn healthcheck(line: usize, args: &str) -> Result<Health, ParseError> {
    if args.trim().eq_ignore_ascii_case("none") {
        return Ok(Health::default());
    }
    let (flags, rest) = flags(args);
    let mut h = Health::default();
    for (k, v) in flags {
        match k.as_str() {
            "interval" => h.interval = Some(v),
            "timeout" => h.timeout = Some(v),
            "start-period" => h.start_period = Some(v),
            "start-interval" => h.start_interval = Some(v),
            "retries" => h.retries = Some(v.parse().map_err(|_| err(line, format!("invalid --retries {v:?}")))?),
            other => return Err(err(line, format!("HEALTHCHECK: unknown flag --{other}"))),
        }
    }
    let (cmd, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    if !cmd.eq_ignore_ascii_case("cmd") || rest.trim().is_empty() {
        return Err(err(line, "HEALTHCHECK takes NONE, or [flags] CMD command"));
    }
    h.test = Some(command(rest));
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Instruction {
        let file = parse(&format!("FROM scratch\n{text}\n")).expect("parses");
        file.stages[0].steps[0].instruction.clone()
    }

    #[test]
    fn stages_args_and_names() {
        let f = parse("ARG BASE=busybox\nFROM --platform=linux/amd64 $BASE AS Build\nRUN true\nFROM scratch\nCOPY --from=build /x /x\n")
            .expect("parses");
        assert_eq!(f.args, vec![("BASE".to_string(), Some("busybox".to_string()))]);
        assert_eq!(f.stages[0].name.as_deref(), Some("build"));
        assert_eq!(f.stages[0].platform.as_deref(), Some("linux/amd64"));
        assert_eq!(f.stages[1].base, "scratch");
        assert!(matches!(&f.stages[1].steps[0].instruction, Instruction::Copy { from: Some(s), .. } if s == "build"));
    }

    #[test]
    fn continuations_comments_and_escape_directive() {
        let f = parse("FROM scratch\nRUN echo a \\\n# a comment inside\n  && echo b\n\n# a comment\nCMD [\"sh\"]\n")
            .expect("parses");
        assert_eq!(f.stages[0].steps[0].instruction, Instruction::Run(Command::Shell("echo a   && echo b".into())));
        assert_eq!(f.stages[0].steps[0].line, 2);
        assert_eq!(f.stages[0].steps[1].instruction, Instruction::Cmd(Command::Exec(vec!["sh".into()])));
        let f = parse("# escape=`\nFROM scratch\nRUN dir C:\\ `\n  /w\n").expect("parses");
        assert_eq!(f.stages[0].steps[0].instruction, Instruction::Run(Command::Shell("dir C:\\   /w".into())));
    }

    #[test]
    fn heredocs() {
        let f =
            parse("FROM scratch\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<-CONF /etc/app.conf\n\tkey=value\nCONF\n")
                .expect("parses");
        assert_eq!(f.stages[0].steps[0].instruction, Instruction::Run(Command::Shell("echo one\necho two\n".into())));
        match &f.stages[0].steps[1].instruction {
            Instruction::Copy { sources, dest, inline, .. } => {
                assert!(sources.is_empty());
                assert_eq!(dest, "/etc/app.conf");
                assert_eq!(inline, &vec![("CONF".to_string(), "key=value\n".to_string())]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(parse("FROM scratch\nRUN <<EOF\nno end\n").expect_err("unterminated").line, 2);
    }

    #[test]
    fn env_label_arg_forms() {
        assert_eq!(
            one("ENV A=1 B=\"two words\" C=x\\ y"),
            Instruction::Env(vec![
                ("A".into(), "1".into()),
                ("B".into(), "two words".into()),
                ("C".into(), "x y".into())
            ])
        );
        assert_eq!(one("ENV LEGACY some value"), Instruction::Env(vec![("LEGACY".into(), "some value".into())]));
        assert_eq!(one("LABEL org.x=\"a b\""), Instruction::Label(vec![("org.x".into(), "a b".into())]));
        assert_eq!(one("ARG V=1 W"), Instruction::Arg(vec![("V".into(), Some("1".into())), ("W".into(), None)]));
    }

    #[test]
    fn copy_flags_and_healthcheck() {
        assert_eq!(
            one("COPY --chown=1:2 --chmod=640 a b /dst/"),
            Instruction::Copy {
                sources: vec!["a".into(), "b".into()],
                dest: "/dst/".into(),
                from: None,
                chown: Some("1:2".into()),
                chmod: Some("640".into()),
                add: false,
                inline: vec![],
            }
        );
        assert_eq!(
            one("HEALTHCHECK --interval=5s --retries=3 CMD wget -q localhost"),
            Instruction::Healthcheck(Health {
                test: Some(Command::Shell("wget -q localhost".into())),
                interval: Some("5s".into()),
                retries: Some(3),
                ..Health::default()
            })
        );
        assert_eq!(one("HEALTHCHECK NONE"), Instruction::Healthcheck(Health::default()));
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(
            parse("FROM scratch\n\nFROBNICATE x\n").expect_err("unknown"),
            err(3, "unknown instruction FROBNICATE")
        );
        assert_eq!(parse("RUN true\n").expect_err("no FROM").line, 1);
        assert!(parse("# just a comment\n").is_err());
        assert_eq!(parse("FROM scratch\nCOPY onlyone\n").expect_err("copy").line, 2);
        assert_eq!(parse("FROM scratch\nSHELL sh -c\n").expect_err("shell").line, 2);
    }
}
