//! What the token-level language-model methods share (not a method itself): their temperature
//! and α as language-model distillation uses them, and the loss
//! `(1 − α)·CE + α·D(teacher, student)` over every position of the batch's windows, with `D`
//! one of [`distill::TokenDivergence`] at temperature T. As in TRL's GKD and DistiLLM, the
//! divergence is not scaled by T² (Hinton's KD is, for classifiers).

use super::spec::{
    ALPHA, Companions, HyperSpec, Hypers, MethodSpec, StepInputs, StepLoss, TEMPERATURE, TeacherUse, any_stage,
    any_teacher,
};
use crate::distill::{self, TokenDivergence};
use burn::tensor::{Int, Tensor};

/// The temperature of both next-character distributions in the divergence.
pub(crate) const LM_TEMPERATURE: HyperSpec = HyperSpec {
    default: 1.0,
    help: "Temperature T of both next-character distributions, from the next optimizer step:\n\
        loss = (1 - α)·CE(s, y) + α·D(softmax(t/T), softmax(s/T))",
    ..TEMPERATURE
};

/// The weight of the divergence against next-character cross-entropy.
pub(crate) const LM_ALPHA: HyperSpec = HyperSpec {
    help: "Weight α of the divergence from the teacher, from the next optimizer step:\n\
        loss = (1 - α)·CE(s, y) + α·D(softmax(t/T), softmax(s/T))",
    ..ALPHA
};

/// `(1 − α)·CE + α·D` of one step, reported as `loss_ce` and `term` (D unweighted). Without a
/// teacher's logits (validation prevents it), cross-entropy alone.
pub(crate) fn distil(
    inputs: &StepInputs,
    hypers: &Hypers,
    divergence: TokenDivergence,
    term: &'static str,
) -> StepLoss {
    let Some(teacher) = inputs.teacher_logits.clone() else { return inputs.cross_entropy() };
    let (student, labels) = (sequences(inputs.logits(), inputs), labels(inputs));
    let divergence = distill::token_divergence(
        divergence,
        student.clone(),
        sequences(teacher, inputs),
        labels.clone(),
        hypers.get(TEMPERATURE.name),
    );
    let cross_entropy = distill::token_cross_entropy(student, labels);
    let alpha = hypers.get(ALPHA.name);
    let total = cross_entropy.clone().mul_scalar(1.0 - alpha) + divergence.clone().mul_scalar(alpha);
    StepLoss { total, terms: vec![("loss_ce", cross_entropy), (term, divergence)] }
}

/// Logits `[batch · length, vocabulary]` as the `[batch, length, vocabulary]` they come from.
fn sequences(logits: Tensor<2>, inputs: &StepInputs) -> Tensor<3> {
    let [rows, vocabulary] = logits.dims();
    let (batch, length) = inputs.forward.student.positions.map_or((rows, 1), |p| (p.batch, p.length));
    logits.reshape([batch, length, vocabulary])
}

fn labels(inputs: &StepInputs) -> Tensor<2, Int> {
    let [rows] = inputs.labels.dims();
    let (batch, length) = inputs.forward.student.positions.map_or((rows, 1), |p| (p.batch, p.length));
    inputs.labels().reshape([batch, length])
}

/// A token-level method's declaration: it learns from a teacher's logits on each batch of text,
/// with T, α and the `own` hyperparameters of its divergence.
pub(crate) const fn token_method(
    name: &'static str,
    summary: &'static str,
    paper: &'static str,
    hypers: &'static [HyperSpec],
    loss: fn(&StepInputs, &Hypers) -> StepLoss,
) -> MethodSpec {
    MethodSpec {
        name,
        summary,
        paper,
        teacher: TeacherUse::Logits,
        uses_feature_maps: false,
        text: true,
        companions: Companions::None,
        hypers,
        check_stage: any_stage,
        check_teacher: any_teacher,
        loss,
    }
}
