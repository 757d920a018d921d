//! The loss each training method minimises, built from the pure functions in
//! [`crate::distill`], with every term kept for reporting.

use super::plan::Hypers;
use super::preset::Method;
use crate::distill;
use burn::tensor::{Int, Tensor};

/// The loss of one step: the total that is minimised and its named terms.
pub struct StepLoss {
    pub total: Tensor<1>,
    /// `(metric name, unweighted value)` of each term.
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

/// The loss of `method` for a batch. `teacher_logits` is required by methods with a teacher.
pub fn step_loss(
    method: Method,
    logits: Tensor<2>,
    teacher_logits: Option<Tensor<2>>,
    labels: Tensor<1, Int>,
    hypers: &Hypers,
) -> StepLoss {
    match (method, teacher_logits) {
        (Method::Kd | Method::TfkdSelf, Some(teacher)) => {
            let terms = distill::kd_terms(logits, teacher, labels, hypers.temperature);
            kd_style(terms, hypers.alpha)
        }
        (Method::TfkdReg, _) => {
            let terms = distill::tfkd_reg_terms(logits, labels, hypers.correct_prob, hypers.temperature);
            kd_style(terms, hypers.alpha)
        }
        (Method::LabelSmoothing, _) => {
            let loss = distill::label_smoothing(logits, labels, hypers.epsilon);
            StepLoss { total: loss.clone(), terms: vec![("loss_ls", loss)] }
        }
        // Scratch, or a teacher method that was handed no teacher: plain cross-entropy.
        _ => {
            let loss = distill::cross_entropy(logits, labels);
            StepLoss { total: loss.clone(), terms: vec![("loss_ce", loss)] }
        }
    }
}

fn kd_style(terms: distill::KdTerms, alpha: f64) -> StepLoss {
    StepLoss { total: terms.combine(alpha), terms: vec![("loss_ce", terms.hard), ("loss_kd", terms.soft)] }
}
