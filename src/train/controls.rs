//! The user's live controls as the engine sees them between two optimizer steps: pause,
//! resume, single steps, stop, cancel, and pending temperature and alpha changes.

use super::events::{Command, Disconnected, EventSink, Parameter};
use crossbeam_channel::Receiver;

/// What the training loop should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Take one optimizer step.
    Go,
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
    changes: Vec<(Parameter, f64)>,
}

impl Controls {
    pub fn new(commands: Receiver<Command>) -> Controls {
        Controls {
            commands,
            paused: false,
            granted_steps: 0,
            stop_requested: false,
            cancel_requested: false,
            changes: Vec::new(),
        }
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::SetTemperature(value) => self.changes.push((Parameter::Temperature, value)),
            Command::SetAlpha(value) => self.changes.push((Parameter::Alpha, value)),
            Command::SetBeta(value) => self.changes.push((Parameter::Beta, value)),
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
    /// granted, blocks until a command arrives (a paused engine uses no CPU).
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
            match self.commands.recv() {
                Ok(command) => self.apply(command),
                Err(_) => return Ok(Turn::Cancel),
            }
        }
    }

    /// Temperature and alpha changes received since the last call, oldest first.
    pub fn take_changes(&mut self) -> Vec<(Parameter, f64)> {
        std::mem::take(&mut self.changes)
    }

    /// Whether the run was cancelled.
    pub fn cancelled(&self) -> bool {
        self.cancel_requested
    }
}
