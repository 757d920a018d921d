//! Hinton KD: the student matches the teacher's temperature-softened outputs as well as the
//! labels.

use super::spec::{
    ALPHA, Companions, Hypers, MethodSpec, STANDARDIZE, StepInputs, StepLoss, TEMPERATURE, TeacherUse, any_stage,
    any_teacher,
};

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "kd",
    summary: "(1−α)·CE + α·T²·KL(softmax(t/T) ‖ softmax(s/T))",
    paper: "Hinton, Vinyals & Dean 2015",
    teacher: TeacherUse::Logits,
    uses_feature_maps: false,
    text: false,
    companions: Companions::None,
    hypers: &[TEMPERATURE, ALPHA, STANDARDIZE],
    check_stage: any_stage,
    check_teacher: any_teacher,
    loss,
};

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    inputs.kd(hypers)
}
