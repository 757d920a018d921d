//! Training one stage, one optimizer step per call ([`ActiveStage::advance`]): live controls
//! between steps, metric reports at a fixed step interval, divergence detection, and the final
//! evaluation. Nothing here waits: what the stage has to say goes to the session's outbox.

use super::controls::{Controls, Inheritance, StageClock, Turn};
use super::evaluate::{embed, predict, to_host};
use super::events::Outbox;
use super::loader::{BatchLoader, Prefetch};
use super::methods::{Hypers, PEERS, Parameter, StepInputs, StepLoss, ctkd};
use super::on_policy::{self, Sampling};
use super::plan::{Plan, StagePlan};
use super::probe::{ProbeInputs, TeacherProbe, representations};
use super::schedule;
use super::teacher_logits::{BatchKey, TeacherLogits};
use super::text;
use super::trainee::{Makeup, Regressor, Trainee};
use crate::data::{Dataset, InputShape};
use crate::device::ComputeDevice;
use crate::logits::{accuracy, agreement, argmax_rows, kl_divergence, prediction_matrix, probe_examples, select_rows};
use crate::model::{Forward, ModelSpec, Network};
use crate::preset::{Optimizer, TrainSettings};
use crate::protocol::{
    ClassAccuracy, Event, MetricPoint, OnPolicySample, Probe, StageOutcome, StageStart, Steer, SteerAction, TextProbe,
    TextProbeSettings, metric,
};
use burn::module::Module;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use std::sync::Arc;

/// Test examples per class whose predictions every metric report sends (the probe set).
const PROBES_PER_CLASS: usize = 3;
/// At most this many probe examples, however many classes there are.
const MAX_PROBES: usize = 64;

/// The dataset uploaded to the training device once per run, and the fixed probe set.
pub(crate) struct DeviceData {
    /// A classifier's training examples (batches are picked from them); for text, the first
    /// windows of the training text, which the final train accuracy reads.
    pub(crate) train_inputs: Tensor<2>,
    pub(crate) train_labels: Tensor<1, Int>,
    /// The label of each row of the logits of `train_inputs` (one per position for text).
    pub(crate) train_targets: Vec<u32>,
    /// The test examples; for text, the windows tiling the test text.
    pub(crate) test_inputs: Tensor<2>,
    /// The label of each row of the logits of `test_inputs`.
    pub(crate) test_targets: Vec<u32>,
    /// Indices into the test split of the probe examples.
    pub(crate) probe_examples: Vec<usize>,
    /// The inputs of the representation probes.
    pub(crate) probes: ProbeInputs,
}

impl DeviceData {
    pub(crate) fn upload(dataset: &Dataset, device: &burn::tensor::Device) -> DeviceData {
        let features = dataset.shape.len();
        let floats = |values: &[f32], rows: usize| {
            Tensor::<2>::from_data(TensorData::new(values.to_vec(), [rows, features]), device)
        };
        if let InputShape::Text { context } = dataset.shape {
            let (train, test) = (text::train_windows(dataset, context), text::test_windows(dataset, context));
            return DeviceData {
                train_inputs: floats(&train.inputs, train.count),
                train_labels: index_tensor(train.labels.iter().map(|&l| l as usize), device),
                train_targets: train.labels,
                test_inputs: floats(&test.inputs, test.count),
                test_targets: test.labels,
                probes: ProbeInputs::upload(dataset, &[], device),
                probe_examples: Vec::new(),
            };
        }
        let probe_examples: Vec<usize> = probe_examples(&dataset.test.labels, dataset.num_classes(), PROBES_PER_CLASS)
            .into_iter()
            .take(MAX_PROBES)
            .collect();
        DeviceData {
            train_inputs: floats(&dataset.train.features, dataset.train.len()),
            train_labels: index_tensor(dataset.train.labels.iter().map(|&l| l as usize), device),
            train_targets: dataset.train.labels.clone(),
            test_inputs: floats(&dataset.test.features, dataset.test.len()),
            test_targets: dataset.test.labels.clone(),
            probes: ProbeInputs::upload(dataset, &probe_examples, device),
            probe_examples,
        }
    }
}

fn index_tensor(values: impl ExactSizeIterator<Item = usize>, device: &burn::tensor::Device) -> Tensor<1, Int> {
    let len = values.len();
    let values: Vec<i64> = values.map(|v| v as i64).collect();
    Tensor::from_data(TensorData::new(values, [len]), device)
}

/// A trained model kept for later stages (as teacher) and ensembles.
#[derive(Clone)]
pub(crate) struct Trained {
    /// Inference copy, on the plain device.
    pub(crate) network: Network,
    pub(crate) test_logits: Vec<f32>,
    /// Its logits on the training batches of the text stages distilling from it.
    pub(crate) batch_logits: TeacherLogits,
}

impl Trained {
    pub(crate) fn new(network: Network, test_logits: Vec<f32>) -> Trained {
        Trained { network, test_logits, batch_logits: TeacherLogits::default() }
    }
}

/// How a stage's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StageEnd {
    Completed,
    /// The user stopped the stage; its model is kept.
    Stopped,
    /// The user cancelled the run.
    Cancelled,
    Diverged {
        step: u64,
    },
}

/// What a stage leaves behind.
pub(crate) struct StageRun {
    pub(crate) trained: Trained,
    pub(crate) outcome: StageOutcome,
    /// Every metric point the stage reported, for the teacher cache.
    pub(crate) history: Vec<MetricPoint>,
    pub(crate) end: StageEnd,
    /// The live hyperparameters in force when it ended.
    pub(crate) hypers: Hypers,
}

/// Everything a stage reads, shared with the session that runs it.
pub(crate) struct StageContext {
    pub(crate) index: usize,
    pub(crate) plan: Arc<Plan>,
    pub(crate) teacher_name: Option<String>,
    pub(crate) dataset: Arc<Dataset>,
    pub(crate) data: Arc<DeviceData>,
    pub(crate) device: ComputeDevice,
    pub(crate) teacher: Option<Trained>,
    /// The teacher's architecture (FitNets shapes its regressor after it).
    pub(crate) teacher_model: Option<ModelSpec>,
    /// The training rows the stage learns from (all but those of its excluded classes).
    pub(crate) rows: Vec<usize>,
    /// Where augmented batches are prepared.
    pub(crate) prefetch: Prefetch,
}

impl StageContext {
    /// The stage's plan.
    pub(crate) fn stage(&self) -> &StagePlan {
        &self.plan.stages[self.index]
    }

    /// The announcement of this stage.
    pub(crate) fn start_event(&self, params: usize, reused_from: Option<String>) -> StageStart {
        let examples = self.rows.len();
        StageStart {
            stage: self.index,
            name: self.stage().name.clone(),
            model: self.stage().model_name.clone(),
            method: self.stage().method.info(),
            teacher: self.teacher_name.clone(),
            params,
            epochs: self.stage().settings.epochs,
            total_steps: Plan::steps_of(self.stage(), examples),
            steps_per_epoch: Plan::steps_per_epoch(self.stage(), examples),
            keep_training: self.stage().keep_training,
            reused_from,
        }
    }

    /// The final evaluation of a trained (inference) network after `seconds` of training.
    pub(crate) fn outcome(&self, trained: &Trained, steps: u64, seconds: f64, end: StageEnd) -> StageOutcome {
        let classes = self.dataset.num_classes();
        let train_logits = to_host(predict(&trained.network, &self.data.train_inputs));
        StageOutcome {
            params: trained.network.num_params(),
            steps,
            wall_seconds: seconds,
            train_accuracy: Some(accuracy(&train_logits, &self.data.train_targets, classes)),
            test_accuracy: Some(accuracy(&trained.test_logits, &self.data.test_targets, classes)),
            agreement_with_teacher: self
                .teacher
                .as_ref()
                .map(|t| agreement(&t.test_logits, &trained.test_logits, classes)),
            diverged: matches!(end, StageEnd::Diverged { .. }),
            stopped: matches!(end, StageEnd::Stopped | StageEnd::Cancelled),
            excluded_classes: self.excluded_class_accuracy(&trained.test_logits),
            ..blank_outcome(self.index, self.stage(), self.teacher_name.clone())
        }
    }

    /// The test accuracy on each class this stage excluded from its training data.
    fn excluded_class_accuracy(&self, test_logits: &[f32]) -> Vec<ClassAccuracy> {
        let (labels, classes) = (&self.data.test_targets, self.dataset.num_classes());
        let predictions = argmax_rows(test_logits, classes);
        let of_class = |class: u32| labels.iter().zip(&predictions).filter(move |(label, _)| **label == class);
        self.stage()
            .exclude_classes
            .iter()
            .map(|&class| {
                let examples = of_class(class).count();
                let right = of_class(class).filter(|(_, predicted)| **predicted == class).count();
                ClassAccuracy {
                    class: self.dataset.class_names.get(class as usize).cloned().unwrap_or_else(|| class.to_string()),
                    test_accuracy: if examples == 0 { 0.0 } else { right as f64 / examples as f64 },
                    test_examples: examples,
                }
            })
            .collect()
    }
}

/// A stage's outcome with its identity filled in and nothing measured yet.
pub(crate) fn blank_outcome(index: usize, stage: &StagePlan, teacher: Option<String>) -> StageOutcome {
    StageOutcome {
        stage: index,
        name: stage.name.clone(),
        model: stage.model_name.clone(),
        method: stage.method.info(),
        teacher,
        params: 0,
        epochs: stage.settings.epochs,
        steps: 0,
        wall_seconds: 0.0,
        train_accuracy: None,
        test_accuracy: None,
        agreement_with_teacher: None,
        diverged: false,
        stopped: false,
        cached: false,
        in_progress: false,
        skipped: None,
        excluded_classes: Vec::new(),
    }
}

pub(crate) fn optimizer(settings: &TrainSettings) -> ModuleOptimizer {
    let decay = (settings.weight_decay > 0.0).then(|| WeightDecayConfig::new(settings.weight_decay as f32));
    match settings.optimizer {
        // PyTorch's epsilon, so runs compare with PyTorch scripts.
        Optimizer::Adam => AdamConfig::new().with_epsilon(1e-8).with_weight_decay(decay).init(),
        Optimizer::Sgd => {
            let momentum = (settings.momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(settings.momentum)
                    .with_dampening(0.0)
                    .with_nesterov(settings.nesterov)
            });
            SgdConfig::new().with_momentum(momentum).with_weight_decay(decay).init()
        }
    }
}

/// Running sums between two metric reports, kept on the device so reading them costs one sync
/// per report rather than one per step.
struct IntervalSums {
    /// The last on-policy batch's shown samples (they go with the next probe).
    on_policy: Vec<OnPolicySample>,
    terms: Vec<(&'static str, Tensor<1>)>,
    total: Option<Tensor<1>>,
    correct: Option<Tensor<1>>,
    examples: usize,
    steps: usize,
}

impl IntervalSums {
    fn new() -> IntervalSums {
        IntervalSums { on_policy: Vec::new(), terms: Vec::new(), total: None, correct: None, examples: 0, steps: 0 }
    }

    /// Adds a step's loss terms, and its predictions against `labels` to the training accuracy
    /// (none: the step does not count towards it).
    fn add(&mut self, loss: &StepLoss, logits: &Tensor<2>, labels: Option<&Tensor<1, Int>>) {
        let plain = |t: &Tensor<1>| t.clone().without_autodiff();
        let accumulate = |sum: Option<Tensor<1>>, value: Tensor<1>| Some(sum.map_or(value.clone(), |s| s + value));
        self.total = accumulate(self.total.take(), plain(&loss.total));
        if self.terms.is_empty() {
            self.terms = loss.terms.iter().map(|(name, t)| (*name, plain(t))).collect();
        } else {
            for ((_, sum), (_, term)) in self.terms.iter_mut().zip(&loss.terms) {
                *sum = sum.clone() + plain(term);
            }
        }
        self.steps += 1;
        let Some(labels) = labels else { return };
        let predictions = logits.clone().without_autodiff().argmax(1).squeeze_dim::<1>(1);
        let correct = predictions.equal(labels.clone()).float().sum();
        self.correct = accumulate(self.correct.take(), correct);
        self.examples += labels.dims()[0];
    }

    /// Means of the loss terms and the running training accuracy; resets the sums.
    fn take(&mut self) -> Vec<(&'static str, f64)> {
        let steps = self.steps.max(1) as f64;
        let read = |t: Tensor<1>| f64::from(t.into_scalar::<f32>());
        let mut values = Vec::with_capacity(self.terms.len() + 2);
        if let Some(total) = self.total.take() {
            values.push((metric::LOSS, read(total) / steps));
        }
        values.extend(self.terms.drain(..).map(|(name, sum)| (name, read(sum) / steps)));
        if let Some(correct) = self.correct.take() {
            values.push((metric::TRAIN_ACCURACY, read(correct) / self.examples.max(1) as f64));
        }
        self.examples = 0;
        self.steps = 0;
        values
    }
}

/// Where a stage's loop is between two optimizer steps: enough to go on from there in another
/// run (a fork) exactly as this one would.
#[derive(Clone)]
pub(crate) struct Resume {
    pub(crate) trainee: Trainee,
    pub(crate) optimizer: ModuleOptimizer,
    pub(crate) rng: StdRng,
    /// The current epoch's order of training examples and the next batch in it.
    pub(crate) order: Vec<usize>,
    pub(crate) batch: usize,
    pub(crate) epoch: u64,
    pub(crate) step: u64,
    pub(crate) hypers: Hypers,
    /// Seconds trained so far (time spent paused excluded).
    pub(crate) seconds: f64,
    /// Whether the stage was set to go on past its epochs (a fork of a stage the user kept
    /// training keeps training too).
    pub(crate) keep_training: bool,
}

impl Resume {
    /// A stage's state before its first step: fresh weights (seeded), a fresh optimizer, the
    /// first epoch's order.
    fn fresh(ctx: &StageContext) -> Resume {
        let stage = ctx.stage();
        let device = &ctx.device.device;
        device.seed(stage.seed);
        let classes = ctx.dataset.num_classes();
        let companions = stage.method.spec().companions;
        let peers = stage.hypers.get(PEERS.name) as usize;
        let makeup = Makeup { model: &stage.model, companions, peers, seed: stage.seed };
        let trainee =
            Trainee::new(&makeup, ctx.teacher_model.as_ref(), ctx.dataset.shape, classes, &device.clone().autodiff());
        let mut rng = StdRng::seed_from_u64(stage.seed);
        let order = shuffled(ctx.rows.clone(), &mut rng);
        Resume {
            trainee,
            optimizer: optimizer(&stage.settings),
            rng,
            order,
            batch: 0,
            epoch: 1,
            step: 0,
            hypers: stage.hypers.clone(),
            seconds: 0.0,
            keep_training: stage.keep_training,
        }
    }

    /// Whether a batch is left to train on: one of this epoch, or a next epoch's unless the
    /// planned epochs are done and the stage is not kept training.
    fn has_batch(&self, ctx: &StageContext, controls: &Controls) -> bool {
        let planned = self.epoch >= ctx.stage().settings.epochs as u64;
        !self.epoch_done(ctx) || !planned || controls.keep_training(ctx.index, ctx.stage().keep_training)
    }

    /// Whether this epoch's batches are all taken.
    fn epoch_done(&self, ctx: &StageContext) -> bool {
        self.rows_of(self.batch, ctx.stage().settings.batch_size).is_none()
    }

    /// Starts the next epoch (a fresh order) when this one is done. Called only when a step is
    /// about to be taken, so that whatever is reported before it (a stop, a fork, a replayed
    /// checkpoint) belongs to the epoch of the last step taken, as the curves count epochs.
    fn start_epoch_if_done(&mut self, ctx: &StageContext) {
        if self.epoch_done(ctx) {
            self.epoch += 1;
            self.order = shuffled(std::mem::take(&mut self.order), &mut self.rng);
            self.batch = 0;
        }
    }

    /// The training rows of batch `index` of this epoch, if the epoch has that batch.
    fn rows_of(&self, index: usize, batch_size: usize) -> Option<&[usize]> {
        let start = index * batch_size;
        (start < self.order.len()).then(|| &self.order[start..(start + batch_size).min(self.order.len())])
    }

    /// The training examples of the next batch, which is then taken.
    fn take_batch(&mut self, batch_size: usize) -> Vec<usize> {
        let rows = self.rows_of(self.batch, batch_size).map(<[usize]>::to_vec).unwrap_or_default();
        self.batch += 1;
        rows
    }
}

/// What every step of a stage reads besides the trainee: the frozen teacher's outputs on the
/// training set, computed once, not every step.
struct Stepper {
    teacher_logits: Option<Tensor<2>>,
    /// The teacher's embeddings on the training set, for methods that match embeddings.
    teacher_embeddings: Option<Tensor<2>>,
    /// Whether the teacher runs on every batch, for methods that match its feature maps.
    teacher_maps: bool,
    /// With augmentation: the loader of augmented batches (the teacher then sees each augmented
    /// batch: its outputs on the plain training set would not match the student's inputs).
    loader: Option<BatchLoader>,
}

impl Stepper {
    fn new(ctx: &StageContext, trainee: &Trainee) -> Stepper {
        let stage = ctx.stage();
        // Text and augmented images: batches made per step, which the teacher sees as they are.
        let on_the_fly = |loader: Option<BatchLoader>| Stepper {
            teacher_logits: None,
            teacher_embeddings: None,
            teacher_maps: false,
            loader,
        };
        if ctx.dataset.shape.is_text() {
            return on_the_fly(None);
        }
        if let Some(augment) = stage.augment {
            return on_the_fly(Some(BatchLoader::new(ctx.dataset.clone(), augment, stage.seed, ctx.prefetch)));
        }
        let teacher_features = stage.method.needs_teacher_features().then_some(ctx.teacher.as_ref()).flatten();
        let needs_maps =
            stage.method.spec().uses_feature_maps || trainee.regressor.as_ref().is_some_and(Regressor::uses_maps);
        Stepper {
            teacher_logits: ctx.teacher.as_ref().map(|t| predict(&t.network, &ctx.data.train_inputs)),
            teacher_embeddings: teacher_features
                .filter(|_| !needs_maps)
                .map(|t| embed(&t.network, &ctx.data.train_inputs)),
            teacher_maps: teacher_features.is_some() && needs_maps,
            loader: None,
        }
    }

    /// Starts preparing the augmented batch of `step` (with augmentation; otherwise nothing).
    fn prefetch(&mut self, step: u64, rows: Option<&[usize]>) {
        if let (Some(loader), Some(rows)) = (&mut self.loader, rows) {
            loader.prefetch(step, rows.to_vec());
        }
    }

    /// The inputs of a batch and, where the method reads them, the teacher's logits and
    /// forward pass on it.
    fn batch(
        &mut self,
        ctx: &StageContext,
        rows: &[usize],
        step: u64,
        indices: &Tensor<1, Int>,
    ) -> (Tensor<2>, Option<Tensor<2>>, Option<Forward>) {
        let device = &ctx.device.device;
        if let Some(loader) = &mut self.loader {
            let values = loader.take(step, rows);
            let inputs = Tensor::<2>::from_data(TensorData::new(values, [rows.len(), ctx.dataset.shape.len()]), device);
            let teacher_forward = ctx.teacher.as_ref().map(|t| t.network.forward(inputs.clone()));
            let logits = teacher_forward.as_ref().map(|f| f.logits.clone());
            let features = teacher_forward.filter(|_| ctx.stage().method.needs_teacher_features());
            return (inputs, logits, features);
        }
        let inputs = ctx.data.train_inputs.clone().select(0, indices.clone());
        let teacher_logits = self.teacher_logits.as_ref().map(|t| t.clone().select(0, indices.clone()));
        let teacher = match (&self.teacher_embeddings, ctx.teacher.as_ref().filter(|_| self.teacher_maps)) {
            (Some(embeddings), _) => Some(Forward::classifier(
                teacher_logits.clone().unwrap_or_else(|| embeddings.clone()),
                embeddings.clone().select(0, indices.clone()),
                Vec::new(),
            )),
            (None, Some(t)) => Some(t.network.forward(inputs.clone())),
            (None, None) => None,
        };
        (inputs, teacher_logits, teacher)
    }

    /// Optimizer step `step` of `trainee` on the examples `rows`, at the schedule's learning rate;
    /// returns the trained trainee. The loss stays on the device: it is added to the interval's
    /// sums, whose report catches a loss that is not finite (no host read per step).
    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        ctx: &StageContext,
        trainee: Trainee,
        optimizer: &mut ModuleOptimizer,
        rows: &[usize],
        step: u64,
        hypers: &Hypers,
        sums: &mut IntervalSums,
    ) -> Trainee {
        let batch = match ctx.dataset.shape {
            InputShape::Text { context } => text_batch(ctx, context, rows.len(), step, (&trainee, hypers)),
            _ => {
                let indices = index_tensor(rows.iter().copied(), &ctx.device.device);
                let labels = ctx.data.train_labels.clone().select(0, indices.clone());
                let (inputs, teacher_logits, teacher) = self.batch(ctx, rows, step, &indices);
                Batch { inputs, labels, teacher_logits, teacher, on_policy: false, shown: Vec::new() }
            }
        };
        let forward = trainee.forward(batch.inputs);
        let logits = forward.student.logits.clone();
        let step_inputs = StepInputs {
            forward: &forward,
            regressor: trainee.regressor.as_ref(),
            teacher_logits: batch.teacher_logits,
            teacher: batch.teacher.as_ref(),
            labels: batch.labels.clone(),
            progress: step as f64 / ctx.steps_per_epoch() as f64,
            on_policy: batch.on_policy,
        };
        let loss = ctx.stage().method.loss(&step_inputs, hypers);
        // The student's agreement with its own samples is no training accuracy.
        sums.add(&loss, &logits, (!batch.on_policy).then_some(&batch.labels));
        if !batch.shown.is_empty() {
            sums.on_policy = batch.shown;
        }
        let gradients = GradientsParams::from_grads(loss.total.backward(), &trainee);
        optimizer.step(ctx.learning_rate(step), trainee, gradients)
    }
}

/// One step's batch: the inputs, the label of each row of the logits, and the teacher's logits
/// and forward pass on it where the method reads them.
struct Batch {
    inputs: Tensor<2>,
    labels: Tensor<1, Int>,
    teacher_logits: Option<Tensor<2>>,
    teacher: Option<Forward>,
    /// Whether the inputs end in the student's own samples (see [`on_policy`]).
    on_policy: bool,
    /// Those samples as the Samples view shows them (empty off-policy).
    shown: Vec<OnPolicySample>,
}

/// A language model's batch of step `step`: `count` random windows of the training text, their
/// next-character labels (one per position), and the teacher's forward pass on them — its
/// logits from the teacher's [`TeacherLogits`] when the method needs nothing else of it. On an
/// on-policy step (the method's `on_policy` fraction of them), the windows end in what the
/// student samples after their beginnings instead.
fn text_batch(
    ctx: &StageContext,
    context: usize,
    count: usize,
    step: u64,
    (trainee, hypers): (&Trainee, &Hypers),
) -> Batch {
    let device = &ctx.device.device;
    let seed = ctx.stage().batch_seed;
    let windows = text::batch(&ctx.dataset, context, seed, step, count);
    let on_policy = Sampling::of(hypers).and_then(|sampling| Some((sampling, sampling.draws(seed, step)?)));
    if let (Some((sampling, mut rng)), Some(teacher)) = (on_policy, ctx.teacher.as_ref()) {
        let student = trainee.network.valid();
        let sampled_view = on_policy::sample_windows(&windows, context, &student, sampling, &mut rng, device);
        let inputs = Tensor::<2>::from_data(TensorData::new(sampled_view.inputs.clone(), [count, context]), device);
        let labels =
            Tensor::<1, Int>::from_data(TensorData::new(sampled_view.labels.clone(), [count * context]), device);
        let forward = teacher.network.forward(inputs.clone());
        let shown = on_policy::shown(&sampled_view, &forward.logits, context, step);
        let teacher_logits = Some(forward.logits.clone());
        let teacher = ctx.stage().method.needs_teacher_features().then_some(forward);
        return Batch { inputs, labels, teacher_logits, teacher, on_policy: true, shown };
    }
    let inputs = Tensor::<2>::from_data(TensorData::new(windows.inputs, [count, context]), device);
    let labels = index_tensor(windows.labels.iter().map(|&l| l as usize), device);
    let plain = |teacher_logits, teacher| Batch {
        inputs: inputs.clone(),
        labels: labels.clone(),
        teacher_logits,
        teacher,
        on_policy: false,
        shown: Vec::new(),
    };
    let Some(teacher) = ctx.teacher.as_ref() else { return plain(None, None) };
    if ctx.stage().method.needs_teacher_features() {
        let forward = teacher.network.forward(inputs.clone());
        return plain(Some(forward.logits.clone()), Some(forward));
    }
    let key = BatchKey { seed, step, windows: count, context };
    let logits = teacher.batch_logits.get_or_compute(key, || to_host(teacher.network.forward(inputs.clone()).logits));
    let shape = [count * context, logits.len() / (count * context).max(1)];
    plain(Some(Tensor::<2>::from_data(TensorData::new(logits.to_vec(), shape), device)), None)
}

/// What one call of [`ActiveStage::advance`] did.
pub(crate) enum Advance {
    /// Took an optimizer step (or a checkpoint report): call again.
    Stepped,
    /// Paused with no step granted: nothing to do until a command comes.
    Waiting,
    /// The user asked for a fork here: the state to go on from, the fork's parameter changes
    /// and what it inherits of the controls. Call again to go on.
    Forked(Box<Resume>, Vec<(Parameter, f64)>, Inheritance),
    /// The loop is over; [`ActiveStage::finish`] evaluates the stage.
    Ended(StageEnd),
}

/// A stage between two optimizer steps.
pub(crate) struct ActiveStage {
    ctx: StageContext,
    state: Resume,
    stepper: Stepper,
    reporter: Reporter,
    total_steps: u64,
}

impl ActiveStage {
    /// Starts a stage from its beginning or from `resume` (a fork's), announcing it.
    pub(crate) fn begin(
        ctx: StageContext,
        controls: &mut Controls,
        out: &mut Outbox,
        resume: Option<Resume>,
    ) -> ActiveStage {
        let resumed = resume.is_some();
        let mut state = resume.unwrap_or_else(|| Resume::fresh(&ctx));
        let stage = ctx.stage();
        if state.keep_training != stage.keep_training {
            controls.set_keep_training(ctx.index, state.keep_training);
        }
        let start = ctx.start_event(state.trainee.network.num_params(), None);
        // The user may have chosen before the stage started (Keep training ticked for it).
        let keep_training = controls.keep_training(ctx.index, state.keep_training);
        out.send(Event::StageStarted(StageStart { keep_training, ..start }));
        if let Some(regressor) = &state.trainee.regressor {
            out.send(Event::Notice(format!("{}: {}", stage.name, regressor.describe())));
        }
        let mut reporter = Reporter {
            teacher_probe: ctx.teacher_probe(),
            history: Vec::new(),
            sums: IntervalSums::new(),
            clock: StageClock::start(controls, state.seconds),
            last_evaluated: None,
            last_probe: None,
        };
        let total_steps = Plan::steps_of(stage, ctx.rows.len());
        if resumed {
            // A fork's curves start where its parent's were when it branched off, with the
            // values it goes on with (the changes are announced after that first report).
            let changes = take_changes(controls, stage, &mut state.hypers, (ctx.index, state.step, state.epoch));
            reporter.report(&ctx, &state, out, controls, true);
            announce_changes(controls, out, changes);
            out.progress(ctx.index, state.step, state.epoch, controls.is_paused(), true);
        }
        let stepper = Stepper::new(&ctx, &state.trainee);
        ActiveStage { ctx, state, stepper, reporter, total_steps }
    }

    /// One turn of the loop: an optimizer step with its reports, unless the controls say
    /// otherwise. (The stage is taken and handed back so that the step owns the trainee, as
    /// burn's optimizer wants, without a copy of its weights.)
    pub(crate) fn advance(mut self, controls: &mut Controls, out: &mut Outbox) -> (ActiveStage, Advance) {
        let turn = self.turn(controls, out);
        if let Some(turn) = turn {
            return (self, turn);
        }
        let (ctx, stage) = (&self.ctx, self.ctx.stage());
        let state = &mut self.state;
        state.start_epoch_if_done(ctx);
        let changes = take_changes(controls, stage, &mut state.hypers, (ctx.index, state.step, state.epoch));
        announce_changes(controls, out, changes);
        let rows = state.take_batch(stage.settings.batch_size);
        // The next batch of this epoch (a new epoch's order is drawn when it starts).
        self.stepper.prefetch(state.step + 1, state.rows_of(state.batch, stage.settings.batch_size));
        let (step, hypers, sums) = (state.step, &self.state.hypers, &mut self.reporter.sums);
        self.state.trainee =
            self.stepper.step(ctx, self.state.trainee, &mut self.state.optimizer, &rows, step, hypers, sums);
        let state = &mut self.state;
        state.step += 1;
        let last = state.step == self.total_steps;
        if state.step.is_multiple_of(stage.settings.metric_interval as u64) || last {
            let evaluate = self.reporter.evaluation_due(ctx, state.step, last);
            if !self.reporter.report(ctx, state, out, controls, evaluate) {
                let end = StageEnd::Diverged { step: state.step };
                return (self, Advance::Ended(end));
            }
        }
        out.progress(ctx.index, state.step, state.epoch, controls.is_paused(), controls.is_paused());
        (self, Advance::Stepped)
    }

    /// What the controls make of this turn, when it is not an optimizer step.
    fn turn(&mut self, controls: &mut Controls, out: &mut Outbox) -> Option<Advance> {
        let (ctx, state) = (&self.ctx, &self.state);
        if !state.has_batch(ctx, controls) {
            return Some(Advance::Ended(StageEnd::Completed));
        }
        match controls.next_turn(out, ctx.index, state.step, state.epoch) {
            Turn::Go => None,
            Turn::Wait => Some(Advance::Waiting),
            Turn::Fork(changes) => {
                let resume = self.reporter.fork_point(ctx, state, out, controls);
                Some(Advance::Forked(Box::new(resume), changes, controls.inheritance()))
            }
            Turn::Checkpoint => {
                self.reporter.branch_report(ctx, state, out, controls);
                Some(Advance::Stepped)
            }
            Turn::Probe => {
                self.reporter.reprobe(ctx, state, out, controls);
                Some(Advance::Stepped)
            }
            Turn::Stop => Some(Advance::Ended(StageEnd::Stopped)),
            Turn::Cancel => Some(Advance::Ended(StageEnd::Cancelled)),
        }
    }

    /// Ends the stage the way it `end`ed: its curves end where it did, evaluated.
    pub(crate) fn finish(mut self, controls: &Controls, out: &mut Outbox, end: StageEnd) -> StageRun {
        let (ctx, state) = (&self.ctx, &self.state);
        if let StageEnd::Diverged { step } = end {
            out.send(Event::Diverged { stage: ctx.index, step });
        } else if self.reporter.sums.steps > 0 || self.reporter.last_evaluated != Some(state.step) {
            self.reporter.report(ctx, state, out, controls, true);
        }
        let network = self.state.trainee.network.valid();
        let test_logits = to_host(predict(&network, &ctx.data.test_inputs));
        let trained = Trained::new(network, test_logits);
        let mut outcome = ctx.outcome(&trained, state.step, self.reporter.clock.seconds(controls), end);
        outcome.epochs = outcome.epochs.max(state.epoch as usize);
        StageRun { trained, outcome, history: self.reporter.history, end, hypers: self.state.hypers }
    }
}

/// `rows` in a fresh random order (drawn from their sorted order, so it depends on the set and
/// the generator only).
fn shuffled(mut rows: Vec<usize>, rng: &mut StdRng) -> Vec<usize> {
    rows.sort_unstable();
    rows.shuffle(rng);
    rows
}

/// A live change as the stage took it: its steering entry and the marker event.
type Change = (Steer, Event);

/// Takes the live hyperparameter changes the user asked for into `hypers`, from the next step
/// on; returns what to announce (invalid ones become notices).
fn take_changes(
    controls: &mut Controls,
    stage: &StagePlan,
    hypers: &mut Hypers,
    (index, step, epoch): (usize, u64, u64),
) -> Vec<Result<Change, String>> {
    let method = stage.method;
    let mut taken = Vec::new();
    for (parameter, value) in controls.take_changes() {
        let Some(hyper) = method.live().find(|h| h.name == parameter.name()) else {
            taken.push(Err(format!("{method} has no live {}; the change was ignored", parameter.name())));
            continue;
        };
        if !hyper.valid.allows(value) {
            taken.push(Err(format!("{} {value} ignored: expected {}", parameter.name(), hyper.valid.expected())));
            continue;
        }
        let from = hypers.get(hyper.name);
        hypers.set(hyper.name, value);
        let steer = Steer { stage: index, after_step: step, action: SteerAction::Set { parameter, from, to: value } };
        taken.push(Ok((steer, Event::ParameterChanged { stage: index, step: step + 1, epoch, parameter, value })));
    }
    taken
}

/// Logs and reports the changes taken, and says why any were ignored.
fn announce_changes(controls: &mut Controls, out: &mut Outbox, changes: Vec<Result<Change, String>>) {
    for change in changes {
        match change {
            Ok((steer, marker)) => {
                controls.record(out, steer);
                out.send(marker);
            }
            Err(notice) => out.send(Event::Notice(notice)),
        }
    }
}

/// Metric names of DML's second, third, … peer's test accuracy.
const PEER_ACCURACY: [&str; 7] = [
    "peer2_test_accuracy",
    "peer3_test_accuracy",
    "peer4_test_accuracy",
    "peer5_test_accuracy",
    "peer6_test_accuracy",
    "peer7_test_accuracy",
    "peer8_test_accuracy",
];

/// Turns interval sums and an evaluation on the test split into metric points.
struct Reporter {
    teacher_probe: Option<TeacherProbe>,
    history: Vec<MetricPoint>,
    sums: IntervalSums,
    clock: StageClock,
    /// The step of the last evaluation on the test split.
    last_evaluated: Option<u64>,
    /// The probe it sent: a new prompt re-probes the language model and keeps the rest.
    last_probe: Option<Probe>,
}

impl Reporter {
    /// The state to fork from here, after a report at this step (so the parent's curve and the
    /// fork's both have the point they branch at).
    fn fork_point(&mut self, ctx: &StageContext, state: &Resume, out: &mut Outbox, controls: &Controls) -> Resume {
        self.branch_report(ctx, state, out, controls);
        let keep_training = controls.keep_training(ctx.index, ctx.stage().keep_training);
        // A clone of a module shares its batch norms' running statistics (burn keeps them in
        // shared cells); through `valid` and back the fork gets statistics of its own.
        let trainee = state.trainee.valid().train();
        Resume { seconds: self.clock.seconds(controls), keep_training, trainee, ..state.clone() }
    }

    /// A report at this step unless one was just made: where a run branches off (or once did,
    /// in a replay).
    fn branch_report(&mut self, ctx: &StageContext, state: &Resume, out: &mut Outbox, controls: &Controls) {
        if self.sums.steps > 0 || self.last_evaluated != Some(state.step) {
            self.report(ctx, state, out, controls, true);
        }
    }

    /// The last probe again with the language-model part made anew from the probe settings the
    /// user just changed (nothing else about the model changed since).
    fn reprobe(&mut self, ctx: &StageContext, state: &Resume, out: &mut Outbox, controls: &Controls) {
        let Some(mut probe) = self.last_probe.clone() else { return };
        let Some(mut text) = ctx.text_probe(&state.trainee.network.valid(), controls.text_probe()) else { return };
        // The training batch's samples do not change with the prompt.
        text.on_policy = probe.text.take().map(|t| t.on_policy).unwrap_or_default();
        probe.text = Some(text);
        self.last_probe = Some(probe.clone());
        out.probe(probe);
    }

    /// Whether this report should evaluate on the test split: at least `eval_interval` steps
    /// after the last evaluation, and at `last` (a stage's final or fork step) always.
    fn evaluation_due(&self, ctx: &StageContext, step: u64, last: bool) -> bool {
        let interval = ctx.stage().settings.eval_interval as u64;
        last || self.last_evaluated.is_none_or(|at| step >= at + interval)
    }

    /// Sends one report of `state`'s trainee: the loss terms and training accuracy since the
    /// last report and the live parameters, and, when `evaluate`, the test accuracy, agreement,
    /// KL and the probes. Returns whether every value was finite.
    fn report(
        &mut self,
        ctx: &StageContext,
        state: &Resume,
        out: &mut Outbox,
        controls: &Controls,
        evaluate: bool,
    ) -> bool {
        let (step, epoch, hypers) = (state.step, state.epoch, &state.hypers);
        let seconds = Some(self.clock.seconds(controls));
        let mut values = self.sums.take();
        let method = ctx.stage().method;
        // The rate the interval's last step used.
        values.push((metric::LEARNING_RATE, ctx.learning_rate(step.saturating_sub(1))));
        // The live values in force, so the curves show what each step used.
        values.extend(method.live().map(|hyper| (hyper.name, hypers.get(hyper.name))));
        if let Some(theta) = state.trainee.learned_theta() {
            values.push((metric::TEMPERATURE, ctkd::temperature(theta, hypers)));
        }
        let probe = if evaluate {
            let (evaluation, mut probe) =
                self.evaluate(ctx, &state.trainee.valid(), hypers, (step, controls.text_probe()));
            if let Some(text) = probe.text.as_mut() {
                text.on_policy = std::mem::take(&mut self.sums.on_policy);
            }
            values.extend(evaluation);
            self.last_evaluated = Some(step);
            self.last_probe = Some(probe.clone());
            Some(probe)
        } else {
            None
        };
        let finite = values.iter().all(|(_, v)| v.is_finite());
        let points: Vec<MetricPoint> = values
            .into_iter()
            .map(|(metric, value)| MetricPoint {
                stage: ctx.index,
                step,
                epoch,
                metric: metric.to_string(),
                value,
                seconds,
            })
            .collect();
        self.history.extend(points.iter().cloned());
        out.metrics(points);
        if let Some(probe) = probe {
            out.probe(probe);
        }
        finite
    }

    /// The trainee on the test split (accuracy, its peers', agreement and KL with the teacher)
    /// and its probes.
    fn evaluate(
        &self,
        ctx: &StageContext,
        trainee: &Trainee,
        hypers: &Hypers,
        (step, text_probe): (u64, &TextProbeSettings),
    ) -> (Vec<(&'static str, f64)>, Probe) {
        let classes = ctx.dataset.num_classes();
        let test_accuracy = |network: &Network| {
            let logits = to_host(predict(network, &ctx.data.test_inputs));
            let value = accuracy(&logits, &ctx.data.test_targets, classes);
            (logits, value)
        };
        let (test_logits, student_accuracy) = test_accuracy(&trainee.network);
        let mut values = vec![(metric::TEST_ACCURACY, student_accuracy)];
        for (peer, name) in trainee.peers.iter().zip(PEER_ACCURACY) {
            values.push((name, test_accuracy(peer).1));
        }
        if let Some(teacher) = &ctx.teacher {
            values.push((metric::AGREEMENT, agreement(&teacher.test_logits, &test_logits, classes)));
        }
        let teacher_logits = ctx.teacher.as_ref().map(|t| t.test_logits.as_slice());
        match ctx.dataset.shape.is_text() {
            true => values.extend(text::metrics(&test_logits, teacher_logits, &ctx.data.test_targets, classes)),
            false => values
                .extend(teacher_logits.map(|t| (metric::KL_TEACHER_STUDENT, kl_divergence(t, &test_logits, classes)))),
        }
        if let (Some(teacher), Some(sampling)) = (&ctx.teacher, Sampling::of(hypers)) {
            let models = (&trainee.network, &teacher.network);
            let log_prob = on_policy::teacher_log_prob(&ctx.dataset, models, sampling, &ctx.device.device);
            values.extend(log_prob.map(|value| (metric::TEACHER_LOG_PROB, value)));
        }
        let (probe, neighbour_agreement) =
            ctx.probe(&trainee.network, self.teacher_probe.as_ref(), &test_logits, (step, text_probe));
        values.extend(neighbour_agreement.map(|share| ("neighbour_agreement", share)));
        (values, probe)
    }
}

impl StageContext {
    /// Optimizer steps in one epoch of this stage.
    fn steps_per_epoch(&self) -> u64 {
        Plan::steps_per_epoch(self.stage(), self.rows.len())
    }

    /// The learning rate of optimizer step `step` (0-based).
    fn learning_rate(&self, step: u64) -> f64 {
        schedule::learning_rate(&self.stage().settings, step, self.steps_per_epoch())
    }

    /// The teacher's side of the representation probes (it is frozen: computed once a stage).
    pub(crate) fn teacher_probe(&self) -> Option<TeacherProbe> {
        self.teacher
            .as_ref()
            .filter(|_| !self.dataset.shape.is_text())
            .map(|t| TeacherProbe::new(&t.network, &self.data.probes, self.stage().model.block_channels().len()))
    }

    /// The stage's (and its teacher's) predictions on the probe set, from its test logits, and
    /// the representation probes of `network`; also the relation graphs' neighbour agreement.
    pub(crate) fn probe(
        &self,
        network: &Network,
        teacher: Option<&TeacherProbe>,
        test_logits: &[f32],
        (step, text_probe): (u64, &TextProbeSettings),
    ) -> (Probe, Option<f64>) {
        let classes = self.dataset.num_classes();
        let examples = &self.data.probe_examples;
        let (representations, neighbour_agreement) = representations(network, teacher, &self.data.probes, classes);
        let probe = Probe {
            stage: self.index,
            step,
            classes,
            examples: examples.clone(),
            logits: select_rows(test_logits, examples, classes),
            teacher_logits: self.teacher.as_ref().map(|t| select_rows(&t.test_logits, examples, classes)),
            agreement_matrix: self.teacher.as_ref().map(|t| prediction_matrix(&t.test_logits, test_logits, classes)),
            representations,
            text: self.text_probe(network, text_probe),
        };
        (probe, neighbour_agreement)
    }

    /// The language-model probe of `network` (and the teacher) on the prompt `settings` name;
    /// `None` for classifiers.
    pub(crate) fn text_probe(&self, network: &Network, settings: &TextProbeSettings) -> Option<TextProbe> {
        self.dataset.shape.is_text().then(|| {
            let models = (network, self.teacher.as_ref().map(|t| &t.network));
            text::probe(&self.dataset, settings, models, &self.device.device)
        })
    }
}
