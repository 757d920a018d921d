//! The user's live controls as the engine sees them between two optimizer steps: pause,
//! resume, single steps, stop, cancel, forks, whether a stage keeps training past its epochs,
//! pending parameter changes, how long training has been paused — and the steering log: every
//! command that changed what a stage computes, with the step at which the stage took it, so a
//! run can be replayed exactly (a preset's `[[steering]]` entries are fed back in here).
//! Commands arrive through [`Controls::apply`] whenever the host has them; nothing here waits
//! for one: paused, the controls answer [`Turn::Wait`] and the host stops polling.

use super::events::Outbox;
use super::methods::Parameter;
use crate::protocol::{Command, Event, Steer, SteerAction, TextProbeSettings};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// What the training loop should do next.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Turn {
    /// Take one optimizer step.
    Go,
    /// Branch off a new run here with these parameter changes, then ask again.
    Fork(Vec<(Parameter, f64)>),
    /// Report the metrics here, where a replayed run once branched off, then ask again.
    Checkpoint,
    /// Send a probe of the model as it is (the user changed what the probe reads), then ask
    /// again.
    Probe,
    /// End the current stage.
    Stop,
    /// End the run.
    Cancel,
    /// Paused with no step granted: nothing to do until a command comes.
    Wait,
}

/// What a forked run takes over from its parent's controls: the keep-training choices and the
/// steering log so far.
#[derive(Debug, Clone, Default)]
pub(crate) struct Inheritance {
    keep_training: BTreeMap<usize, bool>,
    log: Vec<Steer>,
}

/// Command state carried across steps and stages.
#[derive(Default)]
pub(crate) struct Controls {
    paused: bool,
    /// Since when the loop has been waiting, paused (`None` while it trains).
    waiting_since: Option<Instant>,
    /// Steps granted by `Step` while paused.
    granted_steps: u32,
    stop_requested: bool,
    cancel_requested: bool,
    forks: Vec<Vec<(Parameter, f64)>>,
    changes: Vec<(Parameter, f64)>,
    /// The user's choice, per stage, of whether it keeps training past its epochs (absent: as
    /// the plan says).
    keep_training: BTreeMap<usize, bool>,
    /// Choices for stages that had not started when they came: logged when the stage starts.
    unlogged_keep: BTreeMap<usize, bool>,
    /// Time spent waiting while paused, over the whole run.
    paused_for: Duration,
    /// Steering to replay, in the order it happened.
    script: VecDeque<Steer>,
    /// Every steering command taken so far, in order.
    log: Vec<Steer>,
    /// What the language-model probe reads and samples.
    text_probe: TextProbeSettings,
    /// Whether the user changed it since the last probe.
    reprobe: bool,
}

impl Controls {
    /// These controls replaying `script` (a preset's steering) at the steps it names.
    pub(crate) fn with_script(mut self, script: Vec<Steer>) -> Controls {
        self.script = script.into();
        self
    }

    /// These controls going on from a parent run's (a fork's).
    pub(crate) fn inheriting(mut self, inheritance: Inheritance) -> Controls {
        self.keep_training = inheritance.keep_training;
        self.log = inheritance.log;
        self
    }

    /// What a run forked off now takes over.
    pub(crate) fn inheritance(&self) -> Inheritance {
        Inheritance { keep_training: self.keep_training.clone(), log: self.log.clone() }
    }

    /// The steering log so far.
    pub(crate) fn log(&self) -> &[Steer] {
        &self.log
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    /// Takes a command from the user; it acts at the loop's next turn.
    pub(crate) fn apply(&mut self, command: Command) {
        match command {
            Command::Set(parameter, value) => self.changes.push((parameter, value)),
            Command::KeepTraining { stage, keep } => {
                self.keep_training.insert(stage, keep);
                self.unlogged_keep.insert(stage, keep);
            }
            Command::Fork(changes) => self.forks.push(changes),
            Command::Pause => self.paused = true,
            Command::Resume => {
                self.paused = false;
                self.granted_steps = 0;
            }
            Command::Step => {
                self.paused = true;
                self.granted_steps += 1;
            }
            Command::Stop => self.stop_requested = true,
            Command::Cancel => self.cancel_requested = true,
            Command::ProbeText(settings) => {
                self.text_probe = settings;
                self.reprobe = true;
            }
        }
    }

    /// What the language-model probe reads and samples.
    pub(crate) fn text_probe(&self) -> &TextProbeSettings {
        &self.text_probe
    }

    /// Appends an entry to the steering log and reports it.
    pub(crate) fn record(&mut self, out: &mut Outbox, steer: Steer) {
        self.log.push(steer.clone());
        out.send(Event::Steered(steer));
    }

    /// Takes the scripted entries due at this step of this stage (dropping, with a notice, any
    /// left for stages already over); returns a checkpoint when one is due.
    fn replay_script(&mut self, out: &mut Outbox, stage: usize, step: u64) -> Option<Turn> {
        while let Some(next) = self.script.front() {
            if next.stage < stage {
                if let Some(missed) = self.script.pop_front() {
                    out.send(Event::Notice(format!(
                        "steering: stage {} ended before step {}; its entry there was not replayed",
                        missed.stage, missed.after_step
                    )));
                }
                continue;
            }
            if next.stage > stage || next.after_step > step {
                return None;
            }
            let entry = self.script.pop_front()?;
            match entry.action {
                SteerAction::Set { parameter, to, .. } => self.changes.push((parameter, to)),
                SteerAction::KeepTraining(keep) => {
                    self.keep_training.insert(stage, keep);
                    self.unlogged_keep.insert(stage, keep);
                }
                SteerAction::Stop => self.stop_requested = true,
                SteerAction::Fork => {
                    self.record(out, Steer { stage, after_step: step, action: SteerAction::Fork });
                    return Some(Turn::Checkpoint);
                }
            }
        }
        None
    }

    /// Logs the keep-training choices that concern this stage, now that it runs.
    fn log_keep_training(&mut self, out: &mut Outbox, stage: usize, step: u64) {
        self.unlogged_keep.retain(|&s, _| s >= stage);
        if let Some(keep) = self.unlogged_keep.remove(&stage) {
            self.record(out, Steer { stage, after_step: step, action: SteerAction::KeepTraining(keep) });
        }
    }

    /// Decides the next move from the commands applied so far and the script's entries due
    /// here. Paused with no step granted, the answer is [`Turn::Wait`] (the first time with a
    /// paused progress tick); the time until the next other answer counts as paused.
    pub(crate) fn next_turn(&mut self, out: &mut Outbox, stage: usize, step: u64, epoch: u64) -> Turn {
        let turn = self.decide(out, stage, step);
        match (turn == Turn::Wait, self.waiting_since) {
            (true, None) => {
                out.progress(stage, step, epoch, true, true);
                self.waiting_since = Some(Instant::now());
            }
            (false, Some(since)) => {
                self.paused_for += since.elapsed();
                self.waiting_since = None;
            }
            _ => {}
        }
        turn
    }

    fn decide(&mut self, out: &mut Outbox, stage: usize, step: u64) -> Turn {
        if self.cancel_requested {
            return Turn::Cancel;
        }
        if let Some(turn) = self.replay_script(out, stage, step) {
            return turn;
        }
        if std::mem::take(&mut self.reprobe) {
            return Turn::Probe;
        }
        self.log_keep_training(out, stage, step);
        if !self.forks.is_empty() {
            self.record(out, Steer { stage, after_step: step, action: SteerAction::Fork });
            return Turn::Fork(self.forks.remove(0));
        }
        if self.stop_requested {
            self.stop_requested = false;
            self.record(out, Steer { stage, after_step: step, action: SteerAction::Stop });
            return Turn::Stop;
        }
        if !self.paused {
            return Turn::Go;
        }
        if self.granted_steps > 0 {
            self.granted_steps -= 1;
            return Turn::Go;
        }
        Turn::Wait
    }

    /// Changes that apply from the next step, as if the user had just sent them (a fork's).
    pub(crate) fn queue_changes(&mut self, changes: Vec<(Parameter, f64)>) {
        self.changes.extend(changes);
    }

    /// Parameter changes received since the last call, oldest first.
    pub(crate) fn take_changes(&mut self) -> Vec<(Parameter, f64)> {
        std::mem::take(&mut self.changes)
    }

    /// Whether the run was cancelled.
    pub(crate) fn cancelled(&self) -> bool {
        self.cancel_requested
    }

    /// Whether `stage` goes on past its epochs: the user's choice, else `planned`.
    pub(crate) fn keep_training(&self, stage: usize, planned: bool) -> bool {
        self.keep_training.get(&stage).copied().unwrap_or(planned)
    }

    /// Sets whether `stage` goes on past its epochs, as the user's toggle would (unlogged: a
    /// fork's stage takes it over from its parent, whose log already says it).
    pub(crate) fn set_keep_training(&mut self, stage: usize, keep: bool) {
        self.keep_training.insert(stage, keep);
    }

    /// The time spent paused so far in this run.
    pub(crate) fn paused_for(&self) -> Duration {
        self.paused_for
    }
}

/// A stage's training time: wall time since it started, time spent paused excluded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StageClock {
    started: Instant,
    paused_before: Duration,
    /// Seconds trained before this clock started (a fork goes on from its parent's time).
    offset: f64,
}

impl StageClock {
    /// A clock that has counted `offset` seconds already.
    pub(crate) fn start(controls: &Controls, offset: f64) -> StageClock {
        StageClock { started: Instant::now(), paused_before: controls.paused_for(), offset }
    }

    /// Seconds of training so far.
    pub(crate) fn seconds(&self, controls: &Controls) -> f64 {
        let paused = controls.paused_for().saturating_sub(self.paused_before);
        self.offset + self.started.elapsed().saturating_sub(paused).as_secs_f64()
    }
}
