//! The preset's schema: what a user writes (data, training settings, models, stages,
//! ensembles), the defaults serde fills in, and what a resolved preset says of itself.

use super::settings::{Optimizer, Schedule, TrainSettings};
use super::steering::SteeringSection;
use crate::data::registry::{self, Selected};
use crate::data::{Augment, DataOptions, DataSource, DataSpec, OptionProblem};
use crate::model::ModelSpec;
use crate::train::methods::{Method, Valid};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A whole preset, as written (defaults filled in by serde).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub(crate) data: DataSection,
    #[serde(default)]
    pub(crate) train: TrainSettings,
    pub(crate) models: BTreeMap<String, ModelSpec>,
    pub stages: Vec<StageSection>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) ensembles: Vec<EnsembleSection>,
    /// What was done by hand while the stages trained, replayed at the same steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steering: Vec<SteeringSection>,
}

/// `[data]`: the source — a dataset by name, or a file or folder under its format's key
/// (`csv`, `idx_dir`, `path`) — with the keys that source declares (see
/// [`crate::data::registry`]), and how to split it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct DataSection {
    /// A bundled or generated dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) dataset: Option<String>,
    /// Which format the data at `path` is in, when not detected from its files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) format: Option<String>,
    /// `[data.augment]`: random crops and flips of the training batches (images only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) augment: Option<Augment>,
    #[serde(default = "default_test_fraction")]
    pub(crate) test_fraction: f64,
    #[serde(default)]
    pub(crate) seed: u64,
    /// The source's file or folder and the keys its format or dataset declares (`samples`,
    /// `label_column`, `image_size`…), and any other key the user wrote: validation names what
    /// does not belong.
    #[serde(flatten)]
    pub(crate) options: DataOptions,
}

/// The `[data]` keys of every source, read by the schema itself.
pub(super) const COMMON_DATA_KEYS: [&str; 4] = ["format", "augment", "test_fraction", "seed"];

fn default_test_fraction() -> f64 {
    0.2
}

impl DataSection {
    /// What the section selects, each of its keys checked against the source's declarations.
    pub(crate) fn selected(&self) -> Result<Selected, OptionProblem> {
        registry::select(self.dataset.as_deref(), self.format.as_deref(), &self.options, &COMMON_DATA_KEYS)
    }

    /// Fills in the defaults of the source's keys, so a run's `config.toml` says what ran (when
    /// the source is known before its files are read).
    fn fill_defaults(&mut self) {
        let Ok(selected) = self.selected() else { return };
        if let Selected::File { formats, .. } = &selected
            && formats.len() > 1
        {
            return;
        }
        for spec in selected.options() {
            if let Some(default) = spec.default {
                self.options.0.entry(spec.key.to_string()).or_insert_with(|| default.to_toml());
            }
        }
    }
}

/// One `[[stages]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageSection {
    pub name: String,
    pub(crate) model: String,
    pub(crate) method: Method,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) teacher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) epochs: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) batch_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) optimizer: Option<Optimizer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) learning_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) momentum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) weight_decay: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nesterov: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) schedule: Option<Schedule>,
    /// A stage sets its own milestones; the decay factor `gamma` is `[train]`'s (a stage's
    /// `gamma` is its method's, as DIST's and NKD's γ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) milestones: Option<Vec<usize>>,
    /// Classes whose training examples the stage never sees (their test examples stay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) exclude_classes: Option<Vec<usize>>,
    /// Learn from only this many training examples, a class-balanced subset that is the same
    /// for every stage (fewer examples is where a teacher's soft targets matter most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) train_examples: Option<usize>,
    /// After its epochs the stage goes on until the user stops it (in the app; headless runs
    /// end it after its epochs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) keep_training: bool,
    /// The method's hyperparameters (`temperature = 4`…), and any other key the user wrote:
    /// validation names what is unknown.
    #[serde(flatten)]
    pub(crate) hypers: BTreeMap<String, toml::Value>,
}

impl StageSection {
    /// The value the stage gives a hyperparameter, if it gives one that is a number or a
    /// switch (switches read as 1 and 0).
    pub(crate) fn hyper(&self, name: &str) -> Option<f64> {
        match self.hypers.get(name)? {
            toml::Value::Float(value) => Some(*value),
            toml::Value::Integer(value) => Some(*value as f64),
            toml::Value::Boolean(on) => Some(if *on { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    /// The stage's training settings: its own overrides on top of `[train]`.
    pub(crate) fn settings(&self, defaults: &TrainSettings) -> TrainSettings {
        TrainSettings {
            epochs: self.epochs.unwrap_or(defaults.epochs),
            batch_size: self.batch_size.unwrap_or(defaults.batch_size),
            optimizer: self.optimizer.unwrap_or(defaults.optimizer),
            learning_rate: self.learning_rate.unwrap_or(defaults.learning_rate),
            momentum: self.momentum.unwrap_or(defaults.momentum),
            weight_decay: self.weight_decay.unwrap_or(defaults.weight_decay),
            nesterov: self.nesterov.unwrap_or(defaults.nesterov),
            schedule: self.schedule.unwrap_or(defaults.schedule),
            milestones: self.milestones.clone().unwrap_or_else(|| defaults.milestones.clone()),
            ..defaults.clone()
        }
    }
}

/// One `[[ensembles]]` entry: averaged predictions of several stages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnsembleSection {
    pub(crate) name: String,
    pub(crate) members: Vec<String>,
}

impl Preset {
    /// Fills every stage's method hyperparameters with the method's defaults, so the resolved
    /// preset says exactly what ran.
    pub(crate) fn resolve_defaults(&mut self) {
        self.data.fill_defaults();
        for stage in &mut self.stages {
            for hyper in stage.method.spec().hypers {
                let default = match hyper.valid {
                    Valid::Switch => toml::Value::Boolean(hyper.default == 1.0),
                    Valid::Whole(..) => toml::Value::Integer(hyper.default as i64),
                    _ => toml::Value::Float(hyper.default),
                };
                stage.hypers.entry(hyper.name.to_string()).or_insert(default);
            }
        }
    }

    /// The resolved preset as a run's `config.toml` holds it.
    pub fn config_text(&self) -> std::io::Result<String> {
        toml::to_string_pretty(self).map_err(std::io::Error::other)
    }

    /// The seed of initialisation and shuffling.
    pub(crate) fn train_seed(&self) -> u64 {
        self.train.seed.unwrap_or(self.data.seed)
    }

    /// The preset with its data paths made absolute against `base` (the preset's folder), so
    /// its resolved form (a run's `config.toml`) reads the same data from any folder: `kdlab run
    /// RUN_DIR/config.toml` replays a run on user data.
    pub(crate) fn with_absolute_paths(mut self, base: &Path) -> Preset {
        let absolute = |path: &mut PathBuf| {
            if path.is_relative() {
                let joined = base.join(&*path);
                *path = std::path::absolute(&joined).unwrap_or(joined);
            }
        };
        for (key, value) in self.data.options.0.iter_mut() {
            if let toml::Value::String(text) = value
                && registry::is_path_key(key)
            {
                let mut path = PathBuf::from(text.as_str());
                absolute(&mut path);
                *text = path.to_string_lossy().into_owned();
            }
        }
        self
    }

    /// The data spec, with relative paths resolved against `base` (the preset's folder).
    pub fn data_spec(&self, base: &Path) -> DataSpec {
        let data = &self.data;
        // Validation has checked the section; the default is the bundled MNIST subset.
        let source = DataSource::select(data.dataset.as_deref(), data.format.as_deref(), data.options.clone(), base)
            .unwrap_or_default();
        DataSpec { source, test_fraction: data.test_fraction, seed: data.seed }
    }
}
