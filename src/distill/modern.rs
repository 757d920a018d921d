//! Logit distillation losses from 2022 on: DIST's Pearson relations, logit standardization,
//! NKD's normalized target and non-target terms, and transformed teacher matching (TTM, WTTM).
//! Each is checked against `tests/fixtures/losses_modern.json`.

use super::{cross_entropy, kl_from_log_probs, one_hot};
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor};

/// Added to the norms' product in Pearson's correlation (DIST's reference code).
const PEARSON_EPS: f64 = 1e-8;
/// Added to the standard deviation in logit standardization (Sun et al.'s code).
const STANDARDIZE_EPS: f64 = 1e-7;
/// Subtracted from the label's logit to take it out of NKD's non-target softmaxes.
const NKD_MASK_OFFSET: f64 = 1000.0;

/// Logit standardization (Sun et al., 2024): each row minus its mean, divided by `1e-7` plus
/// its unbiased standard deviation over the classes.
pub fn standardize(logits: Tensor<2>) -> Tensor<2> {
    let [_, classes] = logits.dims();
    let centred = logits.clone() - logits.mean_dim(1);
    let variance = centred.clone().powi_scalar(2).sum_dim(1).div_scalar((classes.max(2) - 1) as f64);
    centred / variance.sqrt().add_scalar(STANDARDIZE_EPS)
}

/// KD on standardized logits: `(1 − α)·CE(s, y) + α·T²·KL(softmax(z(t)/T) ‖ softmax(z(s)/T))`,
/// the cross-entropy on the raw logits.
pub fn kd_standardized(
    student_logits: Tensor<2>,
    teacher_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    temperature: f64,
    alpha: f64,
) -> Tensor<1> {
    let hard = cross_entropy(student_logits.clone(), labels);
    let soft = super::soft_target_kl(standardize(student_logits), standardize(teacher_logits), temperature);
    hard.mul_scalar(1.0 - alpha) + soft.mul_scalar(alpha)
}

/// `T²·KL(softmax(t/T) ‖ softmax(s/T))`, batch mean, at a temperature that is a tensor `[1]`
/// (CTKD's learned one), so the loss has a gradient with respect to it.
pub fn soft_target_kl_at(student_logits: Tensor<2>, teacher_logits: Tensor<2>, temperature: Tensor<1>) -> Tensor<1> {
    let divisor = temperature.clone().unsqueeze::<2>();
    let log_p_teacher = log_softmax(teacher_logits / divisor.clone(), 1);
    let log_p_student = log_softmax(student_logits / divisor, 1);
    kl_from_log_probs(log_p_teacher, log_p_student) * temperature.powi_scalar(2)
}

/// DIST's two relations (Huang et al., 2022), unweighted and without `T²`.
#[derive(Debug, Clone)]
pub struct DistTerms {
    /// `1 −` the mean over examples of Pearson(p_s[i, :], p_t[i, :]).
    pub(crate) inter: Tensor<1>,
    /// `1 −` the mean over classes of Pearson(p_s[:, k], p_t[:, k]).
    pub(crate) intra: Tensor<1>,
}

impl DistTerms {
    /// `T²·(β·inter + γ·intra)`.
    pub(crate) fn combine(&self, temperature: f64, beta: f64, gamma: f64) -> Tensor<1> {
        (self.inter.clone().mul_scalar(beta) + self.intra.clone().mul_scalar(gamma))
            .mul_scalar(temperature * temperature)
    }
}

/// DIST's inter- and intra-class relations of `softmax(z/T)`.
pub fn dist_terms(student_logits: Tensor<2>, teacher_logits: Tensor<2>, temperature: f64) -> DistTerms {
    let student = softmax(student_logits.div_scalar(temperature), 1);
    let teacher = softmax(teacher_logits.div_scalar(temperature), 1);
    let inter = pearson_rows(student.clone(), teacher.clone()).mean().neg().add_scalar(1.0);
    let intra = pearson_rows(student.transpose(), teacher.transpose()).mean().neg().add_scalar(1.0);
    DistTerms { inter, intra }
}

/// DIST: `T²·(β·inter + γ·intra)`.
pub fn dist(
    student_logits: Tensor<2>,
    teacher_logits: Tensor<2>,
    temperature: f64,
    beta: f64,
    gamma: f64,
) -> Tensor<1> {
    dist_terms(student_logits, teacher_logits, temperature).combine(temperature, beta, gamma)
}

/// Pearson's correlation of each row of `a` with the same row of `b`: `[rows, 1]`.
fn pearson_rows(a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let a = a.clone() - a.mean_dim(1);
    let b = b.clone() - b.mean_dim(1);
    let norm = |x: Tensor<2>| x.powi_scalar(2).sum_dim(1).sqrt();
    let denominator = (norm(a.clone()) * norm(b.clone())).add_scalar(PEARSON_EPS);
    (a * b).sum_dim(1) / denominator
}

/// NKD's two terms (Yang et al., 2023), unweighted.
#[derive(Debug, Clone)]
pub struct NkdTerms {
    /// `−mean_i softmax(t_i)[y_i] · log softmax(s_i)[y_i]`.
    pub(crate) target: Tensor<1>,
    /// `−T²·mean_i Σ_k softmax(t_i∖y_i / T)_k · log softmax(s_i∖y_i / T)_k`, the label's class
    /// taken out of both rows.
    pub(crate) non_target: Tensor<1>,
}

impl NkdTerms {
    /// `target + γ·non_target`.
    pub(crate) fn combine(&self, gamma: f64) -> Tensor<1> {
        self.target.clone() + self.non_target.clone().mul_scalar(gamma)
    }
}

/// NKD's normalized target and non-target terms (no cross-entropy: the target term replaces it).
pub fn nkd_terms(
    student_logits: Tensor<2>,
    teacher_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    temperature: f64,
) -> NkdTerms {
    let [_, classes] = student_logits.dims();
    let target_mask = one_hot(labels, classes);
    let teacher_target = (softmax(teacher_logits.clone(), 1) * target_mask.clone()).sum_dim(1);
    let student_log_target = (log_softmax(student_logits.clone(), 1) * target_mask.clone()).sum_dim(1);
    let target = (teacher_target * student_log_target).mean().neg();

    let offset = target_mask.mul_scalar(NKD_MASK_OFFSET);
    let teacher_rest = softmax((teacher_logits - offset.clone()).div_scalar(temperature), 1);
    let student_rest = log_softmax((student_logits - offset).div_scalar(temperature), 1);
    let non_target = (teacher_rest * student_rest).sum_dim(1).mean().neg().mul_scalar(temperature * temperature);
    NkdTerms { target, non_target }
}

/// NKD: `target + γ·non_target`.
pub fn nkd(
    student_logits: Tensor<2>,
    teacher_logits: Tensor<2>,
    labels: Tensor<1, Int>,
    temperature: f64,
    gamma: f64,
) -> Tensor<1> {
    nkd_terms(student_logits, teacher_logits, labels, temperature).combine(gamma)
}

/// TTM (Zheng & Yang, 2024): `mean_i KL(q_i ‖ softmax(s_i))` with `q = softmax(t)^(1/T)`
/// renormalized (= `softmax(t/T)`): the temperature on the teacher only, no `T²`.
pub fn ttm(student_logits: Tensor<2>, teacher_logits: Tensor<2>, temperature: f64) -> Tensor<1> {
    kl_from_log_probs(log_softmax(teacher_logits.div_scalar(temperature), 1), log_softmax(student_logits, 1))
}

/// WTTM: TTM with each example weighted by `U_i = Σ_k softmax(t_i)_k^(1/T)`, the teacher's
/// power sum before renormalizing.
pub fn wttm(student_logits: Tensor<2>, teacher_logits: Tensor<2>, temperature: f64) -> Tensor<1> {
    let power_sum = log_softmax(teacher_logits.clone(), 1).div_scalar(temperature).exp().sum_dim(1);
    let log_q = log_softmax(teacher_logits.div_scalar(temperature), 1);
    let q = log_q.clone().exp();
    let kl_rows = (q * (log_q - log_softmax(student_logits, 1))).sum_dim(1);
    (power_sum * kl_rows).mean()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn standardized_rows_have_zero_mean_and_unit_unbiased_deviation() {
        let device = Device::flex();
        let logits = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 6.0, -3.0, 0.0, 3.0], [2, 3]), &device);
        let z: Vec<f32> = standardize(logits).into_data().try_to_vec::<f32>().unwrap_or_default();
        for row in z.chunks(3) {
            let mean = row.iter().sum::<f32>() / 3.0;
            let variance = row.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 2.0;
            assert!(mean.abs() < 1e-6 && (variance - 1.0).abs() < 1e-4, "{row:?}");
        }
    }
}
