//! `--format` as Docker reads it: `table` (the command's default columns), `table TEMPLATE`
//! (a header row, then a row per object, aligned as Go's tabwriter aligns them), `json` (one
//! object per line) or any other Go template, executed once per object. Templates are Go's
//! text/template (the gotmpl crate) with the functions Docker adds: `json`, `split`, `join`,
//! `title`, `lower`, `upper`, `pad` and `truncate`.
//!
//! Each listing describes its rows as JSON objects with Docker's field names (what `--format
//! json` prints) and names the header of each field; the default table is a template over the
//! same rows, as Docker's is.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use gotmpl::{MissingKey, Template, Value};
use serde_json::Value as Json;

/// What a listing prints, parsed from its `--format`.
pub enum Format {
    /// A header, then a row per object.
    Table(Template),
    /// One JSON object per line.
    Json,
    /// The template once per object, each followed by a newline.
    Raw(Template),
}

/// A listing's columns: its default table and the header of each field.
pub struct Columns {
    /// The default `table ...` template.
    pub default: &'static str,
    /// Field -> header, as Docker names them (`ID` -> `CONTAINER ID`).
    pub headers: &'static [(&'static str, &'static str)],
}

impl Format {
    /// Reads `--format`: none or `table` is the listing's default table.
    pub fn parse(format: Option<&str>, columns: &Columns) -> anyhow::Result<Format> {
        let text = format.unwrap_or("table");
        if text == "json" {
            return Ok(Format::Json);
        }
        let table = |t: &str| -> anyhow::Result<Format> { Ok(Format::Table(parse(&unescape(t), MissingKey::Error)?)) };
        match text.strip_prefix("table") {
            Some("") => table(columns.default.trim_start_matches("table").trim_start()),
            Some(rest) if rest.starts_with(char::is_whitespace) => table(rest.trim_start()),
            _ => Ok(Format::Raw(parse(&unescape(text), MissingKey::Error)?)),
        }
    }

    /// Prints `rows` (JSON objects) in this format.
    pub fn print(&self, rows: &[Json], columns: &Columns) -> anyhow::Result<()> {
        print!("{}", self.render(rows, columns)?);
        Ok(())
    }

    /// The text [`Format::print`] prints.
    pub fn render(&self, rows: &[Json], columns: &Columns) -> anyhow::Result<String> {
        let mut out = String::new();
        match self {
            Format::Json => {
                for row in rows {
                    out.push_str(&serde_json::to_string(&public(row))?);
                    out.push('\n');
                }
            }
            Format::Raw(t) => {
                for row in rows {
                    out.push_str(&execute(t, row)?);
                    out.push('\n');
                }
            }
            Format::Table(t) => {
                let mut lines = vec![execute(t, &header_row(rows, columns))?];
                for row in rows {
                    lines.push(execute(t, row)?);
                }
                out = tabwriter(&lines.join("\n"));
            }
        }
        Ok(out)
    }
}

/// A template for single objects, as `inspect --format` takes one: a field an object lacks
/// prints `<no value>`, as a missing key of a Go map does.
pub struct ObjectTemplate(Template);

impl ObjectTemplate {
    pub fn parse(template: &str) -> anyhow::Result<ObjectTemplate> {
        Ok(ObjectTemplate(parse(&unescape(template), MissingKey::Invalid)?))
    }

    pub fn render(&self, object: &Json) -> anyhow::Result<String> {
        execute(&self.0, object)
    }
}

/// Renders `template` against one object (see [`ObjectTemplate`]).
pub fn render(template: &str, object: &Json) -> anyhow::Result<String> {
    ObjectTemplate::parse(template)?.render(object)
}

/// The header row: every field's header, and for a field the listing does not name, the
/// field's name in capitals.
fn header_row(rows: &[Json], columns: &Columns) -> Json {
    let mut header = serde_json::Map::new();
    if let Some(Json::Object(first)) = rows.first() {
        for key in first.keys() {
            header.insert(key.clone(), Json::String(key.to_uppercase()));
        }
    }
    for (field, name) in columns.headers {
        header.insert(field.to_string(), Json::String(name.to_string()));
    }
    Json::Object(header)
}

/// Docker's shells pass `\t` and `\n` literally; its CLI turns them into a tab and a newline.
fn unescape(template: &str) -> String {
    template.replace("\\t", "\t").replace("\\n", "\n")
}

/// The field of a row that holds its labels for `.Label "KEY"`: only templates see it.
const LABELS: &str = "__labels";

/// Whether a row's field is one only templates use, no field of Docker's.
fn hidden(field: &str) -> bool {
    field.starts_with("__")
}

/// Labels as Docker's listings show them: `a=b,c=d`.
pub fn labels_text(labels: &BTreeMap<String, String>) -> String {
    labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// A row's labels for `.Label "KEY"`, added last to the row.
pub fn with_label_method(mut row: Json, labels: &BTreeMap<String, String>) -> Json {
    row[LABELS] = serde_json::json!(labels);
    row
}

/// A row without the fields only templates use.
fn public(row: &Json) -> Json {
    match row {
        Json::Object(map) => {
            Json::Object(map.iter().filter(|(k, _)| !hidden(k)).map(|(k, v)| (k.clone(), v.clone())).collect())
        }
        other => other.clone(),
    }
}

/// Docker's rows have a method, `.Label "KEY"`; Go templates here reach only fields, so it is
/// read as the function `label`, over the row's labels ([`LABELS`]).
fn methods(text: &str) -> String {
    static LABEL: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = LABEL.get_or_init(|| regex::Regex::new(r#"\.Label\s+("(?:[^"\\]|\\.)*")"#).expect("the pattern is valid"));
    re.replace_all(text, "label . $1").into_owned()
}

fn parse(text: &str, missing: MissingKey) -> anyhow::Result<Template> {
    let text = &methods(text);
    let mut t = Template::new("").missing_key(missing);
    for (name, f) in functions() {
        t = t.func(name, f);
    }
    t.parse(text).with_context(|| format!("template parsing error: {text:?}"))
}

fn execute(template: &Template, object: &Json) -> anyhow::Result<String> {
    let data = value(object);
    let out = template.execute_to_string(&data).map_err(|e| anyhow::anyhow!("template: {e}"));
    KEY_ORDER.with(|o| o.borrow_mut().clear());
    out
}

thread_local! {
    /// The key order of each object handed to the running template, by the address of its
    /// map: a template's maps are sorted, but `json` writes an object's keys in the order
    /// Docker's structs declare them, as they came.
    static KEY_ORDER: std::cell::RefCell<std::collections::HashMap<usize, Vec<Arc<str>>>> = Default::default();
}

/// A JSON value as a template value, objects' key order noted for `json`.
fn value(json: &Json) -> Value {
    match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::Int(i),
            (None, Some(u)) => Value::Uint(u),
            _ => Value::Float(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Value::String(Arc::from(s.as_str())),
        Json::Array(items) => Value::List(items.iter().map(value).collect()),
        Json::Object(map) => {
            let keys: Vec<Arc<str>> = map.keys().map(|k| Arc::from(k.as_str())).collect();
            let sorted: BTreeMap<Arc<str>, Value> = keys.iter().cloned().zip(map.values().map(value)).collect();
            let sorted = Arc::new(sorted);
            KEY_ORDER.with(|o| o.borrow_mut().insert(Arc::as_ptr(&sorted) as usize, keys));
            Value::Map(sorted)
        }
    }
}

type Func = Box<dyn Fn(&[Value]) -> gotmpl::Result<Value> + Send + Sync>;

/// The functions Docker's templates have beyond Go's (docker/cli `templates.basicFunctions`).
fn functions() -> Vec<(&'static str, Func)> {
    fn text(v: &Value) -> String {
        v.to_string()
    }
    fn string(s: String) -> Value {
        Value::String(Arc::from(s))
    }
    fn arg<'a>(name: &str, args: &'a [Value], i: usize) -> gotmpl::Result<&'a Value> {
        args.get(i).ok_or_else(|| gotmpl::TemplateError::Exec(format!("{name}: missing argument {}", i + 1)))
    }
    fn number(name: &str, args: &[Value], i: usize) -> gotmpl::Result<usize> {
        let v = arg(name, args, i)?;
        v.as_int()
            .and_then(|n| usize::try_from(n).ok())
            .or_else(|| if let Value::Uint(n) = v { usize::try_from(*n).ok() } else { None })
            .ok_or_else(|| gotmpl::TemplateError::Exec(format!("{name}: argument {} is not a count", i + 1)))
    }
    vec![
        ("json", Box::new(|args: &[Value]| Ok(string(to_json(arg("json", args, 0)?))))),
        (
            "split",
            Box::new(|args: &[Value]| {
                let (s, sep) = (text(arg("split", args, 0)?), text(arg("split", args, 1)?));
                Ok(Value::List(s.split(sep.as_str()).map(|p| string(p.to_string())).collect()))
            }),
        ),
        (
            "join",
            Box::new(|args: &[Value]| {
                let sep = text(arg("join", args, 1)?);
                match arg("join", args, 0)? {
                    Value::List(items) => Ok(string(items.iter().map(text).collect::<Vec<_>>().join(&sep))),
                    Value::Nil => Ok(string(String::new())),
                    other => Ok(string(text(other))),
                }
            }),
        ),
        ("title", Box::new(|args: &[Value]| Ok(string(title(&text(arg("title", args, 0)?)))))),
        ("lower", Box::new(|args: &[Value]| Ok(string(text(arg("lower", args, 0)?).to_lowercase())))),
        ("upper", Box::new(|args: &[Value]| Ok(string(text(arg("upper", args, 0)?).to_uppercase())))),
        (
            "pad",
            Box::new(|args: &[Value]| {
                let s = text(arg("pad", args, 0)?);
                let (before, after) = (number("pad", args, 1)?, number("pad", args, 2)?);
                Ok(string(format!("{}{s}{}", " ".repeat(before), " ".repeat(after))))
            }),
        ),
        (
            "label",
            Box::new(|args: &[Value]| {
                let key = text(arg("label", args, 1)?);
                let Value::Map(row) = arg("label", args, 0)? else { return Ok(string(String::new())) };
                Ok(string(match row.get(LABELS) {
                    Some(Value::Map(labels)) => labels.get(key.as_str()).map_or(String::new(), text),
                    // The header row has the field's header in its place: Docker heads the
                    // column LABEL.
                    Some(Value::String(_)) => "LABEL".to_string(),
                    _ => String::new(),
                }))
            }),
        ),
        (
            "truncate",
            Box::new(|args: &[Value]| {
                let s = text(arg("truncate", args, 0)?);
                let n = number("truncate", args, 1)?;
                Ok(string(s.chars().take(n).collect()))
            }),
        ),
    ]
}

/// `json`: the value as Go's encoder writes it (no HTML escaping, no trailing newline).
fn to_json(v: &Value) -> String {
    fn plain(v: &Value) -> Json {
        match v {
            Value::Nil => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(n) => Json::from(*n),
            Value::Uint(n) => Json::from(*n),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Value::String(s) => Json::String(s.to_string()),
            Value::List(items) => Json::Array(items.iter().map(plain).collect()),
            Value::Map(m) => {
                let order = KEY_ORDER.with(|o| o.borrow().get(&(Arc::as_ptr(m) as usize)).cloned());
                let keys: Vec<Arc<str>> = order.unwrap_or_else(|| m.keys().cloned().collect());
                let public = keys.iter().filter(|k| !hidden(k));
                Json::Object(public.filter_map(|k| Some((k.to_string(), plain(m.get(k)?)))).collect())
            }
            _ => Json::Null,
        }
    }
    serde_json::to_string(&plain(v)).unwrap_or_default()
}

/// Go's `strings.Title`: the first letter of every word in capitals.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut start = true;
    for c in s.chars() {
        if start && c.is_alphanumeric() {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        start = !(c.is_alphanumeric() || c == '_' || c == '\'');
    }
    out
}

/// Aligns tab-separated cells as Docker's tables do (Go's tabwriter with a minimum width of
/// 10 and a padding of 3): a cell ended by a tab is padded, the last one of a line is not.
pub fn tabwriter(text: &str) -> String {
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    let columns = lines.iter().map(|l| l.len().saturating_sub(1)).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            let widest = lines.iter().filter(|l| c + 1 < l.len()).map(|l| l[c].chars().count()).max().unwrap_or(0);
            (widest + 3).max(10)
        })
        .collect();
    let mut out = String::new();
    for line in &lines {
        for (c, cell) in line.iter().enumerate() {
            if c + 1 < line.len() {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[c] - cell.chars().count()));
            } else {
                out.push_str(cell);
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
