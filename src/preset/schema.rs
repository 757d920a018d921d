//! The preset's schema: what a user writes (data, training settings, models, stages,
//! ensembles), the defaults serde fills in, and what a resolved preset says of itself.

use super::settings::{Optimizer, Schedule, TrainSettings};
use super::steering::SteeringSection;
use crate::data::{Augment, CifarLabels, DataSource, DataSpec, ImageFormat};
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
    pub data: DataSection,
    #[serde(default)]
    pub train: TrainSettings,
    pub models: BTreeMap<String, ModelSpec>,
    pub stages: Vec<StageSection>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ensembles: Vec<EnsembleSection>,
    /// What was done by hand while the stages trained, replayed at the same steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steering: Vec<SteeringSection>,
}

/// `[data]`: one of `dataset`, `csv`, `idx_dir` or `path`, and how to split it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csv: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_csv: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idx_dir: Option<PathBuf>,
    /// Image data on disk: a CIFAR-10/100 folder (binary or Python version) or an image folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// What `path` holds, when not detected from its files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<ImageFormat>,
    /// CIFAR-100: fine (100 classes, the default) or coarse (20) labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<CifarLabels>,
    /// Image folders: the side images are resized to (default 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<usize>,
    /// `[data.augment]`: random crops and flips of the training batches (images only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub augment: Option<Augment>,
    #[serde(default = "default_test_fraction")]
    pub test_fraction: f64,
    #[serde(default)]
    pub seed: u64,
    /// Synthetic sets only: number of points.
    #[serde(default = "default_samples")]
    pub samples: usize,
    /// Synthetic sets only: standard deviation of the Gaussian noise.
    #[serde(default = "default_noise")]
    pub noise: f64,
    /// Synthetic sets only: number of classes (spirals and blobs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<usize>,
}

/// The side image-folder images are resized to unless `image_size` says otherwise.
pub(super) const DEFAULT_IMAGE_SIZE: usize = 32;
/// The largest `image_size`: 1,024² RGB values are 12 MB an image as `f32`.
pub(super) const MAX_IMAGE_SIZE: usize = 1024;

fn default_test_fraction() -> f64 {
    0.2
}
fn default_samples() -> usize {
    1000
}
fn default_noise() -> f64 {
    0.1
}

/// One `[[stages]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageSection {
    pub name: String,
    pub model: String,
    pub method: Method,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teacher: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<Optimizer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nesterov: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// A stage sets its own milestones; the decay factor `gamma` is `[train]`'s (a stage's
    /// `gamma` is its method's, as DIST's and NKD's γ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub milestones: Option<Vec<usize>>,
    /// Classes whose training examples the stage never sees (their test examples stay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_classes: Option<Vec<usize>>,
    /// Learn from only this many training examples, a class-balanced subset that is the same
    /// for every stage (fewer examples is where a teacher's soft targets matter most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_examples: Option<usize>,
    /// After its epochs the stage goes on until the user stops it (in the app; headless runs
    /// end it after its epochs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_training: bool,
    /// The method's hyperparameters (`temperature = 4`…), and any other key the user wrote:
    /// validation names what is unknown.
    #[serde(flatten)]
    pub hypers: BTreeMap<String, toml::Value>,
}

impl StageSection {
    /// The value the stage gives a hyperparameter, if it gives one that is a number or a
    /// switch (switches read as 1 and 0).
    pub fn hyper(&self, name: &str) -> Option<f64> {
        match self.hypers.get(name)? {
            toml::Value::Float(value) => Some(*value),
            toml::Value::Integer(value) => Some(*value as f64),
            toml::Value::Boolean(on) => Some(if *on { 1.0 } else { 0.0 }),
            _ => None,
        }
    }

    /// The stage's training settings: its own overrides on top of `[train]`.
    pub fn settings(&self, defaults: &TrainSettings) -> TrainSettings {
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
pub struct EnsembleSection {
    pub name: String,
    pub members: Vec<String>,
}

impl Preset {
    /// Fills every stage's method hyperparameters with the method's defaults, so the resolved
    /// preset says exactly what ran.
    pub fn resolve_defaults(&mut self) {
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
    pub fn train_seed(&self) -> u64 {
        self.train.seed.unwrap_or(self.data.seed)
    }

    /// The preset with its data paths made absolute against `base` (the preset's folder), so
    /// its resolved form (a run's `config.toml`) reads the same data from any folder: `kdlab run
    /// RUN_DIR/config.toml` replays a run on user data.
    pub fn with_absolute_paths(mut self, base: &Path) -> Preset {
        let absolute = |path: &mut PathBuf| {
            if path.is_relative() {
                let joined = base.join(&*path);
                *path = std::path::absolute(&joined).unwrap_or(joined);
            }
        };
        let data = &mut self.data;
        for path in [&mut data.csv, &mut data.test_csv, &mut data.idx_dir, &mut data.path].into_iter().flatten() {
            absolute(path);
        }
        self
    }

    /// The data spec, with relative paths resolved against `base` (the preset's folder).
    pub fn data_spec(&self, base: &Path) -> DataSpec {
        let data = &self.data;
        let resolve = |p: &PathBuf| if p.is_absolute() { p.clone() } else { base.join(p) };
        let source = if let Some(csv) = &data.csv {
            DataSource::Csv {
                train: resolve(csv),
                test: data.test_csv.as_ref().map(resolve),
                label_column: data.label_column.clone(),
            }
        } else if let Some(dir) = &data.idx_dir {
            DataSource::Idx { dir: resolve(dir) }
        } else if let Some(path) = &data.path {
            DataSource::Images {
                path: resolve(path),
                format: data.format,
                labels: data.labels.unwrap_or_default(),
                image_size: data.image_size.unwrap_or(DEFAULT_IMAGE_SIZE),
            }
        } else {
            // Validation has checked the name; the default is the bundled MNIST subset.
            let name = data.dataset.as_deref().unwrap_or("mnist5k");
            DataSource::named(name, data.samples, data.noise, data.classes).unwrap_or_default()
        };
        DataSpec { source, test_fraction: data.test_fraction, seed: data.seed }
    }
}
