//! Teacher-free KD, self-training: KD from a trained copy of the student's own architecture.

use super::spec::{
    ALPHA, Companions, Hypers, MethodSpec, STANDARDIZE, StepInputs, StepLoss, TEMPERATURE, TeacherPair, TeacherUse,
    any_stage,
};

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "tfkd_self",
    summary: "KD from a trained copy of the same architecture",
    paper: "Yuan et al. 2020",
    teacher: TeacherUse::Logits,
    uses_feature_maps: false,
    text: false,
    companions: Companions::None,
    hypers: &[TEMPERATURE, ALPHA, STANDARDIZE],
    check_stage: any_stage,
    check_teacher,
    loss,
};

fn check_teacher(pair: &TeacherPair) -> Result<(), String> {
    if pair.student == pair.teacher {
        return Ok(());
    }
    Err(format!(
        "tfkd_self learns from a copy of its own architecture, but \"{}\" trains a different model",
        pair.teacher_name
    ))
}

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    inputs.kd(hypers)
}
