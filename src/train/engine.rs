//! The engine thread: runs a plan's stages in order on one device, reusing cached teachers,
//! then evaluates the ensembles. It talks to the outside only through its channels: commands in,
//! events out, and the engines of runs forked off it.

use super::cache::{CachedStage, TeacherCache, key_of};
use super::controls::{Controls, Inheritance};
use super::evaluate::{predict, to_host};
use super::events::{Disconnected, EventSink};
use super::launch::prepare;
use super::methods::{Hypers, Method, Parameter};
use super::plan::{EnsemblePlan, Plan, StagePlan};
use super::stage::{DeviceData, Resume, StageContext, StageEnd, Trained, blank_outcome, train};
use crate::data::{Augment, Dataset};
use crate::device::remote::DeviceTarget;
use crate::device::{self, Backend, ComputeDevice};
use crate::logits::{accuracy, ensemble_accuracy};
use crate::model::ModelSpec;
use crate::preset::{PresetSource, TrainSettings};
use crate::protocol::{
    Command, DataInfo, EngineError, EnsembleOutcome, Event, ForkOrigin, MetricPoint, RunInfo, StageInfo, StageOutcome,
    StageStart, Steer,
};
use burn::module::Module;
use crossbeam_channel::{Receiver, Sender};
use serde::Serialize;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Room for events before metric points start to be batched.
const EVENT_CAPACITY: usize = 256;

/// A running engine: send [`Command`]s, receive [`Event`]s, and the engines of runs forked off
/// this one.
pub struct Engine {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    /// Each [`Command::Fork`] starts a new run on a thread of its own; its engine arrives here.
    pub forks: Receiver<Engine>,
    /// Where this run branched off its parent, for a fork (the step the engine forked at, which
    /// may be later than the one the user saw when asking).
    pub origin: Option<ForkOrigin>,
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
        Engine::on_thread(move |ends| run(Setup::new(plan, dataset, device, cache), ends, None))
    }

    /// Loads a preset and its data, picks the device and trains, all on the engine thread; a bad
    /// preset, bad data, a missing GPU or an unreachable server arrive as an [`Event::Error`] followed by
    /// [`Event::Finished`].
    pub fn launch(
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
                    let setup = Setup::new(prepared.plan, Arc::new(prepared.dataset), device, cache);
                    run(setup, ends, None)
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
    pub fn relayed(mut self, mut relay: impl FnMut(Event, &Sender<Event>) + Send + 'static) -> Engine {
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
    pub fn fed(events: Receiver<Event>) -> Engine {
        let (commands, _) = crossbeam_channel::unbounded();
        let (_, forks) = crossbeam_channel::unbounded();
        Engine { commands, events, forks, origin: None, thread: None }
    }

    /// Waits for the engine thread to end.
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Trains `setup` (a fork: from what it inherited) and reports the end; a failure inside burn
/// becomes an error event instead of a silent death.
fn run(setup: Setup, ends: Ends, inherited: Option<Inherited>) {
    let Ends { commands, mut sink, forks } = ends;
    let (label, remote) = (setup.device.label(), setup.device.backend == Backend::Remote);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // A fork goes on from its parent's controls; a run of a preset replays its steering.
        let controls = match &inherited {
            Some(inherited) => Controls::new(commands).inheriting(inherited.controls.clone()),
            None => Controls::new(commands).with_script(setup.plan.steering.clone()),
        };
        let mut run = Run::new(setup, controls, forks);
        let fork = inherited.map(|inherited| run.take_over(inherited));
        sink.send(Event::Ready(Box::new(run.info(fork.as_ref().map(|(origin, _)| *origin)))))?;
        // A fork's record starts with the steering that led to it.
        for steer in run.controls.log().to_vec() {
            sink.send(Event::Steered(steer))?;
        }
        run.all(&mut sink, fork)
    }));
    let cancelled = match result {
        Ok(Ok(cancelled)) => cancelled,
        Ok(Err(Disconnected)) => return,
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown failure".into());
            let error = match remote {
                true => EngineError::RemoteLost { device: label, step: sink.last_step(), message },
                false => EngineError::Failed { device: label, message },
            };
            let _ = sink.send(Event::Error(error));
            false
        }
    };
    let _ = sink.send(Event::Finished { cancelled });
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
            };
            keys.push(key_of(&identity));
        }
        let data = Arc::new(DeviceData::upload(&dataset, &device.device));
        Setup { plan: Arc::new(plan), dataset, device, cache, data, keys: Arc::new(keys) }
    }
}

struct Run {
    setup: Setup,
    controls: Controls,
    trained: Vec<Option<Trained>>,
    outcomes: Vec<Option<StageOutcome>>,
    /// Each stage's live hyperparameters: as planned, then as it ended (or, for a fork's stage,
    /// as the fork starts).
    hypers: Vec<Hypers>,
    forks: Sender<Engine>,
}

impl Run {
    fn new(setup: Setup, controls: Controls, forks: Sender<Engine>) -> Run {
        let stages = setup.plan.stages.len();
        let hypers = setup.plan.stages.iter().map(|s| s.hypers.clone()).collect();
        Run { setup, controls, trained: vec![None; stages], outcomes: vec![None; stages], hypers, forks }
    }

    /// Takes over what a fork inherits; returns where it goes on from.
    fn take_over(&mut self, inherited: Inherited) -> (ForkOrigin, Resume) {
        self.trained = inherited.trained;
        self.outcomes = inherited.outcomes;
        let stage = inherited.origin.stage;
        for (index, hypers) in inherited.hypers.into_iter().enumerate().take(stage) {
            self.hypers[index] = hypers;
        }
        // The values the fork starts with: its parent's, with the fork's changes.
        let mut starting = inherited.resume.hypers.clone();
        let method = self.setup.plan.stages[stage].method;
        for (parameter, value) in &inherited.changes {
            if method.live().any(|h| h.name == parameter.name() && h.valid.allows(*value)) {
                starting.set(parameter.name(), *value);
            }
        }
        self.hypers[stage] = starting;
        self.controls.queue_changes(inherited.changes);
        (inherited.origin, inherited.resume)
    }

    fn info(&self, fork: Option<ForkOrigin>) -> RunInfo {
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
            fork,
        }
    }

    /// Runs every stage and ensemble (a fork: the stages before its fork point are its
    /// parent's, its fork stage goes on from the fork point); returns whether the run was
    /// cancelled.
    fn all(&mut self, sink: &mut EventSink, fork: Option<(ForkOrigin, Resume)>) -> Result<bool, Disconnected> {
        let plan = self.setup.plan.clone();
        let (first, mut resume) = match fork {
            Some((origin, resume)) => (origin.stage, Some(resume)),
            None => (0, None),
        };
        for index in 0..first {
            self.replay_inherited(index, sink)?;
        }
        for (index, stage) in plan.stages.iter().enumerate().skip(first) {
            if self.controls.cancelled() {
                return Ok(true);
            }
            if let Some(skipped) = self.without_teacher(index, stage) {
                sink.send(Event::StageFinished(skipped))?;
                continue;
            }
            let ctx = StageContext {
                index,
                stage,
                teacher_name: self.teacher_name(stage),
                dataset: &self.setup.dataset,
                data: &self.setup.data,
                device: &self.setup.device,
                teacher: stage.teacher.and_then(|t| self.trained[t].as_ref()),
                teacher_model: stage.teacher.map(|t| &plan.stages[t].model),
                rows: stage.training_rows(&self.setup.dataset.train.labels),
            };
            // A stage steered by a script is not the one the cache holds.
            let scripted = plan.steering.iter().any(|s| s.stage == index);
            let cached = match resume.is_none() && !scripted {
                true => reuse_cached(&self.setup, &ctx, sink)?,
                false => None,
            };
            let (trained, outcome, usable) = match cached {
                Some((trained, outcome)) => (trained, outcome, true),
                None => {
                    let (trained, outcomes, hypers) = (&self.trained, &self.outcomes, &self.hypers);
                    let fork_here = |resume: Resume, changes: Vec<(Parameter, f64)>, controls: Inheritance| {
                        let inherited = Inherited {
                            trained: trained.to_vec(),
                            outcomes: outcomes.to_vec(),
                            hypers: hypers.to_vec(),
                            origin: ForkOrigin { stage: index, step: resume.step },
                            resume,
                            changes,
                            controls,
                        };
                        let _ = self.forks.send(fork_engine(&self.setup, inherited));
                    };
                    let resumed = resume.take();
                    let from_start = resumed.is_none();
                    let run = train(&ctx, &mut self.controls, sink, resumed, &fork_here)?;
                    // A steered stage is not what its settings alone would train: not cached.
                    let steered = self.controls.log().iter().any(|s: &Steer| s.stage == index);
                    if run.end == StageEnd::Completed && stage.is_teacher && from_start && !steered {
                        store_cached(&self.setup, &ctx, &run.trained, &run.outcome, run.history, sink)?;
                    }
                    self.hypers[index] = run.hypers;
                    let usable = !matches!(run.end, StageEnd::Diverged { .. });
                    sink.send(Event::StageFinished(run.outcome.clone()))?;
                    (run.trained, run.outcome, usable)
                }
            };
            self.trained[index] = usable.then_some(trained);
            self.outcomes[index] = Some(outcome);
        }
        for ensemble in &plan.ensembles {
            sink.send(Event::EnsembleEvaluated(self.ensemble(ensemble)))?;
        }
        Ok(self.controls.cancelled())
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
    fn replay_inherited(&self, index: usize, sink: &mut EventSink) -> Result<(), Disconnected> {
        let Some(outcome) = self.outcomes[index].clone() else { return Ok(()) };
        let stage = &self.setup.plan.stages[index];
        let examples = stage.training_rows(&self.setup.dataset.train.labels).len();
        sink.send(Event::StageStarted(StageStart {
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
        }))?;
        sink.send(Event::StageFinished(outcome))
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
                .map(|logits| ensemble_accuracy(&logits, &dataset.test.labels, dataset.num_classes())),
        }
    }
}

/// A run forked off: the parent's setup (no teacher cache: its stages from the fork point on
/// are not the cached ones) and what it inherits, going on from its state with its changes
/// applied from its first step.
fn fork_engine(setup: &Setup, inherited: Inherited) -> Engine {
    let setup = Setup { cache: None, ..setup.clone() };
    let origin = inherited.origin;
    let mut engine = Engine::on_thread(move |ends| run(setup, ends, Some(inherited)));
    engine.origin = Some(origin);
    engine
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
/// has it.
fn reuse_cached(
    setup: &Setup,
    ctx: &StageContext,
    sink: &mut EventSink,
) -> Result<Option<(Trained, StageOutcome)>, Disconnected> {
    let (Some(cache), true) = (&setup.cache, ctx.stage.is_teacher) else { return Ok(None) };
    let started = Instant::now();
    ctx.device.device.seed(ctx.stage.seed);
    let template = ctx.stage.model.init(setup.dataset.shape, setup.dataset.num_classes(), &ctx.device.device);
    let (network, info, path) = match cache.load(&setup.keys[ctx.index], template) {
        Ok(Some(entry)) => entry,
        Ok(None) => return Ok(None),
        Err(damaged) => return retrain_damaged(ctx, damaged.to_string(), sink),
    };
    let test_logits = to_host(predict(&network, &setup.data.test_inputs));
    let measured = accuracy(&test_logits, &setup.dataset.test.labels, setup.dataset.num_classes());
    if (measured - info.test_accuracy).abs() > CACHED_ACCURACY_TOLERANCE {
        let reason = format!(
            "{}: says test accuracy {:.4}, its weights score {measured:.4}",
            path.display(),
            info.test_accuracy
        );
        return retrain_damaged(ctx, reason, sink);
    }
    let params = network.num_params();
    let where_from = path.display().to_string();
    sink.send(Event::Notice(format!(
        "{}: reusing the cached model {where_from} (trained earlier with identical data and settings)",
        ctx.stage.name
    )))?;
    sink.send(Event::StageStarted(ctx.start_event(params, Some(where_from))))?;
    let replayed: Vec<MetricPoint> = info.metrics.into_iter().map(|p| MetricPoint { stage: ctx.index, ..p }).collect();
    sink.metrics(replayed)?;
    let teacher_probe = ctx.teacher_probe();
    let (probe, _) = ctx.probe(&network, teacher_probe.as_ref(), &test_logits, info.steps);
    sink.probe(probe)?;
    let trained = Trained { network, test_logits };
    let outcome = StageOutcome {
        params,
        steps: info.steps,
        // The time this run spent loading it; the original training time is in the cache entry.
        wall_seconds: started.elapsed().as_secs_f64(),
        train_accuracy: Some(info.train_accuracy),
        test_accuracy: Some(info.test_accuracy),
        agreement_with_teacher: info.agreement_with_teacher,
        cached: true,
        ..blank_outcome(ctx.index, ctx.stage, ctx.teacher_name.clone())
    };
    sink.send(Event::StageFinished(outcome.clone()))?;
    Ok(Some((trained, outcome)))
}

/// A cached teacher's recorded test accuracy and the one its weights give may differ by this
/// much (a prediction flipped by float rounding), no more.
const CACHED_ACCURACY_TOLERANCE: f64 = 0.005;

/// A damaged cache entry is not reused: say so, and let the stage train.
fn retrain_damaged(
    ctx: &StageContext,
    reason: String,
    sink: &mut EventSink,
) -> Result<Option<(Trained, StageOutcome)>, Disconnected> {
    sink.send(Event::Notice(format!(
        "{}: not reusing the cached model ({reason}); training it again",
        ctx.stage.name
    )))?;
    Ok(None)
}

/// Stores a trained teacher with its record; a failure is a notice, not an error.
fn store_cached(
    setup: &Setup,
    ctx: &StageContext,
    trained: &Trained,
    outcome: &StageOutcome,
    history: Vec<MetricPoint>,
    sink: &mut EventSink,
) -> Result<(), Disconnected> {
    let Some(cache) = &setup.cache else { return Ok(()) };
    let info = CachedStage {
        key: setup.keys[ctx.index].clone(),
        steps: outcome.steps,
        wall_seconds: outcome.wall_seconds,
        train_accuracy: outcome.train_accuracy.unwrap_or(0.0),
        test_accuracy: outcome.test_accuracy.unwrap_or(0.0),
        agreement_with_teacher: outcome.agreement_with_teacher,
        metrics: history,
        weights_checksum: String::new(),
    };
    if let Err(e) = cache.store(trained.network.clone(), &info) {
        sink.send(Event::Notice(format!("{}: could not cache the trained model: {e}", ctx.stage.name)))?;
    }
    Ok(())
}
