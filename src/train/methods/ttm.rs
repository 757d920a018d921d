//! TTM: transformed teacher matching — the temperature on the teacher only; the student's own
//! softmax matches `softmax(t/T)`, which Zheng & Yang show adds a Rényi-entropy regulariser.

use super::spec::{
    BETA, Companions, HyperSpec, Hypers, MethodSpec, STANDARDIZE, StepInputs, StepLoss, TEMPERATURE, TeacherUse,
    any_stage, any_teacher,
};
use crate::distill;
use burn::tensor::Tensor;

/// β: the weight of the matching term (the paper tunes it per teacher–student pair).
pub(crate) const MATCH_WEIGHT: HyperSpec = HyperSpec {
    default: 1.0,
    help: "Weight β of the matching term, from the next optimizer step:\n\
        loss = CE + β·KL(softmax(t/T) || softmax(s))",
    ..BETA
};

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "ttm",
    summary: "CE + β·KL(softmax(t/T) ‖ softmax(s)): temperature on the teacher only, no T²",
    paper: "Zheng & Yang 2024",
    teacher: TeacherUse::Logits,
    uses_feature_maps: false,
    text: false,
    companions: Companions::None,
    hypers: &[TEMPERATURE, MATCH_WEIGHT, STANDARDIZE],
    check_stage: any_stage,
    check_teacher: any_teacher,
    loss,
};

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    matched(inputs, hypers, "loss_ttm", distill::ttm)
}

/// `CE + β·matching(s, t, T)`, reported as `loss_ce` and `name`.
pub(crate) fn matched(
    inputs: &StepInputs,
    hypers: &Hypers,
    name: &'static str,
    matching: fn(Tensor<2>, Tensor<2>, f64) -> Tensor<1>,
) -> StepLoss {
    let Some((student, teacher)) = inputs.distilled_logits(hypers) else { return inputs.cross_entropy() };
    let ce = distill::cross_entropy(inputs.logits(), inputs.labels());
    let term = matching(student, teacher, hypers.get(TEMPERATURE.name));
    let total = ce.clone() + term.clone().mul_scalar(hypers.get(BETA.name));
    StepLoss { total, terms: vec![("loss_ce", ce), (name, term)] }
}
