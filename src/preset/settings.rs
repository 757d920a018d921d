//! `[train]`: a stage's training settings (optimiser, learning rate and its schedule, batch
//! size, report intervals, seed) and their defaults.

use serde::{Deserialize, Serialize};

/// The optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Optimizer {
    Adam,
    /// SGD with (heavy-ball) momentum.
    Sgd,
}

/// How the learning rate changes over a stage's epochs (after any warm-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Schedule {
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
    pub(crate) epochs: usize,
    #[serde(default = "default_batch_size")]
    pub(crate) batch_size: usize,
    #[serde(default = "default_optimizer")]
    pub(crate) optimizer: Optimizer,
    #[serde(default = "default_learning_rate")]
    pub(crate) learning_rate: f64,
    /// SGD only.
    #[serde(default = "default_momentum")]
    pub(crate) momentum: f64,
    #[serde(default)]
    pub(crate) weight_decay: f64,
    /// Seed of initialisation and shuffling; `None` uses `data.seed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) seed: Option<u64>,
    /// Optimiser steps between metric reports.
    #[serde(default = "default_metric_interval")]
    pub(crate) metric_interval: usize,
    /// Optimiser steps between evaluations on the test split (test accuracy, agreement, KL,
    /// probes), at the first metric report after each interval and at a stage's end.
    #[serde(default = "default_eval_interval")]
    pub(crate) eval_interval: usize,
    /// SGD only: Nesterov momentum.
    #[serde(default)]
    pub(crate) nesterov: bool,
    /// How the learning rate changes over the epochs.
    #[serde(default)]
    pub(crate) schedule: Schedule,
    /// `step` schedule: the epochs at which the learning rate is multiplied by `gamma`.
    #[serde(default)]
    pub(crate) milestones: Vec<usize>,
    #[serde(default = "default_gamma")]
    pub(crate) gamma: f64,
    /// Epochs over which the learning rate ramps up linearly before the schedule starts (set in
    /// `[train]`; a stage's `warmup_epochs` is DKD's loss warm-up).
    #[serde(default)]
    pub(crate) warmup_epochs: f64,
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
