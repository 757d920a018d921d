//! Everything an engine reports, in order, and why a run could not go on.

use super::commands::Steer;
use super::hypers::Parameter;
use super::probe::Probe;
use super::run::{EnsembleOutcome, MetricPoint, RunInfo, StageOutcome, StageStart};

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
