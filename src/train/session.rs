//! A training session driven step by step: [`Session::apply`] takes a command, and
//! [`Session::poll`] does work for about a time budget and returns the events it produced.
//! Nothing here blocks or waits for a listener: paused, a poll returns at once saying so, and
//! the host stops polling until a command comes (the native engine thread blocks on its
//! channel then; a browser frame would simply not poll). The session runs a plan's stages in
//! order on one device, reusing cached teachers, then evaluates the ensembles.

use super::cache::{CachedStage, TeacherCache, key_of};
use super::controls::{Controls, Inheritance};
use super::evaluate::{predict, to_host};
use super::events::Outbox;
use super::loader::Prefetch;
use super::methods::{Hypers, Method, Parameter};
use super::plan::{EnsemblePlan, Plan, StagePlan};
use super::stage::{ActiveStage, Advance, DeviceData, Resume, StageContext, StageEnd, Trained, blank_outcome};
use crate::data::{Augment, Dataset};
use crate::device::{Backend, ComputeDevice};
use crate::logits::{accuracy, ensemble_accuracy};
use crate::model::ModelSpec;
use crate::preset::TrainSettings;
use crate::protocol::{
    Command, DataInfo, EngineError, EnsembleOutcome, Event, ForkOrigin, MetricPoint, RunInfo, StageInfo, StageOutcome,
    StageStart, Steer, TextProbeSettings,
};
use burn::module::Module;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a poll did.
pub struct Polled {
    /// The events produced, oldest first.
    pub events: Vec<Event>,
    /// Runs forked off this one, each a session of its own to drive.
    pub forks: Vec<Session>,
    pub state: SessionState,
}

/// Where a session stands after a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    /// Work is left: poll again.
    Running,
    /// Paused with no step granted: poll again once a command has been applied.
    Waiting,
    /// The run is over ([`Event::Finished`] was the last event).
    Finished,
}

/// A training run that advances only when polled.
pub struct Session {
    setup: Setup,
    controls: Controls,
    out: Outbox,
    /// Each stage's trained model (none while it has not trained, or when it diverged).
    trained: Vec<Option<Trained>>,
    outcomes: Vec<Option<StageOutcome>>,
    /// Each stage's live hyperparameters: as planned, then as it ended (or, for a fork's stage,
    /// as the fork starts).
    hypers: Vec<Hypers>,
    /// A fork's state at its fork point, taken when its first stage starts.
    resume: Option<Resume>,
    origin: Option<ForkOrigin>,
    forks: Vec<Session>,
    phase: Phase,
    prefetch: Prefetch,
}

/// What the next unit of work is.
enum Phase {
    /// Stage `index` is next (past the last stage: the ensembles).
    Next(usize),
    Training(Box<ActiveStage>, Training),
    Ensembles,
    Done,
}

/// What the session knows about the stage in training.
#[derive(Clone, Copy)]
struct Training {
    index: usize,
    /// Trained from its start (a fork's stage goes on from its parent's state).
    from_start: bool,
}

impl Session {
    /// A session training `plan` on `dataset` on `device`, reusing the teachers in `cache`; its
    /// first event is [`Event::Ready`].
    pub fn new(plan: Plan, dataset: Arc<Dataset>, device: ComputeDevice, cache: Option<TeacherCache>) -> Session {
        let setup = Setup::new(plan, dataset, device, cache);
        let controls = Controls::default().with_script(setup.plan.steering.clone());
        let mut session = Session::blank(setup, controls);
        let info = session.info();
        session.out.send(Event::Ready(Box::new(info)));
        session
    }

    /// A run forked off: the parent's setup (no teacher cache: its stages from the fork point
    /// on are not the cached ones) and what it inherits, going on from its state with its
    /// changes applied from its first step.
    fn forked(setup: &Setup, inherited: Inherited) -> Session {
        let setup = Setup { cache: None, ..setup.clone() };
        let controls = Controls::default().inheriting(inherited.controls);
        let mut session = Session::blank(setup, controls);
        let origin = inherited.origin;
        session.trained = inherited.trained;
        session.outcomes = inherited.outcomes;
        for (index, hypers) in inherited.hypers.into_iter().enumerate().take(origin.stage) {
            session.hypers[index] = hypers;
        }
        // The values the fork starts with: its parent's, with the fork's changes.
        let mut starting = inherited.resume.hypers.clone();
        let method = session.setup.plan.stages[origin.stage].method;
        for (parameter, value) in &inherited.changes {
            if method.live().any(|h| h.name == parameter.name() && h.valid.allows(*value)) {
                starting.set(parameter.name(), *value);
            }
        }
        session.hypers[origin.stage] = starting;
        session.controls.queue_changes(inherited.changes);
        session.resume = Some(inherited.resume);
        session.origin = Some(origin);
        session.phase = Phase::Next(origin.stage);
        let info = session.info();
        session.out.send(Event::Ready(Box::new(info)));
        // A fork's record starts with the steering that led to it, then its parent's stages.
        for steer in session.controls.log().to_vec() {
            session.out.send(Event::Steered(steer));
        }
        for index in 0..origin.stage {
            session.replay_inherited(index);
        }
        session
    }

    fn blank(setup: Setup, controls: Controls) -> Session {
        let stages = setup.plan.stages.len();
        let hypers = setup.plan.stages.iter().map(|s| s.hypers.clone()).collect();
        Session {
            setup,
            controls,
            out: Outbox::default(),
            trained: vec![None; stages],
            outcomes: vec![None; stages],
            hypers,
            resume: None,
            origin: None,
            forks: Vec::new(),
            phase: Phase::Next(0),
            prefetch: Prefetch::default(),
        }
    }

    /// This session preparing augmented batches when they are due, on the polling thread, for
    /// hosts that cannot start threads.
    pub fn without_threads(mut self) -> Session {
        self.prefetch = Prefetch::Inline;
        self
    }

    /// Where this run branched off its parent, for a fork (the step it forked at, which may be
    /// later than the one the user saw when asking).
    pub(crate) fn origin(&self) -> Option<ForkOrigin> {
        self.origin
    }

    /// Takes a command from the user; it acts at the session's next step.
    pub fn apply(&mut self, command: Command) {
        self.controls.apply(command);
    }

    /// Works for about `budget` (at least one unit of work: a step, a stage's start or end, a
    /// cached teacher, the ensembles), returns what it produced. A failure inside burn becomes
    /// an error event and ends the run instead of unwinding into the host.
    pub fn poll(&mut self, budget: Duration) -> Polled {
        let deadline = Instant::now() + budget;
        let state = loop {
            let worked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.work()));
            let state = match worked {
                Ok(state) => state,
                Err(panic) => self.failed(panic.as_ref()),
            };
            if state != SessionState::Running || Instant::now() >= deadline {
                break state;
            }
        };
        Polled { events: self.out.take(), forks: std::mem::take(&mut self.forks), state }
    }

    /// Ends the run after a failure with an error event that says where it happened.
    fn failed(&mut self, panic: &(dyn std::any::Any + Send)) -> SessionState {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown failure".into());
        let device = self.setup.device.label();
        let error = match self.setup.device.backend == Backend::Remote {
            true => EngineError::RemoteLost { device, step: self.out.last_step(), message },
            false => EngineError::Failed { device, message },
        };
        self.out.send(Event::Error(error));
        self.out.send(Event::Finished { cancelled: false });
        self.phase = Phase::Done;
        SessionState::Finished
    }

    /// One unit of work.
    fn work(&mut self) -> SessionState {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Next(index) => self.next_stage(index),
            Phase::Training(active, training) => self.train(*active, training),
            Phase::Ensembles => {
                let plan = self.setup.plan.clone();
                for ensemble in &plan.ensembles {
                    let outcome = self.ensemble(ensemble);
                    self.out.send(Event::EnsembleEvaluated(outcome));
                }
                self.finish()
            }
            Phase::Done => SessionState::Finished,
        }
    }

    fn finish(&mut self) -> SessionState {
        self.out.send(Event::Finished { cancelled: self.controls.cancelled() });
        self.phase = Phase::Done;
        SessionState::Finished
    }

    /// Starts stage `index`: skipped without a usable teacher, replayed from the cache when it
    /// has the stage, else trained.
    fn next_stage(&mut self, index: usize) -> SessionState {
        let plan = self.setup.plan.clone();
        let Some(stage) = plan.stages.get(index) else {
            self.phase = Phase::Ensembles;
            return SessionState::Running;
        };
        if self.controls.cancelled() {
            return self.finish();
        }
        self.phase = Phase::Next(index + 1);
        if let Some(skipped) = self.without_teacher(index, stage) {
            self.out.send(Event::StageFinished(skipped));
            return SessionState::Running;
        }
        let ctx = self.context(index, stage);
        // A stage steered by a script is not the one the cache holds.
        let scripted = plan.steering.iter().any(|s| s.stage == index);
        if self.resume.is_none()
            && !scripted
            && let Some((trained, outcome)) = reuse_cached(&self.setup, &ctx, self.controls.text_probe(), &mut self.out)
        {
            self.trained[index] = Some(trained);
            self.outcomes[index] = Some(outcome);
            return SessionState::Running;
        }
        let resume = self.resume.take();
        let training = Training { index, from_start: resume.is_none() };
        let active = ActiveStage::begin(ctx, &mut self.controls, &mut self.out, resume);
        self.phase = Phase::Training(Box::new(active), training);
        SessionState::Running
    }

    /// Everything stage `index` reads.
    fn context(&self, index: usize, stage: &StagePlan) -> StageContext {
        let plan = &self.setup.plan;
        StageContext {
            index,
            plan: plan.clone(),
            teacher_name: self.teacher_name(stage),
            dataset: self.setup.dataset.clone(),
            data: self.setup.data.clone(),
            device: self.setup.device.clone(),
            teacher: stage.teacher.and_then(|t| self.trained[t].clone()),
            teacher_model: stage.teacher.map(|t| plan.stages[t].model.clone()),
            rows: stage.training_rows(&self.setup.dataset),
            prefetch: self.prefetch,
        }
    }

    /// One turn of the stage in training; at its end, its evaluation and the next stage.
    fn train(&mut self, active: ActiveStage, training: Training) -> SessionState {
        let (active, advance) = active.advance(&mut self.controls, &mut self.out);
        match advance {
            Advance::Stepped => {}
            Advance::Waiting => {
                self.phase = Phase::Training(Box::new(active), training);
                return SessionState::Waiting;
            }
            Advance::Forked(resume, changes, controls) => self.fork(training.index, *resume, changes, controls),
            Advance::Ended(end) => {
                self.end_stage(active, training, end);
                return SessionState::Running;
            }
        }
        self.phase = Phase::Training(Box::new(active), training);
        SessionState::Running
    }

    fn fork(&mut self, index: usize, resume: Resume, changes: Vec<(Parameter, f64)>, controls: Inheritance) {
        let inherited = Inherited {
            trained: self.trained.clone(),
            outcomes: self.outcomes.clone(),
            hypers: self.hypers.clone(),
            origin: ForkOrigin { stage: index, step: resume.step },
            resume,
            changes,
            controls,
        };
        self.forks.push(Session::forked(&self.setup, inherited));
    }

    fn end_stage(&mut self, active: ActiveStage, training: Training, end: StageEnd) {
        let index = training.index;
        let run = active.finish(&self.controls, &mut self.out, end);
        let stage = &self.setup.plan.stages[index];
        // A steered stage is not what its settings alone would train: not cached.
        let steered = self.controls.log().iter().any(|s: &Steer| s.stage == index);
        if run.end == StageEnd::Completed && stage.is_teacher && training.from_start && !steered {
            store_cached(&self.setup, index, &run.trained, &run.outcome, run.history, &mut self.out);
        }
        self.hypers[index] = run.hypers;
        let usable = !matches!(run.end, StageEnd::Diverged { .. });
        self.out.send(Event::StageFinished(run.outcome.clone()));
        self.trained[index] = usable.then_some(run.trained);
        self.outcomes[index] = Some(run.outcome);
        self.phase = Phase::Next(index + 1);
    }

    fn info(&self) -> RunInfo {
        let (plan, dataset, data) = (&self.setup.plan, &self.setup.dataset, &self.setup.data);
        let test = &dataset.test;
        let examples = data.probe_examples.clone();
        let width = dataset.shape.len();
        RunInfo {
            preset: plan.preset.name.clone(),
            description: plan.preset.description.clone(),
            config: plan.preset.config_text().unwrap_or_default(),
            device: self.setup.device.label(),
            seed: plan.preset.train_seed(),
            data: DataInfo {
                dataset: dataset.name.clone(),
                shape: dataset.shape,
                class_names: dataset.class_names.clone(),
                train_examples: dataset.train.len(),
                test_examples: test.len(),
                probe_labels: examples.iter().map(|&i| test.labels[i]).collect(),
                probe_features: examples
                    .iter()
                    .map(|&i| dataset.standardization.invert(&test.features[i * width..(i + 1) * width]))
                    .collect(),
                probe_examples: examples,
                relation_labels: data.probes.relation_examples.iter().map(|&i| test.labels[i]).collect(),
                plane: data.probes.plane.clone(),
                vocabulary: dataset.vocabulary.clone(),
            },
            stages: plan
                .stages
                .iter()
                .enumerate()
                .map(|(index, stage)| StageInfo {
                    name: stage.name.clone(),
                    model: stage.model_name.clone(),
                    method: stage.method.info(),
                    teacher: self.teacher_name(stage),
                    parameters: stage
                        .method
                        .live()
                        .filter_map(|hyper| Parameter::named(hyper.name))
                        .map(|parameter| (parameter, self.hypers[index].get(parameter.name())))
                        .collect(),
                })
                .collect(),
            fork: self.origin,
        }
    }

    /// The outcome of a stage whose teacher has no usable model (it diverged): skipped.
    fn without_teacher(&self, index: usize, stage: &StagePlan) -> Option<StageOutcome> {
        let teacher = stage.teacher?;
        if self.trained[teacher].is_some() {
            return None;
        }
        let name = &self.setup.plan.stages[teacher].name;
        let reason = format!("skipped: its teacher \"{name}\" has no usable model");
        Some(StageOutcome { skipped: Some(reason), ..blank_outcome(index, stage, self.teacher_name(stage)) })
    }

    /// A fork's stage from before its fork point: its parent's outcome, announced as such.
    fn replay_inherited(&mut self, index: usize) {
        let Some(outcome) = self.outcomes[index].clone() else { return };
        let stage = &self.setup.plan.stages[index];
        let examples = stage.training_rows(&self.setup.dataset).len();
        self.out.send(Event::StageStarted(StageStart {
            stage: index,
            name: stage.name.clone(),
            model: stage.model_name.clone(),
            method: stage.method.info(),
            teacher: outcome.teacher.clone(),
            params: outcome.params,
            epochs: outcome.epochs,
            total_steps: Plan::steps_of(stage, examples),
            steps_per_epoch: Plan::steps_per_epoch(stage, examples),
            keep_training: false,
            reused_from: Some("the run this one forked from".into()),
        }));
        self.out.send(Event::StageFinished(outcome));
    }

    fn teacher_name(&self, stage: &StagePlan) -> Option<String> {
        stage.teacher.map(|t| self.setup.plan.stages[t].name.clone())
    }

    fn ensemble(&self, ensemble: &EnsemblePlan) -> EnsembleOutcome {
        let (plan, dataset) = (&self.setup.plan, &self.setup.dataset);
        let members: Option<Vec<&[f32]>> =
            ensemble.members.iter().map(|&m| self.trained[m].as_ref().map(|t| t.test_logits.as_slice())).collect();
        EnsembleOutcome {
            name: ensemble.name.clone(),
            members: ensemble.members.iter().map(|&m| plan.stages[m].name.clone()).collect(),
            test_accuracy: members
                .map(|logits| ensemble_accuracy(&logits, &self.setup.data.test_targets, dataset.num_classes())),
        }
    }
}

/// Everything that shapes a stage's trained weights, hashed into its cache key.
#[derive(Serialize)]
struct StageIdentity<'a> {
    data: u64,
    model: &'a ModelSpec,
    method: Method,
    hypers: &'a Hypers,
    settings: &'a TrainSettings,
    seed: u64,
    backend: Backend,
    teacher: Option<&'a str>,
    /// Absent without augmentation, so the keys of earlier caches stay valid.
    #[serde(skip_serializing_if = "Option::is_none")]
    augment: Option<Augment>,
    /// Classes the stage never trains on (absent when none, as in earlier caches).
    #[serde(skip_serializing_if = "<[u32]>::is_empty")]
    exclude_classes: &'a [u32],
    /// The size of the stage's training subset (absent when it uses every example).
    #[serde(skip_serializing_if = "Option::is_none")]
    train_examples: Option<usize>,
    /// The seed of a text stage's windows where it is not `seed` (a stage named unlike its
    /// model; absent otherwise, so the keys of earlier caches stay valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    batch_seed: Option<u64>,
}

/// What a run trains on, shared with the runs forked off it.
#[derive(Clone)]
struct Setup {
    plan: Arc<Plan>,
    dataset: Arc<Dataset>,
    device: ComputeDevice,
    cache: Option<TeacherCache>,
    data: Arc<DeviceData>,
    /// Each stage's cache key.
    keys: Arc<Vec<String>>,
}

impl Setup {
    fn new(plan: Plan, dataset: Arc<Dataset>, device: ComputeDevice, cache: Option<TeacherCache>) -> Setup {
        let fingerprint = dataset.fingerprint();
        let mut keys: Vec<String> = Vec::with_capacity(plan.stages.len());
        for stage in &plan.stages {
            // The seed is in `seed`; `train.seed` unset and set to the same value are one teacher.
            let settings = TrainSettings { seed: None, ..stage.settings.clone() };
            let identity = StageIdentity {
                data: fingerprint,
                model: &stage.model,
                method: stage.method,
                hypers: &stage.hypers,
                settings: &settings,
                seed: stage.seed,
                backend: device.backend,
                teacher: stage.teacher.map(|t| keys[t].as_str()),
                augment: stage.augment,
                exclude_classes: &stage.exclude_classes,
                train_examples: stage.train_examples,
                batch_seed: Some(stage.batch_seed).filter(|&b| b != stage.seed && dataset.shape.is_text()),
            };
            keys.push(key_of(&identity));
        }
        let data = Arc::new(DeviceData::upload(&dataset, &device.device));
        Setup { plan: Arc::new(plan), dataset, device, cache, data, keys: Arc::new(keys) }
    }
}

/// What a forked run takes over from its parent.
struct Inherited {
    trained: Vec<Option<Trained>>,
    outcomes: Vec<Option<StageOutcome>>,
    /// The live hyperparameters each earlier stage ended with.
    hypers: Vec<Hypers>,
    origin: ForkOrigin,
    resume: Resume,
    /// Parameter changes that apply from the fork's first step.
    changes: Vec<(Parameter, f64)>,
    /// The parent's keep-training choices and steering log.
    controls: Inheritance,
}

/// Loads a cached teacher and replays its record (its metrics, probe and outcome), if the cache
/// has it; a damaged entry is announced and not reused.
fn reuse_cached(
    setup: &Setup,
    ctx: &StageContext,
    text_probe: &TextProbeSettings,
    out: &mut Outbox,
) -> Option<(Trained, StageOutcome)> {
    let (Some(cache), true) = (&setup.cache, ctx.stage().is_teacher) else { return None };
    let stage = ctx.stage();
    let started = Instant::now();
    ctx.device.device.seed(stage.seed);
    let template = stage.model.init(setup.dataset.shape, setup.dataset.num_classes(), &ctx.device.device);
    let retrain = |out: &mut Outbox, reason: String| {
        out.send(Event::Notice(format!("{}: not reusing the cached model ({reason}); training it again", stage.name)));
    };
    let (network, info, path) = match cache.load(&setup.keys[ctx.index], template) {
        Ok(Some(entry)) => entry,
        Ok(None) => return None,
        Err(damaged) => {
            retrain(out, damaged.to_string());
            return None;
        }
    };
    let test_logits = to_host(predict(&network, &setup.data.test_inputs));
    let measured = accuracy(&test_logits, &setup.data.test_targets, setup.dataset.num_classes());
    if (measured - info.test_accuracy).abs() > CACHED_ACCURACY_TOLERANCE {
        let claimed = info.test_accuracy;
        retrain(out, format!("{}: says test accuracy {claimed:.4}, its weights score {measured:.4}", path.display()));
        return None;
    }
    let params = network.num_params();
    let where_from = path.display().to_string();
    out.send(Event::Notice(format!(
        "{}: reusing the cached model {where_from} (trained earlier with identical data and settings)",
        stage.name
    )));
    out.send(Event::StageStarted(ctx.start_event(params, Some(where_from))));
    out.metrics(info.metrics.into_iter().map(|p| MetricPoint { stage: ctx.index, ..p }).collect());
    let teacher_probe = ctx.teacher_probe();
    let (probe, _) = ctx.probe(&network, teacher_probe.as_ref(), &test_logits, (info.steps, text_probe));
    out.probe(probe);
    let trained = Trained::new(network, test_logits);
    let outcome = StageOutcome {
        params,
        steps: info.steps,
        // The time this run spent loading it; the original training time is in the cache entry.
        wall_seconds: started.elapsed().as_secs_f64(),
        train_accuracy: Some(info.train_accuracy),
        test_accuracy: Some(info.test_accuracy),
        agreement_with_teacher: info.agreement_with_teacher,
        cached: true,
        ..blank_outcome(ctx.index, stage, ctx.teacher_name.clone())
    };
    out.send(Event::StageFinished(outcome.clone()));
    Some((trained, outcome))
}

/// A cached teacher's recorded test accuracy and the one its weights give may differ by this
/// much (a prediction flipped by float rounding), no more.
const CACHED_ACCURACY_TOLERANCE: f64 = 0.005;

/// Stores a trained teacher with its record; a failure is a notice, not an error.
fn store_cached(
    setup: &Setup,
    index: usize,
    trained: &Trained,
    outcome: &StageOutcome,
    history: Vec<MetricPoint>,
    out: &mut Outbox,
) {
    let Some(cache) = &setup.cache else { return };
    let info = CachedStage {
        key: setup.keys[index].clone(),
        steps: outcome.steps,
        wall_seconds: outcome.wall_seconds,
        train_accuracy: outcome.train_accuracy.unwrap_or(0.0),
        test_accuracy: outcome.test_accuracy.unwrap_or(0.0),
        agreement_with_teacher: outcome.agreement_with_teacher,
        metrics: history,
        weights_checksum: String::new(),
    };
    if let Err(e) = cache.store(trained.network.clone(), &info) {
        let name = &setup.plan.stages[index].name;
        out.send(Event::Notice(format!("{name}: could not cache the trained model: {e}")));
    }
}
