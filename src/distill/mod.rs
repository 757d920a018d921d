//! Distillation losses as pure functions over tensors.
//!
//! Every function here takes logits, labels or features and returns a scalar tensor (shape `[1]`),
//! differentiable with respect to whichever inputs live on an autodiff device. Nothing here
//! knows about models, optimisers or training loops, so each loss can be checked on its own
//! against the PyTorch reference values in `tests/fixtures/losses.json` (and, for the methods
//! from 2022 on in [`modern`], `tests/fixtures/losses_modern.json`; for the token-level
//! divergences of language-model distillation and the attention losses in [`token`],
//! `tests/fixtures/losses_lm.json`).
//!
//! Conventions follow the reference code the fixtures were computed from: torchdistill's
//! `KDLoss`, RepDistiller's `DistillKL`, `RKDLoss` and `Attention`, mdistiller's `DKD`, and the
//! virtual teacher of Teacher-free KD.

mod modern;
mod token;

pub use token::{
    IGNORE_INDEX, TokenDivergence, attention_kl, attention_mse, hidden_mse, token_cross_entropy, token_divergence,
};

pub use modern::{
    DistTerms, NkdTerms, dist, dist_terms, kd_standardized, nkd, nkd_terms, soft_target_kl_at, standardize, ttm, wttm,
};

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor};

/// Smallest probability used inside a logarithm: keeps `0 · log 0` at zero instead of NaN.
const PROB_FLOOR: f64 = 1e-30;
/// Lower bound on squared norms before a square root, so zero vectors keep finite gradients.
const NORM_EPS_SQUARED: f64 = 1e-24;
/// The mask offset mdistiller subtracts from the target logit in DKD's non-target term.
const DKD_MASK_OFFSET: f64 = 1000.0;

/// One-hot encoding of integer labels as floats: `[batch] -> [batch, classes]`.
pub(crate) fn one_hot(labels: Tensor<1, Int>, num_classes: usize) -> Tensor<2> {
    labels.one_hot::<2>(num_classes).float()
}

/// Mean cross-entropy between logits `[batch, classes]` and integer labels `[batch]`.
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let [_, classes] = logits.dims();
    let targets = one_hot(labels, classes);
    soft_cross_entropy(logits, targets)
}

/// Mean over the batch of `-Σ_k q_k log softmax(logits)_k` for target distributions `q`.
pub(crate) fn soft_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (targets * log_softmax(logits, 1)).sum_dim(1).mean().neg()
}

/// `KL(p ‖ q)` summed over classes and averaged over the batch, from log-probabilities.
///
/// `p · (log p − log q)` with `p = exp(log p)`; a class whose `p` underflows to zero adds zero.
pub(crate) fn kl_from_log_probs(log_p: Tensor<2>, log_q: Tensor<2>) -> Tensor<1> {
    kl_terms(log_p, log_q).sum_dim(1).mean()
}

/// `p·(log p − log q)` per entry, from log-probabilities; where `p` underflows to 0 the entry
/// is 0.
pub(crate) fn kl_terms<const D: usize>(log_p: Tensor<D>, log_q: Tensor<D>) -> Tensor<D> {
    log_p.clone().exp() * (log_p - log_q)
}

/// `T² · KL(softmax(teacher/T) ‖ softmax(student/T))`, batch mean: the soft-target term of KD.
///
/// The teacher side is whatever tensor is passed; callers pass a detached teacher.
pub(crate) fn soft_target_kl(student_logits: Tensor<2>, teacher_logits: Tensor<2>, temperature: f64) -> Tensor<1> {
    let log_p_teacher = log_softmax(teacher_logits.div_scalar(temperature), 1);
    let log_p_student = log_softmax(student_logits.div_scalar(temperature), 1);
    kl_from_log_probs(log_p_teacher, log_p_student).mul_scalar(temperature * temperature)
}

/// The two terms of a KD-style loss, kept apart so each can be reported.
#[derive(Debug, Clone)]
pub struct KdTerms {
    /// Cross-entropy with the hard labels (unweighted).
    pub(crate) hard: Tensor<1>,
    /// `T²`-scaled KL to the soft targets (unweighted).
    pub(crate) soft: Tensor<1>,
}

impl KdTerms {
    /// `(1 − α) · hard + α · soft`.
    pub(crate) fn combine(&self, alpha: f64) -> Tensor<1> {
        self.hard.clone().mul_scalar(1.0 - alpha) + self.soft.clone().mul_scalar(alpha)
    }
}

/// Hinton KD split into its hard and soft terms.
pub(crate) fn kd_terms(
    student_logits: Tensor<2>,
    teacher_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    temperature: f64,
) -> KdTerms {
    KdTerms {
        hard: cross_entropy(student_logits.clone(), labels),
        soft: soft_target_kl(student_logits, teacher_logits, temperature),
    }
}

/// Hinton et al. (2015): `(1 − α) · CE(s, y) + α · T² · KL(softmax(t/T) ‖ softmax(s/T))`.
pub fn kd(
    student_logits: Tensor<2>,
    teacher_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    temperature: f64,
    alpha: f64,
) -> Tensor<1> {
    kd_terms(student_logits, teacher_logits, labels, temperature).combine(alpha)
}

/// Label smoothing: cross-entropy against `1 − ε` on the label and `ε / (C − 1)` elsewhere.
pub fn label_smoothing(student_logits: Tensor<2>, labels: Tensor<1, Int>, epsilon: f64) -> Tensor<1> {
    let [_, classes] = student_logits.dims();
    let targets = spread_distribution(labels, classes, 1.0 - epsilon);
    soft_cross_entropy(student_logits, targets)
}

/// A distribution with `on_label` on the label and the rest spread evenly over the other classes.
fn spread_distribution(labels: Tensor<1, Int>, classes: usize, on_label: f64) -> Tensor<2> {
    let off_label = (1.0 - on_label) / (classes as f64 - 1.0);
    one_hot(labels, classes).mul_scalar(on_label - off_label).add_scalar(off_label)
}

/// Logits of Tf-KD's virtual teacher: `log p_d` with `p_d = a` on the label and
/// `(1 − a) / (C − 1)` elsewhere (Yuan et al., 2020).
pub(crate) fn virtual_teacher_logits(labels: Tensor<1, Int>, classes: usize, correct_prob: f64) -> Tensor<2> {
    spread_distribution(labels, classes, correct_prob).log()
}

/// Teacher-free KD with the virtual teacher, split into its hard and soft terms.
pub(crate) fn tfkd_reg_terms(
    student_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    correct_prob: f64,
    temperature: f64,
) -> KdTerms {
    let [_, classes] = student_logits.dims();
    let teacher = virtual_teacher_logits(labels.clone(), classes, correct_prob);
    kd_terms(student_logits, teacher, labels, temperature)
}

/// Teacher-free KD (regularisation form): KD whose teacher is the virtual teacher.
pub fn tfkd_reg(
    student_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    correct_prob: f64,
    temperature: f64,
    alpha: f64,
) -> Tensor<1> {
    tfkd_reg_terms(student_logits, labels, correct_prob, temperature).combine(alpha)
}

/// The two parts of decoupled KD (Zhao et al., 2022), unweighted.
#[derive(Debug, Clone)]
pub(crate) struct DkdTerms {
    /// Target-class KD: `T² · KL` over the binary [target, non-target] masses.
    pub(crate) target: Tensor<1>,
    /// Non-target-class KD: `T² · KL` over the non-target classes.
    pub(crate) non_target: Tensor<1>,
}

impl DkdTerms {
    /// `α · TCKD + β · NCKD`.
    pub(crate) fn combine(&self, alpha: f64, beta: f64) -> Tensor<1> {
        self.target.clone().mul_scalar(alpha) + self.non_target.clone().mul_scalar(beta)
    }
}

/// DKD's target and non-target terms, as in mdistiller (no CE, no warm-up).
pub(crate) fn dkd_terms(
    student_logits: Tensor<2>,
    teacher_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    temperature: f64,
) -> DkdTerms {
    let [_, classes] = student_logits.dims();
    let target_mask = one_hot(labels, classes);
    let student_scaled = student_logits.div_scalar(temperature);
    let teacher_scaled = teacher_logits.div_scalar(temperature);
    let t2 = temperature * temperature;

    let binary_student = target_masses(softmax(student_scaled.clone(), 1), target_mask.clone());
    let binary_teacher = target_masses(softmax(teacher_scaled.clone(), 1), target_mask.clone());
    let target =
        kl_from_log_probs(binary_teacher.clamp_min(PROB_FLOOR).log(), binary_student.clamp_min(PROB_FLOOR).log())
            .mul_scalar(t2);

    let mask_offset = target_mask.mul_scalar(DKD_MASK_OFFSET);
    let non_target = kl_from_log_probs(
        log_softmax(teacher_scaled - mask_offset.clone(), 1),
        log_softmax(student_scaled - mask_offset, 1),
    )
    .mul_scalar(t2);
    DkdTerms { target, non_target }
}

/// `[batch, classes]` probabilities to `[batch, 2]`: mass on the target, mass elsewhere.
fn target_masses(probs: Tensor<2>, target_mask: Tensor<2>) -> Tensor<2> {
    let on_target = (probs.clone() * target_mask.clone()).sum_dim(1);
    let off_target = (probs * target_mask.neg().add_scalar(1.0)).sum_dim(1);
    Tensor::cat(vec![on_target, off_target], 1)
}

/// Decoupled KD: `α · TCKD + β · NCKD`.
pub fn dkd(
    student_logits: Tensor<2>,
    teacher_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    temperature: f64,
    alpha: f64,
    beta: f64,
) -> Tensor<1> {
    dkd_terms(student_logits, teacher_logits, labels, temperature).combine(alpha, beta)
}

/// Deep mutual learning's mimicry term: `T² · KL(softmax(peer/T) ‖ softmax(s/T))`, the peer
/// treated as a constant (Zhang et al., 2018).
pub fn dml(student_logits: Tensor<2>, peer_logits: Tensor<2>, temperature: f64) -> Tensor<1> {
    soft_target_kl(student_logits, peer_logits.detach(), temperature)
}

/// The two parts of relational KD (Park et al., 2019), unweighted.
#[derive(Debug, Clone)]
pub(crate) struct RkdTerms {
    /// Smooth-L1 between normalised pairwise distance matrices.
    pub(crate) distance: Tensor<1>,
    /// Smooth-L1 between triplet angle tensors.
    pub(crate) angle: Tensor<1>,
}

impl RkdTerms {
    /// `w_d · distance + w_a · angle`.
    pub(crate) fn combine(&self, distance_weight: f64, angle_weight: f64) -> Tensor<1> {
        self.distance.clone().mul_scalar(distance_weight) + self.angle.clone().mul_scalar(angle_weight)
    }
}

/// RKD's distance and angle terms between student and teacher embeddings `[batch, dim]`.
/// The two embeddings may have different widths; only their relations are compared.
pub(crate) fn rkd_terms(student_features: Tensor<2>, teacher_features: Tensor<2>) -> RkdTerms {
    let teacher_features = teacher_features.detach();
    RkdTerms {
        distance: smooth_l1(
            normalized_distances(student_features.clone()),
            normalized_distances(teacher_features.clone()),
        ),
        angle: smooth_l1(triplet_angles(student_features), triplet_angles(teacher_features)),
    }
}

/// Relational KD: `w_d · SmoothL1(ψ_D(s), ψ_D(t)) + w_a · SmoothL1(ψ_A(s), ψ_A(t))`.
pub fn rkd(
    student_features: Tensor<2>,
    teacher_features: Tensor<2>,
    distance_weight: f64,
    angle_weight: f64,
) -> Tensor<1> {
    rkd_terms(student_features, teacher_features).combine(distance_weight, angle_weight)
}

/// Pairwise Euclidean distances `[batch, batch]` (zero diagonal), divided by the mean of the
/// non-zero ones.
pub(crate) fn normalized_distances(features: Tensor<2>) -> Tensor<2> {
    let [batch, _] = features.dims();
    let differences = features.clone().unsqueeze_dim::<3>(0) - features.unsqueeze_dim::<3>(1);
    let squared = differences.square().sum_dim(2).squeeze_dim::<2>(2);
    // Clamping before the root keeps the diagonal's gradient finite; the diagonal is then zeroed.
    let diagonal = Tensor::<2>::eye(batch, &squared.device()).bool();
    let distances = squared.clamp_min(1e-12).sqrt().mask_fill(diagonal, 0.0);
    let nonzero = distances.clone().greater_elem(0.0).float().sum().detach().clamp_min(1.0);
    // A batch of one example (or of identical ones) has no distance: the mean is 0, and the
    // relations are all zero rather than 0 / 0.
    let mean = (distances.clone().sum() / nonzero).clamp_min(1e-12);
    distances / mean.unsqueeze::<2>()
}

/// Cosines of the angles `⟨unit(e_j − e_i), unit(e_k − e_i)⟩` for every triplet, flattened.
pub(crate) fn triplet_angles(features: Tensor<2>) -> Tensor<1> {
    let differences = features.clone().unsqueeze_dim::<3>(0) - features.unsqueeze_dim::<3>(1);
    let unit = l2_normalize(differences, 2);
    unit.clone().matmul(unit.swap_dims(1, 2)).flatten::<1>(0, 2)
}

/// `x / max(‖x‖₂, ε)` along `dim`, as `torch.nn.functional.normalize`; zero vectors stay zero.
pub(crate) fn l2_normalize<const D: usize>(tensor: Tensor<D>, dim: usize) -> Tensor<D> {
    let norm = tensor.clone().square().sum_dim(dim).clamp_min(NORM_EPS_SQUARED).sqrt();
    tensor / norm
}

/// Smooth-L1 (Huber with β = 1), averaged over all elements.
pub(crate) fn smooth_l1<const D: usize>(prediction: Tensor<D>, target: Tensor<D>) -> Tensor<1> {
    let absolute = (prediction - target).abs();
    let quadratic = absolute.clone().clamp_max(1.0);
    (quadratic.clone().square().mul_scalar(0.5) + absolute - quadratic).mean()
}

/// Activation-based attention map of a feature map `[batch, channels, h, w]`:
/// the channel mean of `F²`, flattened and L2-normalised per sample → `[batch, h·w]`.
pub(crate) fn attention_map(features: Tensor<4>) -> Tensor<2> {
    let pooled = features.square().mean_dim(1).flatten::<2>(1, 3);
    l2_normalize(pooled, 1)
}

/// Attention transfer (Zagoruyko & Komodakis, 2017): mean of `(a_s − a_t)²` over batch and
/// positions. Channel counts may differ; spatial sizes must match.
pub fn attention_transfer(student_features: Tensor<4>, teacher_features: Tensor<4>) -> Tensor<1> {
    let difference = attention_map(student_features) - attention_map(teacher_features.detach());
    difference.square().mean()
}

/// FitNets hint loss (Romero et al., 2015): mean squared error between the regressed student
/// feature map and the teacher's.
pub fn fitnet(regressed_student: Tensor<4>, teacher_features: Tensor<4>) -> Tensor<1> {
    (regressed_student - teacher_features.detach()).square().mean()
}
