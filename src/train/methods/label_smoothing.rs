//! Label smoothing: cross-entropy against labels that put `epsilon` of their mass evenly on
//! every class.

use super::spec::{
    Companions, HyperSpec, Hypers, MethodSpec, StepInputs, StepLoss, TeacherUse, Valid, any_stage, any_teacher,
};
use crate::distill;

const EPSILON: HyperSpec = HyperSpec {
    name: "epsilon",
    symbol: "ε",
    label: "ε",
    // Szegedy et al. (2016).
    default: 0.1,
    valid: Valid::FromUpTo(0.0, 1.0),
    live: None,
    help: "Share of each label's probability spread evenly over all classes",
};

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "label_smoothing",
    summary: "CE against (1−ε)·one-hot + ε/C",
    paper: "Szegedy et al. 2016; Müller et al. 2019",
    teacher: TeacherUse::None,
    uses_feature_maps: false,
    text: false,
    companions: Companions::None,
    hypers: &[EPSILON],
    check_stage: any_stage,
    check_teacher: any_teacher,
    loss,
};

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    StepLoss::single("loss_ls", distill::label_smoothing(inputs.logits(), inputs.labels(), hypers.get(EPSILON.name)))
}
