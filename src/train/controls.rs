//! The user's live controls as the engine sees them between two optimizer steps: pause,
//! resume, single steps, stop, cancel, forks, whether the stage keeps training past its
//! epochs, pending parameter changes, and how long training has been paused.

use super::events::{Command, Disconnected, EventSink};
use super::methods::Parameter;
use crossbeam_channel::Receiver;
use std::time::{Duration, Instant};

/// What the training loop should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// Take one optimizer step.
    Go,
    /// Branch off a new run here with these parameter changes, then ask again.
    Fork(Vec<(Parameter, f64)>),
    /// End the current stage.
    Stop,
    /// End the run.
    Cancel,
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
    /// The user's choice of whether the running stage keeps training past its epochs (`None`:
    /// as the preset says). Reset when a stage starts.
    keep_training: Option<bool>,
    /// Time spent waiting while paused, over the whole run.
    paused_for: Duration,
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
            keep_training: None,
            paused_for: Duration::ZERO,
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::Set(parameter, value) => self.changes.push((parameter, value)),
            Command::KeepTraining(keep) => self.keep_training = Some(keep),
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

    /// Reads every waiting command and decides the next move; while paused with no step
    /// granted, blocks until a command arrives (a paused engine uses no CPU). The time spent
    /// blocked counts as paused.
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
            if !self.forks.is_empty() {
                return Ok(Turn::Fork(self.forks.remove(0)));
            }
            if self.stop_requested {
                self.stop_requested = false;
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

    /// Whether the running stage goes on past its epochs: the user's toggle, else `planned`.
    pub fn keep_training(&self, planned: bool) -> bool {
        self.keep_training.unwrap_or(planned)
    }

    /// Sets whether the running stage goes on past its epochs, as the user's toggle would.
    pub fn set_keep_training(&mut self, keep: bool) {
        self.keep_training = Some(keep);
    }

    /// Forgets the previous stage's keep-training toggle.
    pub fn start_stage(&mut self) {
        self.keep_training = None;
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
