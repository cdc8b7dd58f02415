//! Printing `inspect` output: the objects as a JSON array, or each through a `--format`
//! template in the subset of Go's templates that scripts use with Docker (`{{.State.Pid}}`,
//! `{{.Id}}`, `{{json .Config.Env}}`, `{{.}}`).

use anyhow::bail;
use serde_json::Value;

/// Prints `objects` as Docker's `inspect` does: a pretty JSON array, or one rendered
/// `template` per object.
pub fn print(objects: &[Value], template: Option<&str>) -> anyhow::Result<()> {
    match template {
        None => println!("{}", serde_json::to_string_pretty(objects)?),
        Some(t) => {
            for o in objects {
                println!("{}", render(t, o)?);
            }
        }
    }
    Ok(())
}

/// Renders `template` against `object`: text outside `{{ }}` is kept, each action is a field
/// path (`.A.B`), or `json` and a path.
pub fn render(template: &str, object: &Value) -> anyhow::Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find("}}") else { bail!("template {template:?}: unclosed action") };
        let action = rest[start + 2..start + len].trim().trim_start_matches('-').trim_end_matches('-').trim();
        let (json, path) = match action.strip_prefix("json ") {
            Some(path) => (true, path.trim()),
            None => (false, action),
        };
        let value = lookup(object, path).ok_or_else(|| anyhow::anyhow!("template {template:?}: no field {path}"))?;
        match value {
            _ if json => out.push_str(&serde_json::to_string(value)?),
            Value::String(s) => out.push_str(s),
            Value::Null => out.push_str("<no value>"),
            Value::Number(_) | Value::Bool(_) => out.push_str(&value.to_string()),
            Value::Array(_) | Value::Object(_) => out.push_str(&serde_json::to_string(value)?),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value at a field path such as `.State.Health.Status`; `.` is the object itself. A field
/// missing from an object is null, as Go prints it; a path that is not a field is an error.
fn lookup<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let fields = path.strip_prefix('.')?;
    let mut value = object;
    for field in fields.split('.').filter(|f| !f.is_empty()) {
        value = match value {
            Value::Object(map) => map.get(field).unwrap_or(&Value::Null),
            _ => return None,
        };
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_json_and_text() {
        let o = serde_json::json!({"Id": "abc", "State": {"Pid": 42, "Running": true}, "Config": {"Env": ["A=1"]}});
        assert_eq!(render("{{.Id}}", &o).expect("renders"), "abc");
        assert_eq!(render("pid={{ .State.Pid }} up={{.State.Running}}", &o).expect("renders"), "pid=42 up=true");
        assert_eq!(render("{{json .Config.Env}}", &o).expect("renders"), r#"["A=1"]"#);
        assert_eq!(render("{{.State.Health}}", &o).expect("renders"), "<no value>");
        assert!(render("{{.Id.Short}}", &o).is_err(), "a string has no fields");
        assert!(render("{{.Id", &o).is_err());
        assert!(render("{{Id}}", &o).is_err(), "a path starts with a dot");
    }
}
