//! Throughput of the workloads of `bench/torch_kd_bench.py` (same shapes, same losses), so kdlab
//! and PyTorch can be compared on one machine.
//!
//! - `mlp`: input 64, frozen teacher 64-256-256-10, student 64-32-10, batch 128,
//!   `0.1·CE + 0.9·T²·KL` at T = 4, Adam 1e-3.
//! - `cnn`: MNIST-shaped 1×28×28, teacher conv32-conv64-fc128, student conv8-conv16, batch 64,
//!   KD as above plus 1000 × attention transfer at the second conv block.
//! - `teacher`: the kd preset's CNN teacher (conv32-conv64-fc128) trained alone on 1×28×28
//!   inputs, batch 128, cross-entropy, Adam 1e-3: where a user of the bundled presets waits.
//! - `lm`: the lm preset's character transformers on windows of 64 of 73 characters, batch 32:
//!   the 4-layer width-128 teacher frozen, the 1-layer width-64 student trained with
//!   `0.1·CE + 0.9·KL(teacher ‖ student)` per position at T = 1, Adam 1e-3.
//! - `lm_teacher`: that teacher trained alone with next-character cross-entropy.
//! - `lm_on_policy`: `lm` with GKD's on-policy fraction λ = 0.5: every other step the student
//!   first samples the last 32 characters of each window (T = 1, no autodiff, one batched forward
//!   pass per character) and learns the forward KL on them alone. Its ratio to `lm` is the cost
//!   of on-policy data (the PyTorch twin samples the same way, with `torch.multinomial`).

pub mod frame;

use crate::data::InputShape;
use crate::device::ComputeDevice;
use crate::distill;
use crate::model::{ModelSpec, Network, cnn, mlp, transformer};
use crate::train::on_policy::{self, Sampling};
use crate::train::text::Windows;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Instant;

const CLASSES: usize = 10;
/// The lm workloads' vocabulary and window (the bundled plays': 73 characters).
const VOCABULARY: usize = 73;
const CONTEXT: usize = 64;
const TEMPERATURE: f64 = 4.0;
const ALPHA: f64 = 0.9;
const AT_WEIGHT: f64 = 1000.0;
const WARMUP_STEPS: usize = 10;
/// `lm_on_policy`'s sampling: 32 of the 64 characters of a window, at T = 1.
const ON_POLICY: Sampling = Sampling { fraction: 0.5, temperature: 1.0, length: 32 };

/// One workload's measured speed.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchResult {
    pub workload: &'static str,
    pub steps: usize,
    pub steps_per_second: f64,
}

/// A benchmark workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Mlp,
    Cnn,
    Teacher,
    Lm,
    LmTeacher,
    LmOnPolicy,
}

impl Workload {
    pub const ALL: [Workload; 6] =
        [Workload::Mlp, Workload::Cnn, Workload::Teacher, Workload::Lm, Workload::LmTeacher, Workload::LmOnPolicy];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Workload::Mlp => "mlp",
            Workload::Cnn => "cnn",
            Workload::Teacher => "teacher",
            Workload::Lm => "lm",
            Workload::LmTeacher => "lm_teacher",
            Workload::LmOnPolicy => "lm_on_policy",
        }
    }

    /// The step counts the PyTorch twin times.
    pub fn default_steps(self) -> usize {
        match self {
            Workload::Mlp => 2000,
            Workload::Cnn => 300,
            Workload::Teacher => 100,
            Workload::Lm => 100,
            Workload::LmTeacher => 40,
            Workload::LmOnPolicy => 40,
        }
    }

    fn shape(self) -> InputShape {
        match self {
            Workload::Mlp => InputShape::Flat { features: 64 },
            Workload::Cnn | Workload::Teacher => InputShape::Image { channels: 1, height: 28, width: 28 },
            Workload::Lm | Workload::LmTeacher | Workload::LmOnPolicy => InputShape::Text { context: CONTEXT },
        }
    }

    fn batch(self) -> usize {
        match self {
            Workload::Mlp | Workload::Teacher => 128,
            Workload::Cnn => 64,
            Workload::Lm | Workload::LmTeacher | Workload::LmOnPolicy => 32,
        }
    }

    fn classes(self) -> usize {
        match self {
            Workload::Lm | Workload::LmTeacher | Workload::LmOnPolicy => VOCABULARY,
            _ => CLASSES,
        }
    }

    /// The frozen teacher (none for `teacher`, which trains it) and the trained model.
    fn models(self) -> (Option<ModelSpec>, ModelSpec) {
        let cnn_teacher = ModelSpec::Cnn(cnn::Spec { channels: vec![32, 64], hidden: vec![128] });
        let lm_teacher =
            ModelSpec::Transformer(transformer::Spec { layers: 4, width: 128, heads: 4, context: CONTEXT });
        let lm_student = ModelSpec::Transformer(transformer::Spec { layers: 1, width: 64, heads: 2, context: CONTEXT });
        match self {
            Workload::Mlp => (
                Some(ModelSpec::Mlp(mlp::Spec { hidden: vec![256, 256] })),
                ModelSpec::Mlp(mlp::Spec { hidden: vec![32] }),
            ),
            Workload::Cnn => (Some(cnn_teacher), ModelSpec::Cnn(cnn::Spec { channels: vec![8, 16], hidden: vec![] })),
            Workload::Teacher => (None, cnn_teacher),
            Workload::Lm | Workload::LmOnPolicy => (Some(lm_teacher), lm_student),
            Workload::LmTeacher => (None, lm_teacher),
        }
    }
}

/// Times `steps` training steps of a workload after a short warm-up.
pub fn run(workload: Workload, device: &ComputeDevice, steps: usize) -> BenchResult {
    let plain = device.device.clone();
    plain.seed(0);
    let (teacher_spec, student_spec) = workload.models();
    let shape = workload.shape();
    let classes = workload.classes();
    let teacher = teacher_spec.map(|spec| spec.init(shape, classes, &plain));
    let mut student = student_spec.init(shape, classes, &plain.clone().autodiff());
    let mut optimizer = AdamConfig::new().with_epsilon(1e-8).init();
    let (inputs, labels) = match shape {
        InputShape::Text { context } => {
            let positions = workload.batch() * context;
            let ids = random_labels(positions, classes, 1, &plain).reshape([workload.batch(), context]).float();
            (ids, random_labels(positions, classes, 2, &plain))
        }
        _ => (
            Tensor::<2>::random([workload.batch(), shape.len()], Distribution::Normal(0.0, 1.0), &plain),
            random_labels(workload.batch(), classes, 0, &plain),
        ),
    };

    let windows = on_policy_windows(workload, &inputs, &labels);
    let mut rng = StdRng::seed_from_u64(3);
    let mut step = |student: Network, optimizer: &mut ModuleOptimizer, index: usize| {
        let sampled = windows.as_ref().filter(|_| index % 2 == 1).map(|windows| {
            let sampled = on_policy::sample_windows(windows, CONTEXT, &student.valid(), ON_POLICY, &mut rng, &plain);
            let count = sampled.count;
            let inputs = Tensor::<2>::from_data(TensorData::new(sampled.inputs, [count, CONTEXT]), &plain);
            (inputs, Tensor::<1, Int>::from_data(TensorData::new(sampled.labels, [count * CONTEXT]), &plain))
        });
        let (inputs, labels, alpha) = match sampled {
            Some((inputs, labels)) => (inputs, labels, 1.0),
            None => (inputs.clone(), labels.clone(), ALPHA),
        };
        let student_out = student.forward(inputs.clone());
        let teacher_out = teacher.as_ref().map(|t| t.forward(inputs.clone()));
        let loss = match (workload, teacher_out) {
            (Workload::Lm | Workload::LmOnPolicy, Some(teacher_out)) => {
                token_kd(student_out.logits, teacher_out.logits, (&labels, alpha), &inputs)
            }
            (Workload::Cnn, Some(teacher_out)) => {
                let at = distill::attention_transfer(
                    student_out.feature_maps[1].clone(),
                    teacher_out.feature_maps[1].clone(),
                );
                let kd = distill::kd(student_out.logits, teacher_out.logits, labels.clone(), TEMPERATURE, ALPHA);
                kd + at.mul_scalar(AT_WEIGHT)
            }
            (_, Some(teacher_out)) => {
                distill::kd(student_out.logits, teacher_out.logits, labels.clone(), TEMPERATURE, ALPHA)
            }
            (_, None) => distill::cross_entropy(student_out.logits, labels.clone()),
        };
        let gradients = GradientsParams::from_grads(loss.backward(), &student);
        optimizer.step(1e-3, student, gradients)
    };
    for index in 0..WARMUP_STEPS {
        student = step(student, &mut optimizer, index);
    }
    let _ = plain.sync();
    let started = Instant::now();
    for index in 0..steps {
        student = step(student, &mut optimizer, index);
    }
    // Waits for queued device work, so the clock measures finished steps.
    let _ = plain.sync();
    BenchResult { workload: workload.name(), steps, steps_per_second: steps as f64 / started.elapsed().as_secs_f64() }
}

/// `lm_on_policy`'s windows as the host holds them, the prompts of its samples; `None` for the
/// other workloads.
fn on_policy_windows(workload: Workload, inputs: &Tensor<2>, labels: &Tensor<1, Int>) -> Option<Windows> {
    if workload != Workload::LmOnPolicy {
        return None;
    }
    let inputs: Vec<f32> = inputs.clone().into_data().convert::<f32>().try_into_vec::<f32>().ok()?;
    let labels: Vec<i64> = labels.clone().into_data().convert::<i64>().try_into_vec::<i64>().ok()?;
    let count = inputs.len() / CONTEXT;
    Some(Windows { inputs, labels: labels.into_iter().map(|l| l as u32).collect(), count })
}

/// `(1 − α)·CE + α·KL(teacher ‖ student)` over the counted positions of windows
/// `[batch, context]` (α = 0.9; 1 on the student's own samples).
fn token_kd(
    student: Tensor<2>,
    teacher: Tensor<2>,
    (labels, alpha): (&Tensor<1, Int>, f64),
    inputs: &Tensor<2>,
) -> Tensor<1> {
    let [batch, context] = inputs.dims();
    let classes = student.dims()[1];
    let sequences = |logits: Tensor<2>| logits.reshape([batch, context, classes]);
    let labels = labels.clone().reshape([batch, context]);
    let forward = distill::TokenDivergence::Forward;
    let divergence =
        distill::token_divergence(forward, sequences(student.clone()), sequences(teacher), labels.clone(), 1.0);
    let cross_entropy = distill::token_cross_entropy(sequences(student), labels);
    cross_entropy.mul_scalar(1.0 - alpha) + divergence.mul_scalar(alpha)
}

fn random_labels(batch: usize, classes: usize, seed: u64, device: &Device) -> Tensor<1, Int> {
    let mut rng = StdRng::seed_from_u64(seed);
    let labels: Vec<i64> = (0..batch).map(|_| rng.random_range(0..classes as i64)).collect();
    Tensor::from_data(TensorData::new(labels, [batch]), device)
}
