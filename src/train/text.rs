//! What a language-model stage does differently from a classifier's: its training batches are
//! random windows of the training text (seeded by the stage and the step, so a fork or a rerun
//! draws the same ones), it is evaluated on the non-overlapping windows that tile the held-out
//! text, and it reports the language-model metrics — loss, bits per character, perplexity,
//! both models' entropies and both directions of KL — measured on the host from the logits.

use crate::data::{Dataset, text};
use crate::logits::softmax_row;
use crate::protocol::metric;

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
/// and against `teacher`'s logits on the same positions when it has one (KL(teacher ‖ student)
/// is every stage's [`metric::KL_TEACHER_STUDENT`]; this adds the reverse direction).
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
        values.push((metric::KL_STUDENT_TEACHER, mean(sums.reverse)));
    }
    values
}

#[derive(Default)]
struct Sums {
    loss: f64,
    entropy: f64,
    teacher_entropy: f64,
    reverse: f64,
}

fn entropy(p: &[f64]) -> f64 {
    -p.iter().filter(|&&v| v > 0.0).map(|v| v * v.ln()).sum::<f64>()
}

fn kl(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).filter(|(pi, _)| **pi > 0.0).map(|(pi, qi)| pi * (pi.ln() - qi.max(1e-300).ln())).sum()
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
    }
}
