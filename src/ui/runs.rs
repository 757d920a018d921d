//! The runs the workbench holds — queued, running or finished — each with its label, colour,
//! visibility, seed group and, for a fork, the run it branched off; queued runs start on a pool
//! of engine threads as slots free up, forks start at once beside their parent.

use super::history::RunHistory;
use super::session::Session;
use crate::engine::DeviceTarget;
use crate::engine::PresetSource;

/// What to start: a preset with its overrides.
#[derive(Debug, Clone)]
pub(crate) struct RunRequest {
    pub(crate) label: String,
    pub(crate) source: PresetSource,
    pub(crate) overrides: Vec<String>,
    pub(crate) device: DeviceTarget,
    /// Runs of one "repeat over seeds" share a group and are drawn as mean ± std.
    pub(crate) group: Option<usize>,
    /// The value this run gives a swept key, when it is part of a sweep.
    pub(crate) sweep: Option<SweepPoint>,
}

/// A run's place in a sweep: the preset key varied and the value it has in this run.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepPoint {
    pub(crate) key: String,
    pub(crate) value: String,
}

enum RunState {
    // Boxed: a request (preset text, overrides, device) is much larger than a pointer.
    Queued(Box<RunRequest>),
    // Boxed: a session (engine handle and history) is much larger than a request.
    Started(Box<Session>),
}

/// A "repeat over seeds": its name and how many runs it has.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedGroup {
    pub(crate) id: usize,
    /// The preset's name as the group's rows and curves show it.
    pub(crate) name: String,
    pub(crate) size: usize,
}

/// One run.
pub struct Run {
    /// Stable for the run's whole life (indices shift when a failed start is dropped).
    pub id: u64,
    pub label: String,
    pub(crate) group: Option<usize>,
    pub(crate) visible: bool,
    /// The run's colour (a palette index) in every view; a seed group's runs share one.
    pub(crate) color: usize,
    /// The id of the run this one was forked off.
    pub parent: Option<u64>,
    /// Its place in a sweep, if it is part of one.
    pub(crate) sweep: Option<SweepPoint>,
    /// The pool device it was started on, when the pool is a list of devices.
    pub(crate) pool_device: Option<DeviceTarget>,
    state: RunState,
}

impl Run {
    /// What the run has reported (nothing while queued).
    pub fn history(&self) -> Option<&RunHistory> {
        self.session().map(|s| &s.history)
    }

    pub(crate) fn session(&self) -> Option<&Session> {
        match &self.state {
            RunState::Started(session) => Some(session),
            RunState::Queued(_) => None,
        }
    }

    pub(crate) fn session_mut(&mut self) -> Option<&mut Session> {
        match &mut self.state {
            RunState::Started(session) => Some(session),
            RunState::Queued(_) => None,
        }
    }

    pub(crate) fn is_queued(&self) -> bool {
        matches!(self.state, RunState::Queued(_))
    }

    pub(crate) fn is_running(&self) -> bool {
        self.session().is_some_and(Session::is_running)
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.history().is_some_and(|h| h.finished)
    }
}

/// All runs, and the one the per-run views and controls follow.
#[derive(Default)]
pub struct Runs {
    pub runs: Vec<Run>,
    pub current: usize,
    pub(crate) groups: Vec<SeedGroup>,
    next_id: u64,
    next_color: usize,
}

impl Runs {
    /// A finished seed group as the report writer takes it; `None` until every member is done.
    pub(crate) fn seed_runs(&self, group: usize) -> Option<Vec<crate::record::report::SeedRun>> {
        let members: Vec<&Run> = self.runs.iter().filter(|r| r.group == Some(group)).collect();
        members
            .iter()
            .map(|run| {
                let history = run.history().filter(|h| h.finished)?;
                let seed = history.info.as_ref().map_or(0, |i| i.seed);
                Some(crate::record::report::SeedRun {
                    seed,
                    summary: history.summary(None),
                    metrics: history.metric_points(),
                })
            })
            .collect()
    }

    /// The histories of a seed group's finished runs, with their seeds.
    pub(crate) fn group_histories(&self, group: usize) -> Vec<&RunHistory> {
        self.runs.iter().filter(|r| r.group == Some(group)).filter_map(Run::history).collect()
    }

    pub(crate) fn group(&self, id: usize) -> Option<&SeedGroup> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Forgets every run (their engines are cancelled as their sessions drop).
    pub(crate) fn clear(&mut self) {
        self.runs.clear();
        self.groups.clear();
        self.current = 0;
    }

    /// A new seed group of `size` runs named `name`; returns its id.
    pub(crate) fn new_group(&mut self, name: String, size: usize) -> usize {
        let id = self.groups.iter().map(|g| g.id + 1).max().unwrap_or(0);
        self.groups.push(SeedGroup { id, name, size });
        id
    }

    /// The colour the next run gets: a group's runs share the colour of its first.
    fn color_for(&mut self, group: Option<usize>) -> usize {
        let shared = group.and_then(|g| self.runs.iter().find(|r| r.group == Some(g))).map(|r| r.color);
        shared.unwrap_or_else(|| {
            self.next_color += 1;
            self.next_color - 1
        })
    }

    fn push(&mut self, label: String, group: Option<usize>, parent: Option<u64>, state: RunState) {
        let color = self.color_for(group);
        self.next_id += 1;
        let sweep = match &state {
            RunState::Queued(request) => request.sweep.clone(),
            RunState::Started(_) => None,
        };
        let run = Run { id: self.next_id, label, group, visible: true, color, parent, sweep, pool_device: None, state };
        self.runs.push(run);
    }

    pub(crate) fn queue(&mut self, request: RunRequest) {
        let (label, group) = (request.label.clone(), request.group);
        self.push(label, group, None, RunState::Queued(Box::new(request)));
    }

    /// Adds a run that is already started (a recorded run, the frame-time benchmark's replay).
    pub(crate) fn adopt(&mut self, label: &str, session: Session) {
        self.push(label.into(), None, None, RunState::Started(Box::new(session)));
    }

    /// The position of a queued run in the queue (1 = starts next).
    pub(crate) fn queue_position(&self, index: usize) -> Option<usize> {
        self.runs.get(index).filter(|r| r.is_queued())?;
        Some(self.runs[..=index].iter().filter(|r| r.is_queued()).count())
    }

    /// `name`, or `name (2)`, `name (3)`, … : a label no run has yet.
    pub(crate) fn fresh_label(&self, name: &str) -> String {
        let taken = |label: &str| self.runs.iter().any(|r| r.label == label);
        std::iter::once(name.to_string())
            .chain((2..).map(|n| format!("{name} ({n})")))
            .find(|label| !taken(label))
            .unwrap_or_else(|| name.to_string())
    }

    /// The runs forked off `index` or off any run it descends from, with where they branched:
    /// the names a run's steering log gives its fork entries.
    pub(crate) fn branches(&self, index: usize) -> Vec<(crate::protocol::ForkOrigin, String)> {
        let mut lineage = Vec::new();
        let mut next = self.runs.get(index).map(|r| r.id);
        while let Some(id) = next.filter(|id| !lineage.contains(id)) {
            lineage.push(id);
            next = self.index_of(id).and_then(|i| self.runs[i].parent);
        }
        self.runs
            .iter()
            .filter(|r| lineage.contains(&r.id) || r.parent.is_some_and(|p| lineage.contains(&p)))
            .filter_map(|r| Some((r.history()?.info.as_ref()?.fork?, r.label.clone())))
            .collect()
    }

    pub(crate) fn index_of(&self, id: u64) -> Option<usize> {
        self.runs.iter().position(|r| r.id == id)
    }

    /// Takes in every started run's events and forks, starts queued runs — while fewer than
    /// `pool` are running, or, when `devices` lists some, each on a device no running run uses —
    /// and drops runs that failed before their data was ready. Returns whether anything happened
    /// and the failed runs' messages.
    pub(crate) fn pump(&mut self, pool: usize, devices: &[DeviceTarget]) -> (bool, Vec<String>) {
        let mut changed = false;
        let mut forks = Vec::new();
        for run in &mut self.runs {
            if let Some(session) = run.session_mut() {
                let (arrived, forked) = session.drain();
                changed |= arrived;
                forks.extend(forked.into_iter().map(|fork| (run.id, fork)));
            }
        }
        for (parent, fork) in forks {
            // Named after the step the engine forked at (the user asked a moment earlier).
            let parent_label = self.index_of(parent).map_or_else(String::new, |i| self.runs[i].label.clone());
            let step = fork.origin.map_or_else(String::new, |o| format!("@{}", o.step));
            let label = self.fresh_label(format!("{parent_label} fork{step} {}", fork.values).trim_end());
            self.push(label, None, Some(parent), RunState::Started(Box::new(fork.session)));
        }
        let failed = self.drop_failed_starts();
        changed |= !failed.is_empty();
        while let Some((index, device)) = self.next_start(pool, devices) {
            let run = &mut self.runs[index];
            if let RunState::Queued(request) = &run.state {
                let target = device.clone().unwrap_or_else(|| request.device.clone());
                let session = Session::start(request.source.clone(), request.overrides.clone(), target);
                run.state = RunState::Started(Box::new(session));
                run.pool_device = device;
                changed = true;
            }
        }
        (changed, failed)
    }

    /// The first queued run and the pool device it may start on (`None`: its own), if a slot is
    /// free.
    fn next_start(&self, pool: usize, devices: &[DeviceTarget]) -> Option<(usize, Option<DeviceTarget>)> {
        let index = self.runs.iter().position(Run::is_queued)?;
        let running: Vec<&Run> = self.runs.iter().filter(|r| r.is_running()).collect();
        if devices.is_empty() {
            return (running.len() < pool.max(1)).then_some((index, None));
        }
        let free = devices.iter().find(|d| !running.iter().any(|r| r.pool_device.as_ref() == Some(*d)))?;
        Some((index, Some(free.clone())))
    }

    /// Removes runs whose engine ended with an error before any data was ready (a preset or data
    /// that cannot load): they have nothing to show, and the message goes to the banner.
    fn drop_failed_starts(&mut self) -> Vec<String> {
        let failed = |r: &Run| r.history().is_some_and(|h| h.finished && h.info.is_none());
        let mut messages = Vec::new();
        let mut index = 0;
        while index < self.runs.len() {
            if failed(&self.runs[index]) {
                let run = self.runs.remove(index);
                let error =
                    run.history().and_then(|h| h.error.clone()).unwrap_or_else(|| "the run did not start".into());
                messages.push(format!("{}: {error}", run.label));
                // The followed run stays followed.
                if self.current > index || self.current >= self.runs.len() {
                    self.current = self.current.saturating_sub(1);
                }
            } else {
                index += 1;
            }
        }
        messages
    }

    pub(crate) fn current(&self) -> Option<&Run> {
        self.runs.get(self.current)
    }

    pub(crate) fn current_session_mut(&mut self) -> Option<&mut Session> {
        self.runs.get_mut(self.current).and_then(Run::session_mut)
    }

    /// Whether any run is queued or running.
    pub(crate) fn busy(&self) -> bool {
        self.runs.iter().any(|r| r.is_queued() || r.is_running())
    }
}
