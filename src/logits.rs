//! Arithmetic on logits copied to the host: top classes, accuracy, agreement, softmax at a
//! temperature, KL divergence, prediction matrices, and picking rows. No tensors: the engine
//! measures with it, and the views draw soft targets with it.

/// Index of the largest value in each row of `classes` logits.
pub(crate) fn argmax_rows(logits: &[f32], classes: usize) -> Vec<u32> {
    logits
        .chunks_exact(classes)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best })
                .0 as u32
        })
        .collect()
}

/// Fraction of rows whose top class equals the label.
pub(crate) fn accuracy(logits: &[f32], labels: &[u32], classes: usize) -> f64 {
    let predictions = argmax_rows(logits, classes);
    fraction_equal(&predictions, labels)
}

/// Fraction of rows on which two models pick the same top class.
pub(crate) fn agreement(a: &[f32], b: &[f32], classes: usize) -> f64 {
    fraction_equal(&argmax_rows(a, classes), &argmax_rows(b, classes))
}

fn fraction_equal(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// Softmax of one row, in f64.
pub(crate) fn softmax_row(row: &[f32], temperature: f64) -> Vec<f64> {
    let scaled: Vec<f64> = row.iter().map(|&v| f64::from(v) / temperature).collect();
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let exps: Vec<f64> = scaled.iter().map(|v| (v - max).exp()).collect();
    let total: f64 = exps.iter().sum();
    exps.iter().map(|e| e / total).collect()
}

/// `KL(teacher ‖ student)` at temperature 1, summed over classes, averaged over rows.
pub(crate) fn kl_divergence(teacher: &[f32], student: &[f32], classes: usize) -> f64 {
    let rows = teacher.len() / classes;
    if rows == 0 {
        return 0.0;
    }
    let total: f64 = teacher
        .chunks_exact(classes)
        .zip(student.chunks_exact(classes))
        .map(|(t, s)| kl(&softmax_row(t, 1.0), &softmax_row(s, 1.0)))
        .sum();
    total / rows as f64
}

/// `KL(p ‖ q)` of two distributions over the same classes, in nats.
pub(crate) fn kl(p: &[f64], q: &[f64]) -> f64 {
    p.iter().zip(q).filter(|(pi, _)| **pi > 0.0).map(|(pi, qi)| pi * (pi.ln() - qi.max(1e-300).ln())).sum()
}

/// The entropy of a distribution, in nats.
pub(crate) fn entropy(p: &[f64]) -> f64 {
    -p.iter().filter(|v| **v > 0.0).map(|v| v * v.ln()).sum::<f64>()
}

/// Counts of (prediction of `rows_model`, prediction of `columns_model`) over all examples,
/// row-major `[classes × classes]`.
pub(crate) fn prediction_matrix(rows_model: &[f32], columns_model: &[f32], classes: usize) -> Vec<u32> {
    let mut counts = vec![0u32; classes * classes];
    for (r, c) in argmax_rows(rows_model, classes).into_iter().zip(argmax_rows(columns_model, classes)) {
        counts[r as usize * classes + c as usize] += 1;
    }
    counts
}

/// A fixed, class-balanced set of examples to probe: the first `per_class` examples of each
/// class, ordered by class.
pub(crate) fn probe_examples(labels: &[u32], classes: usize, per_class: usize) -> Vec<usize> {
    (0..classes as u32)
        .flat_map(|class| labels.iter().enumerate().filter(move |(_, l)| **l == class).map(|(i, _)| i).take(per_class))
        .collect()
}

/// The logit rows of `examples`.
pub(crate) fn select_rows(logits: &[f32], examples: &[usize], classes: usize) -> Vec<f32> {
    examples.iter().flat_map(|&i| logits[i * classes..(i + 1) * classes].iter().copied()).collect()
}

/// Accuracy of the averaged class probabilities of several models.
pub(crate) fn ensemble_accuracy(members: &[&[f32]], labels: &[u32], classes: usize) -> f64 {
    let rows = labels.len();
    let mut averaged = vec![0f32; rows * classes];
    for logits in members {
        for (r, row) in logits.chunks_exact(classes).enumerate() {
            for (k, p) in softmax_row(row, 1.0).into_iter().enumerate() {
                averaged[r * classes + k] += p as f32 / members.len() as f32;
            }
        }
    }
    accuracy(&averaged, labels, classes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_metrics() {
        let a = [2.0, 1.0, 0.0, 0.0, 3.0, 1.0];
        let b = [0.0, 1.0, 0.0, 0.0, 3.0, 1.0];
        assert_eq!(accuracy(&a, &[0, 1], 3), 1.0);
        assert_eq!(agreement(&a, &b, 3), 0.5);
        assert_eq!(kl_divergence(&a, &a, 3), 0.0);
        assert!(kl_divergence(&a, &b, 3) > 0.0);
        assert_eq!(ensemble_accuracy(&[&a, &b], &[0, 1], 3), 1.0);
        assert_eq!(prediction_matrix(&a, &b, 3), vec![0, 1, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(probe_examples(&[1, 0, 1, 1, 0, 2], 3, 2), vec![1, 4, 0, 2, 5]);
        assert_eq!(select_rows(&a, &[1], 3), vec![0.0, 3.0, 1.0]);
    }
}
