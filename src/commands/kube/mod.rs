//! `kube generate`: the project as Kubernetes manifests, one multi-document YAML on standard
//! output or a file per object and a `kustomization.yaml` in a directory; `kube play`: such
//! manifests (or hand-written ones) run here as a project.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use crate::commands::scope::Scope;
use crate::output;

pub mod generate;
mod play;

pub fn generate(
    scope: &Scope,
    services: &[String],
    out: Option<&Path>,
    opts: &generate::Options,
) -> anyhow::Result<ExitCode> {
    if let Some(kind) = opts.service_type.as_deref() {
        if !["ClusterIP", "NodePort", "LoadBalancer"].contains(&kind) {
            anyhow::bail!("invalid --service-type {kind:?}: use ClusterIP, NodePort or LoadBalancer");
        }
    }
    let project = scope.project()?;
    let generated =
        generate::generate(project, services, opts).map_err(|e| anyhow::anyhow!("cannot generate manifests: {e}"))?;
    for w in &generated.warnings {
        output::warn(w);
    }
    let yaml = |o: &serde_json::Value| serde_saphyr::to_string(o).context("cannot render a manifest as YAML");
    match out {
        None => {
            let mut text = String::new();
            for o in &generated.objects {
                text.push_str("---\n");
                text.push_str(&yaml(o)?);
            }
            print!("{text}");
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            let mut resources = Vec::new();
            for o in &generated.objects {
                let kind = o["kind"].as_str().unwrap_or("object").to_lowercase();
                let file = format!("{}-{kind}.yaml", o["metadata"]["name"].as_str().unwrap_or("object"));
                let path = dir.join(&file);
                std::fs::write(&path, yaml(o)?).with_context(|| format!("cannot write {}", path.display()))?;
                resources.push(file);
            }
            let mut kustomization = serde_json::json!({
                "apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", "resources": resources,
            });
            if let Some(ns) = &opts.namespace {
                kustomization["namespace"] = serde_json::json!(ns);
            }
            let path = dir.join("kustomization.yaml");
            std::fs::write(&path, yaml(&kustomization)?).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("Wrote {} manifests and kustomization.yaml in {}", generated.objects.len(), dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `kube play FILE|DIR [--down]`: the manifests as a project named after their namespace,
/// brought up (or, with `--down`, taken away with its volumes).
pub fn play(path: &Path, down: bool) -> anyhow::Result<ExitCode> {
    let mut documents = Vec::new();
    let files: Vec<std::path::PathBuf> = match path.is_dir() {
        true => {
            let mut list: Vec<_> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .filter(|p| p.file_name().is_some_and(|n| n != "kustomization.yaml"))
                .collect();
            list.sort();
            list
        }
        false => vec![path.to_path_buf()],
    };
    for file in &files {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        let docs: Vec<serde_json::Value> =
            serde_saphyr::from_multiple(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        documents.extend(docs);
    }
    let (_, compose) =
        play::compose_of(&documents).map_err(|e| anyhow::anyhow!("cannot play {}: {e}", path.display()))?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let mut options = berth_compose::Options::new(cwd, std::env::vars().collect());
    options.files = vec!["-".into()];
    options.stdin = Some(serde_json::to_string(&compose)?);
    let loaded =
        berth_compose::load(&options).map_err(|d| anyhow::anyhow!("the manifests make no valid project:\n{d}"))?;
    match down {
        true => crate::commands::compose::down_with_volumes(&loaded.project)?,
        false => crate::commands::compose::up_detached(&loaded.project, &[])?,
    }
    Ok(ExitCode::SUCCESS)
}
