//! The native engine: a [`Session`] polled on a thread of its own. It talks to the outside
//! only through its channels: commands in, events out, and the engines of runs forked off it.
//! Paused, the thread blocks on its command channel instead of polling.

use super::cache::TeacherCache;
use super::events::EventSink;
use super::launch::prepare;
use super::plan::Plan;
use super::session::{Session, SessionState};
use crate::data::Dataset;
use crate::device::remote::DeviceTarget;
use crate::device::{self, ComputeDevice};
use crate::preset::PresetSource;
use crate::protocol::{Command, EngineError, Event, ForkOrigin};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Room for events before metric points start to be batched.
const EVENT_CAPACITY: usize = 256;

/// How long one poll of the session may work before the thread looks at its commands again:
/// nothing beyond one unit of work, so that a command acts from the very next step and the
/// events of each step go out at once (a poll costs far less than the smallest step).
const POLL_BUDGET: Duration = Duration::ZERO;

/// A running engine: send [`Command`]s, receive [`Event`]s, and the engines of runs forked off
/// this one.
pub struct Engine {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    /// Each [`Command::Fork`] starts a new run on a thread of its own; its engine arrives here.
    pub forks: Receiver<Engine>,
    /// Where this run branched off its parent, for a fork (the step the engine forked at, which
    /// may be later than the one the user saw when asking).
    pub(crate) origin: Option<ForkOrigin>,
    thread: Option<JoinHandle<()>>,
}

/// The ends an engine thread holds.
struct Ends {
    commands: Receiver<Command>,
    sink: EventSink,
    forks: Sender<Engine>,
}

impl Engine {
    /// Starts training `plan` on `dataset` in a background thread.
    pub fn spawn(plan: Plan, dataset: Arc<Dataset>, device: ComputeDevice, cache: Option<TeacherCache>) -> Engine {
        Engine::on_thread(move |ends| drive(Session::new(plan, dataset, device, cache), ends))
    }

    /// Loads a preset and its data, picks the device and trains, all on the engine thread; a bad
    /// preset, bad data, a missing GPU or an unreachable server arrive as an [`Event::Error`] followed by
    /// [`Event::Finished`].
    pub(crate) fn launch(
        source: PresetSource,
        overrides: Vec<String>,
        target: DeviceTarget,
        cache: Option<TeacherCache>,
    ) -> Engine {
        Engine::on_thread(move |mut ends| {
            let ready =
                prepare(&source, &overrides).map_err(|e| EngineError::Setup(e.to_string())).and_then(|prepared| {
                    target.open().map(|d| (prepared, d)).map_err(|e| EngineError::Device(e.to_string()))
                });
            match ready {
                Ok((prepared, device)) => {
                    drive(Session::new(prepared.plan, Arc::new(prepared.dataset), device, cache), ends)
                }
                Err(error) => {
                    let _ = ends.sink.send(Event::Error(error));
                    let _ = ends.sink.send(Event::Finished { cancelled: false });
                }
            }
        })
    }

    fn on_thread(body: impl FnOnce(Ends) + Send + 'static) -> Engine {
        let (command_sender, command_receiver) = crossbeam_channel::unbounded();
        let (event_sender, event_receiver) = crossbeam_channel::bounded(EVENT_CAPACITY);
        let (fork_sender, fork_receiver) = crossbeam_channel::unbounded();
        let ends = Ends { commands: command_receiver, sink: EventSink::new(event_sender), forks: fork_sender };
        let thread = std::thread::Builder::new()
            .name("kdlab-engine".into())
            .spawn(move || device::on_compute_threads(|| body(ends)))
            .ok();
        Engine { commands: command_sender, events: event_receiver, forks: fork_receiver, origin: None, thread }
    }

    /// This engine with its events passed through `relay` on their way out, on a thread of
    /// their own; commands still go straight in. (The frame-time benchmark uses it to put hours
    /// of history in front of a real run.)
    pub(crate) fn relayed(mut self, mut relay: impl FnMut(Event, &Sender<Event>) + Send + 'static) -> Engine {
        let (sender, receiver) = crossbeam_channel::unbounded();
        let (inner_events, inner_thread) = (self.events.clone(), self.thread.take());
        let thread = std::thread::Builder::new()
            .name("kdlab-relay".into())
            .spawn(move || {
                for event in inner_events.iter() {
                    relay(event, &sender);
                }
                if let Some(thread) = inner_thread {
                    let _ = thread.join();
                }
            })
            .ok();
        Engine {
            commands: self.commands.clone(),
            events: receiver,
            forks: self.forks.clone(),
            origin: self.origin,
            thread,
        }
    }

    /// A run whose events come from elsewhere (the frame-time benchmark's copies of a live run);
    /// its commands go nowhere and it forks nothing.
    pub(crate) fn fed(events: Receiver<Event>) -> Engine {
        let (commands, _) = crossbeam_channel::unbounded();
        let (_, forks) = crossbeam_channel::unbounded();
        Engine { commands, events, forks, origin: None, thread: None }
    }

    /// A run forked off another, on a thread of its own.
    fn forked(session: Session) -> Engine {
        let origin = session.origin();
        let mut engine = Engine::on_thread(move |ends| drive(session, ends));
        engine.origin = origin;
        engine
    }

    /// Waits for the engine thread to end.
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Polls `session` until its run is over, applying commands between polls and handing its
/// events and forks on; paused, waits for the next command. A listener that hung up ends it.
fn drive(mut session: Session, ends: Ends) {
    let Ends { commands, mut sink, forks } = ends;
    loop {
        // A listener that sends no commands (the CLI) may drop its sender: that is no error.
        while let Ok(command) = commands.try_recv() {
            session.apply(command);
        }
        let polled = session.poll(POLL_BUDGET);
        for fork in polled.forks {
            let _ = forks.send(Engine::forked(fork));
        }
        for event in polled.events {
            if sink.deliver(event).is_err() {
                return;
            }
        }
        match polled.state {
            SessionState::Running => {}
            // Paused: nothing to do until a command comes; with nobody left to send one, the
            // run is cancelled.
            SessionState::Waiting => session.apply(commands.recv().unwrap_or(Command::Cancel)),
            SessionState::Finished => return,
        }
    }
}
