//! What goes in and out of the engine thread: commands from the user, events for whoever
//! listens (the CLI, the app, a test).
//!
//! Delivery rules: stage events are never dropped (the engine waits for room); metric points
//! are never lost but are batched while the listener is slow, so training never waits on them;
//! of probe snapshots only the latest waits for room; progress ticks are dropped when the
//! channel is full, because the next one supersedes them.

use super::methods::{Method, Parameter};
use super::probe::{Plane, Representations};
use crate::data::InputShape;
use crossbeam_channel::{Sender, TrySendError};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// A request to the running engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A live hyperparameter of the running stage's method, from the next optimizer step.
    Set(Parameter, f64),
    /// Whether a stage (the running one, or one still to come) goes on past its planned epochs
    /// until `Stop`.
    KeepTraining {
        stage: usize,
        keep: bool,
    },
    /// Branch off a new run from this step: the same weights, optimizer state and data order,
    /// with these parameter changes. The new run's [`super::Engine`] arrives on
    /// [`super::Engine::forks`]; this run goes on unchanged.
    Fork(Vec<(Parameter, f64)>),
    /// Stop taking optimizer steps until `Resume` or `Step`.
    Pause,
    Resume,
    /// While paused, take exactly one optimizer step.
    Step,
    /// End the current stage now, keeping what it learned; later stages still run.
    Stop,
    /// End the whole run after the current step.
    Cancel,
}

/// A user's command that changed what a stage computes, and when the stage took it: one entry
/// of the run's steering log. Replayed at the same steps (`[[steering]]` in a preset), the log
/// reproduces the run's metrics exactly.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Steer {
    pub stage: usize,
    /// Optimizer steps the stage had taken when it took the command (the next step is the
    /// first it affects).
    pub after_step: u64,
    pub action: SteerAction,
}

/// What a steering entry did.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub enum SteerAction {
    /// A live hyperparameter moved from one value to another.
    Set { parameter: Parameter, from: f64, to: f64 },
    /// The stage was set to go on past its planned epochs (or not).
    KeepTraining(bool),
    /// The stage was ended here.
    Stop,
    /// A run branched off here; the stage reported its metrics at this step (which is all a
    /// replay repeats: the branch has its own record).
    Fork,
}

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
}

/// One measured value: a row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
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

/// What the model currently predicts on a fixed set of test examples, for views that show
/// individual predictions. Its size depends on the data, never on how long training ran.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Probe {
    pub stage: usize,
    pub step: u64,
    pub classes: usize,
    /// Indices into the test split of the probe examples (the same for the whole run).
    pub examples: Vec<usize>,
    /// The stage's logits for the probe examples, row-major `[examples × classes]`.
    pub logits: Vec<f32>,
    /// The teacher's logits for the same examples, for stages with a teacher.
    pub teacher_logits: Option<Vec<f32>>,
    /// Counts over the whole test split of (teacher prediction, stage prediction), row-major
    /// `[classes × classes]` with the teacher's class as the row; for stages with a teacher.
    pub agreement_matrix: Option<Vec<u32>>,
    /// Attention maps, relations and decision boundary, or why each is not available.
    pub representations: Representations,
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
#[derive(Debug, Clone, PartialEq, Default, Serialize, serde::Deserialize)]
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
}

/// The stage and step a forked run branched off its parent at; it trained exactly as its parent
/// until then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ForkOrigin {
    pub stage: usize,
    pub step: u64,
}

/// A planned stage, as listed before the run starts.
#[derive(Debug, Clone, PartialEq)]
pub struct StageInfo {
    pub name: String,
    pub model: String,
    pub method: Method,
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
    pub method: Method,
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
    pub method: Method,
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

/// Something the engine reports.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The run's data and device are ready; stages follow.
    Ready(Box<RunInfo>),
    StageStarted(StageStart),
    /// Metric points in the order they were measured (several reports when the listener lags).
    Metrics(Vec<MetricPoint>),
    /// Predictions on the probe examples at a metric report (only the latest one is kept while
    /// the listener lags).
    Probe(Box<Probe>),
    /// Steps taken so far; sent a few times a second and after every single step.
    Progress {
        stage: usize,
        step: u64,
        epoch: u64,
        paused: bool,
    },
    /// A live hyperparameter change; `step` is the first optimizer step that uses it.
    ParameterChanged {
        stage: usize,
        step: u64,
        epoch: u64,
        parameter: Parameter,
        value: f64,
    },
    /// A steering command the stage took (the run's steering log, in order; a fork starts with
    /// its parent's entries up to the fork).
    Steered(Steer),
    /// A loss became NaN or infinite.
    Diverged {
        stage: usize,
        step: u64,
    },
    StageFinished(StageOutcome),
    EnsembleEvaluated(EnsembleOutcome),
    /// A line for the user: cache reuse, skipped stages.
    Notice(String),
    /// The run could not go on.
    Error(EngineError),
    /// The run is over; nothing follows.
    Finished {
        cancelled: bool,
    },
}

/// Why a run could not go on, as it crosses from the engine thread to its listener (kept as
/// text inside: the causes, I/O errors among them, cannot be cloned into every listener).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    /// The preset or its data cannot be used (the message names the file and field).
    #[error("{0}")]
    Setup(String),
    /// The device asked for is not there.
    #[error("{0}")]
    Device(String),
    /// Training itself failed (a panic inside burn or the engine).
    #[error("training failed on {device}: {message}")]
    Failed { device: String, message: String },
    /// The remote device stopped answering (its server died, the network dropped).
    #[error("{device}: remote device lost at step {step} ({message})")]
    RemoteLost { device: String, step: u64, message: String },
}

/// The sending half, applying the delivery rules above.
pub struct EventSink {
    sender: Sender<Event>,
    pending_metrics: Vec<MetricPoint>,
    pending_probe: Option<Box<Probe>>,
    last_progress: Option<Instant>,
    /// The last step reported, sent or not (what a lost remote device had reached).
    last_step: u64,
}

/// The listener hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnected;

const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

impl EventSink {
    pub fn new(sender: Sender<Event>) -> EventSink {
        EventSink { sender, pending_metrics: Vec::new(), pending_probe: None, last_progress: None, last_step: 0 }
    }

    /// The last optimizer step reported.
    pub fn last_step(&self) -> u64 {
        self.last_step
    }

    /// Queues metric points and sends them if the channel has room.
    pub fn metrics(&mut self, points: Vec<MetricPoint>) -> Result<(), Disconnected> {
        self.pending_metrics.extend(points);
        self.try_flush_metrics()
    }

    /// Replaces the waiting probe snapshot with `probe` and sends it if the channel has room.
    pub fn probe(&mut self, probe: Probe) -> Result<(), Disconnected> {
        self.pending_probe = Some(Box::new(probe));
        self.try_flush_metrics()
    }

    /// Sends the queued metric points, then the waiting probe, as far as the channel has room.
    fn try_flush_metrics(&mut self) -> Result<(), Disconnected> {
        if !self.pending_metrics.is_empty() {
            let batch = std::mem::take(&mut self.pending_metrics);
            match self.sender.try_send(Event::Metrics(batch)) {
                Ok(()) => {}
                Err(TrySendError::Full(Event::Metrics(batch))) => {
                    self.pending_metrics = batch;
                    return Ok(());
                }
                Err(TrySendError::Full(_)) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(Disconnected),
            }
        }
        let Some(probe) = self.pending_probe.take() else { return Ok(()) };
        match self.sender.try_send(Event::Probe(probe)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(Event::Probe(probe))) => {
                self.pending_probe = Some(probe);
                Ok(())
            }
            Err(TrySendError::Full(_)) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(Disconnected),
        }
    }

    /// Sends a progress tick unless one went out very recently (`force` sends regardless).
    pub fn progress(
        &mut self,
        stage: usize,
        step: u64,
        epoch: u64,
        paused: bool,
        force: bool,
    ) -> Result<(), Disconnected> {
        self.last_step = step;
        let due = self.last_progress.is_none_or(|t| t.elapsed() >= PROGRESS_INTERVAL);
        if !(due || force) {
            return Ok(());
        }
        self.try_flush_metrics()?;
        self.last_progress = Some(Instant::now());
        match self.sender.try_send(Event::Progress { stage, step, epoch, paused }) {
            Ok(()) | Err(TrySendError::Full(_)) => Ok(()),
            Err(TrySendError::Disconnected(_)) => Err(Disconnected),
        }
    }

    /// Sends an event that must arrive, after any metric points still queued.
    pub fn send(&mut self, event: Event) -> Result<(), Disconnected> {
        if !self.pending_metrics.is_empty() {
            let batch = std::mem::take(&mut self.pending_metrics);
            self.sender.send(Event::Metrics(batch)).map_err(|_| Disconnected)?;
        }
        if let Some(probe) = self.pending_probe.take() {
            self.sender.send(Event::Probe(probe)).map_err(|_| Disconnected)?;
        }
        self.sender.send(event).map_err(|_| Disconnected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(step: u64) -> MetricPoint {
        MetricPoint { stage: 0, step, epoch: 1, metric: "loss".into(), value: 1.0, seconds: None }
    }

    #[test]
    fn a_slow_listener_gets_every_metric_in_order() {
        let (sender, receiver) = crossbeam_channel::bounded(1);
        let mut sink = EventSink::new(sender);
        for step in 0..10 {
            sink.metrics(vec![point(step)]).unwrap();
        }
        // Nothing has been read yet: the first batch filled the channel, the rest waited.
        let handle = std::thread::spawn(move || receiver.iter().collect::<Vec<_>>());
        sink.send(Event::Finished { cancelled: false }).unwrap();
        drop(sink);
        let mut steps = Vec::new();
        for event in handle.join().unwrap() {
            if let Event::Metrics(points) = event {
                steps.extend(points.iter().map(|p| p.step));
            }
        }
        assert_eq!(steps, (0..10).collect::<Vec<_>>());
    }
}
