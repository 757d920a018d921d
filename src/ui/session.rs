//! One training run as the app holds it: the engine handle, what it has reported, and the
//! commands the controls send. Draining events never blocks the frame.

use super::history::RunHistory;
use crate::device::DeviceChoice;
use crate::train::{Command, Engine, PresetSource, TeacherCache};

/// At most this many events are taken per frame, so a burst cannot stall drawing.
const EVENTS_PER_FRAME: usize = 2_000;

/// A run: started, running, or finished.
pub struct Session {
    engine: Option<Engine>,
    pub history: RunHistory,
}

impl Session {
    /// Launches `source` with `overrides` on `device`; loading and device selection happen on
    /// the engine thread.
    pub fn start(source: PresetSource, overrides: Vec<String>, device: DeviceChoice) -> Session {
        Session::of(Engine::launch(source, overrides, device, TeacherCache::default_location()))
    }

    /// A finished run read back from its recorded events (a run folder).
    pub fn replayed(events: Vec<crate::train::Event>) -> Session {
        let mut history = RunHistory::default();
        for event in events {
            history.apply(event);
        }
        Session { engine: None, history }
    }

    /// A run whose events come from `engine`.
    pub fn of(engine: Engine) -> Session {
        Session { engine: Some(engine), history: RunHistory::default() }
    }

    /// Sends a command; a finished engine ignores it.
    pub fn send(&self, command: Command) {
        if let Some(engine) = &self.engine {
            let _ = engine.commands.send(command);
        }
    }

    /// Takes in whatever the engine has sent since the last frame; returns whether anything
    /// arrived.
    pub fn drain(&mut self) -> bool {
        let Some(engine) = &self.engine else { return false };
        let events: Vec<_> = engine.events.try_iter().take(EVENTS_PER_FRAME).collect();
        let changed = !events.is_empty();
        for event in events {
            self.history.apply(event);
        }
        if self.history.finished
            && let Some(engine) = self.engine.take()
        {
            engine.join();
        }
        changed
    }

    /// Whether the engine is still working.
    pub fn is_running(&self) -> bool {
        self.engine.is_some() && !self.history.finished
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Dropping the channels ends the engine thread at its next step; cancel makes it prompt.
        self.send(Command::Cancel);
    }
}
