//! The loss each training method minimises, built from the pure functions in
//! [`crate::distill`], with every term kept for reporting.

use super::plan::Hypers;
use super::preset::Method;
use super::trainee::{Regressor, TraineeForward};
use crate::distill;
use crate::model::Forward;
use burn::tensor::{Int, Tensor};

/// The loss of one step: the total that is minimised and its named terms.
pub struct StepLoss {
    pub total: Tensor<1>,
    /// `(metric name, unweighted value)` of each term, the same names at every step.
    pub terms: Vec<(&'static str, Tensor<1>)>,
}

/// What one step's loss is computed from.
pub struct StepInputs<'a> {
    pub forward: &'a TraineeForward,
    pub regressor: Option<&'a Regressor>,
    /// The teacher's logits on the batch, for methods with a teacher.
    pub teacher_logits: Option<Tensor<2>>,
    /// The teacher's whole forward pass on the batch, for representation methods.
    pub teacher: Option<&'a Forward>,
    pub labels: Tensor<1, Int>,
    /// Epochs completed before this step, fractional (for warm-ups and FitNets' hint stage).
    pub progress: f64,
}

/// The loss of `method` for a batch. A teacher method handed no teacher falls back to
/// cross-entropy.
pub fn step_loss(method: Method, inputs: StepInputs, hypers: &Hypers) -> StepLoss {
    let logits = inputs.forward.student.logits.clone();
    let labels = inputs.labels.clone();
    let teacher_logits = inputs.teacher_logits.clone();
    match (method, teacher_logits, inputs.teacher) {
        (Method::Kd | Method::TfkdSelf, Some(teacher), _) => {
            kd_style(distill::kd_terms(logits, teacher, labels, hypers.temperature), hypers.alpha)
        }
        (Method::TfkdReg, _, _) => {
            let terms = distill::tfkd_reg_terms(logits, labels, hypers.correct_prob, hypers.temperature);
            kd_style(terms, hypers.alpha)
        }
        (Method::LabelSmoothing, _, _) => {
            let loss = distill::label_smoothing(logits, labels, hypers.epsilon);
            StepLoss { total: loss.clone(), terms: vec![("loss_ls", loss)] }
        }
        (Method::Rkd, Some(logits), Some(teacher)) => rkd(&inputs, logits, teacher, hypers),
        (Method::At, Some(logits), Some(teacher)) => attention_transfer(&inputs, logits, teacher, hypers),
        (Method::Fitnets, Some(logits), Some(teacher)) => fitnets(&inputs, logits, teacher, hypers),
        (Method::Dkd, Some(teacher), _) => dkd(logits, teacher, labels, inputs.progress, hypers),
        (Method::Dml, _, _) => mutual_learning(inputs.forward, labels, hypers),
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

/// `(1 − α)·CE + α·KD` with its terms, the base the representation methods add to.
fn kd_base(inputs: &StepInputs, teacher_logits: Tensor<2>, hypers: &Hypers) -> StepLoss {
    let logits = inputs.forward.student.logits.clone();
    kd_style(distill::kd_terms(logits, teacher_logits, inputs.labels.clone(), hypers.temperature), hypers.alpha)
}

/// RKD (Park et al., 2019) on the penultimate embeddings, added to CE (+ KD when α > 0).
fn rkd(inputs: &StepInputs, teacher_logits: Tensor<2>, teacher: &Forward, hypers: &Hypers) -> StepLoss {
    let mut loss = kd_base(inputs, teacher_logits, hypers);
    let relations = distill::rkd_terms(inputs.forward.student.embedding.clone(), teacher.embedding.clone());
    loss.total = loss.total + relations.combine(hypers.distance_weight, hypers.angle_weight);
    loss.terms.push(("loss_rkd_distance", relations.distance));
    loss.terms.push(("loss_rkd_angle", relations.angle));
    loss
}

/// Attention transfer (Zagoruyko & Komodakis, 2017): β times the sum over matching conv
/// blocks, added to KD.
fn attention_transfer(inputs: &StepInputs, teacher_logits: Tensor<2>, teacher: &Forward, hypers: &Hypers) -> StepLoss {
    let mut loss = kd_base(inputs, teacher_logits, hypers);
    let pairs = inputs.forward.student.feature_maps.iter().zip(&teacher.feature_maps);
    let at = pairs
        .map(|(student, teacher)| distill::attention_transfer(student.clone(), teacher.clone()))
        .reduce(|a, b| a + b);
    if let Some(at) = at {
        loss.total = loss.total + at.clone().mul_scalar(hypers.beta);
        loss.terms.push(("loss_at", at));
    }
    loss
}

/// FitNets (Romero et al., 2015): the hint loss alone for the first `hint_epochs`, then KD.
/// The hint is reported throughout.
fn fitnets(inputs: &StepInputs, teacher_logits: Tensor<2>, teacher: &Forward, hypers: &Hypers) -> StepLoss {
    let mut loss = kd_base(inputs, teacher_logits, hypers);
    let hint = inputs.regressor.and_then(|r| r.hint(&inputs.forward.student, teacher)).map(|(regressed, target)| {
        let [batch, width] = regressed.dims();
        distill::fitnet(regressed.reshape([batch, width, 1, 1]), target.reshape([batch, width, 1, 1]))
    });
    if let Some(hint) = hint {
        if inputs.progress < hypers.hint_epochs {
            loss.total = hint.clone();
        }
        loss.terms.push(("loss_hint", hint));
    }
    loss
}

/// DKD (Zhao et al., 2022): `CE + w·(α·TCKD + β·NCKD)`, `w` ramping from 0 to 1 over the
/// warm-up epochs.
fn dkd(logits: Tensor<2>, teacher: Tensor<2>, labels: Tensor<1, Int>, progress: f64, hypers: &Hypers) -> StepLoss {
    let ce = distill::cross_entropy(logits.clone(), labels.clone());
    let terms = distill::dkd_terms(logits, teacher, labels, hypers.temperature);
    let warmup = if hypers.warmup_epochs > 0.0 { (progress / hypers.warmup_epochs).min(1.0) } else { 1.0 };
    let total = ce.clone() + terms.combine(hypers.alpha, hypers.beta).mul_scalar(warmup);
    StepLoss { total, terms: vec![("loss_ce", ce), ("loss_tckd", terms.target), ("loss_nckd", terms.non_target)] }
}

/// DML (Zhang et al., 2018): every peer minimises its CE plus the mean KL from each other
/// peer (held constant), all in one step. The terms reported are the first peer's.
fn mutual_learning(forward: &TraineeForward, labels: Tensor<1, Int>, hypers: &Hypers) -> StepLoss {
    let all: Vec<&Tensor<2>> =
        std::iter::once(&forward.student.logits).chain(forward.peers.iter().map(|p| &p.logits)).collect();
    let others = (all.len() - 1).max(1) as f64;
    let mut reported = Vec::new();
    let mut total = Tensor::<1>::zeros([1], &forward.student.logits.device());
    for (k, logits) in all.iter().enumerate() {
        let ce = distill::cross_entropy((*logits).clone(), labels.clone());
        let mimicry = all
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != k)
            .map(|(_, peer)| distill::dml((*logits).clone(), (*peer).clone(), hypers.temperature))
            .reduce(|a, b| a + b)
            .map(|sum| sum.div_scalar(others));
        let peer_total = mimicry.clone().map_or(ce.clone(), |m| ce.clone() + m);
        if k == 0 {
            reported.push(("loss_ce", ce));
            reported.extend(mimicry.map(|m| ("loss_dml", m)));
        }
        total = total + peer_total;
    }
    StepLoss { total, terms: reported }
}
