//! Token-level divergences for language-model distillation, and the attention and hidden-state
//! losses of MiniLM and TinyBERT, as pure tensor functions.
//!
//! The logit divergences take student and teacher logits `[batch, seq, vocab]` and labels
//! `[batch, seq]` whose value [`IGNORE_INDEX`] marks a position that does not count. Both
//! logits are divided by the temperature first and nothing multiplies by `T²` (TRL's and
//! DistiLLM's convention); each position's divergence is summed over the vocabulary, then
//! summed over the counted positions and divided by their number. Reference values:
//! `tests/fixtures/losses_lm.json`, computed by calling TRL's `generalized_jsd_loss` and
//! DistiLLM's `losses.py`.

use super::{PROB_FLOOR, kl_terms};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// The label of a position no loss counts (PyTorch's `ignore_index`).
pub const IGNORE_INDEX: i64 = -100;

/// Which way the divergence between the teacher's and the student's next-token distributions
/// is taken; every variant is a distance that is 0 when the two agree.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TokenDivergence {
    /// `KL(p_t ‖ p_s)`: mode-covering.
    Forward,
    /// `KL(p_s ‖ p_t)`: mode-seeking.
    Reverse,
    /// GKD's generalized Jensen–Shannon divergence: `β·KL(p_t ‖ m) + (1−β)·KL(p_s ‖ m)`,
    /// `m = β·p_t + (1−β)·p_s`; `β = 0` is the forward KL and `β = 1` the reverse KL.
    GeneralizedJsd { beta: f64 },
    /// DistiLLM's skew KL: `KL(p_t ‖ α·p_t + (1−α)·p_s)`.
    Skew { alpha: f64 },
    /// DistiLLM's skew reverse KL: `KL(p_s ‖ α·p_s + (1−α)·p_t)`.
    SkewReverse { alpha: f64 },
    /// Total variation distance: `½·Σ |p_t − p_s|`.
    TotalVariation,
}

impl TokenDivergence {
    /// The divergence per position `[batch, seq]`, before masking: summed over the vocabulary.
    fn per_position(self, log_p_student: Tensor<3>, log_p_teacher: Tensor<3>) -> Tensor<2> {
        let per_vocab = match self {
            TokenDivergence::Forward => kl_terms(log_p_teacher, log_p_student),
            TokenDivergence::Reverse => kl_terms(log_p_student, log_p_teacher),
            // The mixture's own formula tends to 0 at the endpoints (log β → −∞), so they are
            // the KLs they stand for.
            TokenDivergence::GeneralizedJsd { beta } if beta <= 0.0 => kl_terms(log_p_teacher, log_p_student),
            TokenDivergence::GeneralizedJsd { beta } if beta >= 1.0 => kl_terms(log_p_student, log_p_teacher),
            TokenDivergence::GeneralizedJsd { beta } => {
                let towards_teacher = kl_to_mixture_terms(log_p_teacher.clone(), log_p_student.clone(), beta);
                let towards_student = kl_to_mixture_terms(log_p_student, log_p_teacher, 1.0 - beta);
                towards_teacher.mul_scalar(beta) + towards_student.mul_scalar(1.0 - beta)
            }
            TokenDivergence::Skew { alpha } => kl_to_mixture_terms(log_p_teacher, log_p_student, alpha),
            TokenDivergence::SkewReverse { alpha } => kl_to_mixture_terms(log_p_student, log_p_teacher, alpha),
            TokenDivergence::TotalVariation => (log_p_teacher.exp() - log_p_student.exp()).abs().mul_scalar(0.5),
        };
        let [batch, seq, _] = per_vocab.dims();
        per_vocab.sum_dim(2).reshape([batch, seq])
    }
}

/// The divergence between the teacher's and the student's next-token distributions at
/// `temperature`, averaged over the positions whose label is not [`IGNORE_INDEX`].
pub fn token_divergence(
    divergence: TokenDivergence,
    student_logits: Tensor<3>,
    teacher_logits: Tensor<3>,
    labels: Tensor<2, Int>,
    temperature: f64,
) -> Tensor<1> {
    let log_p_student = log_softmax(student_logits.div_scalar(temperature), 2);
    let log_p_teacher = log_softmax(teacher_logits.div_scalar(temperature), 2);
    masked_mean(divergence.per_position(log_p_student, log_p_teacher), labels)
}

/// Next-token cross-entropy of the student, averaged over the positions that count.
pub fn token_cross_entropy(student_logits: Tensor<3>, labels: Tensor<2, Int>) -> Tensor<1> {
    let [batch, seq, _] = student_logits.dims();
    // Ignored positions pick token 0; the mask drops them.
    let targets = labels.clone().clamp_min(0).reshape([batch, seq, 1]);
    let picked = log_softmax(student_logits, 2).gather(2, targets).reshape([batch, seq]);
    masked_mean(picked.neg(), labels)
}

/// `values [batch, seq]` summed over the positions whose label counts, divided by their number
/// (at least one, so a batch with none counted gives 0, not NaN).
fn masked_mean(values: Tensor<2>, labels: Tensor<2, Int>) -> Tensor<1> {
    let counted = labels.not_equal_elem(IGNORE_INDEX).float();
    let total = (values * counted.clone()).sum();
    total / counted.sum().clamp_min(1.0)
}

/// `p·(log p − log m)` per entry with `m = w·p + (1−w)·q`, the mixture formed in log space
/// (log-sum-exp) so that confident distributions keep their small entries.
fn kl_to_mixture_terms(log_p: Tensor<3>, log_q: Tensor<3>, weight_p: f64) -> Tensor<3> {
    if weight_p >= 1.0 {
        return log_p.zeros_like();
    }
    if weight_p <= 0.0 {
        return kl_terms(log_p, log_q);
    }
    let a = log_p.clone().add_scalar(weight_p.ln());
    let b = log_q.add_scalar((1.0 - weight_p).ln());
    let larger = a.clone().max_pair(b.clone());
    let log_m = larger.clone() + ((a - larger.clone()).exp() + (b - larger).exp()).log();
    kl_terms(log_p, log_m)
}

/// MiniLM's self-attention transfer (Wang et al. 2020): `KL(A_t row ‖ A_s row)` summed over the
/// keys and averaged over batch, heads and query positions. The inputs are attention
/// probabilities `[batch, heads, seq, seq]`; a key the teacher gives 0 (the causal upper
/// triangle) adds 0.
pub fn attention_kl(student_attention: Tensor<4>, teacher_attention: Tensor<4>) -> Tensor<1> {
    let [batch, heads, queries, _] = teacher_attention.dims();
    let log_teacher = teacher_attention.clone().clamp_min(PROB_FLOOR).log();
    let log_student = student_attention.clamp_min(PROB_FLOOR).log();
    let rows = (batch * heads * queries).max(1) as f64;
    (teacher_attention * (log_teacher - log_student)).sum().div_scalar(rows)
}

/// TinyBERT's attention loss on probabilities: the mean squared difference over every element
/// of `[batch, heads, seq, seq]`, the zero upper triangle included.
pub fn attention_mse(student_attention: Tensor<4>, teacher_attention: Tensor<4>) -> Tensor<1> {
    mean_squared_difference(student_attention, teacher_attention)
}

/// TinyBERT's hidden-state loss: the mean squared difference between the student's hidden states
/// mapped to the teacher's width (`H_s·W_h`) and the teacher's, over every element of
/// `[batch, seq, width]`.
pub fn hidden_mse(mapped_student: Tensor<3>, teacher_hidden: Tensor<3>) -> Tensor<1> {
    mean_squared_difference(mapped_student, teacher_hidden)
}

fn mean_squared_difference<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<1> {
    let difference = a - b;
    (difference.clone() * difference).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    fn logits(values: Vec<f32>, shape: [usize; 3]) -> Tensor<3> {
        Tensor::from_data(TensorData::new(values, shape), &Device::flex())
    }

    fn labels(values: Vec<i64>, shape: [usize; 2]) -> Tensor<2, Int> {
        Tensor::from_data(TensorData::new(values, shape), &Device::flex())
    }

    /// Every divergence is 0 between a distribution and itself, and ignored positions (here
    /// the one where student and teacher differ) do not count.
    #[test]
    fn divergences_vanish_on_agreement_and_skip_ignored_positions() {
        let student = logits(vec![1.0, 2.0, 0.5, 3.0, -1.0, 0.0], [1, 2, 3]);
        let teacher = logits(vec![1.0, 2.0, 0.5, -3.0, 4.0, 1.0], [1, 2, 3]);
        let kinds = [
            TokenDivergence::Forward,
            TokenDivergence::Reverse,
            TokenDivergence::GeneralizedJsd { beta: 0.5 },
            TokenDivergence::Skew { alpha: 0.1 },
            TokenDivergence::SkewReverse { alpha: 0.1 },
            TokenDivergence::TotalVariation,
        ];
        for kind in kinds {
            let masked = token_divergence(kind, student.clone(), teacher.clone(), labels(vec![1, -100], [1, 2]), 2.0);
            assert!(masked.into_scalar::<f32>().abs() < 1e-6, "{kind:?}");
            let counted = token_divergence(kind, student.clone(), teacher.clone(), labels(vec![1, 2], [1, 2]), 2.0);
            assert!(counted.into_scalar::<f32>() > 1e-3, "{kind:?}");
        }
    }

    #[test]
    fn a_batch_with_no_counted_position_is_zero() {
        let student = logits(vec![1.0, 2.0, 0.5], [1, 1, 3]);
        let teacher = logits(vec![0.0, 2.0, 5.0], [1, 1, 3]);
        let value = token_divergence(TokenDivergence::Forward, student, teacher, labels(vec![-100], [1, 1]), 1.0);
        assert_eq!(value.into_scalar::<f32>(), 0.0);
    }

    /// Cross-entropy at one position: `−log softmax(logits)[label]`.
    #[test]
    fn token_cross_entropy_is_the_labels_negative_log_probability() {
        let student = logits(vec![0.0, 0.0, 0.0, 0.0, 5.0, 0.0], [1, 2, 3]);
        let value = token_cross_entropy(student, labels(vec![2, -100], [1, 2])).into_scalar::<f32>();
        assert!((value - 3f32.ln()).abs() < 1e-5, "{value}");
    }
}
