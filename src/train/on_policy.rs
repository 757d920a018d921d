//! On-policy batches of the token-level methods (GKD: Agarwal et al. 2024) and the measure of
//! what they push up. A fraction λ (`on_policy`) of a language-model stage's steps trains on
//! continuations the student samples itself — the last `sample_length` characters of each
//! training window replaced by what the student writes, at `sample_temperature`, after the rest
//! — and the loss there is the method's divergence on the sampled positions, with the teacher's
//! distributions as the target. Which steps are on-policy and every draw are seeded by the
//! stage's batch seed and the step, so a rerun or a fork from the same weights samples the same
//! text. Sampling runs on the student's inference copy (no autodiff), every window of the batch
//! at once, one forward pass per sampled character.
//!
//! `teacher_logprob`, measured at each evaluation, is the teacher's mean log-probability of the
//! characters the student samples after prompts from the test text.

use super::evaluate::to_host;
use super::methods::{Hypers, SAMPLE_LENGTH, SAMPLE_TEMPERATURE};
use super::text::{self, Windows};
use crate::data::Dataset;
use crate::distill::IGNORE_INDEX;
use crate::logits::softmax_row;
use crate::model::Network;
use crate::protocol::OnPolicySample;
use crate::protocol::hypers::ON_POLICY;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Test windows whose prompts the `teacher_logprob` metric samples after.
const EVALUATION_PROMPTS: usize = 32;
/// The seed of the metric's draws, the same at every report: two reports differ by what the
/// student learned.
const EVALUATION_SEED: u64 = 0x5EED_0B0E;
/// Keeps the on-policy draws apart from the windows' own seed.
const ON_POLICY_SALT: u64 = 0x0DD5_EED5_C0FF_EE00;

/// A stage's on-policy settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sampling {
    /// The share of steps trained on the student's samples (λ).
    pub(crate) fraction: f64,
    pub(crate) temperature: f64,
    /// Characters sampled after each prompt.
    pub(crate) length: usize,
}

impl Sampling {
    /// The settings in `hypers`; `None` for a method that does not declare them.
    pub(crate) fn of(hypers: &Hypers) -> Option<Sampling> {
        let fraction = hypers.get(ON_POLICY.name);
        // Undeclared values read as NaN.
        (!fraction.is_nan()).then(|| Sampling {
            fraction,
            temperature: hypers.get(SAMPLE_TEMPERATURE.name),
            length: hypers.get(SAMPLE_LENGTH.name) as usize,
        })
    }

    /// The draws of step `step` of a stage whose batches are seeded `seed` when that step trains
    /// on the student's samples; `None` for a step on the data's text.
    pub(crate) fn draws(&self, seed: u64, step: u64) -> Option<StdRng> {
        let mut rng = StdRng::seed_from_u64(seed ^ ON_POLICY_SALT ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        (self.fraction > 0.0 && rng.random::<f64>() < self.fraction).then_some(rng)
    }
}

/// Windows whose last characters the student wrote: inputs `[count, context]` and the label of
/// each position — the sampled character it predicts, or [`IGNORE_INDEX`] where it predicts the
/// prompt.
pub(crate) struct SampledWindows {
    pub(crate) inputs: Vec<f32>,
    pub(crate) labels: Vec<i64>,
    pub(crate) count: usize,
    /// Characters of each window (with the one after it) that came from the text.
    pub(crate) prompt: usize,
}

impl SampledWindows {
    /// Window `index`'s characters, its prompt and then what the student sampled.
    pub(crate) fn sequence(&self, index: usize, context: usize) -> Vec<u32> {
        let inputs = self.inputs.iter().skip(index * context).take(context).map(|&v| v as u32);
        let last = self.labels.get((index + 1) * context - 1).map(|&l| l as u32);
        inputs.chain(last).collect()
    }
}

/// `windows` (of `context` characters, with the one after each) with their last
/// `sampling.length` characters replaced by `student`'s continuation of the rest (at most the
/// whole window but its first character).
pub(crate) fn sample_windows(
    windows: &Windows,
    context: usize,
    student: &Network,
    sampling: Sampling,
    rng: &mut StdRng,
    device: &Device,
) -> SampledWindows {
    let length = sampling.length.clamp(1, context);
    let prompt = context + 1 - length;
    let prompts = (0..windows.count)
        .map(|w| windows.inputs.iter().skip(w * context).take(prompt).map(|&v| v as u32).collect())
        .collect();
    let sequences = continue_prompts(student, prompts, length, sampling.temperature, rng, device);
    let inputs = sequences.iter().flat_map(|s| s.iter().take(context).map(|&id| id as f32)).collect();
    let labels = sequences
        .iter()
        .flat_map(|s| (1..=context).map(move |i| if i < prompt { IGNORE_INDEX } else { i64::from(s[i]) }))
        .collect();
    SampledWindows { inputs, labels, count: windows.count, prompt }
}

/// `prompts` (all as long) each continued by `length` characters `network` samples at
/// `temperature`, all prompts at once: one forward pass per character.
fn continue_prompts(
    network: &Network,
    mut sequences: Vec<Vec<u32>>,
    length: usize,
    temperature: f64,
    rng: &mut StdRng,
    device: &Device,
) -> Vec<Vec<u32>> {
    let count = sequences.len();
    for _ in 0..length {
        let Some(len) = sequences.first().map(Vec::len) else { break };
        let values: Vec<f32> = sequences.iter().flatten().map(|&id| id as f32).collect();
        let logits = network.logits(Tensor::from_data(TensorData::new(values, [count, len]), device));
        let vocabulary = logits.dims()[1];
        let last = logits.reshape([count, len, vocabulary]).narrow(1, len - 1, 1).reshape([count, vocabulary]);
        let rows = to_host(last);
        for (sequence, row) in sequences.iter_mut().zip(rows.chunks(vocabulary.max(1))) {
            sequence.push(text::pick(row, temperature, 0, rng));
        }
    }
    sequences
}

/// The teacher's log-probability (nats) of each sampled character of `windows`.
pub(crate) fn teacher_log_probs(
    teacher: &Network,
    windows: &SampledWindows,
    context: usize,
    device: &Device,
) -> Vec<f64> {
    let inputs = Tensor::from_data(TensorData::new(windows.inputs.clone(), [windows.count, context]), device);
    scored(&windows.labels, &to_host(teacher.logits(inputs)))
}

/// The log-probability of each counted label under its row of `logits` (rows in the labels'
/// order; as many rows as labels or fewer).
fn scored(labels: &[i64], logits: &[f32]) -> Vec<f64> {
    let vocabulary = (logits.len() / labels.len().max(1)).max(1);
    labels
        .iter()
        .zip(logits.chunks(vocabulary))
        .filter(|(label, _)| **label >= 0)
        .map(|(&label, row)| softmax_row(row, 1.0).get(label as usize).copied().unwrap_or(0.0).max(1e-300).ln())
        .collect()
}

/// On-policy windows of a batch the Samples view shows.
const SHOWN: usize = 3;

/// The first windows of an on-policy batch of step `step` as the Samples view shows them, each
/// character the student sampled scored by the teacher's logits on the batch (`[count · context,
/// vocabulary]`; only the shown windows' rows are read).
pub(crate) fn shown(
    sampled: &SampledWindows,
    teacher_logits: &Tensor<2>,
    context: usize,
    step: u64,
) -> Vec<OnPolicySample> {
    let windows = sampled.count.min(SHOWN);
    let rows = to_host(teacher_logits.clone().narrow(0, 0, windows * context));
    let labels = &sampled.labels[..windows * context];
    let vocabulary = rows.len() / labels.len().max(1);
    (0..windows)
        .map(|w| {
            let sequence = sampled.sequence(w, context);
            let span = w * context..(w + 1) * context;
            let log_probs = scored(&labels[span.clone()], &rows[span.start * vocabulary..span.end * vocabulary]);
            OnPolicySample {
                step,
                prompt: sequence[..sampled.prompt].to_vec(),
                ids: sequence[sampled.prompt..].to_vec(),
                log_probs: log_probs.into_iter().map(|v| v as f32).collect(),
            }
        })
        .collect()
}

/// `teacher_logprob`: the teacher's mean log-probability (nats per character) of the
/// characters `student` samples after the first test windows' prompts. `None` without test text.
pub(crate) fn teacher_log_prob(
    dataset: &Dataset,
    (student, teacher): (&Network, &Network),
    sampling: Sampling,
    device: &Device,
) -> Option<f64> {
    let context = dataset.shape.len();
    let windows = text::first_test_windows(dataset, context, EVALUATION_PROMPTS);
    if windows.count == 0 {
        return None;
    }
    let mut rng = StdRng::seed_from_u64(EVALUATION_SEED);
    let sampled = sample_windows(&windows, context, student, sampling, &mut rng, device);
    let scores = teacher_log_probs(teacher, &sampled, context, device);
    (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::InputShape;
    use crate::model::ModelSpec;
    use crate::model::transformer::Spec;

    const CONTEXT: usize = 8;
    const VOCABULARY: usize = 11;

    fn student(device: &Device) -> Network {
        device.seed(5);
        let spec = ModelSpec::Transformer(Spec { layers: 1, width: 16, heads: 2, context: CONTEXT });
        spec.init(InputShape::Text { context: CONTEXT }, VOCABULARY, device)
    }

    /// Four windows of the text 0, 1, 2, … (mod the vocabulary), each with the character after it.
    fn windows() -> Windows {
        let text: Vec<u32> = (0..64).map(|i| (i * 7 % VOCABULARY) as u32).collect();
        let starts = [0, 9, 20, 33];
        let inputs = starts.iter().flat_map(|&s| text[s..s + CONTEXT].iter().map(|&c| c as f32)).collect();
        let labels = starts.iter().flat_map(|&s| text[s + 1..s + CONTEXT + 1].to_vec()).collect();
        Windows { inputs, labels, count: starts.len() }
    }

    /// What an on-policy step trains on: the windows' beginnings, then exactly the characters
    /// the student samples (greedy here, so each is the student's argmax given what precedes
    /// it); the prompt's positions do not count, every sampled one does.
    #[test]
    fn an_on_policy_batch_trains_on_the_students_own_samples() {
        let device = Device::flex();
        let network = student(&device);
        let data = windows();
        let sampling = Sampling { fraction: 1.0, temperature: 1e-6, length: 5 };
        let sampled = sample_windows(&data, CONTEXT, &network, sampling, &mut StdRng::seed_from_u64(1), &device);
        assert_eq!(sampled.prompt, CONTEXT + 1 - 5);
        let inputs = Tensor::<2>::from_data(TensorData::new(sampled.inputs.clone(), [data.count, CONTEXT]), &device);
        let logits = to_host(network.logits(inputs));
        let mut differs_from_text = false;
        for w in 0..data.count {
            let sequence = sampled.sequence(w, CONTEXT);
            let text: Vec<u32> = data.inputs[w * CONTEXT..(w + 1) * CONTEXT].iter().map(|&v| v as u32).collect();
            assert_eq!(sequence[..sampled.prompt], text[..sampled.prompt], "window {w}: the prompt is the text's");
            for position in 0..CONTEXT {
                let label = sampled.labels[w * CONTEXT + position];
                if position + 1 < sampled.prompt {
                    assert_eq!(label, IGNORE_INDEX, "window {w}, position {position}: the prompt does not count");
                    continue;
                }
                let row = &logits[(w * CONTEXT + position) * VOCABULARY..][..VOCABULARY];
                // Its likeliest character, up to the rounding of a pass over a longer window.
                let best = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let chosen = usize::try_from(label).ok().and_then(|l| row.get(l)).copied();
                assert!(
                    chosen.is_some_and(|v| v >= best - 1e-5),
                    "window {w}, position {position}: the student's own choice: {chosen:?} vs the best {best}"
                );
                assert_eq!(label, i64::from(sequence[position + 1]), "the label is the next input");
            }
            differs_from_text |= sequence[sampled.prompt..] != data.labels[(w + 1) * CONTEXT - 5..(w + 1) * CONTEXT];
        }
        assert!(differs_from_text, "an untrained student does not write the text's continuation");
    }

    /// The share of on-policy steps is λ, drawn per step: none at 0, all at 1, and the same
    /// steps for the same seed.
    #[test]
    fn the_share_of_on_policy_steps_is_lambda() {
        let share = |fraction: f64, seed: u64| {
            let sampling = Sampling { fraction, temperature: 1.0, length: 4 };
            (0..2000).filter(|&step| sampling.draws(seed, step).is_some()).count() as f64 / 2000.0
        };
        assert_eq!(share(0.0, 3), 0.0);
        assert_eq!(share(1.0, 3), 1.0);
        assert!((share(0.5, 3) - 0.5).abs() < 0.04, "{}", share(0.5, 3));
        assert!((share(0.2, 7) - 0.2).abs() < 0.03, "{}", share(0.2, 7));
        assert_eq!(share(0.5, 3), share(0.5, 3));
    }

    /// The teacher's log-probability of greedy samples is higher when the student is the teacher
    /// itself (its likeliest characters) than for an unrelated student, and is a log-probability.
    #[test]
    fn the_teacher_scores_its_own_samples_higher() {
        let device = Device::flex();
        let teacher = student(&device);
        device.seed(99);
        let other = ModelSpec::Transformer(Spec { layers: 1, width: 16, heads: 2, context: CONTEXT }).init(
            InputShape::Text { context: CONTEXT },
            VOCABULARY,
            &device,
        );
        let sampling = Sampling { fraction: 0.0, temperature: 1e-6, length: 6 };
        let data = windows();
        let score = |network: &Network| {
            let sampled = sample_windows(&data, CONTEXT, network, sampling, &mut StdRng::seed_from_u64(2), &device);
            let scores = teacher_log_probs(&teacher, &sampled, CONTEXT, &device);
            assert_eq!(scores.len(), data.count * 6);
            scores.iter().sum::<f64>() / scores.len() as f64
        };
        let (own, unrelated) = (score(&teacher), score(&other));
        assert!(own <= 0.0 && unrelated <= 0.0);
        assert!(own > unrelated, "own {own} vs unrelated {unrelated}");
    }
}
