//! What a front end asks of a running engine: the user's live controls, and the steering log
//! entries that record which of them changed what a stage computes, and when.

use super::hypers::Parameter;
use serde::{Deserialize, Serialize};

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
    /// The prompt and sampling of the language-model probe: a probe of the current model is
    /// sent at once (paused or not), and later reports use them.
    ProbeText(super::probe::TextProbeSettings),
}

/// A user's command that changed what a stage computes, and when the stage took it: one entry
/// of the run's steering log. Replayed at the same steps (`[[steering]]` in a preset), the log
/// reproduces the run's metrics exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Steer {
    pub stage: usize,
    /// Optimizer steps the stage had taken when it took the command (the next step is the
    /// first it affects).
    pub after_step: u64,
    pub action: SteerAction,
}

/// What a steering entry did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
