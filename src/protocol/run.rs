//! What an engine says about a run: its description before any stage starts, each stage's
//! start and outcome, the metric points it measures (and their names), and where a fork
//! branched off.

use super::hypers::{MethodInfo, Parameter};
use super::probe::Plane;
use super::shape::InputShape;
use serde::{Deserialize, Serialize};

/// The names of the metrics every stage reports (method terms add `loss_*` names of their own,
/// live hyperparameters their own names).
pub mod metric {
    /// The total loss minimised, the mean over a report interval.
    pub const LOSS: &str = "loss";
    pub const TRAIN_ACCURACY: &str = "train_accuracy";
    pub const TEST_ACCURACY: &str = "test_accuracy";
    /// Top-1 agreement of the student with its teacher on the test split.
    pub const AGREEMENT: &str = "agreement";
    /// KL(teacher ‖ student) on the test split.
    pub const KL_TEACHER_STUDENT: &str = "kl_teacher_student";
    pub const LEARNING_RATE: &str = "learning_rate";
    /// The temperature in force: a live one, or CTKD's learned one.
    pub const TEMPERATURE: &str = "temperature";
    /// Language models: mean next-character cross-entropy on the test text, in nats.
    pub const TEST_LOSS: &str = "test_loss";
    /// The same in bits per character.
    pub const BITS_PER_CHARACTER: &str = "test_bpc";
    pub const PERPLEXITY: &str = "test_perplexity";
    /// The student's mean next-character entropy on the test text, in nats.
    pub const ENTROPY: &str = "entropy";
    /// The teacher's, on the same positions.
    pub const TEACHER_ENTROPY: &str = "teacher_entropy";
    /// KL(student ‖ teacher) on the test split: the reverse of [`KL_TEACHER_STUDENT`].
    pub const KL_STUDENT_TEACHER: &str = "kl_student_teacher";
    /// Language models with a teacher: the mean log-probability the teacher gives the
    /// characters the student samples after prompts from the test text, in nats per character
    /// (the quantity on-policy distillation pushes up).
    pub const TEACHER_LOG_PROB: &str = "teacher_logprob";
}

/// One measured value: a row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricPoint {
    /// Index of the stage in the plan.
    pub stage: usize,
    /// Optimizer steps taken by the stage when measured.
    pub step: u64,
    /// 1-based epoch the step belongs to.
    pub epoch: u64,
    pub metric: String,
    pub value: f64,
    /// Seconds the stage had trained when measured, time spent paused excluded. Not written to
    /// `metrics.csv` (two runs with the same seed write identical files); the curves' wall-time
    /// axis reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<f64>,
}

/// What a run is about: sent first, before any stage starts.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub preset: String,
    /// The preset's description (the paper and the claim to check).
    pub description: String,
    /// The fully resolved preset, as `config.toml` holds it.
    pub config: String,
    /// The device label, e.g. `flex (CPU)`.
    pub device: String,
    /// The seed of initialisation and shuffling (`train.seed`, else `data.seed`).
    pub seed: u64,
    pub data: DataInfo,
    pub stages: Vec<StageInfo>,
    /// Where this run branched off another one, for a fork.
    pub fork: Option<ForkOrigin>,
}

/// What the views need to know about the data: its shape, its classes and the fixed probe
/// examples. A run folder keeps it with the probes (`probes.json`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DataInfo {
    pub dataset: String,
    pub shape: InputShape,
    pub class_names: Vec<String>,
    pub train_examples: usize,
    pub test_examples: usize,
    /// Test-split indices of the probe examples (see [`Probe`]).
    pub probe_examples: Vec<usize>,
    pub probe_labels: Vec<u32>,
    /// The probe examples' features on their original scale (pixels for images), for thumbnails.
    pub probe_features: Vec<Vec<f32>>,
    /// Labels of the relation probe's examples (sorted by class).
    pub relation_labels: Vec<u32>,
    /// The plane of 2-D data: extent and training points, for the decision-boundary view.
    pub plane: Option<Plane>,
    /// Text: the character of each class id (`class_names` shows them visibly: `⏎` for a line
    /// end), so front ends can write and read text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vocabulary: Vec<char>,
}

/// The stage and step a forked run branched off its parent at; it trained exactly as its parent
/// until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkOrigin {
    pub stage: usize,
    pub step: u64,
}

/// A planned stage, as listed before the run starts.
#[derive(Debug, Clone, PartialEq)]
pub struct StageInfo {
    pub name: String,
    pub model: String,
    pub method: MethodInfo,
    pub teacher: Option<String>,
    /// The starting value of each live hyperparameter of its method.
    pub parameters: Vec<(Parameter, f64)>,
}

/// What a listener needs to know about a stage when it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct StageStart {
    pub stage: usize,
    pub name: String,
    pub model: String,
    pub method: MethodInfo,
    pub teacher: Option<String>,
    pub params: usize,
    pub epochs: usize,
    /// Optimizer steps of the planned epochs.
    pub total_steps: u64,
    pub steps_per_epoch: u64,
    /// Whether the stage goes on past its planned epochs until stopped.
    pub keep_training: bool,
    /// Where the stage's trained model was loaded from instead of training, if it was.
    pub reused_from: Option<String>,
}

/// How a stage ended; serialised as a stage of `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageOutcome {
    #[serde(skip)]
    pub stage: usize,
    pub name: String,
    pub model: String,
    pub method: MethodInfo,
    pub teacher: Option<String>,
    pub params: usize,
    pub epochs: usize,
    pub steps: u64,
    pub wall_seconds: f64,
    pub train_accuracy: Option<f64>,
    pub test_accuracy: Option<f64>,
    pub agreement_with_teacher: Option<f64>,
    pub diverged: bool,
    /// Stopped early by the user.
    pub stopped: bool,
    /// Loaded from the teacher cache rather than trained.
    pub cached: bool,
    /// Still training when this was recorded (a run saved from the app mid-stage): its numbers
    /// are the latest reported, not final.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub in_progress: bool,
    /// Why the stage did not run (its teacher diverged), when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Test accuracy on each class the stage never saw in training.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded_classes: Vec<ClassAccuracy>,
}

/// How well a model recognises one class: the share of that class's test examples it labels so.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    pub class: String,
    pub test_accuracy: f64,
    pub test_examples: usize,
}

/// The accuracy of averaged predictions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EnsembleOutcome {
    pub name: String,
    pub members: Vec<String>,
    /// `None` when a member has no trained model.
    pub test_accuracy: Option<f64>,
}
