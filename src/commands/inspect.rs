//! Printing `inspect` output: the objects as a JSON array, or each through a `--format` Go
//! template (`{{.State.Pid}}`, `{{json .Config.Env}}`, `{{range .Mounts}}...{{end}}`).

use serde_json::Value;

/// Prints `objects` as Docker's `inspect` does: a pretty JSON array, or one rendered
/// `template` per object.
pub fn print(objects: &[Value], template: Option<&str>) -> anyhow::Result<()> {
    match template {
        None => println!("{}", serde_json::to_string_pretty(objects)?),
        Some(t) => {
            let template = crate::format::ObjectTemplate::parse(t)?;
            for o in objects {
                println!("{}", template.render(o)?);
            }
        }
    }
    Ok(())
}
