//! What a language-model stage does differently from a classifier's: its training batches are
//! random windows of the training text (seeded by the stage and the step, so a fork or a rerun
//! draws the same ones), it is evaluated on the non-overlapping windows that tile the held-out
//! text, and it reports the language-model metrics — loss, bits per character, perplexity,
//! both models' entropies and both directions of KL — measured on the host from the logits.

use super::evaluate::to_host;
use crate::data::{Dataset, text};
use crate::logits::{entropy, kl, softmax_row};
use crate::model::Network;
use crate::protocol::probe::MAX_SAMPLE_LENGTH;
use crate::protocol::{LayerAttention, TextProbe, TextProbeSettings, TextSample, metric};
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Training windows the final train accuracy reads (from the start of the training text).
const TRAIN_EVALUATION_WINDOWS: usize = 256;

/// Inputs `[windows, context]` and the label of each of their positions.
pub(crate) struct Windows {
    pub(crate) inputs: Vec<f32>,
    pub(crate) labels: Vec<u32>,
    pub(crate) count: usize,
}

/// The windows tiling the test text, every one of them.
pub(crate) fn test_windows(dataset: &Dataset, context: usize) -> Windows {
    tiled(&dataset.test, context, usize::MAX)
}

/// The first windows tiling the training text, for its accuracy at the end of a stage.
pub(crate) fn train_windows(dataset: &Dataset, context: usize) -> Windows {
    tiled(&dataset.train, context, TRAIN_EVALUATION_WINDOWS)
}

fn tiled(split: &crate::data::Split, context: usize, most: usize) -> Windows {
    let mut starts = text::tiled_starts(split.len(), context);
    starts.truncate(most);
    let (inputs, labels) = text::windows(split, context, &starts);
    Windows { inputs, labels, count: starts.len() }
}

/// The first `count` windows tiling the test text (the prompts of the `teacher_logprob` metric).
pub(crate) fn first_test_windows(dataset: &Dataset, context: usize, count: usize) -> Windows {
    tiled(&dataset.test, context, count)
}

/// Training windows per epoch: as many as tile the training text once.
pub(crate) fn windows_per_epoch(dataset: &Dataset, context: usize) -> usize {
    dataset.train.len() / context.max(1)
}

/// The `count` training windows of optimizer step `step` of a stage seeded `seed`.
pub(crate) fn batch(dataset: &Dataset, context: usize, seed: u64, step: u64, count: usize) -> Windows {
    let seed = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let starts = text::random_starts(dataset.train.len(), context, count, seed);
    let (inputs, labels) = text::windows(&dataset.train, context, &starts);
    Windows { inputs, labels, count }
}

/// The language-model metrics of `student`'s logits (rows of `vocabulary`) against the labels,
/// and against `teacher`'s logits on the same positions when it has one: both directions of KL
/// from one softmax of each row (a classifier's stage reports [`metric::KL_TEACHER_STUDENT`]
/// through [`crate::logits::kl_divergence`] instead).
pub(crate) fn metrics(
    student: &[f32],
    teacher: Option<&[f32]>,
    labels: &[u32],
    vocabulary: usize,
) -> Vec<(&'static str, f64)> {
    let rows = labels.len().min(student.len() / vocabulary.max(1));
    if rows == 0 {
        return Vec::new();
    }
    let mut sums = Sums::default();
    for (row, &label) in labels.iter().enumerate().take(rows) {
        let span = row * vocabulary..(row + 1) * vocabulary;
        let q = softmax_row(&student[span.clone()], 1.0);
        sums.loss -= q.get(label as usize).copied().unwrap_or(0.0).max(1e-300).ln();
        sums.entropy += entropy(&q);
        if let Some(teacher) = teacher {
            let p = softmax_row(&teacher[span], 1.0);
            sums.teacher_entropy += entropy(&p);
            sums.forward += kl(&p, &q);
            sums.reverse += kl(&q, &p);
        }
    }
    let mean = |sum: f64| sum / rows as f64;
    let loss = mean(sums.loss);
    let mut values = vec![
        (metric::TEST_LOSS, loss),
        (metric::BITS_PER_CHARACTER, loss / std::f64::consts::LN_2),
        (metric::PERPLEXITY, loss.exp()),
        (metric::ENTROPY, mean(sums.entropy)),
    ];
    if teacher.is_some() {
        values.push((metric::TEACHER_ENTROPY, mean(sums.teacher_entropy)));
        values.push((metric::KL_TEACHER_STUDENT, mean(sums.forward)));
        values.push((metric::KL_STUDENT_TEACHER, mean(sums.reverse)));
    }
    values
}

/// The seed every sample is drawn with, so two reports differ by what the model learned.
const SAMPLING_SEED: u64 = 0x5EED;

/// The language-model probe of `student` (and `teacher`) on the prompt `settings` name.
pub(crate) fn probe(
    dataset: &Dataset,
    settings: &TextProbeSettings,
    (student, teacher): (&Network, Option<&Network>),
    device: &Device,
) -> TextProbe {
    let context = dataset.shape.len();
    let prompt = prompt_ids(dataset, &settings.prompt, context);
    let student_pass = forward(student, &prompt, device);
    let teacher_pass = teacher.map(|t| forward(t, &prompt, device));
    let mut samples = vec![sample((student, teacher), &prompt, settings, context, device, "student")];
    if let Some(teacher) = teacher {
        samples.push(sample((teacher, Some(teacher)), &prompt, settings, context, device, "teacher"));
    }
    let (teacher_logits, teacher_attention) = teacher_pass.unzip();
    TextProbe {
        settings: settings.clone(),
        vocabulary: dataset.num_classes(),
        logits: student_pass.0,
        attention: student_pass.1,
        teacher_logits,
        teacher_attention: teacher_attention.unwrap_or_default(),
        prompt,
        samples,
        on_policy: Vec::new(),
    }
}

/// The ids of the last `context` characters of `prompt` the vocabulary has; without any, the
/// first line of the test text long enough to read (cut to the context).
fn prompt_ids(dataset: &Dataset, prompt: &str, context: usize) -> Vec<u32> {
    let vocabulary = &dataset.vocabulary;
    let mut ids: Vec<u32> =
        prompt.chars().filter_map(|c| vocabulary.iter().position(|&v| v == c).map(|i| i as u32)).collect();
    if ids.is_empty() {
        ids = test_line(dataset, context);
    }
    let skip = ids.len().saturating_sub(context);
    ids.split_off(skip)
}

/// The first whole line of the test text with at least a third of a window of characters (else
/// the text's first window).
fn test_line(dataset: &Dataset, context: usize) -> Vec<u32> {
    let test: Vec<u32> = dataset.test.features.iter().map(|&v| v as u32).collect();
    let newline = dataset.vocabulary.iter().position(|&v| v == '\n').map(|i| i as u32);
    let mut lines = test.split(|&id| Some(id) == newline);
    // The first piece may be the end of a line cut by the split.
    lines.next();
    lines
        .find(|line| line.len() >= (context / 3).max(1))
        .map(<[u32]>::to_vec)
        .unwrap_or_else(|| test.iter().copied().take(context).collect())
}

/// Logits `[len × vocabulary]` and each layer's attention on one window of ids.
fn forward(network: &Network, ids: &[u32], device: &Device) -> (Vec<f32>, Vec<LayerAttention>) {
    let out = network.forward(window(ids, device));
    let attention = out
        .attention
        .into_iter()
        .map(|layer| {
            let heads = layer.dims()[1];
            let values = layer.into_data().convert::<f32>().try_into_vec::<f32>().unwrap_or_default();
            LayerAttention { heads, values }
        })
        .collect();
    (to_host(out.logits), attention)
}

fn window(ids: &[u32], device: &Device) -> Tensor<2> {
    let values: Vec<f32> = ids.iter().map(|&id| id as f32).collect();
    Tensor::from_data(TensorData::new(values, [1, ids.len()]), device)
}

/// `settings.length` characters `network` samples after `prompt` (seeded), each scored by
/// `judge`'s log-probability (the teacher's; the model's own when it has none).
fn sample(
    (network, judge): (&Network, Option<&Network>),
    prompt: &[u32],
    settings: &TextProbeSettings,
    context: usize,
    device: &Device,
    model: &str,
) -> TextSample {
    let mut rng = StdRng::seed_from_u64(SAMPLING_SEED);
    let mut ids = prompt.to_vec();
    let (mut sampled, mut log_probs) = (Vec::new(), Vec::new());
    for _ in 0..settings.length.min(MAX_SAMPLE_LENGTH) {
        let start = ids.len().saturating_sub(context);
        let last_row = |net: &Network| {
            let logits = to_host(net.logits(window(&ids[start..], device)));
            let vocabulary = logits.len() / (ids.len() - start).max(1);
            logits[logits.len() - vocabulary..].to_vec()
        };
        let own = last_row(network);
        let next = pick(&own, settings.temperature, settings.top_k, &mut rng);
        let scores = match judge {
            Some(judge) if !std::ptr::eq(judge, network) => last_row(judge),
            _ => own,
        };
        let p = softmax_row(&scores, 1.0);
        log_probs.push(p.get(next as usize).copied().unwrap_or(0.0).max(1e-300).ln() as f32);
        sampled.push(next);
        ids.push(next);
    }
    let scored_by = if judge.is_some() { "teacher" } else { "itself" };
    TextSample { model: model.into(), ids: sampled, log_probs, scored_by: scored_by.into() }
}

/// A character drawn from `logits` at `temperature`, among the top k when k > 0.
pub(crate) fn pick(logits: &[f32], temperature: f64, top_k: usize, rng: &mut StdRng) -> u32 {
    // Floored so that a temperature near 0 is greedy, not a division by 0.
    let mut p = softmax_row(logits, temperature.max(1e-6));
    if top_k > 0 && top_k < p.len() {
        let mut sorted = p.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let floor = sorted[top_k - 1];
        p.iter_mut().filter(|v| **v < floor).for_each(|v| *v = 0.0);
    }
    let total: f64 = p.iter().sum();
    let mut draw = rng.random::<f64>() * total;
    for (id, v) in p.iter().enumerate() {
        draw -= v;
        if draw <= 0.0 && *v > 0.0 {
            return id as u32;
        }
    }
    p.iter().rposition(|v| *v > 0.0).unwrap_or(0) as u32
}

#[derive(Default)]
struct Sums {
    loss: f64,
    entropy: f64,
    teacher_entropy: f64,
    forward: f64,
    reverse: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A uniform student over 4 characters: 2 bits per character, perplexity 4, entropy ln 4;
    /// against a teacher sure of one character, KL(student ‖ teacher) is large and the
    /// teacher's entropy is near 0.
    #[test]
    fn metrics_of_known_distributions() {
        let student = vec![0.0f32; 8];
        let teacher = vec![20.0f32, 0.0, 0.0, 0.0, 0.0, 20.0, 0.0, 0.0];
        let values = metrics(&student, Some(&teacher), &[0, 1], 4);
        let get = |name: &str| values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).unwrap();
        assert!((get(metric::BITS_PER_CHARACTER) - 2.0).abs() < 1e-9);
        assert!((get(metric::PERPLEXITY) - 4.0).abs() < 1e-9);
        assert!((get(metric::ENTROPY) - 4f64.ln()).abs() < 1e-9);
        assert!(get(metric::TEACHER_ENTROPY) < 1e-6);
        assert!(get(metric::KL_STUDENT_TEACHER) > 10.0);
        // A sure teacher against a uniform student: KL(teacher ‖ student) = ln 4.
        assert!((get(metric::KL_TEACHER_STUDENT) - 4f64.ln()).abs() < 1e-6);
    }
}
