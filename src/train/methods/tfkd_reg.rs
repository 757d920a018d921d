//! Teacher-free KD, regularisation: KD from a hand-made virtual teacher that puts
//! `correct_prob` on the label and spreads the rest evenly.

use super::spec::{
    ALPHA, Companions, HyperSpec, Hypers, MethodSpec, StepInputs, StepLoss, TEMPERATURE, TeacherUse, Valid, any_stage,
    any_teacher, kd_style,
};
use crate::distill;

const CORRECT_PROB: HyperSpec = HyperSpec {
    name: "correct_prob",
    symbol: "a",
    label: "a",
    // Yuan et al. (2020), the virtual teacher's probability on the label.
    default: 0.99,
    valid: Valid::Between(0.0, 1.0),
    live: None,
    help: "The virtual teacher's probability on the label; the rest is spread over the other classes",
};

pub(crate) static METHOD: MethodSpec = MethodSpec {
    name: "tfkd_reg",
    summary: "KD from a virtual teacher: a on the label, (1−a)/(C−1) elsewhere",
    paper: "Yuan et al. 2020",
    teacher: TeacherUse::None,
    uses_feature_maps: false,
    text: false,
    companions: Companions::None,
    hypers: &[HyperSpec { default: 20.0, ..TEMPERATURE }, HyperSpec { default: 0.1, ..ALPHA }, CORRECT_PROB],
    check_stage: any_stage,
    check_teacher: any_teacher,
    loss,
};

fn loss(inputs: &StepInputs, hypers: &Hypers) -> StepLoss {
    let terms = distill::tfkd_reg_terms(
        inputs.logits(),
        inputs.labels(),
        hypers.get(CORRECT_PROB.name),
        hypers.get(TEMPERATURE.name),
    );
    kd_style(terms, hypers.get(ALPHA.name))
}
