//! The analysis models `earshot` runs with: those built into the binary (every `models/*.esm`
//! at the repository root when it was built) and a workspace's own `DIR/models/*.esm`, which
//! replace a built-in model of the same task and language.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use earshot_analysis::{Analyzer, Model};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_models.rs"));
}

/// Where a workspace keeps models that override the built-in ones.
pub const WORKSPACE_MODELS_DIR: &str = "models";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    Embedded,
    Workspace,
}

impl ModelSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ModelSource::Embedded => "embedded",
            ModelSource::Workspace => "workspace",
        }
    }
}

/// One model in use, for `earshot model list`.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub task: String,
    pub lang: Option<String>,
    pub labels: Vec<String>,
    pub source: ModelSource,
    /// The file name (embedded) or path (workspace).
    pub name: String,
    pub size: usize,
}

pub struct LoadedModels {
    pub analyzer: Analyzer,
    pub models: Vec<ModelInfo>,
}

/// Loads the built-in models, then the workspace's (when `workspace_dir` has a `models`
/// folder), a workspace model replacing a built-in one of the same task and language.
pub fn load(workspace_dir: Option<&Path>) -> Result<LoadedModels> {
    let loaded = collect(workspace_dir)?;
    let models: Vec<ModelInfo> = loaded.iter().map(|(_, info)| info.clone()).collect();
    let analyzer = Analyzer::from_models(
        loaded
            .into_iter()
            .map(|(model, info)| (model, info.name))
            .collect(),
    )?;
    Ok(LoadedModels { analyzer, models })
}

/// The models in use, each with where it comes from.
pub fn collect(workspace_dir: Option<&Path>) -> Result<Vec<(Model, ModelInfo)>> {
    let mut loaded: Vec<(Model, ModelInfo)> = Vec::new();
    for (name, bytes) in embedded::EMBEDDED_MODELS {
        let model = Model::from_bytes(bytes, Path::new(name))
            .with_context(|| format!("the built-in model {name} is damaged"))?;
        let info = info(&model, ModelSource::Embedded, name.to_string(), bytes.len());
        loaded.push((model, info));
    }
    if let Some(dir) = workspace_dir.map(|d| d.join(WORKSPACE_MODELS_DIR)) {
        for path in workspace_model_files(&dir)? {
            let bytes =
                std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let model = Model::from_bytes(&bytes, &path)?;
            let info = info(
                &model,
                ModelSource::Workspace,
                path.display().to_string(),
                bytes.len(),
            );
            loaded.retain(|(existing, existing_info)| {
                existing_info.source == ModelSource::Workspace
                    || existing.task() != model.task()
                    || existing.lang() != model.lang()
            });
            loaded.push((model, info));
        }
    }
    Ok(loaded)
}

/// Like [`load`], warning on stderr when there is no model at all (intent rules only).
pub fn load_for_analysis(workspace_dir: Option<&Path>) -> Result<Analyzer> {
    let loaded = load(workspace_dir)?;
    if loaded.models.is_empty() {
        eprintln!(
            "warning: no trained models are built in or in the workspace's models/ folder: \
             sentiment, offensive and spam are left empty and intents come from rules only \
             (see docs/MODELS.md to train them)"
        );
    }
    Ok(loaded.analyzer)
}

fn workspace_model_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "esm") && path.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn info(model: &Model, source: ModelSource, name: String, size: usize) -> ModelInfo {
    ModelInfo {
        task: model.task().to_owned(),
        lang: model.lang().map(str::to_owned),
        labels: model.labels().to_vec(),
        source,
        name,
        size,
    }
}
