//! The preset file format (TOML): what a user writes, how `--set key=value` overrides it, and
//! the checks that turn a bad file into one message naming the file, `line:column`, the field
//! and what was expected.

use super::methods::{Hypers, Method, Parameter, TeacherPair, Valid};
use crate::data::{Augment, CifarLabels, DATASET_NAMES, DataSource, DataSpec, ImageFormat};
use crate::model::ModelSpec;
use crate::protocol::{Steer, SteerAction};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
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
const DEFAULT_IMAGE_SIZE: usize = 32;
/// The largest `image_size`: 1,024² RGB values are 12 MB an image as `f32`.
const MAX_IMAGE_SIZE: usize = 1024;

fn default_test_fraction() -> f64 {
    0.2
}
fn default_samples() -> usize {
    1000
}
fn default_noise() -> f64 {
    0.1
}

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    Adam,
    /// SGD with (heavy-ball) momentum.
    Sgd,
}

/// How the learning rate changes over a stage's epochs (after any warm-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// The same rate throughout.
    #[default]
    Constant,
    /// Multiplied by `gamma` at each of `milestones` (epochs).
    Step,
    /// Cosine annealing from the rate to zero at the stage's last epoch.
    Cosine,
}

/// `[train]`: defaults for every stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSettings {
    #[serde(default = "default_epochs")]
    pub epochs: usize,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default = "default_optimizer")]
    pub optimizer: Optimizer,
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
    /// SGD only.
    #[serde(default = "default_momentum")]
    pub momentum: f64,
    #[serde(default)]
    pub weight_decay: f64,
    /// Seed of initialisation and shuffling; `None` uses `data.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Optimiser steps between metric reports.
    #[serde(default = "default_metric_interval")]
    pub metric_interval: usize,
    /// Optimiser steps between evaluations on the test split (test accuracy, agreement, KL,
    /// probes), at the first metric report after each interval and at a stage's end.
    #[serde(default = "default_eval_interval")]
    pub eval_interval: usize,
    /// SGD only: Nesterov momentum.
    #[serde(default)]
    pub nesterov: bool,
    /// How the learning rate changes over the epochs.
    #[serde(default)]
    pub schedule: Schedule,
    /// `step` schedule: the epochs at which the learning rate is multiplied by `gamma`.
    #[serde(default)]
    pub milestones: Vec<usize>,
    #[serde(default = "default_gamma")]
    pub gamma: f64,
    /// Epochs over which the learning rate ramps up linearly before the schedule starts (set in
    /// `[train]`; a stage's `warmup_epochs` is DKD's loss warm-up).
    #[serde(default)]
    pub warmup_epochs: f64,
}

fn default_epochs() -> usize {
    10
}
fn default_batch_size() -> usize {
    128
}
fn default_optimizer() -> Optimizer {
    Optimizer::Adam
}
fn default_learning_rate() -> f64 {
    1e-3
}
fn default_momentum() -> f64 {
    0.9
}
fn default_metric_interval() -> usize {
    10
}
fn default_eval_interval() -> usize {
    50
}
fn default_gamma() -> f64 {
    0.1
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            epochs: default_epochs(),
            batch_size: default_batch_size(),
            optimizer: default_optimizer(),
            learning_rate: default_learning_rate(),
            momentum: default_momentum(),
            weight_decay: 0.0,
            seed: None,
            metric_interval: default_metric_interval(),
            eval_interval: default_eval_interval(),
            nesterov: false,
            schedule: Schedule::default(),
            milestones: Vec::new(),
            gamma: default_gamma(),
            warmup_epochs: 0.0,
        }
    }
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

/// One `[[steering]]` entry: a command a stage took while it trained, which a run of this preset
/// replays at the same step. A run folder's `config.toml` lists every one the run took, in order.
/// A stage starts with the `from` of its first `set` of a parameter, when given (a fork's
/// config.toml gives the stage the values the fork started with, and its steering the way there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SteeringSection {
    /// The stage's name.
    pub stage: String,
    /// Optimizer steps the stage had taken: the next step is the first the command affects.
    pub after_step: u64,
    /// A live hyperparameter of the stage's method, set to `to` (it was `from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<f64>,
    /// Whether the stage goes on past its planned epochs until a `stop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_training: Option<bool>,
    /// The stage ends here.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stop: bool,
    /// A run (named here) branched off at this step; the stage reports its metrics here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork: Option<String>,
}

impl SteeringSection {
    /// An entry of a run's steering log, for a stage called `stage` (`fork`: the name of the run
    /// that branched off, for a fork entry).
    pub fn of(steer: &Steer, stage: &str, fork: Option<String>) -> SteeringSection {
        let mut section = SteeringSection {
            stage: stage.to_string(),
            after_step: steer.after_step,
            set: None,
            from: None,
            to: None,
            keep_training: None,
            stop: false,
            fork: None,
        };
        match &steer.action {
            SteerAction::Set { parameter, from, to } => {
                (section.set, section.from, section.to) = (Some(parameter.name().into()), Some(*from), Some(*to));
            }
            SteerAction::KeepTraining(keep) => section.keep_training = Some(*keep),
            SteerAction::Stop => section.stop = true,
            SteerAction::Fork => section.fork = Some(fork.unwrap_or_default()),
        }
        section
    }

    /// The entry as the engine replays it, for stage `stage` (a preset that passed validation).
    pub fn steer(&self, stage: usize) -> Option<Steer> {
        let action = match (&self.set, self.keep_training, self.stop, &self.fork) {
            (Some(name), None, false, None) => {
                let parameter = Parameter::named(name)?;
                SteerAction::Set { parameter, from: self.from.unwrap_or(f64::NAN), to: self.to? }
            }
            (None, Some(keep), false, None) => SteerAction::KeepTraining(keep),
            (None, None, true, None) => SteerAction::Stop,
            (None, None, false, Some(_)) => SteerAction::Fork,
            _ => return None,
        };
        Some(Steer { stage, after_step: self.after_step, action })
    }
}

/// One step of a path into the preset, for naming a field in messages.
#[derive(Debug, Clone, PartialEq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// A path like `stages[1].temperature`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FieldPath(pub Vec<PathSegment>);

impl FieldPath {
    fn key(mut self, key: &str) -> FieldPath {
        self.0.push(PathSegment::Key(key.to_string()));
        self
    }

    fn index(mut self, index: usize) -> FieldPath {
        self.0.push(PathSegment::Index(index));
        self
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if i == 0 => write!(f, "{key}")?,
                PathSegment::Key(key) => write!(f, ".{key}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

fn field(keys: &[&str]) -> FieldPath {
    keys.iter().fold(FieldPath::default(), |path, key| path.key(key))
}

fn stage_field(index: usize, key: &str) -> FieldPath {
    field(&["stages"]).index(index).key(key)
}

/// A preset that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{location}: {}{message}", field_prefix(.field))]
pub struct PresetError {
    /// `file:line:column`, `file`, or `--set key=value`.
    pub location: String,
    /// The offending field, when one is known.
    pub field: Option<String>,
    pub message: String,
}

fn field_prefix(field: &Option<String>) -> String {
    field.as_ref().map(|f| format!("{f}: ")).unwrap_or_default()
}

/// serde quotes a rejected float in full (`1e308` as 309 digits): such numbers, shortened.
fn shorten_numbers(message: &str) -> String {
    message
        .split('`')
        .enumerate()
        .map(|(i, part)| match part.parse::<f64>() {
            Ok(value) if i % 2 == 1 && part.len() > 24 => show_number(value),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("`")
}

/// The key assigned on the line holding byte `offset` (`epochs` of `epochs = 3`, `[train]` of
/// a table header).
fn key_on_line(text: &str, offset: usize) -> Option<&str> {
    let start = text[..offset.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?.trim();
    let key = if line.starts_with('[') { line } else { line.split_once('=')?.0.trim() };
    (!key.is_empty()).then_some(key)
}

/// A number as a user would write it: `1e308`, not 309 digits.
fn show_number(value: f64) -> String {
    if value != 0.0 && !(1e-4..1e6).contains(&value.abs()) { format!("{value:e}") } else { value.to_string() }
}

/// serde reads a struct from an array by position (`train = [1, 2]` would set the epochs and
/// the batch size): every section must be written as a table.
fn tables_written_as_tables(preset: &toml::Table) -> Result<(), FieldError> {
    fn must_be_table(value: &toml::Value, path: FieldPath) -> Result<(), FieldError> {
        match value {
            toml::Value::Table(_) => Ok(()),
            other => {
                let kind = other.type_str();
                let article = if kind.starts_with(['a', 'i']) { "an" } else { "a" };
                invalid(path, format!("expected a table of named fields, found {article} {kind}"))
            }
        }
    }
    for key in ["data", "train"] {
        if let Some(value) = preset.get(key) {
            must_be_table(value, field(&[key]))?;
        }
    }
    if let Some(augment) = preset.get("data").and_then(|d| d.get("augment")) {
        must_be_table(augment, field(&["data", "augment"]))?;
    }
    if let Some(toml::Value::Table(models)) = preset.get("models") {
        for (name, model) in models {
            must_be_table(model, field(&["models", name]))?;
        }
    }
    for key in ["stages", "ensembles", "steering"] {
        if let Some(toml::Value::Array(entries)) = preset.get(key) {
            for (index, entry) in entries.iter().enumerate() {
                must_be_table(entry, field(&[key]).index(index))?;
            }
        }
    }
    Ok(())
}

/// A problem found by [`Preset::validate`], before it is placed in the file.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub path: FieldPath,
    pub message: String,
}

fn invalid<T>(path: FieldPath, message: impl Into<String>) -> Result<T, FieldError> {
    Err(FieldError { path, message: message.into() })
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

    /// Checks every value against what it may be.
    pub fn validate(&self) -> Result<(), FieldError> {
        self.validate_data()?;
        validate_settings(&self.train, &field(&["train"]))?;
        for (name, spec) in &self.models {
            validate_model(spec, &field(&["models", name]))?;
        }
        if self.stages.is_empty() {
            return invalid(field(&["stages"]), "expected at least one [[stages]] entry");
        }
        for (index, stage) in self.stages.iter().enumerate() {
            self.validate_stage(index, stage)?;
        }
        self.validate_ensembles()?;
        self.validate_steering()
    }

    /// Each `[[steering]]` entry names a stage and does one thing a stage can be told while it
    /// trains; entries come in the order they happened (stage by stage, step by step), and
    /// nothing follows a stage's `stop`.
    fn validate_steering(&self) -> Result<(), FieldError> {
        let mut last: Option<(usize, u64, bool)> = None;
        for (index, entry) in self.steering.iter().enumerate() {
            let at = |key: &str| field(&["steering"]).index(index).key(key);
            let Some(stage) = self.stages.iter().position(|s| s.name == entry.stage) else {
                let names: Vec<&str> = self.stages.iter().map(|s| s.name.as_str()).collect();
                return invalid(
                    at("stage"),
                    format!("expected one of {}, found \"{}\"", names.join(", "), entry.stage),
                );
            };
            let actions = [entry.set.is_some(), entry.keep_training.is_some(), entry.stop, entry.fork.is_some()];
            if actions.iter().filter(|&&a| a).count() != 1 {
                return invalid(
                    field(&["steering"]).index(index),
                    "give one of `set` (with `to`), `keep_training`, `stop = true` or `fork`",
                );
            }
            if entry.set.is_none() && (entry.from.is_some() || entry.to.is_some()) {
                let key = if entry.from.is_some() { "from" } else { "to" };
                return invalid(at(key), "only applies with `set`");
            }
            if let Some(name) = &entry.set {
                self.validate_set(index, stage, name, entry)?;
            }
            if let Some((previous, step, stopped)) = last {
                if stage < previous {
                    let message = format!(
                        "entries follow the stages' order: \"{}\" comes before an entry of a later stage",
                        entry.stage
                    );
                    return invalid(at("stage"), message);
                }
                if stage == previous && entry.after_step < step {
                    let message = format!(
                        "entries of a stage follow each other in step order: {} comes after {step}",
                        entry.after_step
                    );
                    return invalid(at("after_step"), message);
                }
                if stage == previous && stopped {
                    return invalid(at("stage"), format!("\"{}\" was stopped by an earlier entry", entry.stage));
                }
            }
            let stopped = entry.stop || last.is_some_and(|(s, _, stopped)| s == stage && stopped);
            last = Some((stage, entry.after_step, stopped));
        }
        Ok(())
    }

    /// A `set` names a live hyperparameter of the stage's method, with values it allows.
    fn validate_set(&self, index: usize, stage: usize, name: &str, entry: &SteeringSection) -> Result<(), FieldError> {
        let at = |key: &str| field(&["steering"]).index(index).key(key);
        let method = self.stages[stage].method;
        let Some(hyper) = method.live().find(|h| h.name == name) else {
            let live: Vec<&str> = method.live().map(|h| h.name).collect();
            let takes = if live.is_empty() { "none".to_string() } else { live.join(", ") };
            return invalid(
                at("set"),
                format!("method \"{method}\" has no live `{name}` (its live hyperparameters: {takes})"),
            );
        };
        let Some(to) = entry.to else {
            return invalid(at("to"), format!("expected the value `{name}` is set to"));
        };
        for (key, value) in [("to", Some(to)), ("from", entry.from)] {
            if let Some(value) = value.filter(|v| !hyper.valid.allows(*v)) {
                return invalid(at(key), format!("expected {}, found {}", hyper.valid.expected(), show_number(value)));
            }
        }
        Ok(())
    }

    fn validate_data(&self) -> Result<(), FieldError> {
        let data = &self.data;
        let sources = [data.dataset.is_some(), data.csv.is_some(), data.idx_dir.is_some(), data.path.is_some()];
        match sources.iter().filter(|&&s| s).count() {
            0 => return invalid(field(&["data"]), "expected one of `dataset`, `csv`, `idx_dir` or `path`"),
            1 => {}
            _ => return invalid(field(&["data"]), "give only one of `dataset`, `csv`, `idx_dir` or `path`"),
        }
        self.validate_image_options()?;
        if let Some(name) = &data.dataset
            && !DATASET_NAMES.contains(&name.as_str())
        {
            return invalid(
                field(&["data", "dataset"]),
                format!("expected one of {}, found \"{name}\"", DATASET_NAMES.join(", ")),
            );
        }
        if data.csv.is_none() {
            for key in ["test_csv", "label_column"] {
                let set = if key == "test_csv" { data.test_csv.is_some() } else { data.label_column.is_some() };
                if set {
                    return invalid(field(&["data", key]), "only applies with `csv`");
                }
            }
        }
        if !(data.test_fraction > 0.0 && data.test_fraction < 1.0) {
            return invalid(
                field(&["data", "test_fraction"]),
                format!("expected a fraction strictly between 0 and 1, found {}", data.test_fraction),
            );
        }
        if !(data.noise.is_finite() && data.noise >= 0.0) {
            return invalid(field(&["data", "noise"]), format!("expected a number ≥ 0, found {}", data.noise));
        }
        Ok(())
    }

    /// `format`, `labels` and `image_size` belong to `path`, and to the formats they describe.
    fn validate_image_options(&self) -> Result<(), FieldError> {
        let data = &self.data;
        let set = [
            ("format", data.format.is_some()),
            ("labels", data.labels.is_some()),
            ("image_size", data.image_size.is_some()),
        ];
        if data.path.is_none()
            && let Some((key, _)) = set.iter().find(|(_, is_set)| *is_set)
        {
            return invalid(field(&["data", key]), "only applies with `path`");
        }
        let format = data.format;
        if data.labels == Some(CifarLabels::Coarse) && format.is_some_and(|f| f != ImageFormat::Cifar100) {
            return invalid(field(&["data", "labels"]), "\"coarse\" applies to CIFAR-100 only");
        }
        if data.image_size.is_some() && format.is_some_and(|f| f != ImageFormat::ImageFolder) {
            return invalid(field(&["data", "image_size"]), "only applies to image folders (CIFAR images are 32×32)");
        }
        if let Some(size) = data.image_size
            && !(1..=MAX_IMAGE_SIZE).contains(&size)
        {
            return invalid(
                field(&["data", "image_size"]),
                format!("expected 1 to {MAX_IMAGE_SIZE} pixels, found {size}"),
            );
        }
        Ok(())
    }

    fn validate_stage(&self, index: usize, stage: &StageSection) -> Result<(), FieldError> {
        if stage.name.trim().is_empty() {
            return invalid(stage_field(index, "name"), "expected a non-empty name");
        }
        if self.stages[..index].iter().any(|s| s.name == stage.name) {
            return invalid(stage_field(index, "name"), format!("another stage is already named \"{}\"", stage.name));
        }
        let Some(model) = self.models.get(&stage.model) else {
            return invalid(
                stage_field(index, "model"),
                format!("expected one of the [models.*] tables ({}), found \"{}\"", self.model_names(), stage.model),
            );
        };
        self.validate_teacher(index, stage, model)?;
        self.validate_hypers(index, stage)?;
        if let Some(excluded) = &stage.exclude_classes
            && let Some(class) = excluded.iter().enumerate().find_map(|(i, c)| excluded[..i].contains(c).then_some(c))
        {
            return invalid(stage_field(index, "exclude_classes"), format!("class {class} is listed twice"));
        }
        if stage.train_examples == Some(0) {
            return invalid(stage_field(index, "train_examples"), "expected at least 1 example, found 0");
        }
        let path = field(&["stages"]).index(index);
        let settings = stage.settings(&self.train);
        let hypers = Hypers::resolve(stage.method.spec().hypers, |name| stage.hyper(name));
        if let Err((key, message)) = (stage.method.spec().check_stage)(&hypers, &settings) {
            return invalid(stage_field(index, key), message);
        }
        validate_settings(&settings, &path)
    }

    /// Every key that is not a stage field must be a hyperparameter of the stage's method,
    /// with a value it allows.
    fn validate_hypers(&self, index: usize, stage: &StageSection) -> Result<(), FieldError> {
        let method = stage.method;
        for (key, value) in &stage.hypers {
            let path = stage_field(index, key);
            let Some(hyper) = method.hyper(key) else {
                if Method::all().any(|m| m.hyper(key).is_some()) {
                    return invalid(path, format!("does not apply to method \"{method}\""));
                }
                let own: Vec<&str> = method.spec().hypers.iter().map(|h| h.name).collect();
                let takes = if own.is_empty() { "no hyperparameters".to_string() } else { own.join(", ") };
                return invalid(
                    path,
                    format!("unknown field `{key}`: not a stage setting, and method \"{method}\" takes {takes}"),
                );
            };
            let number = match (hyper.valid, value) {
                (Valid::Switch, toml::Value::Boolean(_)) => stage.hyper(key),
                (Valid::Switch, _) => None,
                (_, toml::Value::Float(_) | toml::Value::Integer(_)) => stage.hyper(key),
                _ => None,
            };
            match number {
                Some(number) if hyper.valid.allows(number) => {}
                Some(number) => {
                    return invalid(
                        path,
                        format!("expected {}, found {}", hyper.valid.expected(), show_number(number)),
                    );
                }
                None => {
                    let written = value.to_string();
                    let shown = if written.chars().count() > 40 { "a list".to_string() } else { written };
                    return invalid(path, format!("expected {}, found {shown}", hyper.valid.expected()));
                }
            }
        }
        Ok(())
    }

    fn validate_teacher(&self, index: usize, stage: &StageSection, model: &ModelSpec) -> Result<(), FieldError> {
        let path = stage_field(index, "teacher");
        match (&stage.teacher, stage.method.needs_teacher()) {
            (None, true) => invalid(
                path,
                format!("method \"{}\" needs a teacher: the name of an earlier stage", stage.method.name()),
            ),
            (Some(_), false) => invalid(path, format!("method \"{}\" takes no teacher", stage.method.name())),
            (None, false) => Ok(()),
            (Some(teacher), true) => {
                let Some(earlier) = self.stages[..index].iter().find(|s| &s.name == teacher) else {
                    let later = self.stages[index..].iter().any(|s| &s.name == teacher);
                    let why = if later { "comes later; a teacher must be an earlier stage" } else { "is not a stage" };
                    return invalid(path, format!("\"{teacher}\" {why}"));
                };
                let Some(teacher_model) = self.models.get(&earlier.model) else { return Ok(()) };
                let pair = TeacherPair { student: model, teacher: teacher_model, teacher_name: teacher, shape: None };
                if let Err(message) = (stage.method.spec().check_teacher)(&pair) {
                    return invalid(path, message);
                }
                Ok(())
            }
        }
    }

    fn validate_ensembles(&self) -> Result<(), FieldError> {
        for (index, ensemble) in self.ensembles.iter().enumerate() {
            let path = field(&["ensembles"]).index(index);
            if self.ensembles[..index].iter().any(|e| e.name == ensemble.name) {
                return invalid(path.key("name"), format!("another ensemble is already named \"{}\"", ensemble.name));
            }
            if ensemble.members.len() < 2 {
                return invalid(path.key("members"), "expected at least 2 stage names");
            }
            for (m, member) in ensemble.members.iter().enumerate() {
                if !self.stages.iter().any(|s| &s.name == member) {
                    return invalid(path.key("members").index(m), format!("\"{member}\" is not a stage"));
                }
                if ensemble.members[..m].contains(member) {
                    return invalid(path.key("members").index(m), format!("\"{member}\" is listed twice"));
                }
            }
        }
        Ok(())
    }

    fn model_names(&self) -> String {
        self.models.keys().cloned().collect::<Vec<_>>().join(", ")
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

fn validate_model(spec: &ModelSpec, path: &FieldPath) -> Result<(), FieldError> {
    if let Err((key, expected)) = spec.check_structure() {
        return invalid(path.clone().key(key), expected);
    }
    let (key, widths) = match spec {
        ModelSpec::Mlp { hidden } => ("hidden", hidden),
        ModelSpec::Cnn { channels, hidden } => {
            if hidden.contains(&0) {
                return invalid(path.clone().key("hidden"), "expected widths ≥ 1");
            }
            ("channels", channels)
        }
        ModelSpec::Resnet { .. } | ModelSpec::Wrn { .. } | ModelSpec::Vgg { .. } => return Ok(()),
    };
    if widths.is_empty() {
        return invalid(path.clone().key(key), "expected a non-empty list of widths, e.g. [64]");
    }
    if widths.contains(&0) {
        return invalid(path.clone().key(key), "expected widths ≥ 1");
    }
    Ok(())
}

fn validate_settings(settings: &TrainSettings, path: &FieldPath) -> Result<(), FieldError> {
    let at = |key: &str| path.clone().key(key);
    if settings.epochs == 0 {
        return invalid(at("epochs"), "expected at least 1 epoch");
    }
    if settings.batch_size == 0 {
        return invalid(at("batch_size"), "expected a batch size ≥ 1");
    }
    if !(settings.learning_rate > 0.0 && settings.learning_rate.is_finite()) {
        return invalid(at("learning_rate"), format!("expected a learning rate > 0, found {}", settings.learning_rate));
    }
    if !(0.0..1.0).contains(&settings.momentum) {
        return invalid(at("momentum"), format!("expected a momentum in [0, 1), found {}", settings.momentum));
    }
    if !(settings.weight_decay >= 0.0 && settings.weight_decay.is_finite()) {
        return invalid(at("weight_decay"), format!("expected a weight decay ≥ 0, found {}", settings.weight_decay));
    }
    if settings.metric_interval == 0 {
        return invalid(at("metric_interval"), "expected at least 1 step between metric reports");
    }
    if settings.eval_interval == 0 {
        return invalid(at("eval_interval"), "expected at least 1 step between evaluations");
    }
    validate_schedule(settings, path)
}

/// Nesterov needs SGD with momentum (as in PyTorch); milestones climb; gamma and the warm-up
/// are finite and positive. (Milestones past the epochs are allowed: `--epochs 1` smoke runs
/// keep a preset's schedule.)
fn validate_schedule(settings: &TrainSettings, path: &FieldPath) -> Result<(), FieldError> {
    let at = |key: &str| path.clone().key(key);
    if settings.nesterov && (settings.optimizer != Optimizer::Sgd || settings.momentum == 0.0) {
        return invalid(at("nesterov"), "needs optimizer = \"sgd\" with a momentum > 0");
    }
    if let Some(pair) = settings.milestones.windows(2).find(|pair| pair[1] <= pair[0]) {
        return invalid(at("milestones"), format!("expected increasing epochs, found {} then {}", pair[0], pair[1]));
    }
    if settings.milestones.contains(&0) {
        return invalid(at("milestones"), "expected epochs ≥ 1 (the rate changes when that epoch starts)");
    }
    if !settings.milestones.is_empty() && settings.schedule != Schedule::Step {
        return invalid(at("milestones"), "only applies with schedule = \"step\"");
    }
    if !(settings.gamma > 0.0 && settings.gamma.is_finite()) {
        return invalid(at("gamma"), format!("expected a factor > 0, found {}", settings.gamma));
    }
    if !(settings.warmup_epochs >= 0.0 && settings.warmup_epochs.is_finite()) {
        return invalid(at("warmup_epochs"), format!("expected epochs ≥ 0, found {}", settings.warmup_epochs));
    }
    Ok(())
}

/// A preset's text plus where it came from, so errors can point into it.
#[derive(Debug, Clone)]
pub struct PresetSource {
    /// What to call it in messages: a path, or `bundled:kd.toml`.
    pub origin: String,
    /// The folder that relative data paths are resolved against.
    pub base_dir: PathBuf,
    pub text: String,
}

impl PresetSource {
    /// Reads a preset file.
    pub fn read(path: &Path) -> Result<PresetSource, PresetError> {
        let text = std::fs::read_to_string(path).map_err(|e| PresetError {
            location: path.display().to_string(),
            field: None,
            message: format!("cannot read preset: {e}"),
        })?;
        let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(PresetSource { origin: path.display().to_string(), base_dir, text })
    }

    /// Parses, applies overrides, fills defaults and validates.
    pub fn load(&self, overrides: &[String]) -> Result<Preset, PresetError> {
        // Parsed twice: into `Preset` for errors placed at their line, and into a table to see
        // how each section was written (and to apply overrides to).
        let mut preset: Preset = toml::from_str(&self.text).map_err(|e| self.syntax_error(&e))?;
        let written: toml::Table = toml::from_str(&self.text).map_err(|e| self.syntax_error(&e))?;
        tables_written_as_tables(&written).map_err(|e| self.place(&e.path, e.message, &[]))?;
        if !overrides.is_empty() {
            preset = self.apply_overrides(written, overrides)?;
        }
        preset.resolve_defaults();
        preset.validate().map_err(|e| self.place(&e.path, e.message, overrides))?;
        Ok(preset)
    }

    fn apply_overrides(&self, mut table: toml::Table, overrides: &[String]) -> Result<Preset, PresetError> {
        for assignment in overrides {
            apply_override(&mut table, assignment).map_err(|message| PresetError {
                location: format!("--set {assignment}"),
                field: None,
                message,
            })?;
        }
        tables_written_as_tables(&table).map_err(|e| self.place(&e.path, e.message, overrides))?;
        Preset::deserialize(table).map_err(|e| PresetError {
            location: format!("{} with --set {}", self.origin, overrides.join(" --set ")),
            field: None,
            message: e.message().to_string(),
        })
    }

    /// A TOML or serde error, placed at its `line:column` with the field it is about.
    fn syntax_error(&self, error: &toml::de::Error) -> PresetError {
        let mut message = shorten_numbers(&error.message().trim().replace('\n', "; "));
        if message == "duplicate key"
            && let Some(key) = error.span().and_then(|span| key_on_line(&self.text, span.start))
        {
            message = format!("duplicate key `{key}`: it is already set in this table");
        }
        // A missing field is reported on the table that lacks it: name the missing field, not
        // the table's first key.
        let missing = message.strip_prefix("missing field `").and_then(|rest| rest.split('`').next());
        let (location, field) = match error.span() {
            Some(span) => (
                format!("{}:{}", self.origin, line_column(&self.text, span.start)),
                missing.map(str::to_string).or_else(|| field_at(&self.text, span.start).map(|p| p.to_string())),
            ),
            None => (self.origin.clone(), missing.map(str::to_string)),
        };
        PresetError { location, field, message }
    }

    /// A validation error, placed where its field is written (or on the `--set` that set it).
    pub fn place(&self, path: &FieldPath, message: String, overrides: &[String]) -> PresetError {
        let dotted = path.to_string();
        if let Some(set) = overrides.iter().find(|o| override_touches(o, path)) {
            return PresetError { location: format!("--set {set}"), field: Some(dotted), message };
        }
        let location = match span_of(&self.text, path) {
            Some(offset) => format!("{}:{}", self.origin, line_column(&self.text, offset)),
            None => self.origin.clone(),
        };
        PresetError { location, field: Some(dotted), message }
    }
}

/// `line:column` (1-based) of a byte offset.
fn line_column(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("{line}:{column}")
}

/// The byte offset where the value (or, failing that, the nearest enclosing table) of `path`
/// is written.
fn span_of(text: &str, path: &FieldPath) -> Option<usize> {
    use toml::de::{DeTable, DeValue};
    let root = DeTable::parse(text).ok()?;
    let mut best = None;
    let mut table = root.get_ref();
    let mut value: Option<&toml::Spanned<DeValue>> = None;
    for segment in &path.0 {
        let next = match (segment, value.map(|v| v.get_ref())) {
            (PathSegment::Key(key), None) => table.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v),
            (PathSegment::Key(key), Some(DeValue::Table(t))) => {
                t.iter().find(|(k, _)| k.get_ref() == key).map(|(_, v)| v)
            }
            (PathSegment::Index(i), Some(DeValue::Array(items))) => items.get(*i),
            _ => None,
        };
        let Some(next) = next else { break };
        best = Some(next.span().start);
        if let DeValue::Table(t) = next.get_ref() {
            table = t;
        }
        value = Some(next);
    }
    best
}

/// The path of the deepest key or value whose span contains `offset`.
fn field_at(text: &str, offset: usize) -> Option<FieldPath> {
    use toml::de::{DeTable, DeValue};
    fn search(table: &DeTable<'_>, offset: usize, path: FieldPath) -> Option<FieldPath> {
        for (key, value) in table.iter() {
            let here = path.clone().key(key.get_ref());
            if key.span().contains(&offset) {
                return Some(here);
            }
            if let Some(found) = search_value(value, offset, here) {
                return Some(found);
            }
        }
        None
    }
    fn search_value(value: &toml::Spanned<DeValue<'_>>, offset: usize, path: FieldPath) -> Option<FieldPath> {
        match value.get_ref() {
            DeValue::Table(t) => {
                search(t, offset, path.clone()).or_else(|| value.span().contains(&offset).then_some(path))
            }
            DeValue::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| search_value(item, offset, path.clone().index(i)))
                .or_else(|| value.span().contains(&offset).then_some(path)),
            _ => value.span().contains(&offset).then_some(path),
        }
    }
    let root = DeTable::parse(text).ok()?;
    search(root.get_ref(), offset, FieldPath::default())
}

fn override_touches(assignment: &str, path: &FieldPath) -> bool {
    let key = assignment.split_once('=').map_or(assignment, |(k, _)| k).trim();
    let parts: Vec<&str> = key.split('.').collect();
    let keys: Vec<&str> = path
        .0
        .iter()
        .filter_map(|segment| match segment {
            PathSegment::Key(k) => Some(k.as_str()),
            PathSegment::Index(_) => None,
        })
        .collect();
    // `stages.NAME.alpha` and `stages.1.alpha` both address `stages[1].alpha`.
    parts.first() == keys.first() && parts.last() == keys.last()
}

/// Applies one `key=value` to a parsed preset. Keys are dotted; in `stages` and `ensembles`
/// the second part is an entry's name or 0-based index (`stages.student_kd.temperature=8`).
pub fn apply_override(table: &mut toml::Table, assignment: &str) -> Result<(), String> {
    let Some((key, raw)) = assignment.split_once('=') else {
        return Err("expected key=value, e.g. train.epochs=5".into());
    };
    let parts: Vec<&str> = key.trim().split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("`{key}` is not a dotted key like train.epochs"));
    }
    let value = parse_value(raw.trim());
    let (last, parents) = parts.split_last().ok_or("empty key")?;
    let mut current = table;
    let mut i = 0;
    while i < parents.len() {
        let part = parents[i];
        let entry = current.entry(part.to_string()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        current = match entry {
            toml::Value::Table(t) => t,
            toml::Value::Array(items) => {
                let selector =
                    parents.get(i + 1).ok_or(format!("`{part}` needs an entry name or index before the field"))?;
                i += 1;
                find_entry(items, selector).ok_or(format!("`{part}` has no entry named or numbered `{selector}`"))?
            }
            _ => return Err(format!("`{part}` is not a table")),
        };
        i += 1;
    }
    current.insert(last.to_string(), value);
    Ok(())
}

fn find_entry<'a>(items: &'a mut [toml::Value], selector: &str) -> Option<&'a mut toml::Table> {
    let position = match selector.parse::<usize>() {
        Ok(index) => Some(index),
        Err(_) => items.iter().position(|item| item.get("name").and_then(toml::Value::as_str) == Some(selector)),
    }?;
    items.get_mut(position)?.as_table_mut()
}

/// A value as TOML would read it (`8`, `0.5`, `[64, 32]`, `"adam"`), or else as a bare string.
fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
[data]
dataset = "digits"
[models.teacher]
arch = "mlp"
hidden = [32]
[[stages]]
name = "teacher"
model = "teacher"
method = "scratch"
[[stages]]
name = "student"
model = "teacher"
method = "kd"
teacher = "teacher"
"#;

    fn source(text: &str) -> PresetSource {
        PresetSource { origin: "p.toml".into(), base_dir: PathBuf::new(), text: text.into() }
    }

    #[test]
    fn defaults_are_filled_in() {
        let preset = source(GOOD).load(&[]).unwrap();
        assert_eq!(preset.stages[1].hyper("temperature"), Some(4.0));
        assert_eq!(preset.stages[1].hyper("alpha"), Some(0.9));
        assert_eq!(preset.train.epochs, 10);
    }

    #[test]
    fn out_of_range_value_is_placed_in_the_file() {
        let text = GOOD.replace("teacher = \"teacher\"\n", "teacher = \"teacher\"\ntemperature = -1.0\n");
        let error = source(&text).load(&[]).unwrap_err().to_string();
        assert_eq!(
            error,
            "p.toml:17:15: stages[1].temperature: expected a number strictly between 0 and 1000, found -1"
        );
    }

    #[test]
    fn unknown_key_names_its_line() {
        let text = GOOD.replace("hidden = [32]", "hidden = [32]\nwidth = 3");
        let error = source(&text).load(&[]).unwrap_err();
        assert!(error.location.starts_with("p.toml:"), "{error}");
        assert!(error.message.contains("unknown field `width`"), "{error}");
    }

    #[test]
    fn overrides_reach_stages_by_name() {
        let preset = source(GOOD).load(&["stages.student.temperature=8".into(), "train.epochs=2".into()]).unwrap();
        assert_eq!(preset.stages[1].hyper("temperature"), Some(8.0));
        assert_eq!(preset.train.epochs, 2);
        let error = source(GOOD).load(&["stages.student.alpha=2".into()]).unwrap_err();
        assert_eq!(error.location, "--set stages.student.alpha=2");
    }

    /// A section given as a list (serde would read it by position) is refused, in the file and
    /// from `--set`.
    #[test]
    fn sections_must_be_tables() {
        let error = source(GOOD).load(&["train=[1, 2]".into()]).unwrap_err();
        assert_eq!(error.to_string(), "--set train=[1, 2]: train: expected a table of named fields, found an array");
        let text = format!("train = [1, 2]\n{}", GOOD.replace("[train]\nepochs = 10\n", ""));
        let error = source(&text).load(&[]).unwrap_err().to_string();
        assert!(error.ends_with("train: expected a table of named fields, found an array"), "{error}");
    }

    #[test]
    fn a_missing_section_is_the_field_named() {
        let text = GOOD.replace("[data]\ndataset = \"digits\"\n", "");
        let error = source(&text).load(&[]).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("data"), "{error}");
        assert!(error.to_string().contains("data: missing field `data`"), "{error}");
    }

    /// A stage starts with the `from` of its first `set` of a parameter (a fork's config.toml
    /// gives the stage the values the fork started with, its steering the way there).
    #[test]
    fn steering_sets_where_a_stage_starts() {
        let text = format!(
            "{GOOD}\n[[steering]]\nstage = \"student\"\nafter_step = 3\nset = \"temperature\"\nfrom = 4.0\nto = 1.0\n"
        )
        .replace("teacher = \"teacher\"\n", "teacher = \"teacher\"\ntemperature = 1.0\n");
        let plan = crate::train::Plan::new(source(&text).load(&[]).unwrap());
        assert_eq!(plan.stages[1].hypers.get("temperature"), 4.0, "from the first set's `from`");
        let temperature = Parameter::named("temperature").unwrap();
        let set = SteerAction::Set { parameter: temperature, from: 4.0, to: 1.0 };
        assert_eq!(plan.steering, vec![Steer { stage: 1, after_step: 3, action: set }]);
    }

    #[test]
    fn teacher_must_come_earlier() {
        let text = GOOD.replace("teacher = \"teacher\"", "teacher = \"student\"");
        let error = source(&text).load(&[]).unwrap_err().to_string();
        assert!(error.contains("stages[1].teacher: \"student\" comes later"), "{error}");
    }
}
