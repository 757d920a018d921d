//! Training from scratch: cross-entropy on the labels, the baseline every method is compared to.

use super::spec::{Companions, Hypers, MethodSpec, StepInputs, StepLoss, TeacherUse, any_stage, any_teacher};

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "scratch",
    summary: "cross-entropy on the labels",
    paper: "",
    teacher: TeacherUse::None,
    uses_feature_maps: false,
    text: false,
    companions: Companions::None,
    hypers: &[],
    check_stage: any_stage,
    check_teacher: any_teacher,
    loss,
};

fn loss(inputs: &StepInputs, _: &Hypers) -> StepLoss {
    inputs.cross_entropy()
}
