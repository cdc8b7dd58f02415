//! `POST /build`: a build from the tar context in the request, by the engine's builder, its
//! steps as the classic builder's JSON stream (`{"stream": "Step 1/3 : FROM ..."}`), the
//! image's ID as the `aux` message clients read for `-q` and `--iidfile`.

use std::collections::BTreeMap;
use std::time::Duration;

use berth_engine::build::{self, BuildOptions, Progress};
use berth_engine::reference::ImageRef;
use serde_json::json;

use super::http::{ApiError, Call, Reply, Sender, streamed};
use crate::engine;

/// Build parameters Docker defines that berth does not apply: refused when set. (`rm` and
/// `forcerm` are what berth does anyway: it keeps no intermediate containers.)
const UNSUPPORTED: &[&str] = &[
    "cachefrom",
    "cpusetcpus",
    "cpusetmems",
    "cpushares",
    "cpuquota",
    "cpuperiod",
    "memory",
    "memswap",
    "shmsize",
    "squash",
    "ulimits",
    "platform",
    "outputs",
    "remote",
    "isolation",
    "session",
    "buildid",
    "securityopt",
    "cgroupparent",
    "extrahosts",
];

fn json_map(call: &Call, key: &str) -> Result<BTreeMap<String, String>, ApiError> {
    match call.query(key).filter(|v| !v.is_empty()) {
        None => Ok(BTreeMap::new()),
        Some(text) => {
            let map: BTreeMap<String, Option<String>> =
                serde_json::from_str(text).map_err(|e| ApiError::bad(format!("invalid {key}: {e}")))?;
            Ok(map.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect())
        }
    }
}

pub fn build(call: &Call) -> Result<Reply, ApiError> {
    let zero = |v: &str| matches!(v, "" | "0" | "[]" | "{}" | "null" | "false");
    if let Some(key) = UNSUPPORTED.iter().find(|k| call.query(k).is_some_and(|v| !zero(v))) {
        return Err(ApiError::bad(format!("the build option {key} is not supported by berth")));
    }
    if call.query("version").is_some_and(|v| v != "1") {
        return Err(ApiError::bad("berth serves the classic builder's API (version 1), not BuildKit's sessions"));
    }
    let tags = call
        .query
        .all("t")
        .into_iter()
        .filter(|t| !t.is_empty())
        .map(|t| ImageRef::parse(t).map_err(|e| ApiError::bad(format!("invalid tag {t:?}: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    let store = engine::store()?;
    let context = store.root.join("tmp").join(format!("build-{}", berth_engine::container::new_id()));
    std::fs::create_dir_all(&context)
        .map_err(|e| ApiError::new(hyper::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let _remove = RemoveDir(context.clone());
    build::context::unpack(call.upload()?, &context)
        .map_err(|e| ApiError::bad(format!("cannot unpack the build context: {e}")))?;
    let name = call.query("dockerfile").filter(|d| !d.is_empty()).unwrap_or("Dockerfile").to_string();
    let dockerfile = berth_engine::fsutil::InRoot::open(&context)
        .and_then(|root| root.read_to_string(&name, 1 << 20))
        .map_err(|e| ApiError::bad(format!("cannot read the Dockerfile {name} in the context: {e}")))?;
    let opts = BuildOptions {
        context: context.clone(),
        dockerfile,
        dockerfile_name: name,
        tags,
        args: json_map(call, "buildargs")?,
        target: call.query("target").filter(|t| !t.is_empty()).map(str::to_string),
        no_cache: call.flag("nocache"),
        labels: json_map(call, "labels")?,
        network: call.query("networkmode").filter(|n| !n.is_empty() && *n != "default").map(str::to_string),
        pull: call.flag("pull"),
        ..BuildOptions::default()
    };
    let quiet = call.flag("q");
    let exe =
        std::env::current_exe().map_err(|e| ApiError::new(hyper::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(streamed("application/json", move |tx| {
        let _remove = _remove;
        let steps = Steps { tx: &tx, quiet };
        let resolve = crate::commands::build::resolver(&store, opts.pull);
        match build::build(&store, &opts, &exe, &resolve, &steps) {
            Ok(record) => {
                tx.json(&json!({"aux": {"ID": record.id.to_string()}}));
                if quiet {
                    // What a quiet build prints: the image's ID alone.
                    tx.json(&json!({"stream": format!("{}\n", record.id)}));
                } else {
                    tx.json(&json!({"stream": format!("Successfully built {}\n", record.id.short())}));
                    for t in &opts.tags {
                        tx.json(&json!({"stream": format!("Successfully tagged {}\n", t.familiar())}));
                    }
                }
            }
            Err(e) => {
                let message = format!("{:#}", anyhow::Error::new(e));
                tx.json(&json!({"errorDetail": {"message": message}, "error": message}));
            }
        }
    }))
}

struct RemoveDir(std::path::PathBuf);

impl Drop for RemoveDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The builder's steps as the classic builder's stream.
struct Steps<'a> {
    tx: &'a Sender,
    quiet: bool,
}

impl Steps<'_> {
    fn say(&self, text: String) {
        if !self.quiet {
            self.tx.json(&json!({ "stream": text }));
        }
    }
}

impl Progress for Steps<'_> {
    fn step(&self, _stage: &str, number: usize, total: usize, text: &str) {
        self.say(format!("Step {number}/{total} : {text}\n"));
    }

    fn cached(&self) {
        self.say(" ---> Using cache\n".into());
    }

    fn done(&self, took: Duration) {
        self.say(format!(" ---> Done in {:.1}s\n", took.as_secs_f64()));
    }

    fn output(&self, line: &str) {
        self.say(format!("{line}\n"));
    }
}
