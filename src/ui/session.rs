//! One training run as the app holds it: the engine handle, what it has reported, and the
//! commands the controls send. Draining events never blocks the frame.

use super::history::RunHistory;
use crate::engine::{DeviceTarget, Engine, PresetSource};
use crate::protocol::{Command, Parameter};
use std::collections::VecDeque;

/// At most this many events are taken per frame, so a burst cannot stall drawing.
const EVENTS_PER_FRAME: usize = 2_000;

/// A run: started, running, or finished.
pub struct Session {
    engine: Option<Engine>,
    pub history: RunHistory,
    /// What each fork asked for and not yet started changes (`T=2 α=0.5`), oldest first.
    fork_values: VecDeque<String>,
}

/// A run forked off a session, ready to be added beside it.
pub(crate) struct Forked {
    /// The values it changed, as its label gives them.
    pub(crate) values: String,
    /// The stage and step it branched off at.
    pub(crate) origin: Option<crate::protocol::ForkOrigin>,
    pub(crate) session: Session,
}

impl Session {
    /// Launches `source` with `overrides` on `device`; loading and device selection happen on
    /// the engine thread.
    pub(crate) fn start(source: PresetSource, overrides: Vec<String>, device: DeviceTarget) -> Session {
        Session::of(crate::engine::launch(source, overrides, device))
    }

    /// A finished run read back from its recorded events (a run folder).
    pub fn replayed(events: Vec<crate::protocol::Event>) -> Session {
        let mut history = RunHistory::default();
        for event in events {
            history.apply(event);
        }
        Session { engine: None, history, fork_values: VecDeque::new() }
    }

    /// A run whose events come from `engine`.
    pub(crate) fn of(engine: Engine) -> Session {
        Session { engine: Some(engine), history: RunHistory::default(), fork_values: VecDeque::new() }
    }

    /// Sends a command; a finished engine ignores it.
    pub(crate) fn send(&self, command: Command) {
        if let Some(engine) = &self.engine {
            let _ = engine.commands.send(command);
        }
    }

    /// Asks the engine to branch off a run at its current step with `changes`, described as
    /// `values` in its label.
    pub(crate) fn fork(&mut self, values: String, changes: Vec<(Parameter, f64)>) {
        if self.is_running() {
            self.fork_values.push_back(values);
            self.send(Command::Fork(changes));
        }
    }

    /// Takes in whatever the engine has sent since the last frame; returns whether anything
    /// arrived, and the runs forked off since.
    pub(crate) fn drain(&mut self) -> (bool, Vec<Forked>) {
        let Some(engine) = &self.engine else { return (false, Vec::new()) };
        let events: Vec<_> = engine.events.try_iter().take(EVENTS_PER_FRAME).collect();
        let forks: Vec<Engine> = engine.forks.try_iter().collect();
        let changed = !events.is_empty() || !forks.is_empty();
        for event in events {
            self.history.apply(event);
        }
        let forked = forks
            .into_iter()
            .map(|engine| Forked {
                values: self.fork_values.pop_front().unwrap_or_default(),
                origin: engine.origin,
                session: Session::of(engine),
            })
            .collect();
        if self.history.finished
            && let Some(engine) = self.engine.take()
        {
            engine.join();
        }
        (changed, forked)
    }

    /// Whether the engine is still working.
    pub(crate) fn is_running(&self) -> bool {
        self.engine.is_some() && !self.history.finished
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Dropping the channels ends the engine thread at its next step; cancel makes it prompt.
        self.send(Command::Cancel);
    }
}
