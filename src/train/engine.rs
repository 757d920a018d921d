//! The engine thread: runs a plan's stages in order on one device, reusing cached teachers,
//! then evaluates the ensembles. It talks to the outside only through its two channels.

use super::cache::{CachedStage, TeacherCache, key_of};
use super::controls::Controls;
use super::evaluate::{ensemble_accuracy, predict, to_host};
use super::events::{
    Command, Disconnected, EnsembleOutcome, Event, EventSink, MetricPoint, RunInfo, StageInfo, StageOutcome,
};
use super::launch::prepare;
use super::plan::{EnsemblePlan, Hypers, Plan, StagePlan};
use super::preset::{Hyper, PresetSource};
use super::preset::{Method, TrainSettings};
use super::stage::{DeviceData, StageContext, StageEnd, Trained, blank_outcome, train};
use crate::data::Dataset;
use crate::device::{self, Backend, ComputeDevice, DeviceChoice};
use crate::model::ModelSpec;
use burn::module::Module;
use crossbeam_channel::{Receiver, Sender};
use serde::Serialize;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Room for events before metric points start to be batched.
const EVENT_CAPACITY: usize = 256;

/// A running engine: send [`Command`]s, receive [`Event`]s.
pub struct Engine {
    pub commands: Sender<Command>,
    pub events: Receiver<Event>,
    thread: Option<JoinHandle<()>>,
}

impl Engine {
    /// Starts training `plan` on `dataset` in a background thread.
    pub fn spawn(plan: Plan, dataset: Arc<Dataset>, device: ComputeDevice, cache: Option<TeacherCache>) -> Engine {
        Engine::on_thread(move |commands, mut sink| run(&plan, &dataset, &device, cache, commands, &mut sink))
    }

    /// Loads a preset and its data, picks the device and trains, all on the engine thread; a bad
    /// preset, bad data or a missing GPU arrive as an [`Event::Error`] followed by
    /// [`Event::Finished`].
    pub fn launch(
        source: PresetSource,
        overrides: Vec<String>,
        choice: DeviceChoice,
        cache: Option<TeacherCache>,
    ) -> Engine {
        Engine::on_thread(move |commands, mut sink| {
            let ready = prepare(&source, &overrides)
                .map_err(|e| e.to_string())
                .and_then(|prepared| device::select(choice).map(|d| (prepared, d)).map_err(|e| e.to_string()));
            match ready {
                Ok((prepared, device)) => run(&prepared.plan, &prepared.dataset, &device, cache, commands, &mut sink),
                Err(message) => {
                    let _ = sink.send(Event::Error(message));
                    let _ = sink.send(Event::Finished { cancelled: false });
                }
            }
        })
    }

    fn on_thread(body: impl FnOnce(Receiver<Command>, EventSink) + Send + 'static) -> Engine {
        let (command_sender, command_receiver) = crossbeam_channel::unbounded();
        let (event_sender, event_receiver) = crossbeam_channel::bounded(EVENT_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("kdlab-engine".into())
            .spawn(move || body(command_receiver, EventSink::new(event_sender)))
            .ok();
        Engine { commands: command_sender, events: event_receiver, thread }
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
        Engine { commands: self.commands.clone(), events: receiver, thread }
    }

    /// Waits for the engine thread to end.
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(
    plan: &Plan,
    dataset: &Dataset,
    device: &ComputeDevice,
    cache: Option<TeacherCache>,
    commands: Receiver<Command>,
    sink: &mut EventSink,
) {
    // A backend failure inside burn panics; report it instead of dying silently.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut run = Run::new(plan, dataset, device, cache, Controls::new(commands));
        sink.send(Event::Ready(Box::new(run.info())))?;
        run.all(sink)
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
            let _ = sink.send(Event::Error(format!("training failed on {}: {message}", device.label())));
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
}

struct Run<'a> {
    plan: &'a Plan,
    dataset: &'a Dataset,
    device: &'a ComputeDevice,
    cache: Option<TeacherCache>,
    controls: Controls,
    data: DeviceData,
    trained: Vec<Option<Trained>>,
    keys: Vec<String>,
}

impl<'a> Run<'a> {
    fn new(
        plan: &'a Plan,
        dataset: &'a Dataset,
        device: &'a ComputeDevice,
        cache: Option<TeacherCache>,
        controls: Controls,
    ) -> Run<'a> {
        let fingerprint = dataset.fingerprint();
        let mut keys: Vec<String> = Vec::with_capacity(plan.stages.len());
        for stage in &plan.stages {
            let identity = StageIdentity {
                data: fingerprint,
                model: &stage.model,
                method: stage.method,
                hypers: &stage.hypers,
                settings: &stage.settings,
                seed: stage.seed,
                backend: device.backend,
                teacher: stage.teacher.map(|t| keys[t].as_str()),
            };
            keys.push(key_of(&identity));
        }
        Run {
            plan,
            dataset,
            device,
            cache,
            controls,
            data: DeviceData::upload(dataset, &device.device),
            trained: plan.stages.iter().map(|_| None).collect(),
            keys,
        }
    }

    fn info(&self) -> RunInfo {
        let test = &self.dataset.test;
        let examples = self.data.probe_examples.clone();
        let width = self.dataset.shape.len();
        RunInfo {
            preset: self.plan.preset.name.clone(),
            description: self.plan.preset.description.clone(),
            config: crate::record::config_text(&self.plan.preset).unwrap_or_default(),
            dataset: self.dataset.name.clone(),
            device: self.device.label(),
            shape: self.dataset.shape,
            class_names: self.dataset.class_names.clone(),
            train_examples: self.dataset.train.len(),
            test_examples: test.len(),
            probe_labels: examples.iter().map(|&i| test.labels[i]).collect(),
            probe_features: examples
                .iter()
                .map(|&i| self.dataset.standardization.invert(&test.features[i * width..(i + 1) * width]))
                .collect(),
            probe_examples: examples,
            relation_labels: self.data.probes.relation_examples.iter().map(|&i| test.labels[i]).collect(),
            plane: self.data.probes.plane.clone(),
            stages: self
                .plan
                .stages
                .iter()
                .map(|stage| {
                    let has = |hyper| stage.method.parameters().contains(&hyper);
                    StageInfo {
                        name: stage.name.clone(),
                        model: stage.model_name.clone(),
                        method: stage.method.name(),
                        teacher: self.teacher_name(stage),
                        temperature: has(Hyper::Temperature).then_some(stage.hypers.temperature),
                        alpha: has(Hyper::Alpha).then_some(stage.hypers.alpha),
                        beta: has(Hyper::Beta).then_some(stage.hypers.beta),
                    }
                })
                .collect(),
        }
    }

    /// Runs every stage and ensemble; returns whether the run was cancelled.
    fn all(&mut self, sink: &mut EventSink) -> Result<bool, Disconnected> {
        for (index, stage) in self.plan.stages.iter().enumerate() {
            if self.controls.cancelled() {
                return Ok(true);
            }
            let teacher = match stage.teacher {
                Some(t) => match &self.trained[t] {
                    Some(trained) => Some(trained),
                    None => {
                        let reason =
                            format!("skipped: its teacher \"{}\" has no usable model", self.plan.stages[t].name);
                        let outcome = StageOutcome {
                            skipped: Some(reason),
                            ..blank_outcome(index, stage, self.teacher_name(stage))
                        };
                        sink.send(Event::StageFinished(outcome))?;
                        continue;
                    }
                },
                None => None,
            };
            let ctx = StageContext {
                index,
                stage,
                teacher_name: self.teacher_name(stage),
                dataset: self.dataset,
                data: &self.data,
                device: self.device,
                teacher,
                teacher_model: stage.teacher.map(|t| &self.plan.stages[t].model),
            };
            let (trained, usable) = match self.reuse_cached(&ctx, sink)? {
                Some(trained) => (trained, true),
                None => {
                    let run = train(&ctx, &mut self.controls, sink)?;
                    if run.end == StageEnd::Completed && stage.is_teacher {
                        self.store_cached(&ctx, &run.trained, &run.outcome, run.history, sink)?;
                    }
                    let usable = !matches!(run.end, StageEnd::Diverged { .. });
                    sink.send(Event::StageFinished(run.outcome))?;
                    (run.trained, usable)
                }
            };
            self.trained[index] = usable.then_some(trained);
        }
        for ensemble in &self.plan.ensembles {
            sink.send(Event::EnsembleEvaluated(self.ensemble(ensemble)))?;
        }
        Ok(self.controls.cancelled())
    }

    fn teacher_name(&self, stage: &StagePlan) -> Option<String> {
        stage.teacher.map(|t| self.plan.stages[t].name.clone())
    }

    /// Loads a cached teacher and replays its record, if the cache has it.
    fn reuse_cached(&self, ctx: &StageContext, sink: &mut EventSink) -> Result<Option<Trained>, Disconnected> {
        let (Some(cache), true) = (&self.cache, ctx.stage.is_teacher) else { return Ok(None) };
        let started = Instant::now();
        ctx.device.device.seed(ctx.stage.seed);
        let template = ctx.stage.model.init(self.dataset.shape, self.dataset.num_classes(), &ctx.device.device);
        let Some((network, info, path)) = cache.load(&self.keys[ctx.index], template) else { return Ok(None) };
        let params = network.num_params();
        let where_from = path.display().to_string();
        sink.send(Event::Notice(format!(
            "{}: reusing the cached model {where_from} (trained earlier with identical data and settings)",
            ctx.stage.name
        )))?;
        sink.send(Event::StageStarted(ctx.start_event(params, Some(where_from))))?;
        let replayed: Vec<MetricPoint> =
            info.metrics.into_iter().map(|p| MetricPoint { stage: ctx.index, ..p }).collect();
        sink.metrics(replayed)?;
        let test_logits = to_host(predict(&network, &self.data.test_inputs));
        let teacher_probe = ctx.teacher_probe();
        let (probe, _) = ctx.probe(&network, teacher_probe.as_ref(), &test_logits, info.steps, 1.0);
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
        sink.send(Event::StageFinished(outcome))?;
        Ok(Some(trained))
    }

    fn store_cached(
        &self,
        ctx: &StageContext,
        trained: &Trained,
        outcome: &StageOutcome,
        history: Vec<MetricPoint>,
        sink: &mut EventSink,
    ) -> Result<(), Disconnected> {
        let Some(cache) = &self.cache else { return Ok(()) };
        let info = CachedStage {
            key: self.keys[ctx.index].clone(),
            steps: outcome.steps,
            wall_seconds: outcome.wall_seconds,
            train_accuracy: outcome.train_accuracy.unwrap_or(0.0),
            test_accuracy: outcome.test_accuracy.unwrap_or(0.0),
            agreement_with_teacher: outcome.agreement_with_teacher,
            metrics: history,
        };
        if let Err(e) = cache.store(trained.network.clone(), &info) {
            sink.send(Event::Notice(format!("{}: could not cache the trained model: {e}", ctx.stage.name)))?;
        }
        Ok(())
    }

    fn ensemble(&self, ensemble: &EnsemblePlan) -> EnsembleOutcome {
        let members: Option<Vec<&[f32]>> =
            ensemble.members.iter().map(|&m| self.trained[m].as_ref().map(|t| t.test_logits.as_slice())).collect();
        EnsembleOutcome {
            name: ensemble.name.clone(),
            members: ensemble.members.iter().map(|&m| self.plan.stages[m].name.clone()).collect(),
            test_accuracy: members
                .map(|logits| ensemble_accuracy(&logits, &self.dataset.test.labels, self.dataset.num_classes())),
        }
    }
}
