//! The user's live controls as the engine sees them between two optimizer steps: pause,
//! resume, single steps, stop, cancel, forks, whether a stage keeps training past its epochs,
//! pending parameter changes, how long training has been paused — and the steering log: every
//! command that changed what a stage computes, with the step at which the stage took it, so a
//! run can be replayed exactly (a preset's `[[steering]]` entries are fed back in here).

use super::events::{Disconnected, EventSink};
use super::methods::Parameter;
use crate::protocol::{Command, Event, Steer, SteerAction};
use crossbeam_channel::Receiver;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// What the training loop should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// Take one optimizer step.
    Go,
    /// Branch off a new run here with these parameter changes, then ask again.
    Fork(Vec<(Parameter, f64)>),
    /// Report the metrics here, where a replayed run once branched off, then ask again.
    Checkpoint,
    /// End the current stage.
    Stop,
    /// End the run.
    Cancel,
}

/// What a forked run takes over from its parent's controls: the keep-training choices and the
/// steering log so far.
#[derive(Debug, Clone, Default)]
pub struct Inheritance {
    keep_training: BTreeMap<usize, bool>,
    log: Vec<Steer>,
}

/// Command state carried across steps and stages.
pub struct Controls {
    commands: Receiver<Command>,
    paused: bool,
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
}

impl Controls {
    pub fn new(commands: Receiver<Command>) -> Controls {
        Controls {
            commands,
            paused: false,
            granted_steps: 0,
            stop_requested: false,
            cancel_requested: false,
            forks: Vec::new(),
            changes: Vec::new(),
            keep_training: BTreeMap::new(),
            unlogged_keep: BTreeMap::new(),
            paused_for: Duration::ZERO,
            script: VecDeque::new(),
            log: Vec::new(),
        }
    }

    /// These controls replaying `script` (a preset's steering) at the steps it names.
    pub fn with_script(mut self, script: Vec<Steer>) -> Controls {
        self.script = script.into();
        self
    }

    /// These controls going on from a parent run's (a fork's).
    pub fn inheriting(mut self, inheritance: Inheritance) -> Controls {
        self.keep_training = inheritance.keep_training;
        self.log = inheritance.log;
        self
    }

    /// What a run forked off now takes over.
    pub fn inheritance(&self) -> Inheritance {
        Inheritance { keep_training: self.keep_training.clone(), log: self.log.clone() }
    }

    /// The steering log so far.
    pub fn log(&self) -> &[Steer] {
        &self.log
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    fn apply(&mut self, command: Command) {
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
        }
    }

    /// Appends an entry to the steering log and reports it.
    pub fn record(&mut self, sink: &mut EventSink, steer: Steer) -> Result<(), Disconnected> {
        self.log.push(steer.clone());
        sink.send(Event::Steered(steer))
    }

    /// Takes the scripted entries due at this step of this stage (dropping, with a notice, any
    /// left for stages already over); returns a checkpoint when one is due.
    fn replay_script(&mut self, sink: &mut EventSink, stage: usize, step: u64) -> Result<Option<Turn>, Disconnected> {
        while let Some(next) = self.script.front() {
            if next.stage < stage {
                let missed = self.script.pop_front();
                if let Some(missed) = missed {
                    let notice = format!(
                        "steering: stage {} ended before step {}; its entry there was not replayed",
                        missed.stage, missed.after_step
                    );
                    sink.send(Event::Notice(notice))?;
                }
                continue;
            }
            if next.stage > stage || next.after_step > step {
                return Ok(None);
            }
            let Some(entry) = self.script.pop_front() else { return Ok(None) };
            match entry.action {
                SteerAction::Set { parameter, to, .. } => self.changes.push((parameter, to)),
                SteerAction::KeepTraining(keep) => {
                    self.keep_training.insert(stage, keep);
                    self.unlogged_keep.insert(stage, keep);
                }
                SteerAction::Stop => self.stop_requested = true,
                SteerAction::Fork => {
                    self.record(sink, Steer { stage, after_step: step, action: SteerAction::Fork })?;
                    return Ok(Some(Turn::Checkpoint));
                }
            }
        }
        Ok(None)
    }

    /// Logs the keep-training choices that concern this stage, now that it runs.
    fn log_keep_training(&mut self, sink: &mut EventSink, stage: usize, step: u64) -> Result<(), Disconnected> {
        self.unlogged_keep.retain(|&s, _| s >= stage);
        if let Some(keep) = self.unlogged_keep.remove(&stage) {
            self.record(sink, Steer { stage, after_step: step, action: SteerAction::KeepTraining(keep) })?;
        }
        Ok(())
    }

    /// Reads every waiting command (and the script's entries due here) and decides the next
    /// move; while paused with no step granted, blocks until a command arrives (a paused engine
    /// uses no CPU). The time spent blocked counts as paused.
    pub fn next_turn(
        &mut self,
        sink: &mut EventSink,
        stage: usize,
        step: u64,
        epoch: u64,
    ) -> Result<Turn, Disconnected> {
        let mut announced_pause = false;
        loop {
            // A listener that sends no commands (the CLI) may drop its sender: that is no error.
            while let Ok(command) = self.commands.try_recv() {
                self.apply(command);
            }
            if self.cancel_requested {
                return Ok(Turn::Cancel);
            }
            if let Some(turn) = self.replay_script(sink, stage, step)? {
                return Ok(turn);
            }
            self.log_keep_training(sink, stage, step)?;
            if !self.forks.is_empty() {
                self.record(sink, Steer { stage, after_step: step, action: SteerAction::Fork })?;
                return Ok(Turn::Fork(self.forks.remove(0)));
            }
            if self.stop_requested {
                self.stop_requested = false;
                self.record(sink, Steer { stage, after_step: step, action: SteerAction::Stop })?;
                return Ok(Turn::Stop);
            }
            if !self.paused {
                return Ok(Turn::Go);
            }
            if self.granted_steps > 0 {
                self.granted_steps -= 1;
                return Ok(Turn::Go);
            }
            if !announced_pause {
                sink.progress(stage, step, epoch, true, true)?;
                announced_pause = true;
            }
            let waiting = Instant::now();
            let received = self.commands.recv();
            self.paused_for += waiting.elapsed();
            match received {
                Ok(command) => self.apply(command),
                Err(_) => return Ok(Turn::Cancel),
            }
        }
    }

    /// Changes that apply from the next step, as if the user had just sent them (a fork's).
    pub fn queue_changes(&mut self, changes: Vec<(Parameter, f64)>) {
        self.changes.extend(changes);
    }

    /// Parameter changes received since the last call, oldest first.
    pub fn take_changes(&mut self) -> Vec<(Parameter, f64)> {
        std::mem::take(&mut self.changes)
    }

    /// Whether the run was cancelled.
    pub fn cancelled(&self) -> bool {
        self.cancel_requested
    }

    /// Whether `stage` goes on past its epochs: the user's choice, else `planned`.
    pub fn keep_training(&self, stage: usize, planned: bool) -> bool {
        self.keep_training.get(&stage).copied().unwrap_or(planned)
    }

    /// Sets whether `stage` goes on past its epochs, as the user's toggle would (unlogged: a
    /// fork's stage takes it over from its parent, whose log already says it).
    pub fn set_keep_training(&mut self, stage: usize, keep: bool) {
        self.keep_training.insert(stage, keep);
    }

    /// The time spent paused so far in this run.
    pub fn paused_for(&self) -> Duration {
        self.paused_for
    }
}

/// A stage's training time: wall time since it started, time spent paused excluded.
#[derive(Debug, Clone, Copy)]
pub struct StageClock {
    started: Instant,
    paused_before: Duration,
    /// Seconds trained before this clock started (a fork goes on from its parent's time).
    offset: f64,
}

impl StageClock {
    /// A clock that has counted `offset` seconds already.
    pub fn start(controls: &Controls, offset: f64) -> StageClock {
        StageClock { started: Instant::now(), paused_before: controls.paused_for(), offset }
    }

    /// Seconds of training so far.
    pub fn seconds(&self, controls: &Controls) -> f64 {
        let paused = controls.paused_for().saturating_sub(self.paused_before);
        self.offset + self.started.elapsed().saturating_sub(paused).as_secs_f64()
    }
}
