//! What the token-level language-model methods share (not a method itself): their temperature
//! and α as language-model distillation uses them, and the loss
//! `(1 − α)·CE + α·D(teacher, student)` over every position of the batch's windows, with `D`
//! one of [`distill::TokenDivergence`] at temperature T. As in TRL's GKD and DistiLLM, the
//! divergence is not scaled by T² (Hinton's KD is, for classifiers). And what the attention- and
//! hidden-state-transfer methods add to it: a β-weighted term on the two transformers' internals
//! (the last layer's attention, paired head by head or averaged; hidden states).

use super::spec::{
    ALPHA, BETA, Companions, HyperSpec, Hypers, MethodSpec, StepInputs, StepLoss, TEMPERATURE, TeacherPair, TeacherUse,
    Valid, any_stage, any_teacher,
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

/// The temperature the student samples its on-policy continuations at.
pub(crate) const SAMPLE_TEMPERATURE: HyperSpec = HyperSpec {
    name: "sample_temperature",
    symbol: "T_s",
    label: "sample temperature",
    default: 1.0,
    valid: Valid::Between(0.0, 100.0),
    live: None,
    help: "Temperature the student samples its on-policy continuations at (and the teacher_logprob metric's samples)",
};

/// How many characters each on-policy continuation has.
pub(crate) const SAMPLE_LENGTH: HyperSpec = HyperSpec {
    name: "sample_length",
    symbol: "n",
    label: "sample length",
    default: 32.0,
    valid: Valid::Whole(1, 4096),
    live: None,
    help: "Characters the student samples after each on-policy prompt; the prompt is the rest of the window \
        (at most the window's length: one prompt character at least)",
};

/// The weight β of a transfer method's term on the models' internals, 1 by default (MiniLM adds
/// its attention KLs and TinyBERT its layer losses unweighted), with its own `help`.
pub(crate) const fn transfer_weight(help: &'static str) -> HyperSpec {
    HyperSpec { default: 1.0, help, ..BETA }
}

/// `(1 − α)·CE + α·D` of one step, reported as `loss_ce` and `term` (D unweighted). Without a
/// teacher's logits (validation prevents it), cross-entropy alone. On the student's own samples
/// (an on-policy batch) there is no ground truth to learn: the loss is `D` alone on the sampled
/// positions, as in GKD, and `loss_ce` (the student's cross-entropy on its own samples) is
/// reported but not minimised.
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
    let alpha = if inputs.on_policy { 1.0 } else { hypers.get(ALPHA.name) };
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
    check_transformer_pair(pair, "attention transfer matches self-attention")
}

/// Both models of `pair` are transformers, or why `what` (a method's reason) needs them to be.
pub(crate) fn check_transformer_pair(pair: &TeacherPair, what: &str) -> Result<(), String> {
    let is_transformer = |spec: &ModelSpec| matches!(spec, ModelSpec::Transformer(_));
    match (is_transformer(pair.student), is_transformer(pair.teacher)) {
        (true, true) => Ok(()),
        (false, _) => Err(format!("{what}: the student must be a transformer")),
        (_, false) => Err(format!("{what}: \"{}\" is not a transformer (arch = \"transformer\")", pair.teacher_name)),
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
    let transfer = last_attention_pair(inputs).map(|(student, teacher)| attention(student, teacher));
    distil_with_transfer(inputs, hypers, transfer, term)
}

/// `(1 − α)·CE + α·KL(p_t ‖ p_s) + β·transfer`: the forward-KL logit term of [`distil`] plus an
/// internal-representation term reported as `term` (none without the teacher's forward pass).
pub(crate) fn distil_with_transfer(
    inputs: &StepInputs,
    hypers: &Hypers,
    transfer: Option<Tensor<1>>,
    term: &'static str,
) -> StepLoss {
    let mut loss = distil(inputs, hypers, TokenDivergence::Forward, "loss_forward_kl");
    let Some(transfer) = transfer else { return loss };
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
