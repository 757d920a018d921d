//! The runs the workbench holds — queued, running or finished — each with its label, colour,
//! visibility and seed group; queued runs start on a pool of engine threads as slots free up.

use super::history::RunHistory;
use super::session::Session;
use crate::device::DeviceChoice;
use crate::train::PresetSource;

/// What to start: a preset with its overrides.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub label: String,
    pub source: PresetSource,
    pub overrides: Vec<String>,
    pub device: DeviceChoice,
    /// Runs of one "repeat over seeds" share a group and are drawn as mean ± std.
    pub group: Option<usize>,
    /// The seed a repeat gave this run.
    pub seed: Option<u64>,
}

enum RunState {
    Queued(RunRequest),
    // Boxed: a session (engine handle and history) is much larger than a request.
    Started(Box<Session>),
}

/// One run.
pub struct Run {
    pub label: String,
    pub group: Option<usize>,
    pub seed: Option<u64>,
    pub visible: bool,
    state: RunState,
}

impl Run {
    /// What the run has reported (nothing while queued).
    pub fn history(&self) -> Option<&RunHistory> {
        match &self.state {
            RunState::Started(session) => Some(&session.history),
            RunState::Queued(_) => None,
        }
    }

    pub fn session(&self) -> Option<&Session> {
        match &self.state {
            RunState::Started(session) => Some(session),
            RunState::Queued(_) => None,
        }
    }

    fn session_mut(&mut self) -> Option<&mut Session> {
        match &mut self.state {
            RunState::Started(session) => Some(session),
            RunState::Queued(_) => None,
        }
    }

    pub fn is_queued(&self) -> bool {
        matches!(self.state, RunState::Queued(_))
    }

    pub fn is_running(&self) -> bool {
        self.session().is_some_and(Session::is_running)
    }
}

/// All runs, and the one the per-run views and controls follow.
#[derive(Default)]
pub struct Runs {
    pub runs: Vec<Run>,
    pub current: usize,
    next_group: usize,
}

impl Runs {
    /// A finished seed group as the report writer takes it; `None` until every member is done.
    pub fn seed_runs(&self, group: usize) -> Option<Vec<crate::report::SeedRun>> {
        let members: Vec<&Run> = self.runs.iter().filter(|r| r.group == Some(group)).collect();
        members
            .iter()
            .map(|run| {
                let history = run.history().filter(|h| h.finished)?;
                Some(crate::report::SeedRun {
                    seed: run.seed.unwrap_or_default(),
                    summary: history.summary(run.seed.unwrap_or_default()),
                    metrics: history.metric_points(),
                })
            })
            .collect()
    }

    /// Forgets every run (their engines are cancelled as their sessions drop).
    pub fn clear(&mut self) {
        self.runs.clear();
        self.current = 0;
    }

    /// A fresh group id for a repeat over seeds.
    pub fn new_group(&mut self) -> usize {
        self.next_group += 1;
        self.next_group
    }

    pub fn queue(&mut self, request: RunRequest) {
        self.runs.push(Run {
            label: request.label.clone(),
            group: request.group,
            seed: request.seed,
            visible: true,
            state: RunState::Queued(request),
        });
    }

    /// Adds a run that is already started (a recorded run, the frame-time benchmark's replay).
    pub fn adopt(&mut self, label: &str, session: Session) {
        self.runs.push(Run {
            label: label.into(),
            group: None,
            seed: None,
            visible: true,
            state: RunState::Started(Box::new(session)),
        });
    }

    /// Takes in every started run's events and starts queued runs while fewer than `pool`
    /// are running; returns whether anything happened.
    pub fn pump(&mut self, pool: usize) -> bool {
        let mut changed = false;
        for run in &mut self.runs {
            if let Some(session) = run.session_mut() {
                changed |= session.drain();
            }
        }
        let mut running = self.runs.iter().filter(|r| r.is_running()).count();
        for run in &mut self.runs {
            if running >= pool.max(1) {
                break;
            }
            if let RunState::Queued(request) = &run.state {
                let session = Session::start(request.source.clone(), request.overrides.clone(), request.device);
                run.state = RunState::Started(Box::new(session));
                running += 1;
                changed = true;
            }
        }
        changed
    }

    pub fn current(&self) -> Option<&Run> {
        self.runs.get(self.current)
    }

    pub fn current_session_mut(&mut self) -> Option<&mut Session> {
        self.runs.get_mut(self.current).and_then(Run::session_mut)
    }

    /// Whether any run is queued or running.
    pub fn busy(&self) -> bool {
        self.runs.iter().any(|r| r.is_queued() || r.is_running())
    }
}
