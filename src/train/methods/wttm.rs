//! WTTM: TTM with each example weighted by the teacher's power sum `Σ_k p_t,k^(1/T)`, which is
//! large where the teacher is unsure and so has the most to teach.

use super::spec::{
    Companions, Hypers, MethodSpec, STANDARDIZE, StepInputs, StepLoss, TEMPERATURE, TeacherUse, any_stage, any_teacher,
};
use super::ttm::{MATCH_WEIGHT, matched};
use crate::distill;

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "wttm",
    summary: "CE + β·mean_i U_i·KL(softmax(t_i/T) ‖ softmax(s_i)), U_i = Σ_k softmax(t_i)_k^(1/T)",
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
    matched(inputs, hypers, "loss_wttm", distill::wttm)
}
