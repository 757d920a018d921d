//! What the token-level language-model methods share (not a method itself): their temperature
//! and α as language-model distillation uses them, and the loss
//! `(1 − α)·CE + α·D(teacher, student)` over every position of the batch's windows, with `D`
//! one of [`distill::TokenDivergence`] at temperature T. As in TRL's GKD and DistiLLM, the
//! divergence is not scaled by T² (Hinton's KD is, for classifiers). And what the attention-transfer
//! methods add to it: the last layer's attention of both models, paired head by head or averaged.

use super::spec::{
    ALPHA, BETA, Companions, HyperSpec, Hypers, MethodSpec, StepInputs, StepLoss, TEMPERATURE, TeacherPair, TeacherUse,
    any_stage, any_teacher,
};
use crate::distill::{self, TokenDivergence};
use crate::model::ModelSpec;
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

/// The last layer's attention of the student and of the teacher, `[batch, heads, seq, seq]`,
/// paired for the attention-transfer methods: head by head when both have as many heads, each
/// side averaged over its heads otherwise (an average of attention rows is still a distribution
/// over the keys). The teacher's is a fixed target. `None` without a teacher's forward pass.
pub(crate) fn last_attention_pair(inputs: &StepInputs) -> Option<(Tensor<4>, Tensor<4>)> {
    let student = inputs.forward.student.attention.last()?.clone();
    let teacher = inputs.teacher?.attention.last()?.clone().detach();
    if student.dims()[1] == teacher.dims()[1] {
        return Some((student, teacher));
    }
    Some((student.mean_dim(1), teacher.mean_dim(1)))
}

/// Attention transfer reads both models' attention: the student and the teacher must be
/// transformers.
pub(crate) fn check_attention_teacher(pair: &TeacherPair) -> Result<(), String> {
    let heads = |spec: &ModelSpec| match spec {
        ModelSpec::Transformer(transformer) => Some(transformer.heads),
        _ => None,
    };
    match (heads(pair.student), heads(pair.teacher)) {
        (Some(_), Some(_)) => Ok(()),
        (None, _) => Err("attention transfer matches self-attention: the student must be a transformer".into()),
        (_, None) => Err(format!(
            "attention transfer matches self-attention: \"{}\" is not a transformer (arch = \"transformer\")",
            pair.teacher_name
        )),
    }
}

/// `(1 − α)·CE + α·KL(p_t ‖ p_s) + β·A(student attention, teacher attention)`: the forward-KL
/// logit term of [`distil`] plus an attention term `attention` reported as `term`.
pub(crate) fn distil_with_attention(
    inputs: &StepInputs,
    hypers: &Hypers,
    attention: fn(Tensor<4>, Tensor<4>) -> Tensor<1>,
    term: &'static str,
) -> StepLoss {
    let mut loss = distil(inputs, hypers, TokenDivergence::Forward, "loss_forward_kl");
    let Some((student, teacher)) = last_attention_pair(inputs) else { return loss };
    let transfer = attention(student, teacher);
    loss.total = loss.total + transfer.clone().mul_scalar(hypers.get(BETA.name));
    loss.terms.push((term, transfer));
    loss
}

/// An attention-transfer method's declaration: a token method's (`spec`) that also reads the
/// teacher's last-layer attention on each batch of text, so the teacher runs its forward pass and
/// both models must be transformers.
pub(crate) const fn attention_method(spec: MethodSpec) -> MethodSpec {
    MethodSpec { teacher: TeacherUse::Features, check_teacher: check_attention_teacher, ..spec }
}
